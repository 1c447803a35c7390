"""A pair server's credential, with a real Hub: the token JupyterHub gives the server at spawn
(``c.PairSpawner.server_token_scopes``) opens the pair API of its own session only.

The Hub runs the production config; only the spawned process is a stand-in
(:mod:`recordingspawner`), which records the environment the real PairSpawner gives it.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import pytest
import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from hubproc import HubProcess  # noqa: E402

pytestmark = [pytest.mark.hub, pytest.mark.timeout(300)]

OWNER = "pp-pairs"
MINE, OTHER, LATER = "credmine0001", "credother001", "credlater001"


async def seed(mongodb_uri, database):
    from peerplatform.store import connect

    store = await connect(mongodb_uri, database)
    try:
        for sid in (MINE, OTHER, LATER):
            await store.sessions.create(session_id=sid, members=["alice", "bob"],
                                        driver="alice", observer="bob", server_owner=OWNER,
                                        duration_s=3600)
            await store.sessions.transition(sid, "spawning")
            await store.sessions.transition(sid, "active")
    finally:
        await store.close()


async def end(mongodb_uri, database, sid):
    from peerplatform.store import connect

    store = await connect(mongodb_uri, database)
    try:
        await store.sessions.transition(sid, "ended", reason="test")
    finally:
        await store.close()


@pytest.fixture(scope="module")
def hub(tmp_path_factory, redis_url, mongodb_uri):
    data = tmp_path_factory.mktemp("hub-cred")
    record = data / "spawned"
    extra = f"""
import sys
sys.path.insert(0, {str(HERE)!r})
c.JupyterHub.spawner_class = "recordingspawner.RecordingPairSpawner"
c.RecordingPairSpawner.record_dir = {str(record)!r}
c.PeerPlatform.challenge_packs = []
# the test creates a learner's token (the platform itself never needs this scope)
c.JupyterHub.load_roles.append({{"name": "pp-test-tokens", "services": ["peerplatform"],
                                "scopes": ["tokens"]}})
"""
    database = "pp_cred_" + data.name[-6:].replace("-", "_")
    h = HubProcess(data, redis_url=redis_url, mongodb_uri=mongodb_uri,
                   mongodb_database=database, extra_config=extra)
    asyncio.run(seed(mongodb_uri, database))
    h.start()
    h.record_dir = record
    yield h
    h.stop()


def spawn(hub, sid: str) -> dict:
    """Start the pair server of ``sid`` through the Hub; its recorded environment."""
    r = hub.hub_api("POST", f"/users/{OWNER}/servers/s-{sid}", {"session_id": sid})
    assert r.status_code in (201, 202), r.text
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        server = (hub.hub_api("GET", f"/users/{OWNER}").json().get("servers") or {}).get(
            f"s-{sid}") or {}
        if server.get("ready"):
            return json.loads((hub.record_dir / f"s-{sid}.json").read_text())["env"]
        time.sleep(0.3)
    raise TimeoutError(f"the server did not start:\n{hub.log_tail()}")


def pair(hub, sid: str, token: str | None, direct_url: str | None = None):
    base = direct_url or hub.url + "services/peerplatform/api/pair/"
    headers = {"Authorization": f"token {token}"} if token else {}
    return requests.get(f"{base}{sid}/state", headers=headers, timeout=30)


def test_the_pair_servers_token_opens_its_own_session_only(hub, mongodb_uri):
    env = spawn(hub, MINE)
    token = env["JUPYTERHUB_API_TOKEN"]
    # the environment: its session, the service's pair API, its token; no store, no secret
    assert env["PEERPLATFORM_SESSION_ID"] == MINE
    assert env["PEERPLATFORM_API_URL"].endswith("/services/peerplatform/api/pair/")
    for name in ("REDIS_URL", "MONGODB_URI", "PEERPLATFORM_MONGODB_DB",
                 "PEERPLATFORM_VOICE_SECRET", "PEERPLATFORM_SERVICE_TOKEN",
                 "PEERPLATFORM_TURN_SECRET", "PEERPLATFORM_COOKIE_SECRET"):
        assert name not in env, name
    assert not [k for k in env if k.startswith("TWILIO_")]
    assert hub.service_token not in json.dumps(env)

    # the Hub gave the token the pair scope filtered to this one server
    me = requests.get(hub.api_url + "/user", headers={"Authorization": f"token {token}"},
                      timeout=30).json()
    assert me["name"] == OWNER and me["kind"] == "user"
    assert f"custom:peerplatform:pair!server={OWNER}/s-{MINE}" in me["scopes"]
    assert not [s for s in me["scopes"] if s.startswith("custom:peerplatform:pair")
                and not s.endswith(f"/s-{MINE}")]

    # own session 2xx, through the proxy and straight at the service (as a pair server does)
    ok = pair(hub, MINE, token)
    assert ok.status_code == 200, ok.text
    assert ok.json()["session"]["id"] == MINE
    assert pair(hub, MINE, token, env["PEERPLATFORM_API_URL"]).status_code == 200
    # another session 403, a session that does not exist 403 too (nothing leaks)
    other = pair(hub, OTHER, token)
    assert other.status_code == 403 and "not for this session" in other.json()["message"]
    assert pair(hub, "zzzzzzzzzzzz", token).status_code == 403
    # no token, a made-up one: 401
    assert pair(hub, MINE, None).status_code == 401
    assert pair(hub, MINE, "not-a-token").status_code == 401

    # a learner's own token (a Hub user, not the pair owner): 403
    assert hub.hub_api("POST", "/users/alice").status_code in (201, 409)
    learner = hub.hub_api("POST", "/users/alice/tokens", {"expires_in": 600}).json()["token"]
    assert pair(hub, MINE, learner).status_code == 403

    # the session ends: 403, whatever the token may still do elsewhere
    asyncio.run(end(mongodb_uri, hub.mongodb_database, MINE))
    ended = pair(hub, MINE, token)
    assert ended.status_code == 403 and ended.json()["message"] == "the session has ended"

    # the server stops: the Hub deletes its token; refused as unknown (401) once the service
    # stops remembering it (c.PairCredentials.cache_max_age, 5 s)
    assert hub.hub_api("DELETE", f"/users/{OWNER}/servers/s-{MINE}").status_code in (202, 204)
    deadline = time.monotonic() + 30
    while pair(hub, MINE, token).status_code != 401:
        assert time.monotonic() < deadline, "a stopped server's token still works"
        time.sleep(0.5)


def test_a_second_server_gets_a_token_for_its_own_session(hub):
    env = spawn(hub, LATER)
    token = env["JUPYTERHUB_API_TOKEN"]
    assert pair(hub, LATER, token).status_code == 200
    assert pair(hub, OTHER, token).status_code == 403
    assert pair(hub, MINE, token).status_code == 403
