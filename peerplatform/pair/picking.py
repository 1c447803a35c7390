"""Choosing a session's challenge: at its creation, and when the driver asks for another.

Only the service ever reads a whole challenge (hidden tests, solution); the session document
records its public summary and the version it pinned.
"""

from __future__ import annotations

from peerplatform_contracts.pair_api import CHALLENGE_SUMMARY_FIELDS

#: Draws of ``pick`` before giving up on finding one other than the current challenge.
OTHER_TRIES = 3


def summary(challenge: dict) -> dict:
    """What the session document records about its challenge (and which version)."""
    return {k: challenge.get(k) for k in CHALLENGE_SUMMARY_FIELDS}


async def pick_for(store, members, *, difficulty=None, track=None,
                   other_than: str | None = None) -> dict | None:
    """A challenge none of ``members`` has seen (least recently seen when all were), matching
    ``difficulty`` (None/"any": any) and ``track``, and not ``other_than``; None if none."""
    for _ in range(OTHER_TRIES if other_than else 1):
        # the store may hand back the current one when every match has been seen
        picked = await store.challenges.pick(difficulty=difficulty, track=track,
                                             exclude_users=list(members))
        if picked is None or picked["slug"] != other_than:
            return picked
    return None
