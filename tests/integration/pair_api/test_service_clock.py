"""The service's clock sweep: scheduled swaps and the end at time-up, once whichever replica
does it, the final snapshot graded for the outcome."""

from __future__ import annotations

import asyncio
import json

from apikit import DRIVER, OBSERVER, SOLVED, WRONG, make_api

from peerplatform.events import EventBus


async def sweep_together(*apis, until, timeout: float = 30.0) -> None:
    """Run the clock of every replica at once until ``until()`` is true."""
    stop = asyncio.Event()
    tasks = [asyncio.create_task(api.clock.run(stop)) for api in apis]
    try:
        async with asyncio.timeout(timeout):
            # and until no replica is still ending a session: stopping the clocks cancels
            # an end between its transition and telling the lobbies
            while not (await until() and all(api.clock.idle for api in apis)):
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_a_scheduled_swap_is_applied_once_by_two_replicas(svc, store, redis):
    doc, client = await svc.session(duration_s=600, ago_s=2, swap_schedule_s=[1, 400])
    other, _ = make_api(store, redis)
    await asyncio.gather(svc.api.clock.sweep(), other.clock.sweep(), svc.api.clock.sweep())
    after = await store.sessions.get(doc["_id"])
    assert (after["driver"], after["observer"]) == (OBSERVER, DRIVER)
    assert after["scheduled_swaps_done"] == [0]
    swaps = [e for e in after["events"] if e["type"] == "swap"]
    assert len(swaps) == 1 and swaps[0]["reason"] == "schedule" and swaps[0]["scheduled"] == 0
    async with client:
        view = (await client.get("state")).json()["session"]
    assert view["driver"] == OBSERVER and view["scheduled_swaps_done"] == [0]
    assert view["swap_schedule_s"] == [1.0, 400.0]


async def test_no_swap_before_its_time_and_the_default_is_half_time(svc, store):
    early, _ = await svc.session(duration_s=600, ago_s=10)
    half, _ = await svc.session(duration_s=600, ago_s=301)
    await svc.api.clock.sweep()
    assert (await store.sessions.get(early["_id"]))["driver"] == DRIVER
    assert (await store.sessions.get(half["_id"]))["driver"] == OBSERVER


async def test_time_up_grades_the_final_snapshot_and_ends_once_with_two_replicas(svc, store,
                                                                                  redis):
    doc, client = await svc.session(duration_s=2)
    sid = doc["_id"]
    other, _ = make_api(store, redis, final_snapshot_wait=5.0)
    svc.api.settings.final_snapshot_wait = 5.0
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": SOLVED}
    bus = EventBus(redis)
    async with client, bus.subscribe(DRIVER) as lobby:
        # the pair server sent a wrong version before, then the final one at time-up
        await client.post("snapshots", json={"snapshots": [
            {"seq": 1, "t": 0.5, "by": DRIVER, "cells": WRONG}]})
        rev = (await client.get("state")).json()["rev"]
        poll = asyncio.create_task(until_ended(client, rev))

        async def send_final_at_time_up():
            await asyncio.sleep(2.5)
            r = await client.post("snapshots", json={"snapshots": [
                {"seq": 2, "t": 2.0, "by": DRIVER, "cells": SOLVED, "final": True,
                 "notebook": notebook}]})
            assert r.status_code == 200, r.text

        final_sent = asyncio.create_task(send_final_at_time_up())

        async def ended():
            return (await store.sessions.get(sid))["state"] == "ended"

        await sweep_together(svc.api, other, until=ended)
        await final_sent
        view = await asyncio.wait_for(poll, 10)
        events = [e async for e in lobby_events(lobby)]
    after = await store.sessions.get(sid)
    outcome = after["outcome"]
    assert outcome["ended_by"] == "service" and outcome["reason"] == "time is up"
    assert outcome["final_snapshot"] is True and outcome["grader"] == "ok"
    assert outcome["tests"]["status"] == "passed"  # the final snapshot, not the earlier one
    assert json.loads(outcome["notebook_json"]) == notebook
    assert [h["state"] for h in after["history"]].count("ended") == 1
    finals = [e for e in after["events"] if e["type"] == "tests" and e.get("final")]
    assert len(finals) == 1
    assert after.get("attempts_pending") is None
    attempts = await store.challenges.history.for_session(sid)
    assert {a["outcome"] for a in attempts} == {"passed"} and len(attempts) == 2
    # the pair servers' long poll saw the end with its outcome; the lobby heard it once
    assert view["state"] == "ended" and view["outcome"]["tests"]["status"] == "passed"
    assert view["last_tests"]["final"] is True
    assert [e["type"] for e in events].count("ended") == 1
    # and the session's credential is done
    async with svc.client(sid, f"tok-{sid}") as late:
        assert (await late.get("state")).status_code == 403


