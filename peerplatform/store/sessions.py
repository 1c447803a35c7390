"""Pair sessions: one document per session, its state machine and its event log.

Document shape (``sessions`` collection)::

    {
      "_id": "k3j9x2m4q8ab",              # also the pair server name: "s-<_id>"
      "members": ["alice", "bob"],
      "driver": "alice", "observer": "bob",
      "state": "pending",                 # pending -> spawning -> active -> ended | failed
      "server": {"owner": "pp-pairs", "name": "s-k3j9x2m4q8ab", "url": "/user/pp-pairs/s-.../"},
      "duration_s": 2700,
      "challenge": {...} | None,
      "created_at": datetime, "updated_at": datetime,
      "history": [{"state": "pending", "at": datetime, "reason": None}, ...],
      "events": [{"type": "...", "at": datetime, ...}],   # role swaps, test runs (pair server)
      "failure_reason": None,
      # optional, read or written by the pair server:
      "swap_schedule_s": [1350],          # role swaps, seconds after started_at (default: half time)
      "scheduled_swaps_done": [0],        # indexes of swap_schedule_s already applied
      "outcome": {...},                   # recorded once at the end (final tests, notebook)
      "rated_at": datetime, "rating": {...},  # skill ratings updated from the outcome (platform)
    }
"""

from __future__ import annotations

import secrets
import string
from datetime import datetime, timezone

from pymongo import ASCENDING, DESCENDING, ReturnDocument, WriteConcern

SESSION_STATES = ("pending", "spawning", "active", "ended", "failed")
OPEN_STATES = ("pending", "spawning", "active")

#: Allowed transitions: outcomes and failures must survive a crash, hence j=True writes.
TRANSITIONS = {
    "pending": {"spawning", "failed", "ended"},
    "spawning": {"active", "failed", "ended"},
    "active": {"ended", "failed"},
    "ended": set(),
    "failed": set(),
}

_ID_ALPHABET = string.ascii_lowercase + string.digits


