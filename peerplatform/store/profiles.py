"""Learner profiles: the matchmaking skill rating (Glicko-2) and its history.

Document shape (``profiles`` collection)::

    {"_id": "alice", "rating": 1500.0, "rd": 350.0, "vol": 0.06, "games": 0,
     "rated_sessions": ["k3j9x2m4q8ab", ...],   # the last 50, so a session counts once
     "updated_at": datetime}

A learner without a document has the Glicko-2 defaults (1500 / RD 350).
"""

from __future__ import annotations

from datetime import datetime, timezone

from pymongo import WriteConcern
from pymongo.errors import DuplicateKeyError

KEEP_RATED_SESSIONS = 50


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ProfileStore:
    def __init__(self, db):
        self.collection = db.get_collection("profiles", write_concern=WriteConcern(w=1, j=True))

    async def ensure_indexes(self) -> None:
        pass  # read by _id only

    async def get(self, user: str) -> dict | None:
        return await self.collection.find_one({"_id": user})

    async def ratings(self, users) -> dict[str, float]:
        from ..matching.skill import NEW_RATING

        found = {d["_id"]: d.get("rating", NEW_RATING)
                 async for d in self.collection.find({"_id": {"$in": list(users)}}, {"rating": 1})}
        return {u: float(found.get(u, NEW_RATING)) for u in users}

    async def apply(self, user: str, session_id: str, skill) -> bool:
        """Store ``user``'s skill after ``session_id``, once: False if that session already
        counted for them (a second replica, a retried sweep)."""
        try:
            result = await self.collection.update_one(
                {"_id": user, "rated_sessions": {"$ne": session_id}},
                {"$set": {"rating": skill.rating, "rd": skill.rd, "vol": skill.vol,
                          "updated_at": utcnow()},
                 "$inc": {"games": 1},
                 "$push": {"rated_sessions": {"$each": [session_id],
                                              "$slice": -KEEP_RATED_SESSIONS}}},
                upsert=True,
            )
        except DuplicateKeyError:  # the document exists and already holds this session
            return False
        return result.modified_count == 1 or result.upserted_id is not None
