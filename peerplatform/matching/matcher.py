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
from .waiting_room import Match, WaitingRoom, now_ms

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
        #: where the next sweep looks beyond the head of the room (see :meth:`sweep`)
        self.cursor = 0

    #: match attempts per sweep beyond the head of the room (each looks at ``anchors`` more)
    scan_steps = 4

    async def sweep(self, max_matches: int = 1000) -> int:
        """Match while pairs fit at the head of the room (at most ``max_matches``), then look
        a little further in (``scan_steps`` attempts, a cursor that wraps around, so over
        successive sweeps every waiting learner anchors an attempt now and then), then resolve
        overdue handshakes. Returns the number of matches made."""
        made = 0
        while made < max_matches and (match := await self.room.pick(new_session_id())):
            made += 1
            await self._made(match)
        step = self.room.rules.anchors
        for _ in range(self.scan_steps):
            self.cursor += step
            if self.cursor >= await self.room.waiting_count():
                self.cursor = 0
                break
            if (match := await self.room.pick(new_session_id(), offset=self.cursor)):
                made += 1
                await self._made(match)
        await self.expire()
        return made

    async def try_match(self, user: str) -> Match | None:
        """The fast path after a join: one attempt anchored on the learner who just joined."""
        match = await self.room.pick(new_session_id(), anchor=user)
        if match:
            await self._made(match)
        return match

    async def _made(self, match: Match) -> None:
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
                await asyncio.wait_for(wake.wait(), timeout=await self._until_next(interval_s))
            except asyncio.TimeoutError:
                pass

    async def _until_next(self, interval_s: float) -> float:
        """Sleep at most ``interval_s``, less when a handshake is due sooner: a no-show is
        resolved at its deadline, not up to a sweep later."""
        try:
            due = await self.room.next_deadline_ms()
        except Exception:
            return interval_s
        if due is None:
            return interval_s
        return min(interval_s, max(0.0, (due - now_ms()) / 1000 + 0.005))


def describe_window(window) -> str:
    cap_at = (window.cap - window.start) / window.growth_per_s if window.growth_per_s else 0
    anyone = (f", anyone after {window.anyone_after_s:g} s" if window.anyone_after_s
              and not math.isinf(window.anyone_after_s) else "")
    return (f"±{window.start:g} growing {window.growth_per_s:g}/s to ±{window.cap:g} "
            f"(at {cap_at:g} s){anyone}")


def run_standalone(settings, *, duration_s: float = 0.0, record: str | None = None,
                   interval_s: float | None = None) -> int:
    """``peerplatform matcher``: one more replica of the match loop, without the web service.

    Matching scales out this way; the handshake's answers go to any service replica, which
    starts the confirmed session. Auto-accepted matches need a service replica to start
    their session, so this mode requires the handshake. ``duration_s`` stops it after that
    many seconds (tests); ``record`` appends every match made as a JSON line.
    """
    import json
    import signal

    from redis.asyncio import Redis

    from ..events import EventBus

    if settings.auto_accept:
        raise SystemExit("peerplatform matcher needs the handshake (auto_accept is on): "
                         "auto-accepted sessions are started by the service replicas")
    if not settings.redis_url:
        raise SystemExit("No Redis configured: set c.PeerPlatform.redis_url or $REDIS_URL")

    async def main() -> int:
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        room = WaitingRoom(redis, presence_ttl=settings.presence_ttl,
                           rules=settings.match_rules())
        out = open(record, "a", buffering=1) if record else None

        def on_match(m: Match) -> None:
            if out:
                out.write(json.dumps({"match": m.session_id, "members": m.members,
                                      "at_ms": m.at_ms, "gap": m.gap,
                                      "windows": [w if math.isfinite(w) else None
                                                  for w in m.windows]}) + "\n")

        matcher = Matcher(room, EventBus(redis), on_match=on_match)
        stop, wake = asyncio.Event(), asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if duration_s:
            loop.call_later(duration_s, stop.set)
        log.info("matcher replica: window %s, cohorts %s, handshake %s s",
                 describe_window(room.rules.window), room.rules.cohort_mode,
                 room.rules.handshake_s)
        try:
            await matcher.run(stop, wake, interval_s if interval_s is not None
                              else settings.match_interval / 1000)
        finally:
            if out:
                out.close()
            await redis.aclose()
        return 0

    return asyncio.run(main())
