"""Voice in a real pair server: who gets a call, the signaling relay, the end of the call.

The media itself is proven in ``test_pair_voice_browser.py`` (two Chromiums); here the
server's side of the protocol is driven with plain websocket clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import json

import jwt
import pytest
import websockets
from pairkit import DRIVER, OBSERVER, OUTSIDER, STRANGER, eventually, platform_store

from peerplatform.voice.identity import caller_identity

pytestmark = pytest.mark.timeout(240)

SIGNAL = "/peerplatform/api/voice/signal"
KEY_SECRET = "k" * 32
SECRET = "voice-secret-for-tests-0123456789"
TWILIO_CONFIG = (
    f"c.VoiceSettings.twilio_account_sid = 'AC{'1' * 32}'\n"
    f"c.VoiceSettings.twilio_api_key_sid = 'SK{'2' * 32}'\n"
    f"c.VoiceSettings.twilio_api_key_secret = '{KEY_SECRET}'\n"
    f"c.VoiceSettings.twilio_twiml_app_sid = 'AP{'3' * 32}'\n"
    f"c.VoiceSettings.secret = '{SECRET}'\n"
    "c.VoiceSettings.token_ttl = 120\n"
)


@pytest.fixture(scope="module")
def server(pair_server_factory):
    return pair_server_factory(duration_s=3600)


@pytest.fixture(scope="module")
def twilio_server(pair_server_factory):
    return pair_server_factory(duration_s=3600, extra_config=TWILIO_CONFIG)


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

async def test_members_get_a_webrtc_call_without_any_public_server(server):
    r = await server.request(DRIVER, "GET", "/peerplatform/api/voice")
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["mode"] == "webrtc"
    assert info["ice_servers"] == []  # host candidates only: no public STUN by default
    assert info["signal_url"] == "peerplatform/api/voice/signal"
    assert info["offerer"] is True  # alice sorts first
    r = await server.request(OBSERVER, "GET", "/peerplatform/api/voice")
    assert r.json()["offerer"] is False
    r = await server.request(DRIVER, "GET", "/peerplatform/api/voice/token")
    assert r.status_code == 404 and "not Twilio" in r.json()["message"]


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
        assert welcome_a == {"type": "welcome", "mode": "webrtc", "offerer": True,
                             "partner_present": False, "partner_muted": False}
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


# -- Twilio mode -----------------------------------------------------------------------------

async def test_twilio_mode_mints_tokens_for_the_callers_opaque_identity(twilio_server):
    sid = twilio_server.session_id
    r = await twilio_server.request(OBSERVER, "GET", "/peerplatform/api/voice")
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["mode"] == "twilio" and info["ttl_s"] == 120
    ident = caller_identity(SECRET, sid, OBSERVER)
    assert info["identity"] == ident and OBSERVER not in ident
    claims = jwt.decode(info["token"], KEY_SECRET, algorithms=["HS256"])
    assert claims["grants"]["identity"] == ident
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == "AP" + "3" * 32
    assert claims["exp"] - claims["nbf"] == 120
    r = await twilio_server.request(OBSERVER, "GET", "/peerplatform/api/voice/token")
    fresh = jwt.decode(r.json()["token"], KEY_SECRET, algorithms=["HS256"])
    assert fresh["grants"]["identity"] == ident
    for user in (OUTSIDER, STRANGER):
        r = await twilio_server.request(user, "GET", "/peerplatform/api/voice/token")
        assert r.status_code == 403


async def test_twilio_sdk_is_served_only_in_twilio_mode(twilio_server, server):
    r = await twilio_server.request(DRIVER, "GET", "/peerplatform/api/voice")
    assert r.json()["sdk_url"] == "peerplatform/static/twilio-voice.min.js"
    r = await twilio_server.request(DRIVER, "GET", "/peerplatform/static/twilio-voice.min.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]
    r = await server.request(DRIVER, "GET", "/peerplatform/static/twilio-voice.min.js")
    assert r.status_code == 404


async def test_the_voice_files_are_not_served_to_anonymous_callers(twilio_server, server):
    """Nor is whether a server's call is Twilio's: anonymous callers get the same refusal
    from both servers, and a visitor the Hub lets in who is not a member gets no SDK."""
    import httpx

    async with httpx.AsyncClient(timeout=30) as anonymous:
        answers = set()
        for srv in (twilio_server, server):
            for method, path in [("GET", "/peerplatform/static/voice.js"),
                                 ("HEAD", "/peerplatform/static/voice.js"),
                                 ("GET", "/peerplatform/static/twilio-voice.min.js")]:
                r = await anonymous.request(method, srv.url(path))
                assert r.status_code in (302, 403), (method, path, r.status_code)
                assert "connect" not in r.text and "Twilio" not in r.text
                answers.add((method, path, r.status_code, r.headers.get("location", "")
                             .replace(str(srv.port), "PORT")))
        assert len(answers) == 3, answers  # the same for both servers
    for path in ("/peerplatform/static/voice.js", "/peerplatform/static/twilio-voice.min.js"):
        assert (await twilio_server.request(STRANGER, "GET", path)).status_code == 403
    r = await twilio_server.request(OUTSIDER, "GET", "/peerplatform/static/twilio-voice.min.js")
    assert r.status_code == 403
    # the module is plain code, served like JupyterLab's own assets to whoever may be here
    r = await twilio_server.request(OUTSIDER, "GET", "/peerplatform/static/voice.js")
    assert r.status_code == 200 and "export async function connect" in r.text
    r = await twilio_server.request(OBSERVER, "HEAD", "/peerplatform/static/voice.js")
    assert r.status_code == 200 and "javascript" in r.headers["content-type"]


async def test_twilio_mode_relays_mute_but_no_webrtc(twilio_server):
    stack, a, b, welcome_a, _ = await pair(twilio_server)
    async with stack:
        assert welcome_a["mode"] == "twilio"
        await a.send({"type": "offer", "sdp": "v=0"})
        assert (await a.recv_type("error"))["message"] == "this call is not WebRTC"
        await b.send({"type": "mute", "muted": True})
        assert await a.recv_type("partner-mute") == {"type": "partner-mute", "muted": True}


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
