"""Simulated learners for the replica tests: join, heartbeat, leave, go silent, accept,
decline or ignore offers, each one a coroutine against the real Redis, each writing down
what it did and what it saw, so the invariants can be checked afterwards."""

from __future__ import annotations

import asyncio
import math
import random
import time
from dataclasses import dataclass, field

from peerplatform.matching import WaitingRoom, keys


def ms() -> float:
    return time.time() * 1000


@dataclass
class Learner:
    name: str
    rating: float
    cohort: str
    prefs: dict
    joined: int = 0          # the room's own join time (read back after joining)
    #: new waiting offered confirmed left declined noshow silent hb_lost lost
    status: str = "new"
    last_hb: float = 0.0     # ms, after the last heartbeat that found them in the room
    answers: dict = field(default_factory=dict)   # match id -> accept | decline | ignore
    confirmed: str | None = None
    requeued: int = 0
    seen_after_leaving: list = field(default_factory=list)   # (match id, observed at)
    #: ms when they were out by their own doing (leave / decline returned, or confirmed):
    #: no match may be made after it, whatever the 1 s watch did or did not see
    out_at: float = math.inf
    problems: list = field(default_factory=list)


@dataclass
class Plan:
    arrive_within_s: float
    actions_until_s: float       # afterwards: no leaving / silence, every offer accepted
    tick_s: float = 0.4          # the lobby is told by SSE; the simulation polls
    p_leave: float = 0.01
    p_silent: float = 0.01
    p_accept: float = 0.75
    p_decline: float = 0.10      # the rest ignore the offer (no-show)
    accept_delay_s: float = 1.2


