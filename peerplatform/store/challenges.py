"""Challenges (``challenges`` collection) and who has seen which (``attempts``).

CONTRACT shared with the pair server (keep these signatures):

* ``await upsert(challenge: dict) -> dict``            store/replace one challenge by slug
* ``await get(slug: str) -> dict | None``              the current version of a challenge
* ``await pick(*, difficulty=None, tags=None, track=None, exclude_users=()) -> dict | None``
      a random challenge none of ``exclude_users`` has seen (least recently seen when exhausted)
* ``await record_seen(users, challenge: dict, session_id: str) -> None``

A challenge document carries at least: ``slug``, ``title``, ``statement`` (markdown),
``difficulty`` (easy|medium|hard), ``tags`` (list), ``track``, ``starter_code``, ``examples``
(list), ``tests`` (hidden), ``solution`` (hidden, never sent to learners), ``time_limit_s``.

This first version is minimal; the challenge-bank work replaces its internals.
"""

from __future__ import annotations

from pymongo import ASCENDING


class ChallengeStore:
    def __init__(self, db):
        self.collection = db.get_collection("challenges")
        self.attempts = db.get_collection("attempts")

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("slug", ASCENDING)], unique=True)
        await self.attempts.create_index([("user", ASCENDING), ("slug", ASCENDING)])

    async def upsert(self, challenge: dict) -> dict:
        await self.collection.replace_one({"slug": challenge["slug"]}, challenge, upsert=True)
        return challenge

    async def get(self, slug: str) -> dict | None:
        return await self.collection.find_one({"slug": slug}, {"_id": 0})

    async def pick(self, *, difficulty=None, tags=None, track=None, exclude_users=()) -> dict | None:
        query = {}
        if difficulty and difficulty != "any":
            query["difficulty"] = difficulty
        if track:
            query["track"] = track
        if tags:
            query["tags"] = {"$in": list(tags)}
        cursor = await self.collection.aggregate(
            [{"$match": query}, {"$sample": {"size": 1}}, {"$project": {"_id": 0}}]
        )
        docs = await cursor.to_list(length=1)
        return docs[0] if docs else None

    async def record_seen(self, users, challenge: dict, session_id: str) -> None:
        for user in users:
            await self.attempts.insert_one(
                {"user": user, "slug": challenge["slug"], "session": session_id}
            )
