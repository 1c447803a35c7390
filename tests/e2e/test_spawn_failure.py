"""A pair server that cannot start: both learners are told why and are back in the lobby."""

from __future__ import annotations

import sys

import pytest
from flows import new_users
from hubuser import EventListener

from e2e_hub import start_hub

pytestmark = pytest.mark.hub

BROKEN_SERVER = f"c.PairSpawner.cmd = [{sys.executable!r}, '-c', 'import sys; sys.exit(3)']\n"


@pytest.fixture(scope="module")
def broken_hub(tmp_path_factory, redis_url, mongodb_uri):
    hub = start_hub(tmp_path_factory, redis_url, mongodb_uri, extra_config=BROKEN_SERVER)
    yield hub
    hub.stop()


def test_failed_spawn_puts_both_back_in_the_lobby_with_the_reason(broken_hub):
    hub = broken_hub
    erin, finn = new_users(hub, "erin", "finn")
    lobbies = [EventListener(u) for u in (erin, finn)]
    for lobby in lobbies:
        lobby.wait_for("hello", timeout=10)
    assert erin.api("POST", "waiting-room", {}).status_code == 200
    assert finn.api("POST", "waiting-room", {}).status_code == 200
    assert erin.accept() == finn.accept()

    for user, lobby in zip((erin, finn), lobbies):
        failed = lobby.wait_for("failed", timeout=120)
        assert failed["reason"]
        me = user.api("GET", "me").json()
        assert me["state"] == "idle" and me["session"] is None
        assert me["last_session"]["state"] == "failed"
        assert me["last_session"]["failure_reason"] == failed["reason"]
        lobby.close()
    sid = me["last_session"]["id"]
    # the half-started server and its shares are gone
    assert hub.hub_api("GET", f"/users/pp-pairs/servers/s-{sid}").status_code == 404
    # never stuck: both can join again at once
    assert erin.api("POST", "waiting-room", {}).status_code == 200
    assert erin.api("DELETE", "waiting-room").json() == {"left": True}
