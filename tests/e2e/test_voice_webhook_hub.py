"""Voice on the running platform, through JupyterHub's proxy:

* Twilio's webhook, with no Hub login and no XSRF token, authenticated only by the signature
  over the configured public URL (the hub sits behind a TLS terminator at
  https://pair.example.org; the proxy's URL is internal);
* the members' voice API (``services/peerplatform/api/voice/<session>``) with real Hub logins:
  a member gets a Twilio token for their own opaque identity, everybody else nothing."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import httpx
import jwt
import pytest
from e2e_hub import start_hub
from flows import new_users
from twilio.request_validator import RequestValidator

from peerplatform_contracts.voice_identity import caller_identity, conference_name

pytestmark = pytest.mark.hub

AUTH_TOKEN = "twilio-auth-token-for-tests-0002"
KEY_SECRET = "twilio-key-secret-for-hub-tests-01"
SECRET = "voice-secret-for-hub-tests-0123456"
PUBLIC = "https://pair.example.org"
PATH = "services/peerplatform/voice/twiml"


@pytest.fixture(scope="module")
def voice_hub(tmp_path_factory, redis_url, mongodb_uri):
    h = start_hub(tmp_path_factory, redis_url, mongodb_uri, env={
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN, "PEERPLATFORM_PUBLIC_URL": PUBLIC,
        "PEERPLATFORM_VOICE_SECRET": SECRET, "TWILIO_ACCOUNT_SID": "AC" + "1" * 32,
        "TWILIO_API_KEY_SID": "SK" + "2" * 32, "TWILIO_API_KEY_SECRET": KEY_SECRET,
        "TWILIO_TWIML_APP_SID": "AP" + "3" * 32})
    yield h
    h.stop()


@pytest.fixture(scope="module")
def session_id(voice_hub):
    from peerplatform.store import connect

    async def go():
        store = await connect(voice_hub.mongodb_uri, voice_hub.mongodb_database)
        try:
            doc = await store.sessions.create(members=["ada", "bo"], driver="ada",
                                              observer="bo", server_owner="pp-pairs",
                                              duration_s=600)
            for step in ("spawning", "active"):
                await store.sessions.transition(doc["_id"], step)
            return doc["_id"]
        finally:
            await store.close()

    return asyncio.run(go())


def call(hub, identity: str, sign_url: str) -> httpx.Response:
    form = {"AccountSid": "AC" + "1" * 32, "CallSid": "CA" + "4" * 32, "From": f"client:{identity}",
            "To": "", "Direction": "inbound", "CallStatus": "ringing"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(sign_url, form)
    return httpx.post(hub.url + PATH, content=urlencode(form), follow_redirects=False,
                      headers={"Content-Type": "application/x-www-form-urlencoded",
                               "X-Twilio-Signature": signature}, timeout=30)


def test_twilio_reaches_the_webhook_without_a_login(voice_hub, session_id):
    ident = caller_identity(SECRET, session_id, "bo")
    r = call(voice_hub, ident, f"{PUBLIC}/{PATH}")
    assert r.status_code == 200, r.text
    conf = ET.fromstring(r.text).find("Dial/Conference")
    assert conf.text == conference_name(SECRET, session_id)
    assert conf.attrib["participantLabel"] == ident
    assert conf.attrib["statusCallback"] == f"{PUBLIC}/services/peerplatform/voice/events"


def test_a_signature_over_the_internal_url_is_refused(voice_hub, session_id):
    r = call(voice_hub, caller_identity(SECRET, session_id, "bo"), voice_hub.url + PATH)
    assert r.status_code == 403  # not a redirect to the Hub login: the signature is the auth
    assert r.json()["message"] == "invalid Twilio signature"


# -- the members' voice API ---------------------------------------------------------------------

def test_only_the_members_get_the_call_and_only_while_it_runs(voice_hub):
    from peerplatform.store import connect

    ada, bo, eve = new_users(voice_hub, "ada", "bo", "eve")

    async def store_do(fn):
        store = await connect(voice_hub.mongodb_uri, voice_hub.mongodb_database)
        try:
            return await fn(store)
        finally:
            await store.close()

    async def create(store):
        doc = await store.sessions.create(members=[ada.name, bo.name], driver=ada.name,
                                          observer=bo.name, server_owner="pp-pairs",
                                          duration_s=600)
        for step in ("spawning", "active"):
            await store.sessions.transition(doc["_id"], step)
        return doc["_id"]

    sid = asyncio.run(store_do(create))
    r = bo.api("GET", f"voice/{sid}")
    assert r.status_code == 200, r.text
    info = r.json()
    ident = caller_identity(SECRET, sid, bo.name)
    assert info["mode"] == "twilio" and info["identity"] == ident
    claims = jwt.decode(info["token"], KEY_SECRET, algorithms=["HS256"])
    assert claims["grants"]["identity"] == ident
    assert ada.api("GET", f"voice/{sid}/token").status_code == 200

    r = eve.api("GET", f"voice/{sid}")
    assert r.status_code == 403 and "token" not in r.text
    anonymous = httpx.get(voice_hub.url + f"services/peerplatform/api/voice/{sid}",
                          follow_redirects=False, timeout=30)
    assert anonymous.status_code == 401

    async def end(store):
        await store.sessions.transition(sid, "ended", reason="time is up")

    asyncio.run(store_do(end))
    r = bo.api("GET", f"voice/{sid}")
    assert r.status_code == 409 and r.json()["message"] == "the session is not running: no call"
