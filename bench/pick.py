"""Selection at scale: 20,000 challenges, two users who have each seen 1,000 of them.

Prints ``pick_ms_p99=`` (and p50) over 300 picks of a random difficulty (and 100 more with a
track filter), each excluding both users. Setup writes the seen sets directly (as
``record_seen`` would leave them). Uses ``$MONGODB_URI`` or the embedded server (in memory).

    .venv/bin/python bench/pick.py [N_CHALLENGES] [N_SEEN]
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _stores import mongodb_uri, synthetic  # noqa: E402

from peerplatform.store import connect  # noqa: E402


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


async def run(uri: str, n: int, seen_per_user: int) -> None:
    store = await connect(uri, "bench_pick")
    try:
        await store.client.drop_database("bench_pick")
        await store.ensure_indexes()
        challenges = synthetic(n)
        await store.challenges.apply(challenges)
        rng = random.Random(5)
        now_ms = int(time.time() * 1000)
        slugs = [c["slug"] for c in challenges]
        for user in ("ann", "bob"):
            seen = rng.sample(slugs, seen_per_user)
            await store.challenges.history.seen.replace_one(
                {"_id": user},
                {"_id": user, "slugs": {s: now_ms - 60_000 * i for i, s in enumerate(seen)}},
                upsert=True)
        timings, repeats = [], 0  # repeats: picks one of the two users had already seen
        excluded = set((await store.challenges.history.seen_map(["ann", "bob"])).keys())
        for i in range(400):
            kwargs = {"difficulty": rng.choice(["easy", "medium", "hard"])}
            if i >= 300:
                kwargs["track"] = rng.choice(["sql", "regex"])
            started = time.perf_counter()
            picked = await store.challenges.pick(exclude_users=["ann", "bob"], **kwargs)
            timings.append((time.perf_counter() - started) * 1000)
            repeats += picked["slug"] in excluded
        assert repeats == 0, f"{repeats} picks were already seen"
        print(f"challenges={n} seen_per_user={seen_per_user} picks={len(timings)}")
        print(f"pick_ms_p50={statistics.median(timings):.1f}")
        print(f"pick_ms_p99={percentile(timings, 0.99):.1f}")
    finally:
        await store.client.drop_database("bench_pick")
        await store.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    seen = int(sys.argv[2]) if len(sys.argv) > 2 else 1_000
    with mongodb_uri() as uri:
        asyncio.run(run(uri, n, seen))


if __name__ == "__main__":
    main()
