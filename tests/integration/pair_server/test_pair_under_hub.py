"""The same enforcement with the production identity: a real Hub spawns the pair server
(jupyterhub.singleuser, JupyterHubIdentityProvider, browser cookies + XSRF), and the two
learners the platform matched get exactly their role's rights, on REST and on the RTC room."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import time

import pytest
import websockets
from e2e_hub import start_hub
from hubuser import HubUser
from jupyter_ydoc import YNotebook
from pairkit import CHALLENGES
from pycrdt import Doc, Provider

pytestmark = [pytest.mark.hub, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def hub(tmp_path_factory, redis_url, mongodb_uri):
    h = start_hub(tmp_path_factory, redis_url, mongodb_uri)
    seed_challenges(mongodb_uri, h.mongodb_database)
    yield h
    h.stop()


def seed_challenges(mongodb_uri: str, database: str) -> None:
    from peerplatform.store import connect

    async def go():
        store = await connect(mongodb_uri, database)
        try:
            for ch in CHALLENGES:
                await store.challenges.upsert(dict(ch))
        finally:
            await store.close()

    asyncio.run(go())


class Visitor:
    """A learner's browser on the pair server: cookies from the Hub's OAuth, XSRF header."""

    def __init__(self, user: HubUser, session: dict):
        self.user = user
        self.base = session["url"].removesuffix("lab")
        page = user.http.get(user.url(session["url"]), timeout=60)
        assert page.status_code == 200 and page.url.endswith("/lab"), page.url

    def call(self, method: str, path: str, body=None):
        xsrf = self.user.http.cookies.get("_xsrf", path=self.base.rstrip("/")) or \
            self.user.http.cookies.get("_xsrf", path=self.base) or ""
        headers = {"X-XSRFToken": xsrf}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        return self.user.http.request(method, self.user.url(self.base + path), data=data,
                                      headers=headers, timeout=30, allow_redirects=False)

    def ws_url(self, path: str) -> str:
        return self.user.url(self.base + path).replace("http://", "ws://")

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.user.http.cookies)


@contextlib.asynccontextmanager
async def live_notebook(visitor: Visitor, room: str, session_id: str):
    """A learner's live copy of the notebook, over the browser's cookies."""
    async with websockets.connect(
            visitor.ws_url(f"api/collaboration/room/{room}?sessionId={session_id}"),
            additional_headers={"Cookie": visitor.cookie_header()}, max_size=None) as ws:

        class Channel:
            path = room

            def __aiter__(self):
                return self

            async def __anext__(self):
                while True:
                    try:
                        msg = await ws.recv()
                    except websockets.ConnectionClosed:
                        raise StopAsyncIteration from None
                    if msg and msg[0] == 0:
                        return msg

            async def send(self, m):
                await ws.send(m)

        doc = Doc()
        async with Provider(doc, Channel()) as provider:
            await asyncio.wait_for(provider.synced.wait(), 15)
            yield YNotebook(doc)


def test_matched_learners_get_their_roles_rights_through_the_hub(hub):
    tag = secrets.token_hex(3)
    alice, bob = HubUser(hub.url, f"alice-{tag}"), HubUser(hub.url, f"bob-{tag}")
    for u in (alice, bob):
        assert u.signup().status_code == 200 and u.login().status_code == 200
        assert u.open_lobby().status_code == 200
    assert alice.api("POST", "waiting-room", {}).status_code == 200
    assert bob.api("POST", "waiting-room", {}).status_code == 200
    assert alice.accept() == bob.accept()
    session = alice.wait_for_session(timeout=150)
    driver_user = alice if session["driver"] == alice.name else bob
    observer_user = bob if driver_user is alice else alice
    driver, observer = Visitor(driver_user, session), Visitor(observer_user, session)

    for _ in range(50):  # the server notices "active" within a fraction of its tick
        if driver.call("GET", "peerplatform/api/session").json()["can_write"]:
            break
        time.sleep(0.1)
    me = observer.call("GET", "peerplatform/api/session").json()
    assert me["role"] == "observer" and me["can_write"] is False
    perms = json.dumps({"contents": ["write"], "kernels": ["execute"]})
    got = observer.call("GET", f"api/me?permissions={perms}").json()["permissions"]
    assert got["contents"] == [] and got["kernels"] == []
    got = driver.call("GET", f"api/me?permissions={perms}").json()["permissions"]
    assert got["contents"] == ["write"] and got["kernels"] == ["execute"]

    nb = observer.call("GET", "api/contents/session.ipynb")
    assert nb.status_code == 200 and nb.json()["writable"] is False
    body = {"type": "file", "format": "text", "content": "x"}
    assert observer.call("PUT", "api/contents/o.txt", body).status_code == 403
    assert observer.call("POST", "api/kernels", {"name": "python3"}).status_code == 403
    assert observer.call("PUT", "lab/api/settings/@jupyterlab/apputils-extension:themes",
                         {"raw": "{}"}).status_code == 403
    assert driver.call("PUT", "api/contents/d.txt", body).status_code == 201
    # the challenge cells are there, and RTC frames follow the roles
    r = observer.call("PUT", "api/collaboration/session/session.ipynb",
                      {"format": "json", "type": "notebook"})
    assert r.status_code in (200, 201), r.text
    room = f"json:notebook:{r.json()['fileId']}"

    async def rtc():
        sid = r.json()["sessionId"]
        async with live_notebook(driver, room, sid) as dnb, \
                live_notebook(observer, room, sid) as onb:
            cells = dnb.get()["cells"]
            assert cells[0]["metadata"]["peerplatform"]["cell"] == "statement"
            osrc = onb.ycells[1]["source"]
            osrc.insert(0, "# observer\n")
            dsrc = dnb.ycells[1]["source"]
            dsrc.insert(len(dsrc), "\n# driver")
            for _ in range(100):
                if "# driver" in onb.get()["cells"][1]["source"]:
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            assert "# driver" in onb.get()["cells"][1]["source"]
            assert "# observer" not in dnb.get()["cells"][1]["source"]

    asyncio.run(rtc())
    ended = alice.api("POST", f"sessions/{session['id']}/end", {"reason": "done"})
    assert ended.status_code == 200
