"""``kill -9`` of a matcher replica in the middle of matching: no learner stays in a pending
match longer than the handshake timeout (the surviving replicas resolve its offers)."""

from __future__ import annotations

import asyncio
import random
import time

from redis.asyncio import BlockingConnectionPool, Redis
from replicas import Replicas

from peerplatform.matching import WaitingRoom, keys

HANDSHAKE = 2
SWEEP = 0.5  # the service's default match_interval; expiry wakes the loop at the deadline
RULES = {"presence_ttl": 30, "handshake_timeout": HANDSHAKE, "match_window_start": 400.0,
         "match_anyone_after": 0.0}


async def test_kill_9_strands_nobody(matching_redis_url, tmp_path):
    redis_url = matching_redis_url
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=32, decode_responses=True)
    redis = Redis(connection_pool=pool)
    await redis.flushdb()
    room = WaitingRoom(redis, presence_ttl=30)
    rng = random.Random(9)
    replicas = Replicas(tmp_path, redis_url, 3, duration=14, interval=SWEEP, options=RULES)
    replicas.start()
    first_seen: dict[str, float] = {}   # pending match id -> when we first saw it
    lifetimes: dict[str, float] = {}
    overdue = 0.0   # worst (Redis time - an offer's own deadline) while it was still pending
    killed_at = None
    try:
        names = [f"k{i:03d}" for i in range(400)]
        # nobody answers: every offer must be resolved by an expiry sweep
        start = time.monotonic()
        joined = 0
        while time.monotonic() - start < 11:
            if joined < len(names):
                batch = names[joined:joined + 3]  # arrivals all along the run
                await asyncio.gather(*(room.join(u, rating=rng.gauss(1500, 200)) for u in batch))
                joined += len(batch)
            # in the middle of matching: offers are pending; the victim is the replica that
            # made the most so far (the one that answers a join first wins most of them)
            made = replicas.matches() if killed_at is None else []
            if made and time.monotonic() - start > 3:
                by = [m["replica"] for m in made]
                victim = max(set(by), key=by.count)
                orphans = ({m["match"] for m in made if m["replica"] == victim}
                           & set(await redis.zrange(keys.PENDING, 0, -1)))
            if made and time.monotonic() - start > 3 and orphans:
                replicas.kill9(victim)
                killed_at = time.monotonic()
            now = time.monotonic()
            async with redis.pipeline(transaction=True) as pipe:
                pipe.time()
                pipe.zrange(keys.PENDING, 0, 0, withscores=True)
                (secs, micros), oldest = await pipe.execute()
            if oldest:
                overdue = max(overdue, (secs * 1000 + micros / 1000 - oldest[0][1]) / 1000)
            pending = set(await redis.zrange(keys.PENDING, 0, -1))
            for mid in pending:
                first_seen.setdefault(mid, now)
            for mid in list(first_seen):
                if mid not in pending and mid not in lifetimes:
                    lifetimes[mid] = now - first_seen[mid]
            await asyncio.sleep(0.05)
        # wait for the last offers to be resolved
        deadline = time.monotonic() + HANDSHAKE + 3
        while await redis.zcard(keys.PENDING) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        now = time.monotonic()
        for mid in first_seen:
            lifetimes.setdefault(mid, now - first_seen[mid])
        assert killed_at is not None
        assert await redis.zcard(keys.PENDING) == 0
        matched = [u for u in names if (await room.state(u)).get("state") == "matched"]
        assert matched == []
        # offers made by the killed replica too are resolved at their deadline: read against
        # Redis's clock and each offer's stored deadline (so a slow observer changes nothing),
        # no offer outlives it by more than a sweep plus scheduling slack on 2 loaded cores
        assert len(lifetimes) > 50
        worst = max(lifetimes.values())
        print(f"kill -9: {len(lifetimes)} offers, worst observed pending {worst:.2f} s, "
              f"worst overdue {overdue:.2f} s")
        assert overdue <= SWEEP + 1.0, overdue
        # the victim's own offers, pending when it died, were resolved by the survivors
        print(f"victim replica {victim}: {len(orphans)} of its offers pending at the kill")
        assert orphans and all(mid in lifetimes for mid in orphans)
        assert not await redis.exists(*(keys.match(mid) for mid in orphans))
    finally:
        replicas.stop()
        await redis.flushdb()
        await redis.aclose()
        await pool.disconnect()
