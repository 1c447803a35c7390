"""Who may write in this pair server, right now: the live role state every check reads.

Every enforcement point (Authorizer, request guard, RTC frame filter, kernel channel filter,
contents view) asks :meth:`PairState.can_write` per request or per message. It is O(1): a
comparison with the current writer, which is recomputed only when the session changes. The
session of record is the platform service's (``session.py`` follows it); this object is the
process's view of it, the *pair view* of ``peerplatform_contracts.pair_api``, applied under
one lock and only when its revision is not older than the one in force, so a stale read can
never undo a swap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from peerplatform_contracts.clock import as_utc

def role_of(doc: dict | None, username: str | None) -> str | None:
    """``"driver"``, ``"observer"`` or None (not a member) for ``username`` in ``doc``."""
    if not doc or not username:
        return None
    if username == doc.get("driver"):
        return "driver"
    if username == doc.get("observer"):
        return "observer"
    return None


@dataclass(frozen=True)
class Change:
    """What changed between two views of the session (given to listeners)."""

    # "session" (first seen) | "roles" | "state" | "challenge" | "swap_request" | "outcome"
    # | "locked"
    kind: str
    before: dict | None
    after: dict | None


Listener = Callable[[Change], None]
#: Reads the service's current view: ``(rev, view)``.
Fetch = Callable[[], Awaitable[tuple[int, dict]]]


class PairState:
    """The live role/lock state of this server's session.

    ``writer`` is the one user allowed to change anything (the driver of an active session
    whose time is not up), or None when nobody may. Everything else is read-only.
    ``fetch`` reads the service's current view (after a write, so its effect applies at once).
    """

    def __init__(self, fetch: Fetch | None = None, log=None):
        self.fetch = fetch
        self.log = log
        self.doc: dict | None = None
        self.rev: int | None = None
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
        return self.doc.get("id") if self.doc else None

    @property
    def writes_until(self) -> float:
        """Epoch seconds after which nobody writes (0: nobody writes now)."""
        return self._writes_until

    # -- writes ----------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    async def apply(self, rev: int, view: dict | None) -> bool:
        """Apply a view read from the service; False when it is older than the one in force."""
        async with self._lock:
            return self._apply_rev(rev, view)

    async def refresh(self) -> dict | None:
        """Read the service's view now and apply it."""
        async with self._lock:
            if self.fetch is not None:
                rev, view = await self.fetch()
                self._apply_rev(rev, view)
            return self.doc

    async def update(self, write: Callable[[], Awaitable]):
        """Run a write on the service, then read and apply the view it produced; the write's
        result. Serialised with :meth:`apply`/:meth:`refresh`, and the view read after the
        write has a revision at least as new as any read before it."""
        async with self._lock:
            result = await write()
            if self.fetch is not None:
                try:
                    rev, view = await self.fetch()
                except Exception as e:  # the long poll brings it as soon as it can
                    if self.log:
                        self.log.warning("peerplatform: could not read the session after a "
                                         "write (%s); the next poll will", e)
                else:
                    self._apply_rev(rev, view)
            return result

    def lock(self) -> None:
        """Nobody writes any more (time is up, or the session is over). Irreversible."""
        if self._locked:
            return
        before = self.doc
        self._locked = True
        self._recompute()
        self._notify(Change("locked", before, self.doc))

    def _apply_rev(self, rev: int, view: dict | None) -> bool:
        if self.rev is not None and rev < self.rev:
            return False
        self.rev = rev
        self._apply(view)
        return True

    def _apply(self, doc: dict | None) -> None:
        before = self.doc
        self.doc = doc
        self._recompute()
        if doc is None:
            return
        if before is None or before.get("id") != doc.get("id"):
            self._notify(Change("session", before, doc))
            return
        if (before.get("driver"), before.get("observer")) != (doc.get("driver"), doc.get("observer")):
            self._notify(Change("roles", before, doc))
        if before.get("state") != doc.get("state"):
            self._notify(Change("state", before, doc))
        if _challenge_key(before) != _challenge_key(doc):
            self._notify(Change("challenge", before, doc))
        if before.get("swap_request") != doc.get("swap_request"):
            self._notify(Change("swap_request", before, doc))
        if before.get("outcome") != doc.get("outcome"):
            self._notify(Change("outcome", before, doc))

    def _recompute(self) -> None:
        doc = self.doc
        if doc is None or self._locked or doc.get("state") != "active":
            self._writer, self._writes_until = None, 0.0
            return
        self._writer = doc.get("driver")
        self._writes_until = _ends_at(doc)

    def _notify(self, change: Change) -> None:
        for listener in list(self._listeners):
            try:
                listener(change)
            except Exception:  # a listener must never break role enforcement
                if self.log:
                    self.log.exception("peerplatform: listener failed on %s", change.kind)


def _challenge_key(doc: dict) -> tuple:
    challenge = doc.get("challenge") or {}
    return challenge.get("slug"), challenge.get("version")


def _ends_at(doc: dict) -> float:
    """Epoch seconds of the session's end: ``ends_at``, else ``started_at + duration_s``;
    infinity for an active session the service gave no clock."""
    ends = doc.get("ends_at")
    if isinstance(ends, datetime):
        return as_utc(ends).timestamp()
    started, duration = doc.get("started_at"), doc.get("duration_s")
    if isinstance(started, datetime) and duration is not None:
        return as_utc(started).timestamp() + float(duration)
    return float("inf")