class Simulation:
    def __init__(self, redis, n: int, plan: Plan, *, presence_ttl: int, seed: int = 5):
        self.redis = redis
        self.room = WaitingRoom(redis, presence_ttl=presence_ttl)
        self.ttl_ms = presence_ttl * 1000
        self.plan = plan
        self.rng = random.Random(seed)
        self.learners = [self._learner(i) for i in range(n)]
        self.stop = asyncio.Event()
        self.t0 = 0.0

    def _learner(self, i: int) -> Learner:
        r = self.rng
        prefs = {}
        if r.random() < 0.3:
            prefs["duration_minutes"] = r.choice([30, 45])
        if r.random() < 0.2:
            prefs["track"] = r.choice(["sql", "algorithms"])
        if r.random() < 0.3:
            prefs["difficulty"] = r.choice(["easy", "medium", "hard"])
        return Learner(f"u{i:04d}", round(r.gauss(1500, 300), 1),
                       r.choice(["c1", "c2", ""]), prefs)

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    async def run(self) -> None:
        self.t0 = time.monotonic()
        await asyncio.gather(*(self.life(x, random.Random(i)) for i, x in
                               enumerate(self.learners)))

    async def life(self, me: Learner, r: random.Random) -> None:
        p = self.plan
        await asyncio.sleep(r.uniform(0, p.arrive_within_s))
        await self.room.join(me.name, me.prefs, rating=me.rating, cohort=me.cohort)
        me.last_hb = ms()
        me.joined = int(await self.redis.hget(keys.user_state(me.name), "joined"))
        me.status = "waiting"
        while not self.stop.is_set():
            await asyncio.sleep(r.uniform(0.5, 1.5) * p.tick_s)
            acting = self.elapsed() < p.actions_until_s
            if acting and me.status == "waiting" and r.random() < p.p_leave:
                if await self.room.leave(me.name):
                    me.status, me.out_at = "left", ms()
                    return await self.watch_after_leaving(me)
            if acting and me.status == "waiting" and r.random() < p.p_silent:
                me.status = "silent"  # the tab is gone: no heartbeat, no answer, ever
                return await self.watch_after_leaving(me)
            before = ms()
            state = await self.room.heartbeat(me.name)
            if state in ("waiting", "matched"):
                previous_hb, me.last_hb = me.last_hb, ms()
            else:
                previous_hb = me.last_hb
            if state == "waiting":
                if me.status == "offered":
                    me.requeued += 1
                me.status = "waiting"
            elif state == "matched":
                mid = await self.redis.hget(keys.user_state(me.name), "session")
                if mid and mid not in me.answers:
                    me.status = "offered"
                    await self.answer(me, mid, r, acting)
                    if me.status in ("declined", "confirmed"):
                        return await self.watch_after_leaving(me)
            elif state == "session":
                mid = await self.redis.hget(keys.user_state(me.name), "session")
                if me.answers.get(mid) != "accept":
                    me.problems.append(f"in session {mid} without accepting it")
                me.status, me.confirmed = "confirmed", mid
                me.out_at = min(me.out_at, ms())
                return await self.watch_after_leaving(me)
            else:  # out of the room without leaving
                last = next(reversed(me.answers.values()), None) if me.answers else None
                if me.status == "offered" and last in ("ignore", "late"):
                    me.status = "noshow"
                elif int((await self.room.marks(me.name)).get("noshow", 0)):
                    me.status = "noshow"  # offered and expired between two of our polls
                elif before - previous_hb > self.ttl_ms:
                    me.status = "hb_lost"  # our own heartbeat came too late (a loaded machine)
                else:
                    me.status = "lost"
                    me.problems.append(f"removed from the room without a reason (state {state!r})")
                return await self.watch_after_leaving(me)

    async def answer(self, me: Learner, mid: str, r: random.Random, acting: bool) -> None:
        p = self.plan
        roll = r.random() if acting else 0.0
        if roll < p.p_accept:
            me.answers[mid] = "accept"
            await asyncio.sleep(r.uniform(0, p.accept_delay_s) if acting else 0)
            result = await self.room.accept(me.name, mid)
            if result[0] == "confirmed":
                me.status, me.confirmed, me.out_at = "confirmed", mid, ms()
            elif result[0] == "expired":
                me.answers[mid] = "late"
        elif roll < p.p_accept + p.p_decline:
            me.answers[mid] = "decline"
            result = await self.room.decline(me.name, mid)
            if result[0] == "declined":
                me.status, me.out_at = "declined", ms()
        else:
            me.answers[mid] = "ignore"

    async def watch_after_leaving(self, me: Learner) -> None:
        """Whoever is out of the room (or done) must never be offered a match again."""
        done_mid = me.confirmed
        while not self.stop.is_set():
            await asyncio.sleep(1.0)
            state = await self.redis.hgetall(keys.user_state(me.name))
            mid = state.get("session")
            if state.get("state") in ("matched", "session") and mid != done_mid \
                    and mid not in me.answers:
                me.seen_after_leaving.append((mid, ms()))

    # -- the checks -------------------------------------------------------------------------

    def check(self, matches: list[dict], window, final: dict[str, dict],
              presence: dict[str, bool]) -> dict:
        by_name = {x.name: x for x in self.learners}
        problems: list[str] = []
        for x in self.learners:
            problems += [f"{x.name}: {p}" for p in x.problems]
        # 0 users matched twice
        confirmed_by: dict[str, list] = {}
        for x in self.learners:
            if x.confirmed:
                confirmed_by.setdefault(x.confirmed, []).append(x.name)
        for mid, members in confirmed_by.items():
            if len(members) != 2:
                problems.append(f"match {mid} confirmed for {members}")
        ids = [m["match"] for m in matches]
        if len(ids) != len(set(ids)):
            problems.append("a match id was used twice")
        # every match within both windows, between compatible learners
        for m in matches:
            a, b = (by_name[u] for u in m["members"])
            gap = abs(a.rating - b.rating)
            for x in (a, b):
                w = window.at((m["at_ms"] - x.joined) / 1000)
                if gap > w + 1e-6:
                    problems.append(f"{m['match']}: gap {gap:.1f} > {x.name}'s window {w:.1f}")
            for key, any_ in (("track", None), ("duration_minutes", None), ("difficulty", None)):
                va, vb = a.prefs.get(key, any_), b.prefs.get(key, any_)
                if va is not None and vb is not None and va != vb:
                    problems.append(f"{m['match']}: incompatible {key}")
        # 0 matches with a user who had left or gone silent
        made = {m["match"]: m for m in matches}
        for x in self.learners:
            for mid, _seen in x.seen_after_leaving:
                if x.status in ("left", "declined", "confirmed", "noshow", "lost"):
                    problems.append(f"{x.name} ({x.status}) was matched afterwards ({mid})")
                elif x.status == "silent":
                    at = made.get(mid, {}).get("at_ms", math.inf)
                    if at > x.last_hb + self.ttl_ms + 5:
                        problems.append(f"{x.name} matched {at - x.last_hb:.0f} ms after "
                                        f"their last heartbeat ({mid})")
        # ... and from the replicas' own record of every match, not only what the watch saw
        for m in matches:
            for name in m["members"]:
                x = by_name[name]
                if m["match"] != x.confirmed and m["at_ms"] > x.out_at:
                    problems.append(f"{name} ({x.status}) was matched {m['at_ms'] - x.out_at:.0f}"
                                    f" ms after being out ({m['match']})")
                if x.status == "silent" and m["match"] not in x.answers \
                        and m["at_ms"] > x.last_hb + self.ttl_ms + 5:
                    problems.append(f"{name} matched {m['at_ms'] - x.last_hb:.0f} ms after their "
                                    f"last heartbeat ({m['match']})")
        # 0 users lost: where each one is agrees with what they did
        lost = 0
        for x in self.learners:
            st = final.get(x.name, {})
            state = st.get("state")
            ok = {
                "confirmed": state == "session" and st.get("session") == x.confirmed,
                "waiting": state == "waiting" and presence[x.name],
                "offered": state == "waiting" and presence[x.name],  # requeued at the end
                "left": not st, "declined": not st, "noshow": not st,
                "silent": not st or (state == "waiting" and not presence[x.name]),
                "hb_lost": not st or (state == "waiting" and not presence[x.name]),
            }.get(x.status, False)
            if not ok:
                lost += 1
                problems.append(f"{x.name}: did {x.status!r}, is {st or 'nowhere'}")
        statuses: dict[str, int] = {}
        for x in self.learners:
            statuses[x.status] = statuses.get(x.status, 0) + 1
        return {"problems": problems, "lost": lost, "statuses": statuses,
                "matches": len(matches), "confirmed": len(confirmed_by),
                "requeued": sum(x.requeued for x in self.learners)}
