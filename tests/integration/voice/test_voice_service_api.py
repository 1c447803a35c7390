"""The service's voice API for members (``peerplatform.apihandlers.voice``) on its real handlers,
JupyterHub's real ``HubOAuth`` (only the Hub's token lookup is a table, see voicekit.py), the
embedded document store, and Twilio's REST API kept in process (``FakeTwilio``)."""

from __future__ import annotations

import jwt
import pytest
from voicekit import (
    DRIVER,
    KEY_SECRET,
    OBSERVER,
    OUTSIDER,
    OWNER,
    SECRET,
    STRANGER,
    FakeTwilio,
    VoiceService,
    running_session,
    twilio_settings,
    webrtc_settings,
)

from peerplatform.voice.calls import end_conference
from peerplatform_contracts.voice_identity import caller_identity, conference_name

ENDPOINTS = [("GET", ""), ("GET", "/token"), ("POST", "/mute"), ("GET", "/sdk.js")]


@pytest.fixture
def twilio():
    return FakeTwilio()


@pytest.fixture
async def service(store, twilio):
    svc = VoiceService(store, twilio_settings(token_ttl=120), http_client=twilio).start()
    yield svc
    svc.stop()


@pytest.fixture
async def webrtc_service(store):
    settings = webrtc_settings(turn_urls=["turn:turn.lan:3478"], turn_secret="turn-secret")
    svc = VoiceService(store, settings).start()
    yield svc
    svc.stop()


async def call(svc, user, method, sid, suffix="", body=None, **kw):
    if method == "POST" and body is None:
        body = {"muted": True}
    return await svc.request(user, method, f"api/voice/{sid}{suffix}", body, **kw)


# -- members --------------------------------------------------------------------------------

async def test_a_member_gets_a_twilio_token_for_their_own_opaque_identity(service):
    doc = await running_session(service.store)
    sid = doc["_id"]
    r = await call(service, OBSERVER, "GET", sid)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    info = r.json()
    ident = caller_identity(SECRET, sid, OBSERVER)
    assert info["mode"] == "twilio" and info["session"] == sid and info["ttl_s"] == 120
    assert info["identity"] == ident and OBSERVER not in ident
    claims = jwt.decode(info["token"], KEY_SECRET, algorithms=["HS256"])
    assert claims["grants"]["identity"] == ident
    assert claims["grants"]["voice"]["outgoing"]["application_sid"] == "AP" + "3" * 32
    assert claims["exp"] - claims["nbf"] == 120
    assert info["token_url"] == f"api/voice/{sid}/token"
    assert info["mute_url"] == f"api/voice/{sid}/mute"
    assert "ice_servers" not in info

    r = await call(service, DRIVER, "GET", sid, "/token")
    assert r.status_code == 200
    fresh = jwt.decode(r.json()["token"], KEY_SECRET, algorithms=["HS256"])
    assert fresh["grants"]["identity"] == caller_identity(SECRET, sid, DRIVER) != ident


async def test_a_webrtc_member_gets_ice_servers_with_short_lived_turn_credentials(
        webrtc_service):
    doc = await running_session(webrtc_service.store)
    r = await call(webrtc_service, DRIVER, "GET", doc["_id"])
    assert r.status_code == 200, r.text
    info = r.json()
    assert info["mode"] == "webrtc" and "token" not in info and "identity" not in info
    (turn,) = info["ice_servers"]
    assert turn["urls"] == ["turn:turn.lan:3478"]
    assert turn["username"].split(":", 1)[1] == caller_identity(SECRET, doc["_id"], DRIVER)
    assert turn["credential"] and DRIVER not in turn["username"]
    for method, suffix, message in [
            ("GET", "/token", "this platform's calls are not Twilio's"),
            ("POST", "/mute", "this platform's calls are not Twilio's"),
            ("GET", "/sdk.js", "Twilio's Voice SDK is not served here")]:
        r = await call(webrtc_service, DRIVER, method, doc["_id"], suffix)
        assert (r.status_code, r.json()["message"]) == (404, message), suffix


async def test_no_public_ice_server_by_default(store):
    svc = VoiceService(store, webrtc_settings()).start()
    try:
        doc = await running_session(store)
        assert (await call(svc, OBSERVER, "GET", doc["_id"])).json()["ice_servers"] == []
    finally:
        svc.stop()


# -- everybody else ---------------------------------------------------------------------------

