"""Two service replicas (real processes, :mod:`serviceproc`) share the sessions' clock; the one
grading a session's end is killed: the other takes over when its lease expires, and the
outcome is recorded exactly once."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from apikit import DRIVER, OBSERVER
from serviceproc import ServiceProcess

from peerplatform.events import EventBus
from peerplatform.pair.picking import summary

pytestmark = pytest.mark.timeout(180)

SID = "replicas0001"
#: Grading this final notebook takes ~4 s: long enough to kill the replica mid-way.
SLOW_SOLVED = [{"cell_type": "code", "source": "import time\ntime.sleep(4)\n\ndef solve(x):\n"
                "    return x\n", "metadata": {}}]


async def test_a_replica_killed_mid_grading_is_replaced_and_the_outcome_recorded_once(
        store, redis, redis_url, mongodb_uri, mongodb_database, challenges, tmp_path):
    picked = await store.challenges.get("echo-easy")
    await store.sessions.create(session_id=SID, members=[DRIVER, OBSERVER], driver=DRIVER,
                                observer=OBSERVER, server_owner="pp-pairs", duration_s=3,
                                challenge=summary(picked))
    await store.challenges.record_seen([DRIVER, OBSERVER], picked, SID)
    await store.sessions.transition(SID, "spawning")
    settings = {"clock_interval": 0.2, "final_snapshot_wait": 1.0, "end_lease": 8.0,
                "grading_timeout": 30.0}
    replicas = [ServiceProcess(mongodb_uri, mongodb_database, redis_url=redis_url,
                               tokens={"tok": SID}, settings=settings, log_dir=tmp_path)
                for _ in range(2)]
    for replica in replicas:
        replica.start()
    bus = EventBus(redis)
    try:
        async with bus.subscribe(DRIVER) as lobby, httpx.AsyncClient(
                base_url=replicas[0].api_url + SID + "/",
                headers={"Authorization": "token tok"}) as client:
            await store.sessions.transition(SID, "active")
            r = await client.post("snapshots", json={"snapshots": [
                {"seq": 1, "t": 2.9, "by": DRIVER, "cells": SLOW_SOLVED, "final": True}]})
            assert r.status_code == 200, r.text

            # the first replica to claim the end starts grading: kill it meanwhile
            lease = None
            async with asyncio.timeout(30):
                while lease is None:
                    lease = (await store.sessions.get(SID)).get("end_lease")
                    await asyncio.sleep(0.05)
            owner_pid = int(lease["owner"].split(":")[1])
            (victim,) = [p for p in replicas if p.proc.pid == owner_pid]
            (survivor,) = [p for p in replicas if p is not victim]
            await asyncio.sleep(1.5)  # past the final snapshot: grading
            victim.kill()
            assert (await store.sessions.get(SID))["state"] == "active"

            async with asyncio.timeout(60):
                while (doc := await store.sessions.get(SID))["state"] != "ended":
                    await asyncio.sleep(0.2)
            events = []
            while (event := await lobby.next_event(timeout=1.0)) is not None:
                events.append(event)
    finally:
        for replica in replicas:
            replica.stop()
    assert doc["outcome"]["ended_by"] == "service"
    assert doc["outcome"]["tests"]["status"] == "passed", survivor.log_tail()
    assert doc["outcome"]["final_snapshot"] is True
    assert [h["state"] for h in doc["history"]].count("ended") == 1
    assert len([e for e in doc["events"] if e["type"] == "tests" and e.get("final")]) == 1
    assert [e["type"] for e in events].count("ended") == 1
    attempts = await store.challenges.history.for_session(SID)
    assert {a["outcome"] for a in attempts} == {"passed"}
