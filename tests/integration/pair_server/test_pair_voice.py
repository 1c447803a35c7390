"""Voice in a real pair server: who reaches the call, the signaling relay, the end of the call.

The pair server holds no voice secret: the call's description, Twilio tokens and TURN
credentials come from the platform service (tests/integration/voice). The media itself is
proven in ``test_pair_voice_browser.py`` (two Chromiums); here the server's side of the
protocol is driven with plain websocket clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import pytest
import websockets
from pairkit import DRIVER, OBSERVER, OUTSIDER, STRANGER, eventually, platform_store

pytestmark = pytest.mark.timeout(240)

SIGNAL = "/peerplatform/api/voice/signal"


@pytest.fixture(scope="module")
def server(pair_server_factory):
    return pair_server_factory(duration_s=3600)


class Peer:
    """One member's signaling connection."""

    def __init__(self, ws):
        self.ws = ws

    async def recv(self, timeout: float = 10) -> dict:
        return json.loads(await asyncio.wait_for(self.ws.recv(), timeout))

    async def recv_type(self, kind: str, timeout: float = 10) -> dict:
        while True:
            msg = await self.recv(timeout)
            if msg["type"] == kind:
                return msg

    async def send(self, msg) -> None:
        await self.ws.send(msg if isinstance(msg, str) else json.dumps(msg))


@contextlib.asynccontextmanager
async def peer(server, user):
    async with websockets.connect(server.ws_url(SIGNAL),
                                  additional_headers=server.auth(user)) as ws:
        yield Peer(ws)


async def pair(server):
    stack = contextlib.AsyncExitStack()
    a = await stack.enter_async_context(peer(server, DRIVER))
    welcome_a = await a.recv()
    b = await stack.enter_async_context(peer(server, OBSERVER))
    welcome_b = await b.recv()
    return stack, a, b, welcome_a, welcome_b


# -- who may take part -----------------------------------------------------------------------

async def test_members_learn_where_the_call_is_and_nothing_secret(server):
    r = await server.request(DRIVER, "GET", "/peerplatform/api/voice")
    assert r.status_code == 200, r.text
    # the service (same origin, through the Hub's proxy) has the rest; no token, no ICE here
    assert r.json() == {"session": server.session_id, "service_url": "/services/peerplatform/",
                        "signal_url": "peerplatform/api/voice/signal"}
    for path in ("/peerplatform/api/voice/token", "/peerplatform/static/twilio-voice.min.js"):
        assert (await server.request(DRIVER, "GET", path)).status_code == 404


@pytest.mark.parametrize("user", [OUTSIDER, STRANGER])
async def test_non_members_get_no_call(server, user):
    r = await server.request(user, "GET", "/peerplatform/api/voice")
    assert r.status_code == 403
    assert await server.ws_status(user, SIGNAL) == 403


async def test_the_browser_module_is_served(server):
    r = await server.request(DRIVER, "GET", "/peerplatform/static/voice.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert "export async function connect" in r.text
    r = await server.request(DRIVER, "GET", "/peerplatform/static/../voice.py")
    assert r.status_code in (403, 404)


# -- the relay -------------------------------------------------------------------------------

async def test_the_server_assigns_the_offerer_and_relays_the_negotiation(server):
    stack, a, b, welcome_a, welcome_b = await pair(server)
    async with stack:
        assert welcome_a == {"type": "welcome", "offerer": True, "partner_present": False,
                             "partner_muted": False}
        assert welcome_b["partner_present"] is True and welcome_b["offerer"] is False
        start_a, start_b = await a.recv_type("start"), await b.recv_type("start")
        assert (start_a["offerer"], start_b["offerer"]) == (True, False)

        await a.send({"type": "offer", "sdp": "v=0 offer", "extra": "dropped"})
        assert await b.recv() == {"type": "offer", "sdp": "v=0 offer"}
        await b.send({"type": "answer", "sdp": "v=0 answer"})
        assert await a.recv() == {"type": "answer", "sdp": "v=0 answer"}
        cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0",
                "sdpMLineIndex": 0}
        await b.send({"type": "candidate", "candidate": cand})
        assert await a.recv() == {"type": "candidate", "candidate": cand}

        # no glare: the answerer may not offer, the offerer may not answer
        await b.send({"type": "offer", "sdp": "v=0"})
        assert (await b.recv())["message"] == "only the offerer sends offers"
        await a.send({"type": "answer", "sdp": "v=0"})
        assert (await a.recv())["message"] == "the offerer does not answer"

        await a.send({"type": "mute", "muted": True})
        assert await b.recv() == {"type": "partner-mute", "muted": True}
        await a.send({"type": "bye"})
        assert await b.recv() == {"type": "bye"}