@pytest.mark.parametrize("user", [STRANGER, OUTSIDER, OWNER])
@pytest.mark.parametrize("method, suffix", ENDPOINTS)
async def test_non_members_get_403(service, twilio, user, method, suffix):
    doc = await running_session(service.store)
    sid = twilio.start_conference(conference_name(SECRET, doc["_id"]),
                                  [caller_identity(SECRET, doc["_id"], m)
                                   for m in (DRIVER, OBSERVER)])
    r = await call(service, user, method, doc["_id"], suffix)
    assert r.status_code == 403, r.text
    assert r.json() == {"status": 403, "message": "you are not a member of this session"}
    assert "token" not in r.text
    assert twilio.sent == [] and not any(p["muted"] for p in twilio.participants.values())
    assert twilio.conferences[sid]["status"] == "in-progress"


@pytest.mark.parametrize("method, suffix", ENDPOINTS)
@pytest.mark.parametrize("credential", ["none", "unknown-token"])
async def test_anonymous_callers_get_401(service, method, suffix, credential):
    doc = await running_session(service.store)
    headers = {"Authorization": "token not-a-token"} if credential == "unknown-token" else {}
    r = await call(service, None, method, doc["_id"], suffix, headers=headers)
    assert r.status_code == 401, r.text
    assert r.json()["message"] == "log in to the platform first"
    assert "location" not in r.headers  # an API answers, it does not redirect to a login


@pytest.mark.parametrize("method, suffix", ENDPOINTS)
async def test_an_unknown_session_is_404(service, method, suffix):
    r = await call(service, DRIVER, method, "nosuchsessn1", suffix)
    assert r.status_code == 404 and r.json()["message"] == "no such session"


@pytest.mark.parametrize("state", ["pending", "spawning", "ended", "failed"])
@pytest.mark.parametrize("method, suffix", ENDPOINTS)
async def test_no_call_when_the_session_is_not_running(service, twilio, state, method, suffix):
    doc = await running_session(service.store, state=state)
    r = await call(service, DRIVER, method, doc["_id"], suffix)
    assert r.status_code == 409, r.text
    assert r.json()["message"] == "the session is not running: no call"
    assert twilio.sent == []


async def test_the_call_ends_with_the_session(service):
    doc = await running_session(service.store)
    assert (await call(service, DRIVER, "GET", doc["_id"])).status_code == 200
    await service.store.sessions.transition(doc["_id"], "ended", reason="time is up")
    for method, suffix in ENDPOINTS:
        assert (await call(service, DRIVER, method, doc["_id"], suffix)).status_code == 409


# -- browsers: the login cookie only with the service's XSRF token ----------------------------

async def test_a_browsers_cookie_needs_the_xsrf_token_from_the_lab_bridge(service):
    import httpx

    doc = await running_session(service.store)
    name, value = service.login_cookie(DRIVER)
    async with httpx.AsyncClient(cookies={name: value}, timeout=30) as browser:
        fetch = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
        url = service.url(f"api/voice/{doc['_id']}")
        r = await browser.get(url, headers=fetch)
        assert r.status_code == 401  # a cookie alone is not enough for a fetch()
        page = await browser.get(service.url("lab-bridge"), headers={"Sec-Fetch-Mode": "navigate"})
        assert page.status_code == 200
        xsrf = page.text.split('data-xsrf="', 1)[1].split('"', 1)[0]
        r = await browser.get(url, headers={**fetch, "X-XSRFToken": xsrf})
        assert r.status_code == 200, r.text
        assert r.json()["identity"] == caller_identity(SECRET, doc["_id"], DRIVER)
        r = await browser.post(url + "/mute", json={"muted": True},
                               headers={**fetch, "X-XSRFToken": "forged"})
        assert r.status_code == 401


# -- conference control -------------------------------------------------------------------------

async def test_mute_sets_the_callers_own_participant_only(service, twilio):
    doc = await running_session(service.store)
    sid = doc["_id"]
    alice, bob = (caller_identity(SECRET, sid, u) for u in (DRIVER, OBSERVER))
    conf = twilio.start_conference(conference_name(SECRET, sid), [alice, bob])
    r = await call(service, OBSERVER, "POST", sid, "/mute", {"muted": True})
    assert r.status_code == 200, r.text
    assert r.json() == {"muted": True, "applied": True}
    assert twilio.participant(conf, bob)["muted"] is True
    assert twilio.participant(conf, alice)["muted"] is False
    r = await call(service, OBSERVER, "POST", sid, "/mute", {"muted": False})
    assert r.json() == {"muted": False, "applied": True}
    assert twilio.participant(conf, bob)["muted"] is False
    # what went to Twilio: the conference by its opaque name, then the caller's label
    assert [(m, p.rsplit("/", 1)[-1]) for m, p, *_ in twilio.sent[:2]] == [
        ("GET", "Conferences.json"), ("POST", f"{bob}.json")]
    assert twilio.sent[0][2]["FriendlyName"] == conference_name(SECRET, sid)


