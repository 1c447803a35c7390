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
      "events": [{"type": "...", "at": datetime, ...}],   # role swaps, test runs, notices
      "failure_reason": None,
      "rev": 7,                           # +1 on every write: the pair API's long poll waits on it
      "swap_schedule_s": [1350],          # role swaps, seconds after started_at (default: half time)
      "scheduled_swaps_done": [0],        # indexes of swap_schedule_s already applied
      "swap_request": {"by": "bob", "at": datetime} | None,  # a swap asked for, not answered yet
      "end_lease": {"owner": "<replica>", "until": datetime},  # who is ending it (time-up)
      "tests_run": {"id": "<run>", "until": datetime},   # a test run in progress (one at a time)
      "outcome": {...},                   # recorded once at the end (final tests, notebook)
      "attempts_pending": True,           # the outcome is not in the members' attempts yet
      "rated_at": datetime, "rating": {...},  # skill ratings updated from the outcome (platform)
    }

Every write goes through this class, and every write to a session document increments its
``rev``: the pair API answers a long poll as soon as ``rev`` differs from what the pair server
last saw. All writes that depend on the session's state are one conditional update each, so any
number of service replicas may make them concurrently.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from pymongo import ASCENDING, DESCENDING, ReturnDocument, WriteConcern

# new_session_id: the id format is shared with the spawner and the pair server
from peerplatform_contracts.sessions import new_session_id, server_name

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
#: Every write increments the session's revision (the pair API's long poll).
BUMP = {"rev": 1}
#: Fields of a session document too big for the clock sweep's reads.
HEAVY_FIELDS = ("events", "history", "outcome", "timings")


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
            "server": {"owner": server_owner, "name": server_name(sid), "url": None},
            "duration_s": int(duration_s),
            "challenge": challenge,
            "preferences": preferences or {},
            "created_at": now,
            "updated_at": now,
            "history": [{"state": "pending", "at": now, "reason": None}],
            "events": [],
            "failure_reason": None,
            "swap_request": None,
            "rev": 1,
        }
        if swap_schedule_s is not None:  # absent: the service's clock swaps at half time
            doc["swap_schedule_s"] = sorted(swap_schedule_s)
        await self.collection.insert_one(doc)
        return doc

    async def get(self, session_id: str) -> dict | None:
        return await self.collection.find_one({"_id": session_id})

    async def transition(self, session_id: str, to_state: str, *, reason: str | None = None,
                         event: dict | None = None, **fields) -> dict:
        """Move a session to ``to_state`` atomically, if allowed from its current state.

        Raises :class:`InvalidTransition` (and changes nothing) otherwise, so two replicas
        racing to end or fail the same session cannot both win. ``event`` is added to the
        session's events in the same write (e.g. the final test run with the outcome).
        """
        if to_state not in TRANSITIONS:
            raise ValueError(f"unknown session state {to_state!r}")
        allowed_from = [s for s, targets in TRANSITIONS.items() if to_state in targets]
        now = utcnow()
        update = {
            "$set": {"state": to_state, "updated_at": now, **fields},
            "$push": {"history": {"state": to_state, "at": now, "reason": reason}},
            "$inc": BUMP,
        }
        if event is not None:
            update["$push"]["events"] = {**event, "at": event.get("at") or now}
        if to_state in ("ended", "failed"):  # nothing to answer any more
            update["$set"]["swap_request"] = None
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
        await self.collection.update_one({"_id": session_id}, {"$set": fields, "$inc": BUMP})

    async def add_event(self, session_id: str, event: dict, *, states=None) -> bool:
        """Append ``event`` to the session's events (only while its state is one of
        ``states``, when given); True if it was added."""
        query = {"_id": session_id}
        if states is not None:
            query["state"] = {"$in": list(states)}
        result = await self.collection.update_one(
            query,
            {"$push": {"events": {**event, "at": event.get("at") or utcnow()}},
             "$set": {"updated_at": utcnow()}, "$inc": BUMP},
        )
        return result.modified_count == 1

    async def add_event_once(self, session_id: str, event: dict) -> bool:
        """Append ``event`` unless an event with its ``id`` is there already (a retried
        request of a pair server); True if it was added. Open sessions only."""
        result = await self.collection.update_one(
            {"_id": session_id, "state": {"$in": list(OPEN_STATES)},
             "events.id": {"$ne": event["id"]}},
            {"$push": {"events": {**event, "at": event.get("at") or utcnow()}},
             "$set": {"updated_at": utcnow()}, "$inc": BUMP},
        )
        return result.modified_count == 1

    async def revision(self, session_id: str) -> tuple[int, str] | None:
        """``(rev, state)`` of a session (a small read: the long poll's), None if missing."""
        doc = await self.collection.find_one({"_id": session_id}, {"rev": 1, "state": 1})
        if doc is None:
            return None
        return int(doc.get("rev") or 0), doc["state"]

    # -- decided by the service for the pair server (each write is one conditional update) ----

    async def swap_roles(self, session_id: str, *, driver: str, observer: str, reason: str,
                         by: str | None = None, scheduled: int | None = None) -> dict | None:
        """Swap driver and observer, only if the session is active and ``driver`` still drives.

        ``scheduled`` is the index of a swap of the session's schedule: it is applied at most
        once (two replicas' clock sweeps cannot both apply it). A pending swap request is
        answered by the swap. Records a ``swap`` event; returns the updated document, or None
        (nothing changed) when the condition no longer holds.
        """
        now = utcnow()
        query = {"_id": session_id, "state": "active", "driver": driver, "observer": observer}
        event = {"type": "swap", "at": now, "driver": observer, "observer": driver,
                 "reason": reason, "by": by}
        update = {"$set": {"driver": observer, "observer": driver, "updated_at": now,
                           "swap_request": None},
                  "$push": {"events": event}, "$inc": BUMP}
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
                                  "previous": previous, "by": by, "reason": reason}},
             "$inc": BUMP},
            return_document=ReturnDocument.AFTER,
        )

    async def request_swap(self, session_id: str, by: str) -> dict | None:
        """Record ``by``'s request to swap roles, if the session is active, ``by`` is a member
        and no request is pending; the updated document, else None."""
        now = utcnow()
        return await self.collection.find_one_and_update(
            {"_id": session_id, "state": "active", "members": by, "swap_request": None},
            {"$set": {"swap_request": {"by": by, "at": now}, "updated_at": now},
             "$push": {"events": {"type": "swap_requested", "at": now, "by": by}},
             "$inc": BUMP},
            return_document=ReturnDocument.AFTER,
        )

    async def clear_swap_request(self, session_id: str, *, requested_by: str, by: str,
                                 kind: str) -> dict | None:
        """Drop the pending request of ``requested_by`` (``kind``: ``swap_declined`` by the
        partner or ``swap_cancelled`` by its author); the updated document, or None when that
        request is no longer pending."""
        if kind not in ("swap_declined", "swap_cancelled"):
            raise ValueError(f"unknown swap answer {kind!r}")
        now = utcnow()
        return await self.collection.find_one_and_update(
            {"_id": session_id, "state": "active", "swap_request.by": requested_by},
            {"$set": {"swap_request": None, "updated_at": now},
             "$push": {"events": {"type": kind, "at": now, "by": by}},
             "$inc": BUMP},
            return_document=ReturnDocument.AFTER,
        )

    async def claim_end(self, session_id: str, *, owner: str, lease_s: float) -> dict | None:
        """Take the end of an active session for ``lease_s`` seconds (the replica ``owner``
        grades and records it meanwhile). None when another replica holds an unexpired lease
        or the session is no longer active. A replica that dies mid-way loses the lease when
        it expires, and another takes it; the outcome itself is written by the atomic
        ``active -> ended`` transition, so it is recorded once whoever finishes."""
        now = utcnow()
        return await self.collection.find_one_and_update(
            {"_id": session_id, "state": "active",
             "$or": [{"end_lease": None}, {"end_lease.until": {"$lt": now}},
                     {"end_lease.owner": owner}]},
            {"$set": {"end_lease": {"owner": owner, "at": now,
                                    "until": now + timedelta(seconds=lease_s)}},
             "$inc": BUMP},
            return_document=ReturnDocument.AFTER,
        )

    async def claim_tests_run(self, session_id: str, *, run: str, lease_s: float) -> dict | None:
        """Mark a test run ``run`` in progress for the active session, unless another is (one
        run at a time per session, across replicas; a run whose replica died expires after
        ``lease_s``). The updated document, or None."""
        now = utcnow()
        return await self.collection.find_one_and_update(
            {"_id": session_id, "state": "active",
             "$or": [{"tests_run": None}, {"tests_run.until": {"$lt": now}}]},
            {"$set": {"tests_run": {"id": run, "until": now + timedelta(seconds=lease_s)}},
             "$inc": BUMP},
            return_document=ReturnDocument.AFTER,
        )

    async def finish_tests_run(self, session_id: str, *, run: str,
                               event: dict | None) -> bool:
        """End the test run ``run``, recording ``event`` (its result) if the session is still
        active: a run that finishes after the end must not replace the final one. True if the
        event was recorded."""
        now = utcnow()
        if event is not None:
            done = await self.collection.update_one(
                {"_id": session_id, "state": "active", "tests_run.id": run},
                {"$unset": {"tests_run": ""}, "$set": {"updated_at": now},
                 "$push": {"events": {**event, "at": event.get("at") or now}}, "$inc": BUMP})
            if done.modified_count == 1:
                return True
        await self.collection.update_one({"_id": session_id, "tests_run.id": run},
                                         {"$unset": {"tests_run": ""}, "$inc": BUMP})
        return False

    async def active_for_clock(self, limit: int = 10_000) -> list[dict]:
        """The active sessions, without their heavy fields: what the clock sweep reads."""
        cursor = self.collection.find({"state": "active"}, {k: 0 for k in HEAVY_FIELDS},
                                      limit=limit)
        return await cursor.to_list(length=limit)

    async def attempts_pending(self, limit: int = 100) -> list[dict]:
        """Ended sessions whose outcome is not in the members' attempts yet."""
        cursor = self.collection.find(
            {"state": "ended", "attempts_pending": True},
            {"challenge": 1, "outcome.challenge": 1, "outcome.tests": 1, "members": 1},
            limit=limit)
        return await cursor.to_list(length=limit)

    async def attempts_recorded(self, session_id: str) -> None:
        await self.collection.update_one({"_id": session_id},
                                         {"$unset": {"attempts_pending": ""}, "$inc": BUMP})

    async def record_outcome(self, session_id: str, outcome: dict) -> bool:
        """Store the session's outcome unless one is already recorded; True if this one was."""
        result = await self.collection.update_one(
            {"_id": session_id, "outcome": None},
            {"$set": {"outcome": outcome, "updated_at": utcnow()}, "$inc": BUMP},
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
            {"$set": {"rated_at": utcnow(), "rating": rating}, "$inc": BUMP},
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
