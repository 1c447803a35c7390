"""Waiting for a session's revision to change: the long poll of ``GET state``.

Any replica may change a session, so the store's ``rev`` is the truth and the waiter reads it
every ``poll_interval`` (a small projection). A change made by this replica wakes its waiters
at once (:meth:`RevisionWatch.changed`), so a driver's swap or test result reaches the pair
server without the poll delay when the same replica serves both.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict


class RevisionWatch:
    def __init__(self, store, *, poll_interval: float = 0.25):
        self.store = store
        self.poll_interval = poll_interval
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)

    def changed(self, session_id: str) -> None:
        """This replica changed ``session_id``: wake its waiters now."""
        for event in list(self._waiters.get(session_id, ())):
            event.set()

    async def wait(self, session_id: str, since: int | None, timeout: float,
                   gone: asyncio.Event | None = None) -> int | None:
        """The session's revision as soon as it differs from ``since`` (at once when ``since``
        is None), else after ``timeout`` s (or when ``gone`` is set: the client left). None
        when the session does not exist."""
        deadline = time.monotonic() + max(timeout, 0.0)
        wake = asyncio.Event()
        self._waiters[session_id].add(wake)
        try:
            while True:
                wake.clear()
                current = await self.store.sessions.revision(session_id)
                if current is None:
                    return None
                rev = current[0]
                left = deadline - time.monotonic()
                if since is None or rev != since or left <= 0 or (gone and gone.is_set()):
                    return rev
                try:
                    await asyncio.wait_for(wake.wait(), min(self.poll_interval, left))
                except asyncio.TimeoutError:
                    pass
        finally:
            waiters = self._waiters.get(session_id)
            if waiters is not None:
                waiters.discard(wake)
                if not waiters:
                    self._waiters.pop(session_id, None)
