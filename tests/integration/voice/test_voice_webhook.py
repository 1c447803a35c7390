"""Twilio's webhooks on the platform service's real handlers, with Twilio simulated by
signing requests the way it does (``RequestValidator.compute_signature``), against the
embedded document store. The service sits behind the proxy, so requests arrive at an
internal URL: signatures are checked against the configured public URL only."""

from __future__ import annotations

import socket
import xml.etree.ElementTree as ET
from types import SimpleNamespace
from urllib.parse import urlencode

import httpx
import pytest
from tornado import web
from tornado.httpserver import HTTPServer
from twilio.request_validator import RequestValidator

from peerplatform.apihandlers import voice_webhooks as voice
from peerplatform.voice.settings import VoiceSettings
from peerplatform_contracts.voice_identity import caller_identity, conference_name

AUTH_TOKEN = "twilio-auth-token-for-tests-0001"
SECRET = "voice-secret-for-tests-0123456789"
PUBLIC = "https://pair.example.org"
PREFIX = "/services/peerplatform/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def service(store):
    settings = VoiceSettings(twilio_auth_token=AUTH_TOKEN, public_url=PUBLIC, secret=SECRET)
    app = web.Application(voice.default_handlers(PREFIX),
                          platform=SimpleNamespace(store=store), voice_settings=settings,
                          service_prefix=PREFIX, xsrf_cookies=True)
    port = free_port()
    server = HTTPServer(app)
    server.listen(port, "127.0.0.1")
    internal = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(base_url=internal, timeout=10) as client:
        yield SimpleNamespace(client=client, internal=internal, settings=settings, store=store)
    server.stop()


async def active_session(store, state="active"):
    doc = await store.sessions.create(members=["alice", "bob"], driver="alice", observer="bob",
                                      server_owner="pp-pairs", duration_s=600)
    for step in ("spawning", "active", "ended"):
        doc = await store.sessions.transition(doc["_id"], step)
        if step == state:
            break
    return doc


def call_form(identity: str, **extra) -> dict:
    return {"AccountSid": "AC" + "1" * 32, "ApplicationSid": "AP" + "3" * 32,
            "ApiVersion": "2010-04-01", "CallSid": "CA" + "4" * 32, "CallStatus": "ringing",
            "Direction": "inbound", "From": f"client:{identity}", "Caller": f"client:{identity}",
            "To": "", "Called": "", **extra}