async def test_mute_before_anyone_dialled_in_is_not_applied(service, twilio):
    doc = await running_session(service.store)
    r = await call(service, DRIVER, "POST", doc["_id"], "/mute", {"muted": True})
    assert r.status_code == 200 and r.json() == {"muted": True, "applied": False}
    # the conference runs, but the caller is not in it (yet)
    twilio.start_conference(conference_name(SECRET, doc["_id"]), [])
    r = await call(service, DRIVER, "POST", doc["_id"], "/mute", {"muted": True})
    assert r.status_code == 200 and r.json() == {"muted": True, "applied": False}


@pytest.mark.parametrize("body, message", [
    ({"muted": "yes"}, "muted must be true or false"),
    ({}, "muted must be true or false"),
    ({"muted": True, "who": "alice"}, "unknown field(s): who"),
    ("[true]", "the body must be a JSON object"),
    ("{not json", "the body is not valid JSON"),
    ("", "a JSON body is required"),
])
async def test_bad_mute_bodies_are_refused_and_change_nothing(service, twilio, body, message):
    doc = await running_session(service.store)
    conf = twilio.start_conference(conference_name(SECRET, doc["_id"]),
                                   [caller_identity(SECRET, doc["_id"], DRIVER)])
    r = await service.request(DRIVER, "POST", f"api/voice/{doc['_id']}/mute", body,
                              headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    assert r.json()["message"].startswith(message)
    assert twilio.sent == []
    assert twilio.participant(conf, caller_identity(SECRET, doc["_id"], DRIVER))["muted"] is False


async def test_mute_says_so_when_twilio_is_unreachable(service, twilio):
    doc = await running_session(service.store)
    twilio.unreachable = True
    r = await call(service, DRIVER, "POST", doc["_id"], "/mute", {"muted": True})
    assert r.status_code == 502
    assert r.json()["message"] == "Twilio did not take the mute state; try again"


async def test_end_conference_ends_the_sessions_conference_once(twilio):
    settings = twilio_settings()
    sid = "abcdefabcdef"
    conf = twilio.start_conference(conference_name(SECRET, sid), [])
    other = twilio.start_conference(conference_name(SECRET, "bbbbbbbbbbbb"), [])
    assert await end_conference(settings, sid, http_client=twilio) is True
    assert twilio.conferences[conf]["status"] == "completed"
    assert twilio.conferences[other]["status"] == "in-progress"
    assert twilio.sent[-1][1].endswith(f"/Conferences/{conf}.json")
    assert twilio.sent[-1][3] == {"Status": "completed"}
    # again (another replica, a retry): nothing in progress, nothing to do
    assert await end_conference(settings, sid, http_client=twilio) is False
    twilio.unreachable = True  # best effort: never raises
    assert await end_conference(settings, "cccccccccccc", http_client=twilio) is False


async def test_end_conference_does_nothing_without_twilio(twilio):
    assert await end_conference(webrtc_settings(), "abcdefabcdef", http_client=twilio) is False
    assert twilio.sent == []


# -- Twilio's SDK ---------------------------------------------------------------------------------

async def test_the_sdk_is_served_to_members_of_a_twilio_call(service):
    doc = await running_session(service.store)
    if service.calls.sdk_file() is None:
        pytest.fail("Twilio's Voice SDK is missing: run `npm install`")
    r = await call(service, DRIVER, "GET", doc["_id"])
    assert r.json()["sdk_url"] == f"api/voice/{doc['_id']}/sdk.js"
    r = await call(service, OBSERVER, "GET", doc["_id"], "/sdk.js",
                   headers={"Sec-Fetch-Mode": "no-cors"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "Twilio" in r.text[:100000]


async def test_nothing_here_changes_the_session(service, twilio):
    doc = await running_session(service.store)
    twilio.start_conference(conference_name(SECRET, doc["_id"]),
                            [caller_identity(SECRET, doc["_id"], DRIVER)])
    for user in (DRIVER, STRANGER):
        for method, suffix in ENDPOINTS:
            await call(service, user, method, doc["_id"], suffix)
    after = await service.store.sessions.get(doc["_id"])
    assert after["rev"] == doc["rev"] and after["events"] == [] and after["state"] == "active"
