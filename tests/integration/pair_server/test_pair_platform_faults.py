"""The platform service out of reach, then back; and a credential the service stops taking.

While the service cannot be reached, the pair server keeps the room and the roles of the last
state it was sent (the driver still edits, the observer still cannot), tells both members it
is reconnecting, refuses what needs the service with 503, keeps the replay snapshots it could
not send, and sends them once the service answers again, each stored once. A credential the
service refuses (revoked, or the session is over) locks the session at once.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from pairkit import DRIVER, OBSERVER, EventStream, RtcClient, eventually, platform_store

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def server(pair_server_factory):
    # a short long poll: a refused credential shows at the poll's next answer
    srv = pair_server_factory(duration_s=3600, swap_schedule_s=[],
                              extra_config="c.PeerPlatformExtension.poll_wait = 3\n")
    assert asyncio.run(eventually(lambda: (srv.work / "session.ipynb").exists()
                                  and len(srv.notebook_on_disk()["cells"]) == 2, 20))
    return srv


async def snapshot_sources(server) -> list[str]:
    async with platform_store(server) as store:
        snaps = await store.snapshots.for_session(server.session_id)
    return [s["cells"][1]["source"] for s in snaps]


async def test_an_unreachable_service_leaves_the_room_and_roles_working(server):
    async with EventStream(server, OBSERVER) as events, \
            RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob:
        server.service.kill()  # a replica that dies: nothing answers on its address
        lost = await events.wait_for("connection", 40)
        assert lost["data"] == {"ok": False}
        session = (await server.request(OBSERVER, "GET", "/peerplatform/api/session")).json()
        assert session["connected"] is False and session["role"] == "observer"

        # the room and the roles go on, on the last state the service sent
        src = alice.nb.ycells[1]["source"]
        src.insert(len(src), "\n# written while the platform is away")
        assert await eventually(lambda: "while the platform is away" in bob.sources()[1], 5)
        mark = server.log_mark()
        b = bob.nb.ycells[1]["source"]
        b.insert(0, "# bob is observing\n")
        assert await eventually(lambda: f"dropped a read-only sync-update frame from {OBSERVER}"
                                in server.log_since(mark), 5)
        # what needs the service says so, and changes nothing
        r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap",
                                 {"action": "request"})
        assert r.status_code == 503 and "try again" in r.json()["message"]
        r = await server.request(DRIVER, "POST", "/peerplatform/api/tests")
        assert r.status_code == 503
        await asyncio.sleep(1.5)  # a tick or two: the replay snapshot is queued, not lost

        server.start_service()  # the service is back (same address)
        back = await eventually(lambda: [e for e in events.of("connection")
                                         if e["data"] == {"ok": True}], 40)
        assert back, [e["data"] for e in events.of("connection")]
        assert (await server.request(OBSERVER, "GET", "/peerplatform/api/session")).json()[
            "connected"] is True
        assert "# bob is observing" not in alice.sources()[1]

    async def sent() -> bool:
        return any("while the platform is away" in s for s in await snapshot_sources(server))

    assert await eventually(sent, 20), "the snapshot queued during the outage never arrived"
    sources = await snapshot_sources(server)
    assert len(sources) == len(set(sources)), "a snapshot was stored twice"
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "request"})
    assert r.status_code == 200
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "cancel"})
    assert r.status_code == 200


async def test_a_refused_credential_locks_the_session(server):
    async with EventStream(server, DRIVER) as events:
        # the service stops accepting this server's token (revoked, as at the session's end)
        tokens = server.service.tokens_file
        tokens.with_suffix(".tmp").write_text(json.dumps({}))
        tokens.with_suffix(".tmp").replace(tokens)
        await events.wait_for("locked", 15)  # at the next answer of the long poll
        ended = await events.wait_for("ended", 10)
        assert ended["data"]["reason"] == "ended by the platform"
    session = (await server.request(DRIVER, "GET", "/peerplatform/api/session")).json()
    assert session["can_write"] is False and session["locked"] is True
    r = await server.request(DRIVER, "PUT", "/api/contents/late.txt",
                             {"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 403
    assert (await server.request(DRIVER, "GET", "/api/kernels")).json() == []
