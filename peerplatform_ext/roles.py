"""Who may write in this pair server, right now: the live role state every check reads.

Every enforcement point (Authorizer, request guard, RTC frame filter, kernel channel filter,
contents view) asks :meth:`PairState.can_write` per request or per message. It is O(1): a
comparison with the current writer, which is recomputed only when the session document
changes. The document is the store's (roles and clock survive a restart); this object is
the process's view of it, updated under one lock so a stale read can never undo a swap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from .session import PairSession, role_of
from .timer import as_utc


@dataclass(frozen=True)
class Change:
    """What changed between two views of the session (given to listeners)."""

    kind: str  # "session" (first seen) | "roles" | "state" | "challenge" | "locked"
    before: dict | None
    after: dict | None


Listener = Callable[[Change], None]


class PairState:
    """The live role/lock state of this server's session.

    ``writer`` is the one user allowed to change anything (the driver of an active session
    whose time is not up), or None when nobody may. Everything else is read-only.
    """

    def __init__(self, session: PairSession, log=None):
        self.session = session
        self.log = log
        self.doc: dict | None = None
        self._writer: str | None = None
        self._writes_until: float = 0.0  # epoch seconds; the session's end
        self._locked = False
        self._lock = asyncio.Lock()
        self._listeners: list[Listener] = []

    # -- reads (hot path) ------------------------------------------------------------------

    def can_write(self, username: str | None) -> bool:
        return (
            username is not None
            and username == self._writer
            and time.time() < self._writes_until
        )

    def role_of(self, username: str | None) -> str | None:
        return role_of(self.doc, username) if username else None

    @property
    def locked(self) -> bool:
        return self._locked

    @property
    def session_id(self) -> str | None:
        return self.doc["_id"] if self.doc else None

    # -- writes ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def refresh(self) -> dict | None:
        """Read the session from the store and apply it."""
        async with self._lock:
            doc = await self.session.get(fresh=True)
            self._apply(doc)
            return doc

    async def update(self, write: Callable[[], Awaitable[dict | None]]) -> dict | None:
        """Run a store write that returns the new document (or None) and apply its result.

        Serialised with :meth:`refresh`, so a read that started before the write cannot be
        applied after it.
        """
        async with self._lock:
            doc = await write()
            if doc is not None:
                self._apply(doc)
            return doc

    def lock(self) -> None:
        """Nobody writes any more (time is up). Irreversible for this process."""
        if self._locked:
            return
        before = self.doc
        self._locked = True
        self._recompute()
        self._notify(Change("locked", before, self.doc))

    def _apply(self, doc: dict | None) -> None:
        before = self.doc
        self.doc = doc
        self._recompute()
        if doc is None:
            return
        if before is None or before["_id"] != doc["_id"]:
            self._notify(Change("session", before, doc))
            return
        if (before.get("driver"), before.get("observer")) != (doc.get("driver"), doc.get("observer")):
            self._notify(Change("roles", before, doc))
        if before.get("state") != doc.get("state"):
            self._notify(Change("state", before, doc))
        if (before.get("challenge") or {}).get("slug") != (doc.get("challenge") or {}).get("slug"):
            self._notify(Change("challenge", before, doc))

    def _recompute(self) -> None:
        doc = self.doc
        if doc is None or self._locked or doc.get("state") != "active":
            self._writer, self._writes_until = None, 0.0
            return
        self._writer = doc.get("driver")
        started = doc.get("started_at")
        duration = doc.get("duration_s")
        if started is None or duration is None:
            self._writes_until = float("inf")
        else:
            self._writes_until = as_utc(started).timestamp() + float(duration)

    def _notify(self, change: Change) -> None:
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a listener must never break role enforcement
                if self.log:
                    self.log.exception("peerplatform: listener failed on %s", change.kind)
