"""The learner flows the end-to-end tests drive, shared by the sqlite and PostgreSQL runs."""

from __future__ import annotations

import secrets
import time

from hubuser import EventListener, HubUser


def new_users(hub, *names):
    tag = secrets.token_hex(3)
    users = [HubUser(hub.url, f"{n}-{tag}") for n in names]
    for u in users:
        assert u.signup().status_code == 200
        resp = u.login()
        # after login the Hub sends learners to the lobby, not to /hub/spawn
        assert resp.status_code == 200, resp.text[:500]
        assert resp.url.endswith("/services/peerplatform/"), resp.url
        assert u.open_lobby().status_code == 200
        assert u.service_xsrf
    return users


def pair_server_api(user: HubUser, session: dict, path: str = "peerplatform/api/session"):
    """Visit the pair server as a browser would (the page first: OAuth), then call its API."""
    page = user.http.get(user.url(session["url"]), timeout=60)
    api = user.http.get(user.url(session["url"].removesuffix("lab") + path), timeout=30)
    return page, api


def full_flow(hub) -> None:
    alice, bob, carol = new_users(hub, "alice", "bob", "carol")
    lobbies = {u.name: EventListener(u) for u in (alice, bob)}
    for lobby in lobbies.values():
        lobby.wait_for("hello", timeout=10)
    assert alice.api("POST", "waiting-room", {"preferences": {"difficulty": "easy"}}).status_code == 200
    assert bob.api("POST", "waiting-room", {}).status_code == 200
    # the handshake: both accept the offered match
    match_id = alice.accept()
    assert bob.accept() == match_id

    session = alice.wait_for_session(timeout=150)
    assert bob.wait_for_session(timeout=30)["id"] == session["id"]
    assert set(session["members"]) == {alice.name, bob.name}
    # both lobbies were told, in order: matched (with partner and role), progress, ready + URL
    for user, partner in ((alice, bob), (bob, alice)):
        lobby = lobbies[user.name]
        ready = lobby.wait_for("ready", timeout=30)
        assert ready["url"] == session["url"]
        matched = lobby.wait_for("matched", timeout=1)
        assert matched["partner"] == partner.name and matched["session"] == session["id"]
        types = lobby.types()
        offered = lobby.wait_for("match_offered", timeout=1)
        assert offered["partner"] == partner.name and offered["match"] == session["id"]
        assert types.index("match_offered") < types.index("matched") < types.index("progress") \
            < types.index("ready")
        assert all(0 <= e["progress"] <= 100 for e in lobby.events if e["type"] == "progress")
    assert session["url"].startswith(f"/user/pp-pairs/s-{session['id']}/")

    roles = {}
    for user in (alice, bob):
        page, api = pair_server_api(user, session)
        # straight into JupyterLab: no OAuth consent page on the way
        assert page.status_code == 200 and page.url.endswith("/lab"), page.url
        assert "oauth2/authorize" not in page.url
        assert api.status_code == 200, api.text
        me = api.json()
        assert me["username"] == user.name
        roles[user.name] = me["role"]
        assert me["session"]["id"] == session["id"]
    assert sorted(roles.values()) == ["driver", "observer"]
    assert roles[session["driver"]] == "driver"

    # anyone else is refused at the Hub, before reaching the server
    page, api = pair_server_api(carol, session)
    assert page.status_code == 403
    assert api.status_code in (403, 404)
    # and the session API of the service does not show it to a stranger
    assert carol.api("GET", f"sessions/{session['id']}").status_code == 404
    # the learners cannot stop or remove the session server (they do not own it)
    owner, name = "pp-pairs", f"s-{session['id']}"
    denied = alice.http.delete(hub.api_url + f"/users/{owner}/servers/{name}", timeout=30,
                               headers={"X-XSRFToken": alice.http.cookies.get("_xsrf", path="/hub/") or ""})
    assert denied.status_code in (403, 404)

    # end the session: the server and the shares are removed, nobody reaches it any more
    ended = alice.api("POST", f"sessions/{session['id']}/end", {"reason": "done"})
    assert ended.status_code == 200, ended.text
    assert ended.json()["state"] == "ended"
    for lobby in lobbies.values():
        assert lobby.wait_for("ended", timeout=10)["session"] == session["id"]
        lobby.close()
    cache_age = 10  # c.PairSpawner.hub_auth_cache_max_age
    deadline = time.monotonic() + cache_age + 5
    for user in (alice, bob):
        while True:
            resp = user.http.get(user.url(session["url"].removesuffix("lab") + "peerplatform/api/session"),
                                 timeout=30, allow_redirects=False)
            if resp.status_code != 200:
                break
            assert time.monotonic() < deadline, f"{user.name} still reaches the ended session"
            time.sleep(0.5)
    assert hub.hub_api("GET", f"/users/{owner}/servers/{name}").status_code == 404
    shares = hub.hub_api("GET", f"/users/{alice.name}/shared").json()
    assert all(s["server"]["name"] != name for s in shares.get("items", []))
    # both are free to join again
    assert alice.api("POST", "waiting-room", {}).status_code == 200
    assert alice.api("DELETE", "waiting-room").json() == {"left": True}
