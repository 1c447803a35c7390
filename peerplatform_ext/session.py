"""The session this pair server serves, as the platform service pushes it (a long poll).

The service holds the session of record (roles, clock, challenge, swaps, outcome); the pair
server follows it with ``GET state?since=<rev>`` (``peerplatform_contracts.pair_api``): every
new *pair view* is applied to :class:`~.roles.PairState` as soon as it arrives, so a swap or
the end is enforced at once. While the service cannot be reached, the last view stays in
force (the RTC room keeps working, and the clock still locks writes at ``ends_at``), both
members are told (``connection`` event) and the poll retries with backoff. A 401/403 on our
own session means the credential was revoked or the session is over: nobody writes any more.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

from .platform_client import PlatformClient, PlatformRefused, PlatformUnavailable
from .roles import PairState


class SessionFeed:
    """The background task that keeps :class:`PairState` on the service's latest view.

    ``on_connection(ok: bool)`` is called when the service becomes unreachable and when it
    answers again; ``on_revoked(refusal)`` when it refuses our credential.
    """

    def __init__(self, *, client: PlatformClient, state: PairState, wait_s: float = 25.0,
                 retry_s: float = 0.5, max_retry_s: float = 5.0,
                 on_connection: Callable[[bool], None] | None = None,
                 on_revoked: Callable[[PlatformRefused], None] | None = None, log=None):
        self.client = client
        self.state = state
        self.wait_s = wait_s
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.on_connection = on_connection
        self.on_revoked = on_revoked
        self.log = log
        self.connected = True  # until a poll fails: nobody is told "reconnecting" at start
        self.revoked: PlatformRefused | None = None
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None

    async def run(self) -> None:
        failures = 0
        while True:
            try:
                since = self.state.rev
                rev, view = await self.client.state(
                    since=since, wait=self.wait_s if since is not None else 0.0, attempts=1)
            except asyncio.CancelledError:
                raise
            except PlatformRefused as e:
                if e.revoked:
                    self._revoke(e)
                    return
                failures += 1  # a 4xx we do not expect (400, 404): keep the last view, retry
                if self.log:
                    self.log.error("peerplatform: the platform refused GET state: %s", e)
                await asyncio.sleep(self._backoff(failures))
                continue
            except PlatformUnavailable as e:
                failures += 1
                self._set_connected(False, e)
                await asyncio.sleep(self._backoff(failures))
                continue
            except Exception:  # a bug of ours must not stop following the session
                failures += 1
                if self.log:
                    self.log.exception("peerplatform: applying the session state failed")
                await asyncio.sleep(self._backoff(failures))
                continue
            failures = 0
            self._set_connected(True)
            await self.state.apply(rev, view)

    async def refresh(self) -> dict | None:
        """Read the view now (no wait) and apply it; the state's doc, which stays the last
        view if the service cannot be reached."""
        try:
            rev, view = await self.client.state()
        except PlatformRefused as e:
            if e.revoked:
                self._revoke(e)
            return self.state.doc
        except PlatformUnavailable as e:
            self._set_connected(False, e)
            return self.state.doc
        self._set_connected(True)
        await self.state.apply(rev, view)
        return self.state.doc

    def _backoff(self, failures: int) -> float:
        delay = min(self.retry_s * 2 ** (failures - 1), self.max_retry_s)
        return delay * random.uniform(0.5, 1.0)

    def _set_connected(self, ok: bool, error: Exception | None = None) -> None:
        if ok == self.connected:
            return
        self.connected = ok
        if self.log:
            if ok:
                self.log.info("peerplatform: the platform service answers again")
            else:
                self.log.warning("peerplatform: the platform service is unreachable (%s); "
                                 "keeping the last session state and retrying", error)
        if self.on_connection is not None:
            try:
                self.on_connection(ok)
            except Exception:
                if self.log:
                    self.log.exception("peerplatform: connection listener failed")

    def _revoke(self, refusal: PlatformRefused) -> None:
        if self.revoked is not None:
            return
        self.revoked = refusal
        if self.log:
            self.log.warning("peerplatform: the platform refused this server's credential "
                             "(%s): the session is over here; nobody writes any more", refusal)
        self.state.lock()
        self._set_connected(True)  # it answered: this is not a connection problem
        if self.on_revoked is not None:
            try:
                self.on_revoked(refusal)
            except Exception:
                if self.log:
                    self.log.exception("peerplatform: revocation listener failed")
