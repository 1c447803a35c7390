"""The match loop every service replica runs: match attempts, offers, overdue handshakes.

Stateless: everything is in Redis and each step is one atomic script, so any number of
replicas may run it against one Redis, and a replica killed at any point leaves nothing that
the others do not finish (an offer it made expires by its deadline in ``pp:pending``).
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable

from ..store.sessions import new_session_id
from .waiting_room import Match, WaitingRoom

log = logging.getLogger("peerplatform.matcher")

CANCEL_REASONS = {
    "requeued": "your partner did not accept in time; you are back at the head of the room",
    "noshow": "you did not accept in time, so you left the waiting room",
}


class Matcher:
    def __init__(self, room: WaitingRoom, events, *,
                 on_confirmed: Callable[[Match], Awaitable | None] | None = None,
                 on_match: Callable[[Match], None] | None = None):
        self.room = room
        self.events = events
        #: called with an auto-accepted match (the service starts its session)
        self.on_confirmed = on_confirmed
        #: called with every match made (tests and benchmarks record them)
        self.on_match = on_match

    async def sweep(self, max_matches: int = 1000) -> int:
        """Match while pairs fit (at most ``max_matches``), then resolve overdue handshakes.
        Returns the number of matches made."""
        made = 0
        while made < max_matches and (match := await self.room.pick(new_session_id())):
            made += 1
            log.info("matched %s and %s (%s, gap %.0f)", *match.members, match.session_id,
                     match.gap)
            if self.on_match:
                self.on_match(match)
            if match.state == "session":
                if self.on_confirmed:
                    result = self.on_confirmed(match)
                    if asyncio.iscoroutine(result):
                        await result
            else:
                await self.offer(match)
        await self.expire()
        return made

    async def offer(self, match: Match) -> None:
        a, b = match.members
        for me, partner in ((a, b), (b, a)):
            await self.events.publish(
                me, "match_offered", match=match.session_id, partner=partner,
                expires_in=self.room.rules.handshake_s, gap=round(match.gap),
            )

    async def expire(self) -> list[tuple]:
        resolved = await self.room.expire()
        for match_id, user, what in resolved:
            log.info("handshake %s: %s %s", match_id, user, what)
            await self.events.publish(user, "match_cancelled", match=match_id,
                                      requeued=what == "requeued", reason=CANCEL_REASONS[what])
        return resolved

    async def run(self, stop: asyncio.Event, wake: asyncio.Event, interval_s: float,
                  every: Callable[[], Awaitable] | None = None) -> None:
        """Sweep on every wake-up (a join, an accept) and every ``interval_s`` anyway;
        ``every`` runs after each sweep (the service's reaper)."""
        while not stop.is_set():
            wake.clear()
            try:
                await self.sweep()
                if every:
                    await every()
            except Exception:
                log.exception("matcher sweep failed; retrying")
            try:
                await asyncio.wait_for(wake.wait(), timeout=interval_s)
            except asyncio.TimeoutError:
                pass


def describe_window(window) -> str:
    cap_at = (window.cap - window.start) / window.growth_per_s if window.growth_per_s else 0
    anyone = (f", anyone after {window.anyone_after_s:g} s" if window.anyone_after_s
              and not math.isinf(window.anyone_after_s) else "")
    return (f"±{window.start:g} growing {window.growth_per_s:g}/s to ±{window.cap:g} "
            f"(at {cap_at:g} s){anyone}")
