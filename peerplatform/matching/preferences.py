"""What a learner may ask for when joining the waiting room."""

from __future__ import annotations

import re
from collections.abc import Collection

from peerplatform_contracts.difficulties import ANY, CHOICES

#: "any", or a challenge track (the pack schema's kebab-case names: algorithms, sql, regex…)
TRACK_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class InvalidPreferences(ValueError):
    pass


def validate_preferences(raw, *, durations: Collection[int]) -> dict:
    """Normalise the lobby's preferences; raise :class:`InvalidPreferences` naming the field.

    ``durations`` are the session lengths (minutes) on offer, from
    :meth:`peerplatform.settings.PeerPlatform.duration_choices_minutes`; leaving
    ``duration_minutes`` out asks for the default length."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InvalidPreferences("preferences must be an object")
    unknown = set(raw) - {"difficulty", "duration_minutes", "track"}
    if unknown:
        raise InvalidPreferences(f"unknown preference(s): {', '.join(sorted(map(str, unknown)))}")
    difficulty = raw.get("difficulty", ANY)
    if difficulty not in CHOICES:
        raise InvalidPreferences(f"difficulty must be one of {', '.join(CHOICES)}")
    duration = raw.get("duration_minutes")
    if duration is not None and (
        not isinstance(duration, int) or isinstance(duration, bool) or duration not in durations
    ):
        offered = ", ".join(map(str, sorted(durations))) or "none"
        raise InvalidPreferences(
            f"duration_minutes must be one of {offered} (minutes), or left out for the "
            "default length"
        )
    track = raw.get("track", "any")
    if not isinstance(track, str) or len(track) > 40 or not TRACK_RE.match(track):
        raise InvalidPreferences("track must be \"any\" or a track name such as algorithms, sql")
    prefs = {"difficulty": difficulty}
    if track != "any":
        prefs["track"] = track
    if duration is not None:
        prefs["duration_minutes"] = duration
    return prefs
