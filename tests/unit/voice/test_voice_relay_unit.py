"""The pair server's signaling relay (``PairVoice``) on the live role state, without sockets:
who may join, who offers, what is relayed (and what is refused), and the end."""

from __future__ import annotations

import json
import logging

import pytest

from peerplatform_ext.controller import PairError
from peerplatform_ext.roles import PairState
from peerplatform_ext.voice import (
    CLOSE_ENDED,
    CLOSE_REPLACED,
    SIGNAL_PATH,
    PairVoice,
    default_service_url,
)

SID = "abcdefabcdef"


class Socket:
    """Stands in for a member's signaling websocket (records what the relay sends it)."""

    def __init__(self):
        self.sent: list[dict] = []
        self.closed: tuple | None = None

    def send(self, msg: dict) -> None:
        self.sent.append(msg)

    def close(self, code=None, reason=None) -> None:
        self.closed = (code, reason)


def view(state="active", **extra) -> dict:
    return {"id": SID, "state": state, "members": ["bob", "alice"], "driver": "bob",
            "observer": "alice", **extra}


@pytest.fixture
async def room():
    state = PairState()
    await state.apply(1, view())
    return state, PairVoice(state=state, log=logging.getLogger("test"),
                            service_url="/services/peerplatform/")


def joined(voice):
    a, b = Socket(), Socket()
    voice.join("alice", a)
    voice.join("bob", b)
    return a, b


def send(voice, user, sock, msg):
    voice.handle(user, sock, msg if isinstance(msg, str) else json.dumps(msg))


async def test_members_learn_where_the_call_is_and_nothing_secret(room):
    _, voice = room
    info = voice.describe("alice")
    assert info == {"session": SID, "service_url": "/services/peerplatform/",
                    "signal_url": SIGNAL_PATH}


def test_the_service_url_follows_the_hubs_base_url(monkeypatch):
    monkeypatch.setenv("JUPYTERHUB_BASE_URL", "/pairs/")
    assert default_service_url() == "/pairs/services/peerplatform/"
    monkeypatch.delenv("JUPYTERHUB_BASE_URL")
    assert default_service_url() == "/services/peerplatform/"


@pytest.mark.parametrize("user, doc, status", [
    ("eve", view(), 403),
    ("pp-pairs", view(), 403),
    ("alice", view(state="ended"), 409),
    ("alice", None, 404),
])
async def test_who_is_refused(user, doc, status):
    state = PairState()
    if doc is not None:
        await state.apply(1, doc)
    voice = PairVoice(state=state, log=logging.getLogger("test"))
    with pytest.raises(PairError) as refused:
        voice.describe(user)
    assert refused.value.status == status


async def test_the_first_member_offers_whatever_the_roles(room):
    state, voice = room
    a, b = joined(voice)
    assert a.sent[0] == {"type": "welcome", "offerer": True, "partner_present": False,
                         "partner_muted": False}
    assert b.sent[0]["offerer"] is False and b.sent[0]["partner_present"] is True
    assert a.sent[1:] == [{"type": "partner-joined", "muted": False},
                          {"type": "start", "offerer": True}]
    assert b.sent[1:] == [{"type": "start", "offerer": False}]
    await state.apply(2, view(driver="alice", observer="bob"))  # a swap renegotiates nothing
    assert voice.offerer(state.doc) == "alice" and len(a.sent) == 3


async def test_the_negotiation_is_relayed_rebuilt_never_as_is(room):
    _, voice = room
    a, b = joined(voice)
    send(voice, "alice", a, {"type": "offer", "sdp": "v=0 offer", "extra": "dropped"})
    assert b.sent[-1] == {"type": "offer", "sdp": "v=0 offer"}
    send(voice, "bob", b, {"type": "answer", "sdp": "v=0 answer"})
    assert a.sent[-1] == {"type": "answer", "sdp": "v=0 answer"}
    cand = {"candidate": "candidate:1 1 udp 1 127.0.0.1 5000 typ host", "sdpMid": "0"}
    send(voice, "bob", b, {"type": "candidate", "candidate": cand})
    assert a.sent[-1] == {"type": "candidate", "candidate": cand}
    send(voice, "alice", a, {"type": "mute", "muted": True})
    assert b.sent[-1] == {"type": "partner-mute", "muted": True}
    send(voice, "alice", a, {"type": "bye"})
    assert b.sent[-1] == {"type": "bye"}


@pytest.mark.parametrize("user, bad, message", [
    ("bob", {"type": "offer", "sdp": "v=0"}, "only the offerer sends offers"),
    ("alice", {"type": "answer", "sdp": "v=0"}, "the offerer does not answer"),
    ("alice", "not json", "messages must be JSON"),
    ("alice", "[1, 2]", "a message is a JSON object"),
    ("alice", {"type": "shout"}, "type must be offer, answer, candidate, mute or bye"),
    ("alice", {"type": "mute", "muted": "yes"}, "muted must be true or false"),
    ("alice", {"type": "offer", "sdp": 42}, "sdp must be a non-empty string"),
    ("alice", {"type": "candidate", "candidate": "x"}, "candidate must be an RTCIceCandidateInit"),
    ("alice", {"type": "offer", "sdp": "x" * 70000}, "messages are JSON text up to 64 KiB"),
])
async def test_bad_messages_reach_nobody(room, user, bad, message):
    _, voice = room
    a, b = joined(voice)
    me, other = (a, b) if user == "alice" else (b, a)
    before = len(other.sent)
    send(voice, user, me, bad)
    assert me.sent[-1]["type"] == "error" and me.sent[-1]["message"].startswith(message)
    assert len(other.sent) == before
    assert voice.muted == {}


async def test_a_newer_connection_replaces_the_older_and_mute_state_is_kept(room):
    _, voice = room
    a, b = joined(voice)
    send(voice, "alice", a, {"type": "mute", "muted": True})
    a2 = Socket()
    voice.join("alice", a2)
    assert a.closed[0] == CLOSE_REPLACED
    send(voice, "alice", a, {"type": "mute", "muted": False})  # the old one is not heard
    assert b.sent[-1] == {"type": "start", "offerer": False}
    voice.leave("alice", a)  # the replaced socket closing changes nothing
    assert "alice" in voice.sockets
    b2 = Socket()
    voice.join("bob", b2)
    assert b2.sent[0]["partner_muted"] is True
    voice.leave("alice", a2)
    assert b2.sent[-1] == {"type": "partner-left"}


@pytest.mark.parametrize("how", ["locked", "ended", "failed", "another-session"])
async def test_the_end_closes_both_sockets(room, how):
    state, voice = room
    a, b = joined(voice)
    if how == "locked":
        state.lock()  # time is up
    elif how == "another-session":
        await state.apply(2, {**view(), "id": "bbbbbbbbbbbb"})  # a warm server reassigned
    else:
        await state.apply(2, view(state=how))
    for sock in (a, b):
        assert sock.sent[-1] == {"type": "ended"} and sock.closed[0] == CLOSE_ENDED
    assert voice.sockets == {} and voice.muted == {}
