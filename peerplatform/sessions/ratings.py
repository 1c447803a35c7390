"""Skill ratings from recorded session outcomes (run by every replica's sweep).

The pair server records the outcome when the session ends (``SessionStore.record_outcome``
or the ``ended`` transition). This sweep finds ended sessions with an outcome and no
``rated_at`` and updates the members' and the challenge's Glicko-2 ratings. Each write is
conditional on the session not having counted yet for that profile / challenge, so two replicas
or a retry after a crash never count a session twice.
"""

from __future__ import annotations

import logging

from ..matching.skill import Skill, rate_session

log = logging.getLogger("peerplatform.ratings")


def solved(outcome: dict) -> bool | None:
    """Solved within the time: the final hidden tests passed. None: nothing to rate (no
    challenge, or the tests could not run)."""
    tests = outcome.get("tests") or {}
    if not outcome.get("challenge") or not tests.get("status"):
        return None
    return tests["status"] == "passed"


async def rate_session_outcome(store, doc: dict) -> dict:
    outcome = doc.get("outcome") or {}
    won = solved(outcome)
    if won is None:
        result = {"skipped": "no challenge result to rate"}
        await store.sessions.mark_rated(doc["_id"], result)
        return result
    sid, slug = doc["_id"], outcome["challenge"]
    challenge_doc = await store.challenges.get(slug)
    challenge = Skill.of(challenge_doc, rd_field="rating_rd", vol_field="rating_vol")
    members = {u: Skill.of(await store.profiles.get(u)) for u in doc["members"]}
    new_members, new_challenge = rate_session(members, challenge, won)
    for user, skill in new_members.items():
        await store.profiles.apply(user, sid, skill)
    if challenge_doc is not None:
        await store.challenges.apply_skill(slug, sid, new_challenge)
    result = {"solved": won, "challenge": slug,
              "before": {u: round(s.rating, 1) for u, s in members.items()},
              "after": {u: round(s.rating, 1) for u, s in new_members.items()},
              "challenge_before": round(challenge.rating, 1),
              "challenge_after": round(new_challenge.rating, 1)}
    await store.sessions.mark_rated(sid, result)
    return result


async def rate_ended_sessions(store, limit: int = 100) -> int:
    rated = 0
    for doc in await store.sessions.unrated(limit):
        try:
            await rate_session_outcome(store, doc)
            rated += 1
        except Exception:
            log.exception("could not rate session %s", doc["_id"])
    return rated
