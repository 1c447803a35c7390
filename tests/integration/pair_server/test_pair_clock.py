"""The clock, end to end: the platform service keeps it (the start, the scheduled swap, the
end and its outcome); the pair server enforces it at once (nothing before the start, rights
reversed at the swap, both locked at time-up, the notebook saved, the final snapshot sent,
kernels stopped) and tells both members."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime

import pytest
from pairkit import DRIVER, OBSERVER, EventStream, RtcClient, eventually, platform_store

pytestmark = pytest.mark.timeout(240)

DURATION = 8
SWAP_AT = 4


@pytest.fixture(scope="module")
def server(pair_server_factory):
    # spawning: the server is up before the platform marks the session active
    srv = pair_server_factory(duration_s=DURATION, state="spawning", swap_schedule_s=[SWAP_AT])
    assert asyncio.run(eventually(lambda: (srv.work / "session.ipynb").exists()
                                  and len(srv.notebook_on_disk()["cells"]) == 2, 20))
    return srv


async def edit(client, text):
    src = client.nb.ycells[1]["source"]
    src.insert(len(src), text)


def on_disk(server) -> str:
    return "".join("".join(c["source"]) for c in server.notebook_on_disk()["cells"])


async def test_a_session_runs_out_its_clock(server, redis_url):
    from redis.asyncio import Redis

    # -- before the start: the clock has not started, nobody writes -------------------------
    clock = (await server.request(DRIVER, "GET", "/peerplatform/api/clock")).json()
    assert clock["state"] == "spawning" and clock["started_at"] is None
    r = await server.request(DRIVER, "PUT", "/api/contents/early.txt",
                             {"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 403

    redis = Redis.from_url(redis_url, decode_responses=True)
    lobby = redis.pubsub(ignore_subscribe_messages=True)
    await lobby.subscribe(f"pp:events:{DRIVER}", f"pp:events:{OBSERVER}")
    try:
        async with EventStream(server, OBSERVER) as events, \
                RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob:
            # -- the platform marks it active: the clock starts from the stored start ------
            async with platform_store(server) as store:
                await store.sessions.transition(server.session_id, "active")
            started = await events.wait_for("started", 5)
            assert started["data"]["duration_s"] == DURATION
            kernel = (await server.request(DRIVER, "POST", "/api/kernels",
                                           {"name": "python3"})).json()
            clock = (await server.request(OBSERVER, "GET", "/peerplatform/api/clock")).json()
            started_at = datetime.fromisoformat(clock["started_at"])
            ends_at = datetime.fromisoformat(clock["ends_at"])
            assert (ends_at - started_at).total_seconds() == DURATION
            assert 0 < clock["remaining_s"] <= DURATION and clock["phase"] == 0
            assert clock["next_swap_at"] is not None and not clock["over"]
            await edit(alice, "\n# alice, first half")
            assert await eventually(lambda: "# alice, first half" in bob.sources()[1], 5)

            # -- the scheduled swap (half time here): same sockets, rights reversed --------
            swap = await events.wait_for("swap", SWAP_AT + 3)
            assert (swap["driver"], swap["observer"]) == (OBSERVER, DRIVER)
            phase = await events.wait_for("phase", 3)
            assert phase["data"]["phase"] == 1
            await edit(bob, "\n# bob, second half")
            assert await eventually(lambda: "# bob, second half" in alice.sources()[1], 5)
            doc = server.session()
            assert doc["scheduled_swaps_done"] == [0]
            event = [e for e in doc["events"] if e["type"] == "swap"][-1]
            assert event["reason"] == "schedule" and event["scheduled"] == 0 and event["at"]

            # -- time is up --------------------------------------------------------------
            locked = await events.wait_for("locked", DURATION)
            ended = await events.wait_for("ended", 30)
            assert ended["data"]["reason"] == "time is up"
            assert ended["data"]["notebook_saved"] is True
            locked_at = datetime.fromisoformat(locked["data"]["server_time"])
            assert locked_at >= ends_at
            # both are read-only now, on every channel
            mark = server.log_mark()
            await edit(bob, "\n# bob, too late")
            await edit(alice, "\n# alice, too late")
            assert await eventually(lambda: server.log_since(mark).count(
                "dropped a read-only sync-update frame") >= 2, 5)
            for user in (DRIVER, OBSERVER):
                r = await server.request(user, "PUT", "/api/contents/late.txt",
                                         {"type": "file", "format": "text", "content": "x"})
                assert r.status_code == 403
                r = await server.request(user, "POST", "/peerplatform/api/swap",
                                         {"action": "request"})
                assert r.status_code == 409
                assert await server.ws_status(user, f"/api/kernels/{kernel['id']}/channels") \
                    in (403, 404)
            await asyncio.sleep(0.6)
            text = on_disk(server)
            assert "# alice, first half" in text and "# bob, second half" in text
            assert "too late" not in text
        # -- the outcome is in the store: the service graded the final snapshot ---------------
        doc = server.session()
        assert doc["state"] == "ended" and doc["ended_at"]
        outcome = doc["outcome"]
        assert outcome["reason"] == "time is up" and outcome["ended_by"] == "service"
        assert outcome["notebook_saved"] is True and outcome["final_snapshot"] is True
        assert outcome["challenge"] == doc["challenge"]["slug"]
        assert outcome["grader"] == "ok" and outcome["tests"]["total"] == 2
        stored = json.loads(outcome["notebook_json"])
        assert "# bob, second half" in "".join(
            "".join(c["source"]) for c in stored["cells"])
        async with platform_store(server) as store:
            finals = [s for s in await store.snapshots.for_session(server.session_id)
                      if s["final"]]
        assert len(finals) == 1 and finals[0]["by"] == OBSERVER  # bob drove at the end
        # ...and in both members' history, against the version the session showed
        shown = doc["challenge"]
        assert shown["version"] is not None
        async with platform_store(server) as store:
            history = {user: [a for a in await store.challenges.history_of(user)
                              if a["session"] == server.session_id]
                       for user in (DRIVER, OBSERVER)}
            version = await store.challenges.get_version(shown["slug"], shown["version"])
        for user, attempts in history.items():
            assert len(attempts) == 1, (user, attempts)
            attempt = attempts[0]
            assert (attempt["slug"], attempt["version"]) == (shown["slug"], shown["version"])
            assert attempt["hash"] == version["hash"]
            assert attempt["outcome"] == outcome["tests"]["status"] and attempt["finished_at"]
            assert attempt["result"] == {k: outcome["tests"].get(k) for k in (
                "status", "passed", "failed", "errors", "total")}
        # kernels stopped: nothing runs after the end
        assert (await server.request(DRIVER, "GET", "/api/kernels")).json() == []
        # -- both lobbies were told (by the service) -----------------------------------------
        told = {}
        for _ in range(20):
            message = await lobby.get_message(timeout=0.5)
            if message:
                data = json.loads(message["data"])
                if data["type"] == "ended":
                    told[message["channel"].split(":")[-1]] = data
            if len(told) == 2:
                break
        assert set(told) == {DRIVER, OBSERVER}
        assert told[DRIVER]["session"] == server.session_id
    finally:
        await lobby.aclose()
        await redis.aclose()

    # -- the server keeps serving, read-only, until the platform removes it -------------------
    clock = (await server.request(OBSERVER, "GET", "/peerplatform/api/clock")).json()
    assert clock["over"] is True and clock["remaining_s"] == 0 and clock["locked"] is True
    r = await server.request(OBSERVER, "GET", "/api/contents/session.ipynb")
    assert r.status_code == 200
    async with RtcClient(server, OBSERVER) as late:
        assert "# bob, second half" in late.sources()[1]
    session = (await server.request(DRIVER, "GET", "/peerplatform/api/session")).json()
    assert session["session"]["state"] == "ended" and session["can_write"] is False
    # the final test results, per test, for a page (re)loaded after the end
    final = session["final_tests"]
    assert final["grader"] == "ok" and final["result"]["total"] == 2
    assert {t["name"] for t in final["result"]["tests"]} == {"one", "word"}
