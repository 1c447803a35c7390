"""Leaderboards at scale: top-100 reads at 100,000 rated learners, and rating -> push latency.

Fills the leaderboards with N synthetic learners (``--users``, default 100,000; 1-40 ratings
each, 20 cohorts) through the same rebuild path as ``peerplatform leaderboard rebuild``, then

* ``top100_read_ms``: reads the overall top 100 (with rating counts), a per-criterion top 100
  and a cohort-filtered top 100, ``--reads`` times each, from the service's Leaderboard class;
* ``rating_to_push_ms``: runs the real platform (Hub + proxy + service) on those stores, opens
  a leaderboard event stream as a third learner, and times ``--ratings`` POSTs of a peer rating
  from the moment the request is sent to the moment the open stream receives the change.

    python bench/leaderboard.py [--users 100000] [--reads 500] [--ratings 40]

Prints ``name=value`` lines. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "community"))


def p99(values):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(0.99 * (len(values) - 1))))]


async def synthetic_ratings(n_users: int, seed: int = 3):
    rng = random.Random(seed)
    for u in range(n_users):
        base = rng.uniform(1.5, 5)
        for _ in range(rng.randint(1, 40)):
            yield {
                "ratee": f"user{u:06d}",
                "scores": {
                    c: max(1, min(5, round(rng.gauss(base, 0.7))))
                    for c in ("communication", "collaboration", "problem_solving")
                },
            }


async def fill_and_read(redis_url: str, users: int, reads: int) -> dict:
    from redis.asyncio import Redis

    from peerplatform.leaderboard import Leaderboard

    redis = Redis.from_url(redis_url, decode_responses=True)
    board = Leaderboard(redis)
    memberships = {f"user{u:06d}": f"cohort-{u % 20}" for u in range(users)}
    t = time.perf_counter()
    report = await board.rebuild(synthetic_ratings(users), memberships)
    fill_s = time.perf_counter() - t
    timings = {"overall": [], "problem_solving": [], "cohort": []}
    for _ in range(reads):
        for name, call in (
            ("overall", lambda: board.top("overall", limit=100)),
            ("problem_solving", lambda: board.top("problem_solving", limit=100)),
            ("cohort", lambda: board.top("overall", cohort="cohort-7", limit=100)),
        ):
            t = time.perf_counter()
            rows = await call()
            timings[name].append((time.perf_counter() - t) * 1000)
            assert len(rows) == 100
    await redis.aclose()
    return {"report": report, "fill_s": fill_s, "timings": timings}


def push_latency(redis_url: str, mongodb_uri: str, tmp: Path, n: int) -> list[float]:
    import seed
    from hubproc import HubProcess

    hub = HubProcess(
        tmp / "hub", redis_url=redis_url, mongodb_uri=mongodb_uri, mongodb_database="pp_bench_lb"
    )
    hub.start(timeout=120)
    try:
        rater, ratee, watcher = seed.users(hub, "rater", "ratee", "watcher")
        sessions = [seed.session(hub, rater.name, ratee.name) for _ in range(n)]
        listener = seed.StreamListener(watcher, "leaderboard/events")
        listener.wait_for("hello", timeout=10)
        out = []
        for i, sid in enumerate(sessions):
            sent = time.time()
            resp = rater.api(
                "POST",
                f"sessions/{sid}/rating",
                {"communication": 4, "collaboration": 5, "problem_solving": 3},
            )
            assert resp.status_code == 201, resp.text
            ev = listener.wait_for_match(
                lambda e, k=i + 1: e.get("user") == ratee.name and e["n"] == k
            )
            out.append((ev["_received"] - sent) * 1000)
        listener.close()
        return out
    finally:
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--ratings", type=int, default=40)
    args = parser.parse_args()

    from peerplatform.embedded import EmbeddedMongo, EmbeddedRedis

    with tempfile.TemporaryDirectory(prefix="pp-bench-lb-") as tmp:
        tmp = Path(tmp)
        redis, mongo = EmbeddedRedis(tmp / "redis"), EmbeddedMongo(tmp / "mongo", memory=True)
        redis.start()
        mongo.start()
        try:
            res = asyncio.run(fill_and_read(redis.url, args.users, args.reads))
            print(f"users={args.users}")
            print(f"ratings={res['report']['ratings']}")
            print(f"rebuild_s={res['fill_s']:.2f}")
            for name, values in res["timings"].items():
                print(f"top100_{name}_read_ms_median={statistics.median(values):.2f}")
            every = [v for values in res["timings"].values() for v in values]
            print(f"top100_read_ms_p99={p99(every):.2f}", flush=True)
            # the service finds the leaderboards built and keeps them (no rebuild at start)
            push = push_latency(redis.url, mongo.url, tmp, args.ratings)
            print(f"rating_to_push_ms_median={statistics.median(push):.1f}")
            print(f"rating_to_push_ms_p99={p99(push):.1f}")
        finally:
            mongo.stop()
            redis.stop()


if __name__ == "__main__":
    main()
