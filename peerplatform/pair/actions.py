"""What a pair server may ask of its session, with the checks the service makes itself.

``by`` is the member the pair server says acts (its learner's Hub login, which the pair server
authenticated): it must be a member of the session, and the service checks the member's role
(the driver only draws challenges and runs tests). Every write is one conditional update of
the store, so concurrent requests (two replicas, a retry) change a session once.
"""

from __future__ import annotations

from peerplatform_contracts.challenge_view import public_view

from .errors import PairError
from .picking import pick_for, summary
from .timing import is_running
from .view import iso


def role_of(doc: dict, by: str) -> str:
    """``driver`` or ``observer``; 403 for anyone else."""
    if by == doc.get("driver"):
        return "driver"
    if by == doc.get("observer"):
        return "observer"
    raise PairError(403, f"{by!r} is not a member of this session")


def require_driver(doc: dict, by: str) -> None:
    if role_of(doc, by) != "driver":
        raise PairError(403, "only the driver can do this")
    if not is_running(doc):
        raise PairError(409, "the session is not running (time is up or not started)")


def require_running(doc: dict, by: str) -> None:
    role_of(doc, by)
    if not is_running(doc):
        raise PairError(409, "the session is not running")


class PairActions:
    def __init__(self, store, watch):
        self.store = store
        self.watch = watch

    def _changed(self, doc_or_sid) -> None:
        sid = doc_or_sid["_id"] if isinstance(doc_or_sid, dict) else doc_or_sid
        self.watch.changed(sid)

    # -- the challenge ---------------------------------------------------------------------

    async def challenge(self, doc: dict) -> dict | None:
        """The public view of the session's challenge at its pinned version."""
        picked = doc.get("challenge") or {}
        if not picked.get("slug"):
            return None
        full = None
        if picked.get("version") is not None:
            full = await self.store.challenges.get_version(picked["slug"], picked["version"])
        if full is None:
            full = await self.store.challenges.get(picked["slug"])
        return public_view(full) if full else None

    async def change_challenge(self, doc: dict, by: str, difficulty: str | None) -> dict:
        require_driver(doc, by)
        current = (doc.get("challenge") or {}).get("slug")
        prefs = doc.get("preferences") or {}
        wanted = difficulty or (doc.get("challenge") or {}).get("difficulty") \
            or prefs.get("difficulty")
        picked = await pick_for(self.store, doc["members"], difficulty=wanted,
                                track=prefs.get("track"), other_than=current)
        if picked is None:
            raise PairError(404, "no other challenge matches; try another difficulty")
        new = await self.store.sessions.set_challenge(
            doc["_id"], summary(picked), previous=current, by=by, reason="changed by the driver")
        if new is None:
            raise PairError(409, "the challenge was changed meanwhile; reload")
        self._changed(new)
        await self.store.challenges.record_seen(doc["members"], picked, doc["_id"])
        if current:  # the attempt at the one left behind is over
            await self.store.challenges.record_outcome(doc["_id"], current, "abandoned")
        return public_view(picked)

    # -- role swaps ------------------------------------------------------------------------

    async def swap(self, doc: dict, by: str, action: str) -> dict:
        require_running(doc, by)
        sid = doc["_id"]
        pending = doc.get("swap_request")
        if action == "request":
            if pending and pending.get("by") != by:  # both asked: that is an agreement
                return await self._accept(doc, by, pending)
            if not pending:
                new = await self.store.sessions.request_swap(sid, by)
                if new is None:
                    raise PairError(409, "the session changed meanwhile; retry")
                self._changed(new)
                doc = new
            return _swap_answer(doc)
        if not pending:
            raise PairError(409, "there is no swap request to answer")
        if action == "accept":
            if pending.get("by") == by:
                raise PairError(409, "your partner has to answer your request")
            return await self._accept(doc, by, pending)
        if action == "decline":
            if pending.get("by") == by:
                raise PairError(409, "your partner has to answer your request")
            kind = "swap_declined"
        else:  # cancel
            if pending.get("by") != by:
                raise PairError(409, "you have no pending swap request")
            kind = "swap_cancelled"
        new = await self.store.sessions.clear_swap_request(
            sid, requested_by=pending["by"], by=by, kind=kind)
        if new is None:
            raise PairError(409, "the swap request was answered meanwhile")
        self._changed(new)
        return _swap_answer(new)

    async def _accept(self, doc: dict, by: str, pending: dict) -> dict:
        new = await self.store.sessions.swap_roles(
            doc["_id"], driver=doc["driver"], observer=doc["observer"], reason="requested",
            by=pending.get("by"))
        if new is None:
            raise PairError(409, "the roles changed meanwhile")
        self._changed(new)
        return _swap_answer(new)

    # -- snapshots and events --------------------------------------------------------------

    async def store_snapshots(self, doc: dict, snapshots: list[dict]) -> dict:
        for i, snap in enumerate(snapshots):
            if snap["by"] not in doc["members"]:
                raise PairError(400, f"snapshots[{i}].by: {snap['by']!r} is not a member")
        stored, duplicates = await self.store.snapshots.add_batch(doc["_id"], snapshots)
        return {"stored": stored, "duplicates": duplicates}

    async def store_events(self, doc: dict, events: list[dict]) -> dict:
        stored = 0
        for event in events:
            if await self.store.sessions.add_event_once(
                    doc["_id"], {**event, "source": "pair-server"}):
                stored += 1
        if stored:
            self._changed(doc)
        return {"stored": stored}


def _swap_answer(doc: dict) -> dict:
    request = doc.get("swap_request")
    return {"swap_request": {"by": request.get("by"), "at": iso(request.get("at"))}
            if isinstance(request, dict) else None,
            "driver": doc.get("driver")}