async def test_without_a_final_snapshot_the_latest_is_graded(svc, store):
    svc.api.settings.final_snapshot_wait = 0.3
    doc, client = await svc.session(duration_s=60, ago_s=61)
    async with client:
        await client.post("snapshots", json={"snapshots": [
            {"seq": 1, "t": 1.0, "by": DRIVER, "cells": WRONG},
            {"seq": 2, "t": 30.0, "by": DRIVER, "cells": SOLVED}]})
    ended = await svc.api.clock.end(doc["_id"])
    assert ended["outcome"]["final_snapshot"] is False
    assert ended["outcome"]["tests"]["status"] == "passed"
    assert json.loads(ended["outcome"]["notebook_json"])["cells"][0]["source"] == \
        SOLVED[0]["source"]


async def test_without_any_snapshot_the_outcome_says_so(svc, store):
    svc.api.settings.final_snapshot_wait = 0.1
    doc, _ = await svc.session(duration_s=60, ago_s=61)
    ended = await svc.api.clock.end(doc["_id"])
    assert ended["state"] == "ended" and ended["outcome"]["tests"] is None
    assert ended["outcome"]["grader"].startswith("skipped")
    attempts = await store.challenges.history.for_session(doc["_id"])
    assert {a["outcome"] for a in attempts} == {"skipped"}


async def test_an_end_lease_held_by_a_dead_replica_is_taken_over_when_it_expires(svc, store):
    svc.api.settings.final_snapshot_wait = 0.1
    doc, _ = await svc.session(duration_s=60, ago_s=61)
    assert await store.sessions.claim_end(doc["_id"], owner="dead-replica", lease_s=1.0)
    assert await svc.api.clock.end(doc["_id"]) is None  # held: not ours
    assert (await store.sessions.get(doc["_id"]))["state"] == "active"
    await asyncio.sleep(1.1)
    ended = await svc.api.clock.end(doc["_id"])
    assert ended is not None and ended["state"] == "ended"
    assert ended["end_lease"] is None


async def test_an_ended_session_is_not_ended_again(svc, store):
    doc, _ = await svc.session(state="ended")
    assert await svc.api.clock.end(doc["_id"]) is None
    assert (await store.sessions.get(doc["_id"])).get("outcome") is None


async def test_attempts_left_unrecorded_by_a_dead_replica_are_recorded_by_the_sweep(svc, store):
    svc.api.settings.final_snapshot_wait = 0.1
    doc, client = await svc.session(duration_s=600)
    # as if a replica ended it and died before recording the attempts
    await store.sessions.transition(doc["_id"], "ended", reason="time is up",
                                    outcome={"challenge": "echo-easy",
                                             "tests": {"status": "failed", "passed": 0}},
                                    attempts_pending=True)
    await svc.api.clock.record_pending_attempts()
    attempts = await store.challenges.history.for_session(doc["_id"])
    assert {a["outcome"] for a in attempts} == {"failed"}
    assert (await store.sessions.get(doc["_id"])).get("attempts_pending") is None


async def until_ended(client, rev: int) -> dict:
    while True:
        answer = (await client.get("state", params={"since": rev, "wait": 30})).json()
        if answer["session"]["state"] == "ended":
            return answer["session"]
        rev = answer["rev"]


async def lobby_events(lobby):
    while (event := await lobby.next_event(timeout=0.5)) is not None:
        yield event
