"""The match handshake on the real platform: accept, decline, no-show, bad answers, and the
lobby's buttons in a real browser."""

from __future__ import annotations

import time

import pytest
from e2e_hub import start_hub
from flows import new_users
from hubuser import EventListener

pytestmark = pytest.mark.hub

HANDSHAKE = 3


@pytest.fixture(scope="module")
def hs_hub(tmp_path_factory, redis_url, mongodb_uri):
    hub = start_hub(tmp_path_factory, redis_url, mongodb_uri,
                    extra_config=f"c.PeerPlatform.handshake_timeout = {HANDSHAKE}\n")
    yield hub
    hub.stop()


def offered_pair(hub, *names):
    users = new_users(hub, *names)
    lobbies = [EventListener(u) for u in users]
    for lobby in lobbies:
        lobby.wait_for("hello", timeout=10)
    for u in users:
        assert u.api("POST", "waiting-room", {}).status_code == 200
    offers = [lobby.wait_for("match_offered", timeout=10) for lobby in lobbies]
    assert offers[0]["match"] == offers[1]["match"]
    assert offers[0]["partner"] == users[1].name and offers[1]["partner"] == users[0].name
    assert offers[0]["expires_in"] == HANDSHAKE
    return users, lobbies, offers[0]["match"]


def test_decline_puts_the_partner_back_and_the_decliner_out(hs_hub):
    (gus, hal), (lg, lh), mid = offered_pair(hs_hub, "gus", "hal")
    me = gus.api("GET", "me").json()
    assert me["state"] == "matched" and me["match"]["id"] == mid
    assert me["match"]["partner"] == hal.name and not me["match"]["accepted"]
    # joining again while a match waits for an answer is refused
    again = gus.api("POST", "waiting-room", {})
    assert again.status_code == 409 and "accept or decline" in again.json()["message"]
    ok = gus.api("POST", f"matches/{mid}/accept", {})
    assert ok.status_code == 200 and ok.json()["state"] == "accepted"
    assert lh.wait_for("partner_accepted", timeout=5)["match"] == mid
    assert gus.api("GET", "me").json()["match"]["accepted"] is True
    no = hal.api("POST", f"matches/{mid}/decline", {})
    assert no.status_code == 200 and no.json()["state"] == "declined"
    back = lg.wait_for("match_cancelled", timeout=5)
    assert back["requeued"] is True and back["match"] == mid
    assert lh.wait_for("match_cancelled", timeout=5)["requeued"] is False
    assert gus.api("GET", "me").json()["state"] == "waiting"
    assert hal.api("GET", "me").json()["state"] == "idle"
    # the match is over: answering it again is a 404, and changes nothing
    assert hal.api("POST", f"matches/{mid}/decline", {}).status_code == 404
    assert hal.api("POST", f"matches/{mid}/accept", {}).status_code == 404
    assert gus.api("GET", "me").json()["state"] == "waiting"
    assert gus.api("DELETE", "waiting-room").json() == {"left": True}
    for lobby in (lg, lh):
        lobby.close()


def test_who_does_not_answer_in_time_is_out_and_the_other_is_back(hs_hub):
    (ian, jo), (li, lj), mid = offered_pair(hs_hub, "ian", "jo")
    assert ian.api("POST", f"matches/{mid}/accept", {}).status_code == 200
    started = time.monotonic()
    for _ in range(2):  # keep ian's lobby alive as the page would
        ian.api("POST", "waiting-room/heartbeat", {})
    requeued = li.wait_for("match_cancelled", timeout=HANDSHAKE + 5)
    assert requeued["requeued"] is True
    assert time.monotonic() - started <= HANDSHAKE + 2
    assert lj.wait_for("match_cancelled", timeout=5)["requeued"] is False
    assert ian.api("GET", "me").json()["state"] == "waiting"
    assert jo.api("GET", "me").json()["state"] == "idle"
    late = jo.api("POST", f"matches/{mid}/accept", {})
    assert late.status_code == 404
    assert ian.api("DELETE", "waiting-room").json() == {"left": True}
    for lobby in (li, lj):
        lobby.close()


def test_bad_answers_are_refused_and_change_nothing(hs_hub):
    (kim, lee), lobbies, mid = offered_pair(hs_hub, "kim", "lee")
    (mal,) = new_users(hs_hub, "mal")
    # a stranger cannot answer someone else's match
    assert mal.api("POST", f"matches/{mid}/accept", {}).status_code == 404
    assert mal.api("POST", f"matches/{mid}/decline", {}).status_code == 404
    bad = kim.api("POST", f"matches/{mid}/accept", {"sneaky": 1})
    assert bad.status_code == 400 and "sneaky" in bad.json()["message"]
    assert kim.api("POST", f"matches/{mid}/accept", raw=b"{",
                   headers={"Content-Type": "application/json"}).status_code == 400
    assert kim.api("POST", f"matches/{mid}/accept", {},
                   headers={"X-XSRFToken": "forged"}).status_code == 403
    assert kim.api("POST", "matches/NOT-AN-ID!/accept", {}).status_code == 404
    assert kim.api("POST", f"matches/{mid}/maybe", {}).status_code == 404
    me = kim.api("GET", "me").json()
    assert me["state"] == "matched" and me["match"]["accepted"] is False
    # leaving with a pending match declines it: the partner is back, told why
    assert kim.api("DELETE", "waiting-room").json() == {"left": True}
    assert lobbies[1].wait_for("match_cancelled", timeout=5)["requeued"] is True
    assert lee.api("GET", "me").json()["state"] == "waiting"
    assert lee.api("DELETE", "waiting-room").json() == {"left": True}
    for lobby in lobbies:
        lobby.close()


@pytest.mark.browser
def test_the_lobby_buttons_accept_a_match(hs_hub):
    from playwright.sync_api import sync_playwright

    nan, oli = new_users(hs_hub, "nan", "oli")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            pages = []
            for user in (nan, oli):
                context = browser.new_context()
                page = context.new_page()
                page.goto(hs_hub.url + "hub/login")
                page.fill("#username_input", user.name)
                page.fill("#password_input", user.password)
                page.click("#login_submit")
                page.wait_for_selector("#join", state="visible", timeout=30_000)
                pages.append(page)
            pages[0].click("#join")  # alone in the room: waiting, free to leave
            pages[0].wait_for_selector("#leave", state="visible", timeout=10_000)
            pages[1].click("#join")  # matched at once: an offer, and nothing else to click
            for page, partner in zip(pages, (oli, nan), strict=True):
                page.wait_for_selector("#accept-match", state="visible", timeout=10_000)
                assert partner.name in page.inner_text("#offer-text")
                assert page.is_hidden("#leave") and page.is_hidden("#join")
            pages[0].click("#accept-match")
            # (selectors, not wait_for_function: the lobby's CSP forbids eval)
            pages[0].locator("#offer-text", has_text="You accepted").wait_for(timeout=5_000)
            pages[1].locator("#offer-text", has_text="Your partner accepted").wait_for(
                timeout=5_000)
            pages[1].click("#accept-match")
            for page in pages:
                page.locator("#status", has_text="You start as").wait_for(timeout=10_000)
                assert page.is_hidden("#offer")
        finally:
            browser.close()
    session = nan.api("GET", "me").json()["session"]
    assert session and set(session["members"]) == {nan.name, oli.name}
    assert nan.api("POST", f"sessions/{session['id']}/end", {"reason": "test"}).status_code == 200
