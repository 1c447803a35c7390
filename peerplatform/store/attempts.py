"""Who saw which challenge, in which version, and how it went.

Two collections, one truth:

* ``attempts`` - the history: one document per user per challenge shown in a session::

      {"user", "slug", "version", "hash", "session", "seen_at",
       "outcome": None | "passed" | "failed" | "error" | "timeout" | "memory" | "output"
                  | "abandoned" | "skipped",
       "result": None | {"passed", "failed", "errors", "total", "status"}, "finished_at"}

  It keeps pointing at the version that was shown, whatever is loaded later.
* ``seen`` - one small document per user, ``{"_id": user, "slugs": {slug: last_seen_ms}}``
  (epoch milliseconds: much cheaper to decode than 1,000 datetimes): what selection needs, in
  one read per user, with no ``$nin``. It can be rebuilt from
  ``attempts`` (:meth:`AttemptStore.rebuild_seen`).
"""

from __future__ import annotations

from datetime import datetime, timezone

from pymongo import ASCENDING, DESCENDING, WriteConcern

OUTCOMES = ("passed", "failed", "error", "timeout", "memory", "output", "abandoned", "skipped")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def epoch_ms(at: datetime) -> int:
    if at.tzinfo is None:  # pymongo returns naive UTC datetimes unless tz_aware
        at = at.replace(tzinfo=timezone.utc)
    return int(at.timestamp() * 1000)


class AttemptStore:
    def __init__(self, db):
        must_keep = WriteConcern(w=1, j=True)
        self.attempts = db.get_collection("attempts", write_concern=must_keep)
        self.seen = db.get_collection("seen", write_concern=must_keep)

    async def ensure_indexes(self) -> None:
        await self.attempts.create_index([("user", ASCENDING), ("slug", ASCENDING)])
        await self.attempts.create_index([("user", ASCENDING), ("seen_at", DESCENDING)])
        await self.attempts.create_index([("session", ASCENDING), ("slug", ASCENDING)])
        await self.attempts.create_index([("slug", ASCENDING), ("version", ASCENDING)])

    async def record_seen(self, users, challenge: dict, session_id: str, *, at=None) -> None:
        at = at or utcnow()
        users = list(dict.fromkeys(users))
        slug = challenge["slug"]
        if users:
            await self.attempts.insert_many([{
                "user": user, "slug": slug, "version": challenge.get("version"),
                "hash": challenge.get("hash"), "session": session_id, "seen_at": at,
                "outcome": None, "result": None, "finished_at": None,
            } for user in users])
        for user in users:
            # slugs are kebab-case (schema), so they are safe as field names
            await self.seen.update_one({"_id": user}, {"$max": {f"slugs.{slug}": epoch_ms(at)}},
                                       upsert=True)

    async def record_outcome(self, session_id: str, slug: str, outcome: str,
                             result: dict | None = None, *, users=None) -> int:
        """Set how the session's attempt went (for both members unless ``users``); returns
        how many attempts were updated. Once: an attempt whose outcome is recorded keeps it
        (two replicas ending the same session, or a retry, change nothing)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
        summary = None
        if result is not None:
            summary = {k: result.get(k) for k in ("status", "passed", "failed", "errors", "total")}
        query = {"session": session_id, "slug": slug, "outcome": None}
        if users is not None:
            query["user"] = {"$in": list(users)}
        done = await self.attempts.update_many(
            query, {"$set": {"outcome": outcome, "result": summary, "finished_at": utcnow()}})
        return done.modified_count

    async def seen_map(self, users) -> dict:
        """``{slug: most recent time (epoch ms) any of users saw it}``."""
        users = list(dict.fromkeys(u for u in users if u))
        merged: dict = {}
        if not users:
            return merged
        async for doc in self.seen.find({"_id": {"$in": users}}):
            for slug, at in (doc.get("slugs") or {}).items():
                if slug not in merged or at > merged[slug]:
                    merged[slug] = at
        return merged

    async def history(self, user: str, limit: int = 100) -> list[dict]:
        cursor = self.attempts.find({"user": user}, {"_id": 0}).sort("seen_at", DESCENDING)
        return await cursor.to_list(length=limit)

    async def for_session(self, session_id: str) -> list[dict]:
        cursor = self.attempts.find({"session": session_id}, {"_id": 0}).sort("seen_at", ASCENDING)
        return await cursor.to_list(length=None)

    async def rebuild_seen(self, user: str) -> None:
        """Recompute ``seen`` for ``user`` from the history."""
        slugs: dict = {}
        async for doc in self.attempts.find({"user": user}, {"slug": 1, "seen_at": 1}):
            at = epoch_ms(doc["seen_at"])
            if doc["slug"] not in slugs or at > slugs[doc["slug"]]:
                slugs[doc["slug"]] = at
        await self.seen.replace_one({"_id": user}, {"_id": user, "slugs": slugs}, upsert=True)
