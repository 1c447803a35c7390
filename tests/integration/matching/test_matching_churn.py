"""1,000 simulated learners against 3 matcher replicas (separate processes) on a real Redis.

Random join / leave / heartbeat loss / decline / accept / ignore for a bounded time; then:
0 users matched twice, 0 matches with a user who had left or gone silent, 0 users lost, every
match within both learners' windows. Bounded and self-stopping (the replicas stop by
themselves after ``DURATION`` seconds).
"""

from __future__ import annotations

import asyncio
import time

from churn import Plan, Simulation
from redis.asyncio import BlockingConnectionPool, Redis
from replicas import Replicas

from peerplatform.matching import Window, keys

DURATION = 30.0
RULES = {"presence_ttl": 5, "heartbeat_interval": 1, "handshake_timeout": 3,
         "match_window_start": 25.0, "match_window_growth": 40.0, "match_window_cap": 400.0,
         "match_anyone_after": 12.0, "cohort_mode": "prefer"}
WINDOW = Window(25.0, 40.0, 400.0, 12.0)


async def test_churn_with_three_replicas(matching_redis_url, tmp_path):
    redis_url = matching_redis_url
    pool = BlockingConnectionPool.from_url(redis_url, max_connections=64, decode_responses=True)
    redis = Redis(connection_pool=pool)
    await redis.flushdb()
    replicas = Replicas(tmp_path, redis_url, 3, duration=DURATION, interval=0.1, options=RULES)
    sim = Simulation(redis, 1000, Plan(arrive_within_s=15, actions_until_s=DURATION - 6),
                     presence_ttl=RULES["presence_ttl"])
    replicas.start()
    try:
        run = asyncio.create_task(sim.run())
        started = time.monotonic()
        # the replicas stop by themselves; then no handshake may stay open
        codes = await asyncio.to_thread(replicas.wait, DURATION + 30)
        assert codes == [0, 0, 0], [replicas.log(i)[-2000:] for i in range(3)]
        deadline = time.monotonic() + 10
        while await redis.zcard(keys.PENDING) and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
        leftover = await redis.zcard(keys.PENDING)
        await asyncio.sleep(2.5)  # every learner looks at their state once more
        sim.stop.set()
        await asyncio.wait_for(run, 30)
        final, presence = {}, {}
        for x in sim.learners:
            final[x.name] = await redis.hgetall(keys.user_state(x.name))
            presence[x.name] = bool(await redis.exists(keys.presence(x.name)))
        report = sim.check(replicas.matches(), WINDOW, final, presence)
        print(f"churn: {time.monotonic() - started:.1f} s, {report['matches']} matches, "
              f"{report['confirmed']} confirmed, {report['requeued']} requeued, "
              f"{report['statuses']}")
        assert leftover == 0, "pending handshakes outlived the replicas' sweeps"
        assert report["problems"] == [], report["problems"][:20]
        assert report["lost"] == 0
        # the run exercised every path
        s = report["statuses"]
        assert report["confirmed"] > 100 and report["requeued"] > 0
        for status in ("left", "declined", "noshow", "silent"):
            assert s.get(status, 0) > 0, (status, s)
        waiting = set(await redis.zrange(keys.WAITING, 0, -1))
        assert waiting == set(await redis.zrange(keys.RATING, 0, -1))
        assert not [k async for k in redis.scan_iter(keys.match("*"))]
    finally:
        replicas.stop()
        await redis.flushdb()
        await redis.aclose()
        await pool.disconnect()
