"""What a learner may ask for when joining the waiting room."""

from __future__ import annotations

import re

from peerplatform_contracts.difficulties import ANY, CHOICES

DURATIONS_MINUTES = (15, 30, 45, 60, 90)
#: "any", or a challenge track (the pack schema's kebab-case names: algorithms, sql, regex…)
TRACK_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


class InvalidPreferences(ValueError):
    pass


def validate_preferences(raw) -> dict:
    """Normalise the lobby's preferences; raise :class:`InvalidPreferences` naming the field."""
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
        isinstance(duration, bool) or duration not in DURATIONS_MINUTES
    ):
        raise InvalidPreferences(
            "duration_minutes must be one of " + ", ".join(map(str, DURATIONS_MINUTES))
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
