"""The end of a session ends its Twilio conference, once: at time-up (the clock sweep, whichever
replica wins the end) and when the service ends or fails a session that had started. Twilio's
REST API is the in-process fake of the voice tests (``tests/integration/voice/voicekit.py``)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest
from apikit import OWNER, make_api

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "voice"))

from voicekit import SECRET, FakeTwilio, twilio_settings, webrtc_settings  # noqa: E402

from peerplatform.events import EventBus  # noqa: E402
from peerplatform.matching import MatchRules, WaitingRoom  # noqa: E402
from peerplatform.sessions import SessionManager  # noqa: E402
from peerplatform.settings import PeerPlatform  # noqa: E402
from peerplatform_contracts.voice_identity import conference_name  # noqa: E402


@pytest.fixture
def twilio():
    return FakeTwilio()


def conference_of(twilio: FakeTwilio, session_id: str) -> str:
    """The pair's conference, as Twilio starts it when both members dial in."""
    return twilio.start_conference(conference_name(SECRET, session_id), ["m1", "m2"])


def completions(twilio: FakeTwilio) -> list[str]:
    """Paths of the "end this conference" requests Twilio received."""
    return [path for method, path, _, data, _ in twilio.sent
            if method == "POST" and data.get("Status") == "completed"]


def with_twilio(api, twilio: FakeTwilio, settings=None) -> None:
    """Give a replica's clock the voice settings the service gives it (app.py)."""
    api.clock.voice_settings = settings or twilio_settings()
    api.clock.voice_http_client = twilio


async def test_time_up_ends_the_conference_once_with_two_replicas(svc, store, redis, twilio):
    svc.api.settings.final_snapshot_wait = 0.2
    doc, _ = await svc.session(duration_s=60, ago_s=61)
    sid = doc["_id"]
    conference = conference_of(twilio, sid)
    other_session, _ = await svc.session(duration_s=600)
    other_conference = conference_of(twilio, other_session["_id"])
    other, _ = make_api(store, redis, final_snapshot_wait=0.2)
    with_twilio(svc.api, twilio)
    with_twilio(other, twilio)

    ended = await asyncio.gather(svc.api.clock.end(sid), other.clock.end(sid),
                                 svc.api.clock.end(sid))
    assert [d is not None for d in ended].count(True) == 1
    assert (await store.sessions.get(sid))["state"] == "ended"
    assert twilio.conferences[conference]["status"] == "completed"
    assert completions(twilio) == [f"/2010-04-01/Accounts/{twilio.account}"
                                   f"/Conferences/{conference}.json"]
    # the other pair's call goes on
    assert twilio.conferences[other_conference]["status"] == "in-progress"
    # a later sweep of the ended session changes nothing
    await asyncio.gather(svc.api.clock.sweep(), other.clock.sweep())
    assert len(completions(twilio)) == 1


async def test_time_up_ends_the_session_when_twilio_is_unreachable(svc, store, twilio):
    svc.api.settings.final_snapshot_wait = 0.1
    doc, _ = await svc.session(duration_s=60, ago_s=61)
    with_twilio(svc.api, twilio)
    twilio.unreachable = True
    ended = await svc.api.clock.end(doc["_id"])
    assert ended is not None and ended["state"] == "ended"
    assert ended["outcome"]["reason"] == "time is up"
    assert (await store.sessions.get(doc["_id"])).get("attempts_pending") is None


async def test_webrtc_calls_need_nothing_from_twilio_at_time_up(svc, twilio):
    svc.api.settings.final_snapshot_wait = 0.1
    doc, _ = await svc.session(duration_s=60, ago_s=61)
    with_twilio(svc.api, twilio, webrtc_settings())
    assert (await svc.api.clock.end(doc["_id"]))["state"] == "ended"
    assert twilio.sent == []


class HubWithoutServers:
    """The Hub client as ``end``/``fail`` use it: removing the pair server (recorded)."""

    def __init__(self):
        self.removed = []

    async def remove_server(self, owner, name):
        self.removed.append((owner, name))


@pytest.fixture
def manager(store, redis, twilio):
    room = WaitingRoom(redis, presence_ttl=30, rules=MatchRules(auto_accept=True))
    return SessionManager(settings=PeerPlatform(), store=store, room=room,
                          hub=HubWithoutServers(), events=EventBus(redis),
                          voice_settings=twilio_settings(), voice_http_client=twilio)


async def test_a_session_ended_from_the_lobby_ends_its_conference(svc, manager, twilio):
    doc, _ = await svc.session(duration_s=600)
    conference = conference_of(twilio, doc["_id"])
    ended = await manager.end(doc["_id"], "ended by a member (alice)")
    assert ended["state"] == "ended"
    assert twilio.conferences[conference]["status"] == "completed"
    assert len(completions(twilio)) == 1
    assert manager.hub.removed == [(OWNER, doc["server"]["name"])]


async def test_a_failed_active_session_ends_its_conference(svc, manager, twilio):
    doc, _ = await svc.session(duration_s=600)
    conference = conference_of(twilio, doc["_id"])
    assert (await manager.fail(doc["_id"], "the pair server died"))["state"] == "failed"
    assert twilio.conferences[conference]["status"] == "completed"


async def test_a_session_that_never_started_has_no_call_to_end(svc, manager, twilio):
    doc, _ = await svc.session(state="spawning")
    assert (await manager.fail(doc["_id"], "the server did not start"))["state"] == "failed"
    assert twilio.sent == []