@pytest.mark.parametrize("bad, message", [
    ("not json", "messages must be JSON"),
    ("[1, 2]", "a message is a JSON object"),
    ({"type": "shout"}, "type must be offer, answer, candidate, mute or bye"),
    ({"type": "mute", "muted": "yes"}, "muted must be true or false"),
    ({"type": "offer", "sdp": 42}, "sdp must be a non-empty string"),
    ({"type": "candidate", "candidate": "x"}, "candidate must be an RTCIceCandidateInit"),
    ({"type": "offer", "sdp": "x" * 70000}, "messages are JSON text up to 64 KiB"),
])
async def test_bad_messages_get_an_error_and_reach_nobody(server, bad, message):
    stack, a, b, _, _ = await pair(server)
    async with stack:
        await a.recv_type("start")
        await b.recv_type("start")
        await a.send(bad)
        err = await a.recv()
        assert err["type"] == "error" and err["message"].startswith(message)
        await a.send({"type": "mute", "muted": False})  # the connection still works
        assert await b.recv() == {"type": "partner-mute", "muted": False}


async def test_a_second_connection_replaces_the_first_and_mute_state_is_kept(server):
    stack, a, b, _, _ = await pair(server)
    async with stack:
        await a.send({"type": "mute", "muted": True})
        await b.recv_type("partner-mute")
        async with peer(server, DRIVER) as a2:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await a.recv_type("never")
            assert closed.value.rcvd.code == 4000
            assert (await a2.recv())["partner_present"] is True
            async with peer(server, OBSERVER) as b2:
                welcome = await b2.recv()
                assert welcome["partner_muted"] is True  # shown to the partner on join
                await a2.send({"type": "mute", "muted": False})
                assert await b2.recv_type("partner-mute") == {"type": "partner-mute",
                                                                "muted": False}
            assert (await a2.recv_type("partner-left"))["type"] == "partner-left"


async def test_the_voice_module_is_not_served_to_anonymous_callers(server):
    import httpx

    async with httpx.AsyncClient(timeout=30) as anonymous:
        for method in ("GET", "HEAD"):
            r = await anonymous.request(method, server.url("/peerplatform/static/voice.js"))
            assert r.status_code in (302, 403), (method, r.status_code)
            assert "connect" not in r.text
    assert (await server.request(STRANGER, "GET", "/peerplatform/static/voice.js")).status_code \
        == 403
    # the module is plain code, served like JupyterLab's own assets to whoever may be here
    r = await server.request(OUTSIDER, "GET", "/peerplatform/static/voice.js")
    assert r.status_code == 200 and "export async function connect" in r.text
    r = await server.request(OBSERVER, "HEAD", "/peerplatform/static/voice.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]


# -- the end ---------------------------------------------------------------------------------

@pytest.fixture
def ending_server(pair_server_factory):
    return pair_server_factory(duration_s=3600)


async def test_the_call_ends_with_the_session(ending_server):
    srv = ending_server
    stack, a, b, _, _ = await pair(srv)
    async with stack:
        await a.recv_type("start")
        async with platform_store(srv) as store:
            await store.sessions.transition(srv.session_id, "ended", reason="ended by the platform")
        for p in (a, b):
            got = []
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    got.append((await p.recv(timeout=15))["type"])
            assert got[-1] == "ended", got
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 4001
    assert await eventually(lambda: srv.session()["state"] == "ended", 10)
    assert await srv.ws_status(DRIVER, SIGNAL) == 409
    r = await srv.request(DRIVER, "GET", "/peerplatform/api/voice")
    assert r.status_code == 409 and "not running" in r.json()["message"]
