"""A restarted pair server resumes the same clock and roles (the platform service keeps them),
finds the scheduled swap the service made while it was down, and a session the platform ends
is locked and saved at once."""

from __future__ import annotations

import asyncio
import time

import pytest
from pairkit import DRIVER, OBSERVER, EventStream, RtcClient, eventually, platform_store

pytestmark = pytest.mark.timeout(240)

SWAP_AT = 10


@pytest.fixture(scope="module")
def server(pair_server_factory):
    return pair_server_factory(duration_s=600, state="spawning", swap_schedule_s=[SWAP_AT])


async def clock(server, user=DRIVER) -> dict | None:
    """The server's clock once it has seen the start (the service's view says it)."""
    data = (await server.request(user, "GET", "/peerplatform/api/clock")).json()
    return data if data.get("started_at") else None


def statements(cells) -> int:
    return sum(1 for c in cells
               if (c["metadata"].get("peerplatform") or {}).get("cell") == "statement")


async def test_restart_resumes_the_clock_and_the_roles(server):
    async with platform_store(server) as store:
        await store.sessions.transition(server.session_id, "active")
    assert await eventually(lambda: clock(server), 5)
    before = await clock(server)
    assert await eventually(lambda: len(server.notebook_on_disk()["cells"]) == 2, 10)

    # roles change by agreement before the restart: bob drives
    await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "request"})
    r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "accept"})
    assert r.json()["driver"] == OBSERVER
    async with RtcClient(server, OBSERVER) as bob:
        src = bob.nb.ycells[1]["source"]
        src.insert(len(src), "\n# written by bob before the restart")
        assert await eventually(lambda: "before the restart" in "".join(
            server.notebook_on_disk()["cells"][1]["source"]), 5)

    server.stop(service=False)  # the pair server alone: the platform goes on
    # the scheduled swap falls while the server is down
    started = time.time() - (before["elapsed_s"] or 0)
    await asyncio.sleep(max(0.0, started + SWAP_AT + 0.5 - time.time()))
    server.start()

    after = await clock(server)
    assert after["started_at"] == before["started_at"]
    assert after["ends_at"] == before["ends_at"]
    assert after["elapsed_s"] >= SWAP_AT and after["phase"] == 1
    # the service made the scheduled swap once, on top of the agreed one: alice drives
    assert await eventually(lambda: server.session()["driver"] == DRIVER, 5)
    doc = server.session()
    assert doc["scheduled_swaps_done"] == [0]
    assert [e["reason"] for e in doc["events"] if e["type"] == "swap"] == ["requested",
                                                                          "schedule"]
    session = (await server.request(DRIVER, "GET", "/peerplatform/api/session")).json()
    assert session["role"] == "driver" and session["can_write"] is True

    # enforcement resumes with the stored roles
    async with RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob:
        assert "before the restart" in alice.sources()[1]
        assert statements(alice.cells()) == 1  # the challenge was not inserted twice
        a = alice.nb.ycells[1]["source"]
        a.insert(len(a), "\n# alice after the restart")
        assert await eventually(lambda: "alice after the restart" in bob.sources()[1], 5)
        mark = server.log_mark()
        b = bob.nb.ycells[1]["source"]
        b.insert(0, "# bob is observing\n")
        assert await eventually(lambda: f"dropped a read-only sync-update frame from {OBSERVER}"
                                in server.log_since(mark), 5)
        await asyncio.sleep(0.6)
        assert "bob is observing" not in alice.sources()[1]
    r = await server.request(OBSERVER, "PUT", "/api/contents/x.txt",
                             {"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 403


async def test_a_session_the_platform_ends_is_locked_and_saved_at_once(server):
    async with EventStream(server, DRIVER) as events, RtcClient(server, DRIVER) as alice:
        a = alice.nb.ycells[1]["source"]
        a.insert(len(a), "\n# last words")
        assert await eventually(lambda: "# last words" in "".join(
            server.notebook_on_disk()["cells"][1]["source"]), 5)
        async with platform_store(server) as store:  # the lobby's "end", or an admin
            await store.sessions.transition(server.session_id, "ended", reason="ended by admin")
        await events.wait_for("locked", 5)
        ended = await events.wait_for("ended", 30)
        mark = server.log_mark()
        a.insert(len(a), "\n# too late")
        assert await eventually(lambda: f"dropped a read-only sync-update frame from {DRIVER}"
                                in server.log_since(mark), 5)
    assert ended["data"]["notebook_saved"] is True
    doc = server.session()
    assert doc["state"] == "ended"
    assert doc["history"][-1]["reason"] == "ended by admin"  # the platform's end stands
    assert "outcome" not in doc  # an outcome is the service's to record, never ours
    on_disk = "".join(server.notebook_on_disk()["cells"][1]["source"])
    assert "# last words" in on_disk and "# too late" not in on_disk
    r = await server.request(DRIVER, "PUT", "/api/contents/x.txt",
                             {"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 403
    assert (await server.request(DRIVER, "GET", "/api/kernels")).json() == []