def sign(url: str, form: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


async def post(service, path: str, form: dict, signature: str | None, **headers):
    if signature is not None:
        headers["X-Twilio-Signature"] = signature
    return await service.client.post(PREFIX + path, content=urlencode(form), headers={
        "Content-Type": "application/x-www-form-urlencoded", **headers})


def conference_of(response) -> ET.Element:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(response.text)
    conf = root.find("Dial/Conference")
    assert conf is not None, response.text
    return conf


async def test_a_member_is_put_into_the_pairs_conference(service):
    doc = await active_session(service.store)
    ident = caller_identity(SECRET, doc["_id"], "bob")
    form = call_form(ident)
    r = await post(service, "voice/twiml", form, sign(PUBLIC + PREFIX + "voice/twiml", form))
    conf = conference_of(r)
    assert conf.text == conference_name(SECRET, doc["_id"])
    assert conf.attrib["maxParticipants"] == "2"
    assert conf.attrib["participantLabel"] == ident
    assert conf.attrib["statusCallback"] == PUBLIC + PREFIX + "voice/events"


async def test_the_port_form_of_the_public_url_is_accepted(service):
    doc = await active_session(service.store)
    form = call_form(caller_identity(SECRET, doc["_id"], "alice"))
    r = await post(service, "voice/twiml", form,
                   sign("https://pair.example.org:443" + PREFIX + "voice/twiml", form))
    conference_of(r)


async def test_a_forged_pair_param_is_ignored(service):
    doc = await active_session(service.store)
    other = await active_session(service.store)
    # what a tampering browser passes to Device.connect({params}): Twilio signs it faithfully
    form = call_form(caller_identity(SECRET, doc["_id"], "alice"), pair="pair-EVIL",
                     conference=conference_name(SECRET, other["_id"]), session=other["_id"])
    r = await post(service, "voice/twiml", form, sign(PUBLIC + PREFIX + "voice/twiml", form))
    assert conference_of(r).text == conference_name(SECRET, doc["_id"])


@pytest.mark.parametrize("case", ["missing", "garbage", "wrong-token", "internal-url",
                                  "host-header", "http-scheme", "tampered-from",
                                  "added-field"])
async def test_a_bad_signature_is_refused_and_changes_nothing(service, case):
    doc = await active_session(service.store)
    alice = caller_identity(SECRET, doc["_id"], "alice")
    form = call_form(alice)
    public_url = PUBLIC + PREFIX + "voice/twiml"
    headers = {}
    sent = dict(form)
    signature = sign(public_url, form)
    if case == "missing":
        signature = None
    elif case == "garbage":
        signature = "bm90IGEgc2lnbmF0dXJl"
    elif case == "wrong-token":
        signature = sign(public_url, form, token="another-accounts-auth-token-0000")
    elif case == "internal-url":  # what the service sees behind the proxy
        signature = sign(service.internal + PREFIX + "voice/twiml", form)
    elif case == "host-header":  # an attacker choosing the Host the check would trust
        headers["Host"] = "evil.example"
        signature = sign("https://evil.example" + PREFIX + "voice/twiml", form)
    elif case == "http-scheme":
        signature = sign("http://pair.example.org" + PREFIX + "voice/twiml", form)
    elif case == "tampered-from":  # signed for alice, sent as bob
        sent["From"] = "client:" + caller_identity(SECRET, doc["_id"], "bob")
    elif case == "added-field":
        sent["pair"] = "pair-EVIL"
    r = await post(service, "voice/twiml", sent, signature, **headers)
    assert r.status_code == 403, r.text
    assert r.json() == {"status": 403, "message": "invalid Twilio signature"}
    assert "Conference" not in r.text
    after = await service.store.sessions.get(doc["_id"])
    assert after["events"] == [] and after["state"] == "active"


@pytest.mark.parametrize("who", ["stranger", "ended-session", "not-ours", "unknown-session"])
async def test_a_signed_call_without_an_active_session_is_rejected(service, who):
    doc = await active_session(service.store, state="ended" if who == "ended-session" else "active")
    ident = {
        "stranger": caller_identity(SECRET, doc["_id"], "eve"),
        "ended-session": caller_identity(SECRET, doc["_id"], "alice"),
        "not-ours": "alice",
        "unknown-session": caller_identity(SECRET, "zzzzzzzzzzzz", "alice"),
    }[who]
    form = call_form(ident)
    r = await post(service, "voice/twiml", form, sign(PUBLIC + PREFIX + "voice/twiml", form))
    assert r.status_code == 200
    root = ET.fromstring(r.text)
    assert [el.tag for el in root] == ["Reject"]


async def test_status_callbacks_are_recorded_for_the_member(service):
    doc = await active_session(service.store)
    ident = caller_identity(SECRET, doc["_id"], "bob")
    form = {"AccountSid": "AC" + "1" * 32, "ConferenceSid": "CF" + "5" * 32,
            "FriendlyName": conference_name(SECRET, doc["_id"]),
            "StatusCallbackEvent": "participant-mute", "CallSid": "CA" + "4" * 32,
            "ParticipantLabel": ident, "Muted": "true"}
    url = PUBLIC + PREFIX + "voice/events"
    r = await post(service, "voice/events", form, sign(url, form))
    assert r.status_code == 204
    events = (await service.store.sessions.get(doc["_id"]))["events"]
    assert [(e["type"], e["event"], e["by"], e["muted"]) for e in events] == [
        ("voice", "participant-mute", "bob", True)]
    # forged: not signed by Twilio
    r = await post(service, "voice/events", {**form, "Muted": "false"}, sign(url, form))
    assert r.status_code == 403
    assert len((await service.store.sessions.get(doc["_id"]))["events"]) == 1


async def test_an_oversized_body_is_refused(service):
    form = call_form("x", junk="y" * (voice.MAX_WEBHOOK_BYTES + 1))
    r = await post(service, "voice/twiml", form, sign(PUBLIC + PREFIX + "voice/twiml", form))
    assert r.status_code == 413


async def test_the_webhook_is_off_without_twilio_settings(service):
    service.settings.twilio_auth_token = ""
    form = call_form("x")
    r = await post(service, "voice/twiml", form, sign(PUBLIC + PREFIX + "voice/twiml", form))
    assert r.status_code == 404 and r.json()["message"] == "Twilio voice is not configured"
