"""Bad input to every API the skeleton adds: a 4xx with a JSON error, and nothing changed."""

from __future__ import annotations

import pytest
from flows import new_users

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def learner(hub):
    (user,) = new_users(hub, "dana")
    return user


def assert_json_error(resp, status):
    assert resp.status_code == status, resp.text
    body = resp.json()
    assert body["status"] == status and isinstance(body["message"], str) and body["message"]
    return body["message"]


@pytest.mark.parametrize(
    "raw, content_type, status, says",
    [
        (b"{not json", "application/json", 400, "not valid JSON"),
        (b"[1, 2]", "application/json", 400, "JSON object"),
        (b'"text"', "application/json", 400, "JSON object"),
        (b'{"preferences": {"difficulty": "extreme"}}', "application/json", 400, "difficulty"),
        (b'{"preferences": {"duration_minutes": 7}}', "application/json", 400, "duration_minutes"),
        (b'{"preferences": {"duration_minutes": true}}', "application/json", 400, "duration_minutes"),
        (b'{"preferences": {"colour": "red"}}', "application/json", 400, "colour"),
        (b'{"preferences": "easy"}', "application/json", 400, "object"),
        (b'{"sneaky": 1}', "application/json", 400, "sneaky"),
        (b'{"preferences": {}}', "text/plain", 415, "application/json"),
        (b"\xff\xfe", "application/json", 400, "JSON"),
    ],
)
def test_join_rejects_bad_bodies_and_joins_nobody(learner, raw, content_type, status, says):
    resp = learner.api("POST", "waiting-room", raw=raw, headers={"Content-Type": content_type})
    assert says in assert_json_error(resp, status)
    assert learner.api("GET", "me").json()["state"] == "idle"


def test_oversized_body_is_413(learner):
    raw = b'{"preferences": {"difficulty": "easy"}, "pad": "' + b"x" * 70_000 + b'"}'
    resp = learner.api("POST", "waiting-room", raw=raw, headers={"Content-Type": "application/json"})
    assert "larger than" in assert_json_error(resp, 413)
    assert learner.api("GET", "me").json()["state"] == "idle"


def test_heartbeat_rejects_malformed_body(learner):
    resp = learner.api("POST", "waiting-room/heartbeat", raw=b"{", headers={"Content-Type": "application/json"})
    assert_json_error(resp, 400)


def test_write_without_xsrf_token_is_refused(learner):
    resp = learner.api("POST", "waiting-room", {}, headers={"X-XSRFToken": "forged"})
    assert resp.status_code == 403
    assert learner.api("GET", "me").json()["state"] == "idle"


def test_anonymous_api_calls_are_refused(hub):
    import requests

    for method, path in [("GET", "me"), ("POST", "waiting-room"), ("GET", "events"),
                         ("POST", "sessions/abcdefabcdef/end")]:
        resp = requests.request(method, hub.url + f"services/peerplatform/api/{path}",
                                allow_redirects=False, timeout=10)
        assert resp.status_code == 403, (method, path, resp.status_code)


def test_session_routes_do_not_leak(learner):
    assert_json_error(learner.api("GET", "sessions/abcdefabcdef"), 404)
    assert_json_error(learner.api("POST", "sessions/abcdefabcdef/end", {}), 404)
    assert learner.api("GET", "sessions/NOT-VALID!").status_code == 404


def test_end_rejects_bad_reason(learner):
    resp = learner.api("POST", "sessions/abcdefabcdef/end", {"reason": ["x"]})
    assert_json_error(resp, 400)


@pytest.mark.parametrize(
    "options",
    [
        {"session_id": "short"},
        {"session_id": "UPPERCASE123"},
        {"session_id": 123456789012},
        {"session_id": "abcdefabcdef", "driver": "mallory"},
        {},
    ],
)
def test_bad_user_options_are_400_and_create_nothing(hub, options):
    name = "s-badoptions1"
    resp = hub.hub_api("POST", f"/users/pp-pairs/servers/{name}", {"user_options": options})
    assert resp.status_code == 400, resp.text
    assert "Invalid user options" in resp.json()["message"]
    # Nothing half-created: JupyterHub keeps a record of the named server it was asked to
    # start, but it is stopped, not starting, and does not keep the refused options.
    server = hub.hub_api("GET", f"/users/pp-pairs/servers/{name}")
    assert server.status_code == 200
    model = server.json()
    assert (model["ready"], model["pending"], model["started"]) == (False, None, None)
    assert model["user_options"] == {}
    assert not list(hub.sessions_dir.glob("*"))


def test_learners_cannot_start_servers_of_their_own(hub, learner):
    # even with a well-formed session id, only the synthetic pair owner may run pair servers
    resp = hub.hub_api("POST", f"/users/{learner.name}/servers/s-mine",
                       {"user_options": {"session_id": "abcdefabcdef"}})
    assert resp.status_code in (201, 202)  # the Hub accepts the request, then the spawn fails
    import time

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        server = hub.hub_api("GET", f"/users/{learner.name}/servers/s-mine")
        if server.status_code == 404 or not server.json().get("pending"):
            break
        time.sleep(0.3)
    server = hub.hub_api("GET", f"/users/{learner.name}/servers/s-mine")
    assert server.status_code == 404 or not server.json().get("ready")
    assert f"cannot start one" in hub.log_tail(200_000)
