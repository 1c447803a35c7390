"""The matcher at scale: throughput at 10,000 waiting, decision latency through the service,
and a simulation over a realistic arrival curve.

    python bench/match.py [--waiting 10000] [--matches 2000] [--pairs 10 --rounds 5]
                          [--sim-hours 2] [--skip-service]

Prints ``name=value`` lines:

* ``matches_per_s`` / ``matches_per_s_8clients`` - match attempts that pair two learners, with
  10,000 waiting (ratings ~N(1500, 300), waits 0-120 s), one client / 8 asyncio clients on
  separate connections, handshake mode (each match writes the pending match too);
  ``match_attempt_ms_p50`` / ``match_attempt_ms_p99`` - one attempt seen from the client
  (not ``pick_ms_*``: that is bench/pick.py's challenge selection).
* ``match_decision_ms_p50`` / ``match_decision_ms_p99`` - through the real platform (Hub,
  proxy, service; 10,000 other learners waiting, none compatible): from the second compatible
  learner's ``POST api/waiting-room`` to both lobbies holding the ``match_offered`` event.
* ``median_rating_gap`` / ``median_wait_s`` (and p90s, the share matched) - the real Lua matcher
  on a simulated clock, learners arriving over ``--sim-hours`` with an evening-peak curve,
  cohorts, preferences and impatient learners who leave.

Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from peerplatform.embedded import EmbeddedMongo, EmbeddedRedis  # noqa: E402
from peerplatform.matching import (  # noqa: E402
    MatchRules,
    WaitingRoom,
    keys,  # noqa: E402
)
from peerplatform.matching.waiting_room import now_ms  # noqa: E402
from peerplatform.store import new_session_id  # noqa: E402


def pct(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, max(0, math.ceil(q / 100 * len(values)) - 1))]


async def fill(redis, n: int, *, rng: random.Random, prefix: str = "w", unmatchable=False):
    """``n`` present learners: ratings ~N(1500, 300), waiting 0-120 s already."""
    room = WaitingRoom(redis, presence_ttl=3600)
    now = now_ms()
    for start in range(0, n, 50):
        await asyncio.gather(*(
            room.join(f"{prefix}{i}", {"track": f"bg{i}"} if unmatchable else {},
                      rating=round(rng.gauss(1500, 300), 1),
                      at_ms=now - rng.randint(0, 120_000))
            for i in range(start, min(n, start + 50))))


async def throughput(redis_url: str, waiting: int, matches: int) -> None:
    from redis.asyncio import Redis

    rng = random.Random(1)
    rules = MatchRules(auto_accept=False)
    main = Redis.from_url(redis_url, decode_responses=True)

    async def one_client():
        await main.flushdb()
        await fill(main, waiting, rng=rng)
        room = WaitingRoom(main, rules=rules)
        lat = []
        t = time.perf_counter()
        for _ in range(matches):
            t1 = time.perf_counter()
            m = await room.pick(new_session_id())
            lat.append((time.perf_counter() - t1) * 1000)
            assert m is not None
        return matches / (time.perf_counter() - t), lat

    async def eight_clients():
        await main.flushdb()
        await fill(main, waiting, rng=rng)
        clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(8)]
        rooms = [WaitingRoom(c, rules=rules) for c in clients]
        per = matches // 8
        t = time.perf_counter()

        async def run(room):
            for _ in range(per):
                await room.pick(new_session_id())

        await asyncio.gather(*(run(r) for r in rooms))
        rate = per * 8 / (time.perf_counter() - t)
        for c in clients:
            await c.aclose()
        return rate

    single, lat = await one_client()
    pending = await main.zcard(keys.PENDING)
    waiting_left = await main.zcard(keys.WAITING)
    print(f"waiting={waiting}")
    print(f"matches_per_s={single:.0f}")
    print(f"match_attempt_ms_p50={statistics.median(lat):.2f}")
    print(f"match_attempt_ms_p99={pct(lat, 99):.2f}")
    print(f"check_pending_after_single={pending} check_waiting_left={waiting_left}")
    print(f"matches_per_s_8clients={await eight_clients():.0f}")
    await main.flushdb()
    await main.aclose()


def through_service(redis_url: str, mongodb_uri: str, tmp: Path, waiting: int, pairs: int,
                    rounds: int) -> None:
    from hubproc import HubProcess
    from hubuser import EventListener, HubUser
    from redis.asyncio import Redis

    async def background():
        r = Redis.from_url(redis_url, decode_responses=True)
        await r.flushdb()
        await fill(r, waiting, rng=random.Random(2), prefix="bg", unmatchable=True)
        await r.aclose()

    asyncio.run(background())
    hub = HubProcess(tmp / "hub", redis_url=redis_url, mongodb_uri=mongodb_uri,
                     mongodb_database="pp_bench_match", env={"PEERPLATFORM_AUTO_ACCEPT": "0"})
    hub.start()
    try:
        users = []
        for i in range(pairs * 2):
            u = HubUser(hub.url, f"mb{i}")
            u.signup()
            u.login()
            u.open_lobby()
            users.append(u)
        lobbies = {u.name: EventListener(u) for u in users}
        for lobby in lobbies.values():
            lobby.wait_for("hello", timeout=20)
        samples = []
        prefs = {"preferences": {"track": "algorithms"}}
        for _ in range(rounds):
            for p in range(pairs):
                a, b = users[2 * p], users[2 * p + 1]
                for u in (a, b):
                    lobbies[u.name].events.clear()
                assert a.api("POST", "waiting-room", prefs).status_code == 200
                time.sleep(0.05)
                t0 = time.time()
                assert b.api("POST", "waiting-room", prefs).status_code == 200
                got = [lobbies[u.name].wait_for("match_offered", timeout=10)["_received"]
                       for u in (a, b)]
                samples.append((max(got) - t0) * 1000)
                for u in (b, a):  # leaving declines; the partner is requeued, then leaves
                    u.api("DELETE", "waiting-room")
        for lobby in lobbies.values():
            lobby.close()
        print(f"service_waiting_background={waiting}")
        print(f"match_decision_samples={len(samples)}")
        print(f"match_decision_ms_p50={statistics.median(samples):.1f}")
        print(f"match_decision_ms_p99={pct(samples, 99):.1f}")
    finally:
        hub.stop()


async def simulate(redis_url: str, hours: float, seed: int = 7) -> None:
    """Arrivals: a Poisson process whose rate follows an evening over ``hours``: 0.02/s at the
    start and the end, a peak of 0.6/s in the middle (a Gaussian bump, sd = a sixth of the
    span); each learner brings a rating ~N(1500, 300), one of 4 cohorts (or
    none), a duration preference 30% of the time and a difficulty 25% of the time, and
    leaves after a patience ~U(3, 12) min if unmatched. The matcher runs every 0.5 s of
    simulated time with the default window schedule; offers are accepted at once."""
    from redis.asyncio import Redis

    from peerplatform.events import EventBus
    from peerplatform.matching.matcher import Matcher

    rng = random.Random(seed)
    redis = Redis.from_url(redis_url, decode_responses=True)
    await redis.flushdb()
    rules = MatchRules(auto_accept=True)
    room = WaitingRoom(redis, presence_ttl=10**6, rules=rules)
    matcher = Matcher(room, EventBus(redis))
    t0 = now_ms()
    sim_ms = 0
    step_ms = 500
    joined, rating, patience_end = {}, {}, {}
    gaps, waits, left = [], [], 0
    n = 0
    clock = {"now": t0}
    real_pick = room.pick

    async def pick_at(session_id, **kw):  # the matcher's attempts on the simulated clock
        return await real_pick(session_id, at_ms=clock["now"], **kw)

    room.pick = pick_at
    real_expire = room.expire
    room.expire = lambda **kw: real_expire(at_ms=clock["now"], **kw)
    made = []
    matcher.on_match = made.append
    end = int(hours * 3600 * 1000)
    while sim_ms < end:
        clock["now"] = t0 + sim_ms
        rate = 0.02 + 0.58 * math.exp(-((sim_ms - end / 2) ** 2) / (2 * (end / 6) ** 2))
        for _ in range(_poisson(rng, rate * step_ms / 1000)):
            u = f"s{n}"
            n += 1
            prefs = {}
            if rng.random() < 0.3:
                prefs["duration_minutes"] = rng.choice([30, 45, 60])
            if rng.random() < 0.25:
                prefs["difficulty"] = rng.choice(["easy", "medium", "hard"])
            rating[u] = round(rng.gauss(1500, 300), 1)
            joined[u] = clock["now"]
            patience_end[u] = clock["now"] + rng.uniform(180, 720) * 1000
            await room.join(u, prefs, rating=rating[u], at_ms=clock["now"],
                            cohort=rng.choice(["c1", "c2", "c3", "c4", ""]))
        made.clear()
        await matcher.sweep()
        for m in made:
            gaps.append(m.gap)
            for u in m.members:
                waits.append((clock["now"] - joined.pop(u)) / 1000)
                patience_end.pop(u, None)
        for u in [u for u, t in patience_end.items() if t <= clock["now"]]:
            if await room.leave(u):
                left += 1
            patience_end.pop(u)
            joined.pop(u, None)
        sim_ms += step_ms
    print(f"sim_hours={hours:g} sim_arrivals={n} sim_matched_learners={len(waits)} "
          f"sim_left_unmatched={left}")
    print(f"sim_matched_share={len(waits) / max(n, 1):.3f}")
    print(f"median_rating_gap={statistics.median(gaps):.1f}")
    print(f"p90_rating_gap={pct(gaps, 90):.1f}")
    print(f"median_wait_s={statistics.median(waits):.1f}")
    print(f"p90_wait_s={pct(waits, 90):.1f}")
    await redis.flushdb()
    await redis.aclose()


def _poisson(rng: random.Random, lam: float) -> int:
    k, p, limit = 0, 1.0, math.exp(-lam)
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waiting", type=int, default=10_000)
    parser.add_argument("--matches", type=int, default=2000)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--sim-hours", type=float, default=2.0)
    parser.add_argument("--skip-service", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pp-bench-match-") as tmp:
        tmp = Path(tmp)
        redis = EmbeddedRedis(tmp / "redis")
        redis.start()
        try:
            asyncio.run(throughput(redis.url, args.waiting, args.matches))
            asyncio.run(simulate(redis.url, args.sim_hours))
            if not args.skip_service:
                mongo = EmbeddedMongo(tmp / "mongo", memory=True)
                mongo.start()
                try:
                    through_service(redis.url, mongo.url, tmp, args.waiting, args.pairs,
                                    args.rounds)
                finally:
                    mongo.stop()
        finally:
            redis.stop()


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
