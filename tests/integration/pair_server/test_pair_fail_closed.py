"""A pair server that cannot enforce read-only refuses to start (fail closed); a server that is
not a pair server is left alone."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest
from pairkit import DRIVER, platform_store

pytestmark = pytest.mark.timeout(180)


def refused(server) -> str:
    code = server.run_until_exit()
    log = server.log()
    assert code != 0, log
    assert "refusing to run this pair server" in log, log
    return log


def test_refuses_without_jupyter_collaboration(pair_server_factory):
    server = pair_server_factory(start=False, extra_config=(
        "c.ServerApp.jpserver_extensions = {'jupyter_server_ydoc': False}\n"))
    assert "jupyter-collaboration (jupyter_server_ydoc) is not loaded" in refused(server)


def test_refuses_to_keep_rtc_stores_in_the_notebook_root(pair_server_factory):
    server = pair_server_factory(start=False)
    server.config_path.write_text(server.config_path.read_text() + (
        f"c.PeerPlatformExtension.data_dir = {str(server.work / '.rtc')!r}\n"))
    log = refused(server)
    assert "is inside the notebook root" in log and "not in the session data dir" in log


def test_refuses_without_a_session_dir(pair_server_factory):
    server = pair_server_factory(start=False)
    del server.env["PEERPLATFORM_SESSION_DIR"]
    assert "no session dir" in refused(server)


def test_refuses_when_the_authorizer_is_replaced_after_linking(pair_server_factory):
    # an extension linked after ours (or a config loaded later) resets the Authorizer
    server = pair_server_factory(start=False, extra_config=(
        "c.ServerApp.jpserver_extensions = {'pp_test_late_authorizer': True}\n"))
    assert "Authorizer is AllowAllAuthorizer, not PairAuthorizer" in refused(server)


def test_refuses_without_its_credential_for_the_platform(pair_server_factory):
    server = pair_server_factory(start=False)
    del server.env["JUPYTERHUB_API_TOKEN"]
    assert "no credential ($JUPYTERHUB_API_TOKEN)" in refused(server)


def test_a_server_without_the_platforms_url_is_left_alone(pair_server_factory):
    server = pair_server_factory(start=False)
    del server.env["PEERPLATFORM_API_URL"]
    server.start()
    try:
        r = httpx.get(server.url("/peerplatform/api/session"), headers=server.auth(DRIVER))
        assert r.status_code == 404  # no pair API: the extension is inert
        assert "not a pair server" in server.log()
    finally:
        server.stop()


def test_an_empty_challenge_bank_does_not_stop_the_session(pair_server_factory):
    server = pair_server_factory(duration_s=4, state="spawning", challenges=[])

    async def activate():
        async with platform_store(server) as store:
            await store.sessions.transition(server.session_id, "active")

    asyncio.run(activate())
    deadline = time.monotonic() + 10
    while True:
        r = httpx.get(server.url("/peerplatform/api/session"), headers=server.auth(DRIVER))
        if r.json()["can_write"]:
            break
        assert time.monotonic() < deadline, r.text
        time.sleep(0.1)
    assert r.json()["session"]["challenge"] is None
    r = httpx.post(server.url("/peerplatform/api/challenge"), headers=server.auth(DRIVER),
                   content="{}")
    assert r.status_code == 404, r.text
    r = httpx.post(server.url("/peerplatform/api/tests"), headers=server.auth(DRIVER),
                   content="{}")
    assert r.status_code == 409, r.text
    deadline = time.monotonic() + 30
    while server.session()["state"] != "ended":  # the clock still runs out
        assert time.monotonic() < deadline, server.log()
        time.sleep(0.2)
    outcome = server.session()["outcome"]
    assert outcome["challenge"] is None and outcome["grader"].startswith("skipped")
    assert outcome["notebook_saved"] is True  # the final snapshot arrived
    assert (server.work / "session.ipynb").exists()
