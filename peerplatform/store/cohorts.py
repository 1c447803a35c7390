"""Cohorts: a bootcamp or college class, i.e. a JupyterHub group of learners with instructors.

The Hub group (same name) is the authority for rights: an instructor's role carries the
custom scope ``custom:peerplatform:review!group=<cohort>``. This collection mirrors it for
the platform's own queries (leaderboard filters, profile display, review lists).

Document shape (``cohorts`` collection)::

    {"_id": "acme-2026", "title": "Acme Bootcamp, spring 2026",
     "members": ["alice", "bob"], "instructors": ["ivy"], "updated_at": datetime}

A learner belongs to at most one cohort (their bootcamp or college).
"""

from __future__ import annotations

import re

from pymongo import ASCENDING, WriteConcern

from .sessions import utcnow

#: Also a valid JupyterHub group name, and ``pp-instructor-<name>`` a valid role name (the Hub
#: refuses to start on a role name ending in "-"). ``\Z``: "$" would let a final newline in.
COHORT_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\Z")
COHORT_RULE = "1-63 of [a-z0-9-], starting and ending with a letter or digit"


class CohortStore:
    def __init__(self, db):
        self.collection = db.get_collection("cohorts", write_concern=WriteConcern(w=1, j=True))

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("members", ASCENDING)])
        await self.collection.create_index([("instructors", ASCENDING)])

    async def ensure(self, name: str, title: str | None = None) -> dict:
        if not COHORT_RE.match(name):
            raise ValueError(f"cohort name {name!r}: use {COHORT_RULE}")
        update = {
            "$setOnInsert": {"members": [], "instructors": []},
            "$set": {"updated_at": utcnow()},
        }
        if title is not None:
            update["$set"]["title"] = title
        else:
            update["$setOnInsert"]["title"] = name
        await self.collection.update_one({"_id": name}, update, upsert=True)
        return await self.get(name)

    async def get(self, name: str) -> dict | None:
        return await self.collection.find_one({"_id": name})

    async def all(self) -> list[dict]:
        return await self.collection.find({}).sort("_id", ASCENDING).to_list(length=10_000)

    async def add_members(self, name: str, users: list[str]) -> list[str]:
        """Put ``users`` in cohort ``name``, taking them out of any other cohort; returns the
        cohorts they left."""
        left = await self.collection.distinct(
            "_id", {"members": {"$in": users}, "_id": {"$ne": name}}
        )
        await self.collection.update_many(
            {"_id": {"$ne": name}}, {"$pull": {"members": {"$in": users}}}
        )
        await self.collection.update_one(
            {"_id": name},
            {"$addToSet": {"members": {"$each": users}}, "$set": {"updated_at": utcnow()}},
        )
        return left

    async def remove_members(self, name: str, users: list[str]) -> None:
        await self.collection.update_one(
            {"_id": name}, {"$pull": {"members": {"$in": users}}, "$set": {"updated_at": utcnow()}}
        )

    async def add_instructors(self, name: str, users: list[str]) -> None:
        await self.collection.update_one(
            {"_id": name},
            {"$addToSet": {"instructors": {"$each": users}}, "$set": {"updated_at": utcnow()}},
        )

    async def remove_instructors(self, name: str, users: list[str]) -> None:
        await self.collection.update_one(
            {"_id": name},
            {"$pull": {"instructors": {"$in": users}}, "$set": {"updated_at": utcnow()}},
        )

    async def cohort_of(self, user: str) -> str | None:
        doc = await self.collection.find_one({"members": user}, {"_id": 1})
        return doc["_id"] if doc else None

    async def memberships(self) -> dict[str, str]:
        """``{learner: cohort}`` for everyone in a cohort (leaderboard rebuilds)."""
        out = {}
        async for doc in self.collection.find({}, {"members": 1}):
            for user in doc.get("members", []):
                out[user] = doc["_id"]
        return out

    async def taught_by(self, user: str) -> list[str]:
        return await self.collection.distinct("_id", {"instructors": user})
