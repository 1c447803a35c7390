"""Voice pieces without Twilio: token claims (decoded with PyJWT), identities, TwiML, TURN,
and who the service gives a call to (``VoiceCalls``, from the session document alone)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from traitlets import TraitError

from peerplatform.voice.calls import VoiceCalls, VoiceError
from peerplatform.voice.ice import ice_servers, turn_credentials
from peerplatform.voice.settings import VOICE_ENV, VoiceSettings
from peerplatform.voice.twilio import access_token, conference_twiml, reject_twiml
from peerplatform_contracts.voice_identity import (
    IDENTITY_RE,
    caller_identity,
    conference_name,
    member_of,
    session_of,
)

ACCOUNT = "AC" + "1" * 32
KEY = "SK" + "2" * 32
KEY_SECRET = "k" * 32  # PyJWT wants >= 32 bytes for HS256
APP = "AP" + "3" * 32
SECRET = "voice-secret-for-tests-0123456789"


@pytest.fixture
def settings():
    return VoiceSettings(twilio_account_sid=ACCOUNT, twilio_api_key_sid=KEY,
                         twilio_api_key_secret=KEY_SECRET, twilio_twiml_app_sid=APP,
                         secret=SECRET)


def test_token_claims(settings):
    ident = caller_identity(SECRET, "abcdefabcdef", "alice@example.org")
    before = int(time.time())
    token = access_token(settings, ident)
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "HS256" and header["cty"] == "twilio-fpa;v=1"
    claims = jwt.decode(token, KEY_SECRET, algorithms=["HS256"])
    assert claims["iss"] == KEY and claims["sub"] == ACCOUNT
    assert claims["exp"] - claims["nbf"] == 3600 and abs(claims["nbf"] - before) <= 2
    assert claims["grants"]["identity"] == ident
    voice = claims["grants"]["voice"]
    assert voice["outgoing"]["application_sid"] == APP
    assert "incoming" not in voice  # nobody can call a member; both dial into the conference
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, "x" * 32, algorithms=["HS256"])


def test_token_ttl_is_configurable_within_twilios_limit(settings):
    settings.token_ttl = 600
    claims = jwt.decode(access_token(settings, "p_x"), KEY_SECRET, algorithms=["HS256"])
    assert claims["exp"] - claims["nbf"] == 600
    with pytest.raises(TraitError):
        settings.token_ttl = 25 * 3600


def test_token_refuses_an_identity_twilio_would_reject(settings):
    for bad in ("alice@example.org", "a-b", "", "x" * 122, "ünï"):
        with pytest.raises(ValueError):
            access_token(settings, bad)


@pytest.mark.parametrize("username", ["alice", "bob.smith+test@example.org", "ünïcødé-ñame",
                                      "x" * 200])
def test_identity_is_opaque_and_in_twilios_charset(username):
    ident = caller_identity(SECRET, "abcdefabcdef", username)
    assert IDENTITY_RE.match(ident) and len(ident) <= 121
    assert username.split("@")[0][:5] not in ident.split("_", 2)[2]  # no trace of the name
    assert session_of(ident) == "abcdefabcdef"
    assert caller_identity(SECRET, "abcdefabcdef", username) == ident  # stable
    assert caller_identity("another-secret", "abcdefabcdef", username) != ident
    assert caller_identity(SECRET, "abcdefabcdee", username) != ident  # per session


def test_identity_maps_back_to_the_member_through_server_state_only():
    doc = {"_id": "abcdefabcdef", "members": ["alice", "bob"]}
    assert member_of(SECRET, doc, caller_identity(SECRET, doc["_id"], "bob")) == "bob"
    # another session's identity, a stranger, a forged string: nobody
    assert member_of(SECRET, doc, caller_identity(SECRET, "zzzzzzzzzzzz", "bob")) is None
    assert member_of(SECRET, doc, caller_identity(SECRET, doc["_id"], "eve")) is None
    assert member_of(SECRET, doc, "p_abcdefabcdef_" + "0" * 32) is None
    assert session_of("alice") is None and session_of("p_ABC_x") is None


def test_conference_name_is_opaque_and_stable():
    name = conference_name(SECRET, "abcdefabcdef")
    assert name.startswith("pair_") and IDENTITY_RE.match(name)
    assert "abcdefabcdef" not in name
    assert name == conference_name(SECRET, "abcdefabcdef") != conference_name(SECRET, "b" * 12)
    with pytest.raises(ValueError):
        conference_name("", "abcdefabcdef")


def test_twiml_dials_into_the_pairs_conference():
    xml = conference_twiml("pair_abc", "p_abcdefabcdef_" + "1" * 32,
                           "https://pair.example.org/services/peerplatform/voice/events")
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    (dial,) = list(root)
    assert dial.tag == "Dial"
    (conf,) = list(dial)
    assert conf.tag == "Conference" and conf.text == "pair_abc"
    assert conf.attrib["maxParticipants"] == "2"
    assert conf.attrib["startConferenceOnEnter"] == "true"
    assert conf.attrib["endConferenceOnExit"] == "false"
    assert conf.attrib["beep"] == "false"
    assert conf.attrib["participantLabel"] == "p_abcdefabcdef_" + "1" * 32
    assert conf.attrib["statusCallback"] == \
        "https://pair.example.org/services/peerplatform/voice/events"
    assert set(conf.attrib["statusCallbackEvent"].split()) == {"start", "end", "join", "leave",
                                                               "mute"}
    assert conf.attrib["statusCallbackMethod"] == "POST"
    assert [el.tag for el in ET.fromstring(reject_twiml())] == ["Reject"]


def test_twilio_is_used_only_when_fully_configured(settings, monkeypatch):
    assert settings.twilio_enabled
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_API_KEY_SID", "TWILIO_API_KEY_SECRET",
                 "TWILIO_TWIML_APP_SID", "PEERPLATFORM_VOICE_SECRET", "TWILIO_AUTH_TOKEN",
                 "PEERPLATFORM_PUBLIC_URL", "PEERPLATFORM_ICE_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    default = VoiceSettings()
    assert not default.twilio_enabled and not default.webhook_enabled
    assert default.ice_servers == []  # no public STUN server by default
    settings.twilio_twiml_app_sid = ""
    assert not settings.twilio_enabled


def test_settings_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("TWILIO_ACCOUNT_SID", ACCOUNT)
    monkeypatch.setenv("TWILIO_API_KEY_SID", KEY)
    monkeypatch.setenv("TWILIO_API_KEY_SECRET", KEY_SECRET)
    monkeypatch.setenv("TWILIO_TWIML_APP_SID", APP)
    monkeypatch.setenv("PEERPLATFORM_VOICE_SECRET", SECRET)
    monkeypatch.setenv("TWILIO_AUTH_TOKEN", "auth")
    monkeypatch.setenv("PEERPLATFORM_PUBLIC_URL", "https://pair.example.org/")
    monkeypatch.setenv("PEERPLATFORM_ICE_SERVERS", '[{"urls": "stun:stun.lan:3478"}]')
    s = VoiceSettings()
    assert s.twilio_enabled and s.webhook_enabled
    assert s.public_url == "https://pair.example.org"
    assert s.ice_servers == [{"urls": "stun:stun.lan:3478"}]
    with pytest.raises(TraitError):
        s.ice_servers = [{"username": "no urls"}]


def test_turn_credentials_follow_coturns_use_auth_secret():
    creds = turn_credentials("turnsecret", "p_x", 3600, now=1_000_000)
    assert creds["username"] == "1003600:p_x"
    expected = base64.b64encode(hmac.new(b"turnsecret", b"1003600:p_x", hashlib.sha1).digest())
    assert creds["credential"] == expected.decode()
    s = VoiceSettings(turn_urls=["turn:turn.lan:3478"], turn_secret="turnsecret", turn_ttl=60,
                      ice_servers=[{"urls": "stun:turn.lan:3478"}])
    servers = ice_servers(s, "p_x")
    assert servers[0] == {"urls": "stun:turn.lan:3478"}
    assert servers[1]["urls"] == ["turn:turn.lan:3478"]
    expiry = int(servers[1]["username"].split(":")[0])
    assert 0 < expiry - time.time() <= 61
    assert ice_servers(VoiceSettings(turn_urls=["turn:x"]), "p_x") == []  # no secret, no TURN


def test_pair_servers_get_no_voice_setting_at_all():
    """The pair server is untrusted: no Twilio key, no identity or TURN secret, not even the
    harmless values (it relays signaling and needs none)."""
    from spawner.mixin import FORWARDED_ENV

    assert {"TWILIO_API_KEY_SECRET", "TWILIO_AUTH_TOKEN", "PEERPLATFORM_VOICE_SECRET",
            "PEERPLATFORM_TURN_SECRET"} <= set(VOICE_ENV)
    assert not set(VOICE_ENV) & set(FORWARDED_ENV)
    assert not [name for name in FORWARDED_ENV if name.startswith("TWILIO_")]


# -- who gets a call: VoiceCalls, on the session document alone --------------------------------

SID = "abcdefabcdef"


def session(state="active", started_ago_s=60, duration_s=600, **extra):
    now = datetime.now(timezone.utc)
    return {"_id": SID, "members": ["alice", "bob"], "driver": "alice", "observer": "bob",
            "state": state, "duration_s": duration_s,
            "started_at": now - timedelta(seconds=started_ago_s), **extra}


@pytest.mark.parametrize("doc, user, status", [
    (None, "alice", 404),
    (session(), "eve", 403),
    (session(), "pp-pairs", 403),  # the pair servers' owner is no member
    (session(state="pending"), "alice", 409),
    (session(state="spawning"), "alice", 409),
    (session(state="ended"), "bob", 409),
    (session(state="failed"), "bob", 409),
    (session(started_ago_s=601), "alice", 409),  # time is up, the end not recorded yet
    (session(state="ended"), "eve", 403),  # a stranger learns nothing about the state
])
def test_only_members_of_a_running_session_get_a_call(settings, doc, user, status):
    with pytest.raises(VoiceError) as refused:
        VoiceCalls(settings).admit(doc, user)
    assert refused.value.status == status


def test_a_member_gets_a_twilio_description_for_their_own_identity(settings):
    calls = VoiceCalls(settings)
    doc = calls.admit(session(), "bob")
    info = calls.describe(doc, "bob")
    ident = caller_identity(SECRET, SID, "bob")
    assert info["mode"] == "twilio" and info["session"] == SID
    assert info["identity"] == ident and info["ttl_s"] == 3600
    assert jwt.decode(info["token"], KEY_SECRET, algorithms=["HS256"])["grants"]["identity"] \
        == ident
    assert (info["token_url"], info["mute_url"]) == (f"api/voice/{SID}/token",
                                                     f"api/voice/{SID}/mute")
    assert "ice_servers" not in info


def test_a_webrtc_description_has_turn_credentials_and_no_token():
    settings = VoiceSettings(twilio_account_sid="", secret=SECRET,
                             turn_urls=["turn:turn.lan:3478"], turn_secret="turnsecret")
    calls = VoiceCalls(settings)
    info = calls.describe(session(), "alice")
    assert info["mode"] == "webrtc" and "token" not in info
    (turn,) = info["ice_servers"]
    user_id = turn["username"].split(":", 1)[1]
    assert user_id == caller_identity(SECRET, SID, "alice")  # opaque, no username
    expected = base64.b64encode(hmac.new(b"turnsecret", turn["username"].encode(),
                                         hashlib.sha1).digest()).decode()
    assert turn["credential"] == expected
    with pytest.raises(VoiceError) as no_token:
        calls.token(session(), "alice")
    assert no_token.value.status == 404
