"""The service's clock: scheduled role swaps, and the end of every session at time-up.

Every replica sweeps the active sessions every ``c.PeerPlatform.clock_interval`` seconds:

* a scheduled swap whose time has come is applied (``swap_roles(scheduled=i)``: conditional,
  so two replicas apply it once);
* a session whose time is up is ended: this replica claims the end (a lease in the session
  document, ``c.PeerPlatform.end_lease`` seconds), waits up to
  ``c.PeerPlatform.final_snapshot_wait`` s for the final snapshot the pair server sends when it
  locks the notebook at time-up (else takes the latest snapshot), grades it, and records the
  outcome with the atomic ``active -> ended`` transition; the winner of that transition records
  the attempts, ends the pair's Twilio conference (if the calls are Twilio's) and tells both
  lobbies. A replica that dies mid-way leaves its lease to expire, and another replica ends
  the session; whatever happens, the outcome is recorded once.

The pair server learns all of it from ``GET state`` (rev changes).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time

from peerplatform_contracts.clock import Clock, utcnow

from ..store.attempts import OUTCOMES
from ..store.sessions import InvalidTransition
from ..voice.calls import end_conference
from .grading import notebook_of

log = logging.getLogger("peerplatform.pair")

#: The reason recorded for a session ended by its clock.
TIME_UP = "time is up"
#: Sweeps between two looks for outcomes not yet in the attempts (a replica died in between).
ATTEMPTS_EVERY = 20


def replica_id() -> str:
    """This process among the replicas (for the end lease; unique, readable in the store)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class ClockSweep:
    """The sweep of one replica.

    ``voice_settings`` (the service's ``VoiceSettings``; None: no calls to end) and
    ``voice_http_client`` (Twilio's REST client's transport; tests plug a fake in) are for
    ending the pair's Twilio conference at the end.
    """

    def __init__(self, api, *, replica: str | None = None, voice_settings=None,
                 voice_http_client=None):
        self.api = api
        self.replica = replica or replica_id()
        self.voice_settings = voice_settings
        self.voice_http_client = voice_http_client
        self._ending: dict[str, asyncio.Task] = {}
        self._sweeps = 0

    @property
    def store(self):
        return self.api.store

    @property
    def settings(self):
        return self.api.settings

    @property
    def idle(self) -> bool:
        """Whether this replica is ending no session right now."""
        return not self._ending

    async def run(self, stop: asyncio.Event) -> None:
        """Sweep until ``stop`` is set; a failed sweep (store down) is retried next time."""
        interval = self.settings.clock_interval
        while not stop.is_set():
            try:
                await self.sweep()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("clock sweep failed; retrying")
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except asyncio.TimeoutError:
                pass
        await self.close()

    async def close(self) -> None:
        """Stop ending sessions here (their leases expire; another replica takes over)."""
        for task in list(self._ending.values()):
            task.cancel()
        for task in list(self._ending.values()):
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._ending.clear()

    async def sweep(self) -> None:
        now = utcnow()
        for doc in await self.store.sessions.active_for_clock():
            clock = Clock.from_session(doc)
            if clock is None:
                continue
            if clock.is_over(now):
                self._start_end(doc["_id"])
                continue
            await self._scheduled_swaps(doc, clock, now)
        self._sweeps += 1
        if self._sweeps % ATTEMPTS_EVERY == 1:
            await self.record_pending_attempts()

    async def _scheduled_swaps(self, doc: dict, clock: Clock, now) -> None:
        done = set(doc.get("scheduled_swaps_done") or [])
        for index in clock.due_swaps(now):
            if index in done:
                continue
            new = await self.store.sessions.swap_roles(
                doc["_id"], driver=doc["driver"], observer=doc["observer"],
                reason="schedule", scheduled=index)
            if new is None:  # another replica did it, or the roles changed: next sweep
                return
            self.api.watch.changed(doc["_id"])
            doc = new

    def _start_end(self, session_id: str) -> None:
        if session_id in self._ending:
            return
        task = asyncio.create_task(self.end(session_id))
        self._ending[session_id] = task
        task.add_done_callback(lambda t: self._ending.pop(session_id, None))

    # -- the end -----------------------------------------------------------------------------

    async def end(self, session_id: str, reason: str = TIME_UP) -> dict | None:
        """End the session if this replica can claim it: the ended document, or None (another
        replica holds it, or it is not active any more)."""
        try:
            return await self._end(session_id, reason)
        except asyncio.CancelledError:
            raise
        except Exception:  # the lease expires; this or another replica tries again
            log.exception("ending session %s failed", session_id)
            return None

    async def _end(self, session_id: str, reason: str) -> dict | None:
        settings = self.settings
        doc = await self.store.sessions.claim_end(session_id, owner=self.replica,
                                                  lease_s=settings.end_lease)
        if doc is None:
            return None
        self.api.watch.changed(session_id)
        snapshot, final = await self._final_snapshot(session_id, settings.final_snapshot_wait)
        cells = snapshot.get("cells") if snapshot else None
        tests, grader_status = await self.api.grading.final(doc, cells)
        notebook = (snapshot or {}).get("notebook_json")
        if notebook is None and cells is not None:  # the review shows the cells at least
            notebook = json.dumps(notebook_of(cells))
        outcome = {
            "reason": reason,
            "ended_by": "service",
            "at": utcnow(),
            "challenge": (doc.get("challenge") or {}).get("slug"),
            "challenge_version": (doc.get("challenge") or {}).get("version"),
            "driver": doc.get("driver"),
            "observer": doc.get("observer"),
            "final_snapshot": final,
            "notebook_saved": final,
            "tests": tests,
            "grader": grader_status,
            "notebook_json": notebook,
        }
        event = None
        if tests is not None:
            event = {"type": "tests", "by": None, "final": True, "result": tests}
        try:
            ended = await self.store.sessions.transition(
                session_id, "ended", reason=reason, outcome=outcome, attempts_pending=True,
                event=event, end_lease=None)
        except InvalidTransition:  # ended meanwhile (another replica, the lobby): theirs
            return None
        self.api.watch.changed(session_id)
        log.info("session %s ended (%s): tests %s", session_id, reason,
                 (tests or {}).get("status", grader_status))
        await self.record_attempts(ended)
        await self.end_call(session_id)
        if self.api.events is not None:
            try:
                await self.api.events.publish_all(ended["members"], "ended",
                                                  session=session_id, reason=reason)
            except Exception:  # the lobbies also see it on their next look at the session
                log.exception("could not tell the lobbies that session %s ended", session_id)
        return ended

    async def end_call(self, session_id: str) -> None:
        """End the session's Twilio conference (only the winner of the end does: once).
        Best effort, never raises; nothing to do in WebRTC mode, where the pair server's
        relay ends the call when its state says the session ended."""
        if self.voice_settings is not None:
            await end_conference(self.voice_settings, session_id,
                                 http_client=self.voice_http_client)

    async def _final_snapshot(self, session_id: str, wait: float) -> tuple[dict | None, bool]:
        """The final snapshot, waiting up to ``wait`` s for it; else the latest one."""
        deadline = time.monotonic() + wait
        poll = self.settings.state_poll_interval
        while True:
            final = await self.store.snapshots.final_for(session_id)
            if final is not None:
                return final, True
            if time.monotonic() >= deadline:
                return await self.store.snapshots.latest_for(session_id), False
            await asyncio.sleep(min(poll, max(deadline - time.monotonic(), 0.01)))

    async def record_attempts(self, doc: dict) -> None:
        """Both members' attempt at the challenge: how the final tests went (once)."""
        outcome = doc.get("outcome") or {}
        slug = outcome.get("challenge") or (doc.get("challenge") or {}).get("slug")
        try:
            if slug:
                tests = outcome.get("tests")
                status = (tests or {}).get("status") if tests else "skipped"
                if status not in OUTCOMES:
                    status = "error"
                await self.store.challenges.record_outcome(doc["_id"], slug, status, tests)
            await self.store.sessions.attempts_recorded(doc["_id"])
        except Exception:  # the next look at pending attempts retries
            log.exception("could not record the attempts of session %s", doc["_id"])

    async def record_pending_attempts(self) -> None:
        """Outcomes whose attempts a replica did not record (it died right after the end)."""
        for doc in await self.store.sessions.attempts_pending():
            await self.record_attempts(doc)