def new_session_id() -> str:
    """12 random [a-z0-9] characters: unguessable, and ``s-<id>`` is a valid server name."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class InvalidTransition(Exception):
    """The session is not in a state from which the requested transition is allowed."""


class SessionStore:
    def __init__(self, db):
        self.collection = db.get_collection("sessions", write_concern=WriteConcern(w=1, j=True))

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("members", ASCENDING), ("created_at", DESCENDING)])
        # the review list of admins: every session, newest first (the id orders equal times)
        await self.collection.create_index([("created_at", DESCENDING), ("_id", DESCENDING)])
        await self.collection.create_index([("state", ASCENDING), ("updated_at", ASCENDING)])
        await self.collection.create_index(
            [("server.owner", ASCENDING), ("server.name", ASCENDING), ("created_at", DESCENDING)]
        )

    async def create(
        self,
        *,
        members: list[str],
        driver: str,
        observer: str,
        server_owner: str,
        duration_s: int,
        session_id: str | None = None,
        challenge: dict | None = None,
        preferences: dict | None = None,
        swap_schedule_s: list[int] | None = None,
    ) -> dict:
        if len(set(members)) != 2 or {driver, observer} != set(members):
            raise ValueError("a session has exactly two distinct members: one driver, one observer")
        if swap_schedule_s is not None and not all(
            isinstance(t, int) and not isinstance(t, bool) and 0 < t < duration_s
            for t in swap_schedule_s
        ):
            raise ValueError("swap_schedule_s holds whole seconds between 0 and duration_s")
        sid = session_id or new_session_id()
        now = utcnow()
        doc = {
            "_id": sid,
            "members": list(members),
            "driver": driver,
            "observer": observer,
            "state": "pending",
            "server": {"owner": server_owner, "name": f"s-{sid}", "url": None},
            "duration_s": int(duration_s),
            "challenge": challenge,
            "preferences": preferences or {},
            "created_at": now,
            "updated_at": now,
            "history": [{"state": "pending", "at": now, "reason": None}],
            "events": [],
            "failure_reason": None,
        }
        if swap_schedule_s is not None:  # absent: the pair server swaps at half time
            doc["swap_schedule_s"] = sorted(swap_schedule_s)
        await self.collection.insert_one(doc)
        return doc

    async def get(self, session_id: str) -> dict | None:
        return await self.collection.find_one({"_id": session_id})

    async def transition(self, session_id: str, to_state: str, *, reason: str | None = None,
                         **fields) -> dict:
        """Move a session to ``to_state`` atomically, if allowed from its current state.

        Raises :class:`InvalidTransition` (and changes nothing) otherwise, so two replicas
        racing to end or fail the same session cannot both win.
        """
        if to_state not in TRANSITIONS:
            raise ValueError(f"unknown session state {to_state!r}")
        allowed_from = [s for s, targets in TRANSITIONS.items() if to_state in targets]
        now = utcnow()
        update = {
            "$set": {"state": to_state, "updated_at": now, **fields},
            "$push": {"history": {"state": to_state, "at": now, "reason": reason}},
        }
        if to_state == "failed":
            update["$set"]["failure_reason"] = reason
        if to_state == "active":
            update["$set"].setdefault("started_at", now)
        if to_state in ("ended", "failed"):
            update["$set"]["ended_at"] = now
        doc = await self.collection.find_one_and_update(
            {"_id": session_id, "state": {"$in": allowed_from}},
            update,
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            current = await self.get(session_id)
            state = current["state"] if current else "missing"
            raise InvalidTransition(f"session {session_id} is {state}; cannot become {to_state}")
        return doc

    async def set_fields(self, session_id: str, fields: dict) -> None:
        """Set informational fields (never ``state``: that goes through ``transition``)."""
        if "state" in fields:
            raise ValueError("use transition() to change a session's state")
        await self.collection.update_one({"_id": session_id}, {"$set": fields})

    async def add_event(self, session_id: str, event: dict) -> None:
        await self.collection.update_one(
            {"_id": session_id},
            {"$push": {"events": {**event, "at": event.get("at") or utcnow()}},
             "$set": {"updated_at": utcnow()}},
        )

    # -- written by the pair server (each write is one atomic, conditional update) -------------

    async def swap_roles(self, session_id: str, *, driver: str, observer: str, reason: str,
                         by: str | None = None, scheduled: int | None = None) -> dict | None:
        """Swap driver and observer, only if the session is active and ``driver`` still drives.

        ``scheduled`` is the index of a swap of the session's schedule: it is applied at most
        once (a restarted pair server does not repeat it). Records a ``swap`` event; returns
        the updated document, or None (nothing changed) when the condition no longer holds.
        """
        now = utcnow()
        query = {"_id": session_id, "state": "active", "driver": driver, "observer": observer}
        event = {"type": "swap", "at": now, "driver": observer, "observer": driver,
                 "reason": reason, "by": by}
        update = {"$set": {"driver": observer, "observer": driver, "updated_at": now},
                  "$push": {"events": event}}
        if scheduled is not None:
            query["scheduled_swaps_done"] = {"$ne": scheduled}
            event["scheduled"] = scheduled
            update["$push"]["scheduled_swaps_done"] = scheduled
        return await self.collection.find_one_and_update(
            query, update, return_document=ReturnDocument.AFTER
        )

    async def set_challenge(self, session_id: str, challenge: dict, *, previous: str | None,
                            by: str | None = None, reason: str | None = None) -> dict | None:
        """Make ``challenge`` (its public summary, with ``slug``) the session's challenge.

        Only if the current one is still ``previous`` (a slug, or None for "none yet"), so a
        restart or a double click cannot pick twice. Records a ``challenge`` event; returns the
        updated document or None when the condition no longer holds.
        """
        now = utcnow()
        query = {"_id": session_id, "state": {"$in": list(OPEN_STATES)}}
        if previous is None:
            query["challenge"] = None  # matches a missing field too
        else:
            query["challenge.slug"] = previous
        return await self.collection.find_one_and_update(
            query,
            {"$set": {"challenge": challenge, "updated_at": now},
             "$push": {"events": {"type": "challenge", "at": now, "slug": challenge["slug"],
                                  "previous": previous, "by": by, "reason": reason}}},
            return_document=ReturnDocument.AFTER,
        )

    async def record_outcome(self, session_id: str, outcome: dict) -> bool:
        """Store the session's outcome unless one is already recorded; True if this one was."""
        result = await self.collection.update_one(
            {"_id": session_id, "outcome": None},
            {"$set": {"outcome": outcome, "updated_at": utcnow()}},
        )
        return result.modified_count == 1

    async def unrated(self, limit: int = 100) -> list[dict]:
        """Sessions over with a recorded outcome whose skill ratings are not updated yet."""
        cursor = self.collection.find(
            {"state": "ended", "outcome": {"$ne": None}, "rated_at": None},
            {"notebook_json": 0, "outcome.notebook_json": 0}, limit=limit)
        return await cursor.to_list(length=limit)

    async def mark_rated(self, session_id: str, rating: dict) -> bool:
        result = await self.collection.update_one(
            {"_id": session_id, "rated_at": None},
            {"$set": {"rated_at": utcnow(), "rating": rating}},
        )
        return result.modified_count == 1

    async def open_for_user(self, username: str) -> dict | None:
        """The user's session that is not over yet, if any."""
        return await self.collection.find_one(
            {"members": username, "state": {"$in": list(OPEN_STATES)}},
            sort=[("created_at", DESCENDING)],
        )

    async def latest_for_user(self, username: str) -> dict | None:
        return await self.collection.find_one(
            {"members": username}, sort=[("created_at", DESCENDING)]
        )

    async def newest(self, query: dict, *, limit: int, before: dict | None = None) -> list[dict]:
        """Sessions matching ``query`` (a MongoDB filter), newest first, at most ``limit``.

        ``before`` (a session document) pages on: only sessions created before it, or at the
        same instant with a smaller id, so pages neither skip nor repeat a session.
        """
        if before is not None:
            older = {"$or": [
                {"created_at": {"$lt": before["created_at"]}},
                {"created_at": before["created_at"], "_id": {"$lt": before["_id"]}},
            ]}
            query = {"$and": [query, older]} if query else older
        cursor = self.collection.find(query).sort(
            [("created_at", DESCENDING), ("_id", DESCENDING)]
        )
        return await cursor.to_list(length=limit)

    async def ended_for_user(self, username: str, limit: int = 5000) -> list[dict]:
        """The user's sessions that ended, oldest first (their progress over time)."""
        cursor = self.collection.find({"members": username, "state": "ended"}).sort(
            "created_at", ASCENDING
        )
        return await cursor.to_list(length=limit)

    async def shared(self, a: str, b: str) -> bool:
        """Whether ``a`` and ``b`` had a session together (any state but failed)."""
        doc = await self.collection.find_one(
            {"members": {"$all": [a, b]}, "state": {"$ne": "failed"}}, {"_id": 1}
        )
        return doc is not None

    async def for_server(self, owner: str, name: str) -> dict | None:
        """The newest session assigned to the server ``owner/name`` (open or not).

        Pair servers look their session up this way, so a session can be assigned to an
        already running (warm-pool) server by writing its ``server`` field.
        """
        return await self.collection.find_one(
            {"server.owner": owner, "server.name": name}, sort=[("created_at", DESCENDING)]
        )

    async def stale(self, states, older_than: datetime) -> list[dict]:
        cursor = self.collection.find({"state": {"$in": list(states)}, "updated_at": {"$lt": older_than}})
        return await cursor.to_list(length=1000)

    async def awaiting_teardown(self, ended_before: datetime) -> list[dict]:
        """Sessions over before ``ended_before`` whose pair server has not been removed yet."""
        cursor = self.collection.find({
            "state": {"$in": ["ended", "failed"]},
            "ended_at": {"$lt": ended_before},
            "server.removed_at": None,
        })
        return await cursor.to_list(length=1000)
