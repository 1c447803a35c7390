"""What the pair server sends the platform service on its own: replay snapshots and notices.

Both are queued here and sent in batches by the controller's clock loop (``flush`` every
tick), so a slow or unreachable service never slows the session down: a failed batch stays
queued and goes with the next flush. Each item carries its own key - ``seq`` for a snapshot,
``id`` for an event - and the service stores a key once, so a batch retried after a lost
answer stores nothing twice (``peerplatform_contracts.pair_api``).

``seq`` follows the wall clock in milliseconds (and always grows within the process): a
restarted pair server goes on above the numbers it used before, where a counter from 1 would
be taken for duplicates and dropped.
"""

from __future__ import annotations

import asyncio
import time
import uuid

from .platform_client import PlatformClient, PlatformRefused, PlatformUnavailable


class Outbox:
    def __init__(self, client: PlatformClient, *, max_batch: int = 50,
                 max_pending: int = 3600, log=None):
        self.client = client
        self.max_batch = max_batch
        self.max_pending = max_pending
        self.log = log
        self.snapshots: list[dict] = []
        self.events: list[dict] = []
        self.sent_snapshots = 0
        self._seq = 0
        self._lock = asyncio.Lock()

    @property
    def pending(self) -> int:
        return len(self.snapshots) + len(self.events)

    def next_seq(self) -> int:
        self._seq = max(self._seq + 1, int(time.time() * 1000))
        return self._seq

    def add_snapshot(self, *, t: float, by: str | None, cells: list[dict], final: bool = False,
                     notebook: dict | None = None) -> int:
        snapshot = {"seq": self.next_seq(), "t": round(max(float(t), 0.0), 3), "by": by,
                    "cells": cells, "final": final}
        if final and notebook is not None:
            snapshot["notebook"] = notebook
        self.snapshots.append(snapshot)
        if len(self.snapshots) > self.max_pending:
            # the service has been away for an hour: keep the newest (and every final one)
            overflow = len(self.snapshots) - self.max_pending
            old = [s for s in self.snapshots[:overflow] if s["final"]]
            self.snapshots = old + self.snapshots[overflow:]
            if self.log:
                self.log.warning("peerplatform: dropped %d unsent replay snapshot(s)", overflow)
        return snapshot["seq"]

    def add_event(self, type: str, data: dict) -> str:
        event = {"id": uuid.uuid4().hex, "type": type, "data": data}
        self.events.append(event)
        del self.events[:-self.max_pending]
        return event["id"]

    async def flush(self) -> bool:
        """Send what is queued; True when nothing is left. Never raises for the service's
        faults: what could not be sent stays queued (unless the service refuses it)."""
        async with self._lock:
            ok = await self._drain(self.snapshots, self.client.snapshots, "snapshots")
            return await self._drain(self.events, self.client.events, "events") and ok

    async def _drain(self, queue: list[dict], send, what: str) -> bool:
        while queue:
            batch = queue[:self.max_batch]
            try:
                # one try: the next flush (the next tick) is the retry, and a flush never
                # holds the session's clock loop for the length of a backoff
                await send(batch, attempts=1)
                if what == "snapshots":
                    self.sent_snapshots += len(batch)
            except PlatformUnavailable as e:
                if self.log:
                    self.log.debug("peerplatform: %d %s not sent yet (%s)", len(queue), what, e)
                return False
            except PlatformRefused as e:
                if e.status == 413 and len(batch) > 1:  # too big together: smaller batches
                    self.max_batch = max(1, len(batch) // 2)
                    continue
                # refused for good (the session is over, or a body the service will never
                # take): retrying would block everything queued behind it
                if self.log:
                    self.log.warning("peerplatform: the platform refused %d %s (%s); "
                                     "dropping them", len(batch), what, e)
            del queue[:len(batch)]
        return True
