"""The lobby and the Hub's signup as a newcomer meets them, in Chromium (issue 17, Lobby):
one state at a time (an offer shows Accept, primary, and Decline, secondary, and nothing
else), the session's choices frozen once asked for, the lengths from the settings, one nav,
and a signup that ends on the login page with the name filled in. Screenshots go to
``test-output/lobby-browser/``."""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from e2e_hub import start_hub
from flows import new_users
from hubuser import HubUser

pytestmark = [pytest.mark.hub, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "lobby-browser"
PREFIX = "services/peerplatform/"
NAV = ["Lobby", "Leaderboards", "Dashboard", "Sessions", "Profile"]


@pytest.fixture(scope="module")
def lobby_hub(tmp_path_factory, redis_url, mongodb_uri):
    """Sessions of 15 minutes by default (the environment), 20 or 40 on request (the config);
    a handshake long enough to look at the offer."""
    hub = start_hub(tmp_path_factory, redis_url, mongodb_uri,
                    env={"PEERPLATFORM_SESSION_DURATION": str(15 * 60)},
                    extra_config="c.PeerPlatform.session_duration_choices = [20, 40]\n"
                                 "c.PeerPlatform.handshake_timeout = 60\n")
    yield hub
    hub.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                               args=["--no-sandbox", "--disable-gpu"])
        try:
            yield b
        finally:
            b.close()


def lobby_page(browser, hub, user: HubUser):
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(hub.url + "hub/login")
    page.fill("#username_input", user.name)
    page.fill("#password_input", user.password)
    page.click("#login_submit")
    page.wait_for_selector("#join", state="visible", timeout=30_000)
    return page


def visible(page, *ids: str) -> set[str]:
    return {i for i in ids if page.is_visible("#" + i)}


BUTTONS = ("join", "leave", "accept-match", "decline-match")


def test_the_waiting_room_takes_only_the_lengths_on_offer(lobby_hub):
    (ada,) = new_users(lobby_hub, "ada")
    for minutes in (45, 30, 60, 90):  # the lobby's old hard-wired choices, and more
        bad = ada.api("POST", "waiting-room", {"preferences": {"duration_minutes": minutes}})
        assert bad.status_code == 400, bad.text
        assert bad.json()["message"] == (
            "duration_minutes must be one of 15, 20, 40 (minutes), or left out for the "
            "default length")
        assert ada.api("GET", "me").json()["state"] == "idle"  # bad input changes nothing
    ok = ada.api("POST", "waiting-room", {"preferences": {"duration_minutes": 15}})
    assert ok.status_code == 200 and ok.json()["preferences"]["duration_minutes"] == 15
    assert ada.api("DELETE", "waiting-room").json() == {"left": True}


def test_one_state_at_a_time_from_join_to_spawn(lobby_hub, browser):
    eve, fay = new_users(lobby_hub, "eve", "fay")
    pages = [lobby_page(browser, lobby_hub, u) for u in (eve, fay)]
    eve_page, fay_page = pages

    # the lengths come from the settings, the default (the environment's 15 minutes) selected
    options = eve_page.eval_on_selector_all(
        "#duration option", "os => os.map(o => [o.value, o.textContent.trim(), o.selected])")
    assert options == [["15", "15 minutes", True], ["20", "20 minutes", False],
                       ["40", "40 minutes", False]]
    # one nav, with the lobby in it, marked as the page you are on
    assert eve_page.locator("nav[aria-label=Main] a").all_inner_texts() == NAV
    assert eve_page.get_attribute("nav a[aria-current=page]", "href").endswith(PREFIX)
    assert visible(eve_page, *BUTTONS) == {"join"}

    eve_page.select_option("#duration", "20")
    fay_page.select_option("#duration", "20")
    eve_page.click("#join")
    eve_page.locator("#status", has_text="Waiting for a partner").wait_for(timeout=10_000)
    assert visible(eve_page, *BUTTONS) == {"leave"}
    assert eve_page.is_disabled("#duration") and eve_page.is_disabled("#difficulty")

    # fay's join answers only after her offer has arrived: the late answer must not take her
    # page back to "waiting" (the offer and "Waiting for a partner…" showed together)
    held = []
    fay_page.route("**/api/waiting-room", lambda route: held.append((route, route.fetch())))
    fay_page.click("#join")
    for page, partner in ((eve_page, fay), (fay_page, eve)):
        page.wait_for_selector("#accept-match", state="visible", timeout=15_000)
        assert partner.name in page.inner_text("#offer-text")
    assert len(held) == 1
    route, response = held[0]
    route.fulfill(response=response)
    fay_page.wait_for_selector("#join:not([disabled])", state="attached", timeout=5_000)
    fay_page.wait_for_timeout(300)  # the join answer is handled
    fay_page.unroute("**/api/waiting-room")
    for page, partner in ((eve_page, fay), (fay_page, eve)):
        assert page.inner_text("#status") == f"Matched with {partner.name}."
        assert visible(page, *BUTTONS) == {"accept-match", "decline-match"}
        assert page.is_disabled("#duration") and page.is_disabled("#difficulty")
    # Accept is the primary action, Decline the secondary one: they do not look the same
    style = "e => { const s = getComputedStyle(e); return [s.backgroundColor, s.color]; }"
    accept = fay_page.eval_on_selector("#accept-match", style)
    decline = fay_page.eval_on_selector("#decline-match", style)
    assert accept != decline and accept[0] != decline[0]
    fay_page.screenshot(path=str(SHOTS / "1-offer.png"), full_page=True)

    eve_page.click("#accept-match")
    eve_page.locator("#offer-text", has_text="You accepted").wait_for(timeout=5_000)
    assert visible(eve_page, *BUTTONS) == {"decline-match"}
    fay_page.locator("#offer-text", has_text="Your partner accepted").wait_for(timeout=5_000)
    eve_page.screenshot(path=str(SHOTS / "2-accepted.png"), full_page=True)
    fay_page.click("#accept-match")

    # the spawn: the session's choices are fixed, no button offers anything else
    for page, partner in ((eve_page, fay), (fay_page, eve)):
        page.locator("#status", has_text=f"Matched with {partner.name}. You start as").wait_for(
            timeout=10_000)
        assert page.is_disabled("#duration") and page.is_disabled("#difficulty")
        assert page.input_value("#duration") == "20"
        assert visible(page, *BUTTONS) == set()
    fay_page.screenshot(path=str(SHOTS / "3-starting.png"), full_page=True)

    session = eve.api("GET", "me").json()["session"]
    assert session and set(session["members"]) == {eve.name, fay.name}
    assert session["duration_s"] == 20 * 60  # what both picked, not a hard-wired default
    assert eve.api("POST", f"sessions/{session['id']}/end", {"reason": "test"}).status_code == 200
    for page in pages:
        page.context.close()


def test_the_nav_is_the_same_on_every_page(lobby_hub, browser):
    (gil,) = new_users(lobby_hub, "gil")
    page = lobby_page(browser, lobby_hub, gil)
    for path, current in (("", "Lobby"), ("leaderboard", "Leaderboards"),
                          ("dashboard", "Dashboard"), ("review", "Sessions"),
                          ("profile", "Profile")):
        page.goto(lobby_hub.url + PREFIX + path)
        assert page.locator("nav[aria-label=Main] a").all_inner_texts() == NAV, path
        assert page.inner_text("nav a[aria-current=page]") == current
    page.context.close()


def test_signing_up_leads_to_the_login_page_with_the_name_filled_in(lobby_hub, browser):
    name = f"newcomer-{secrets.token_hex(3)}"
    page = browser.new_context(viewport={"width": 1400, "height": 900}).new_page()
    page.goto(lobby_hub.url + "hub/signup")
    # the show/hide toggle is words, not an emoji that draws an empty box without its font
    assert page.inner_text("#eye") == "Show"
    page.fill("#username_input", name)
    page.fill("#password_input", "a-long-pass-phrase")
    page.click("#eye")
    assert page.inner_text("#eye") == "Hide"
    assert page.get_attribute("#password_input", "type") == "text"
    page.click("#eye")
    assert page.get_attribute("#password_input", "type") == "password"
    # every field is named by its label
    assert page.get_by_label("Confirm password").get_attribute("name") == \
        "signup_password_confirmation"
    page.screenshot(path=str(SHOTS / "4-signup.png"), full_page=True)

    # a refused form keeps the name typed
    page.fill("#password_confirmation_input", "something-else")
    page.click("#signup_submit")
    page.locator(".alert", has_text="did not match").wait_for(timeout=10_000)
    assert page.input_value("#username_input") == name

    page.fill("#password_input", "a-long-pass-phrase")
    page.fill("#password_confirmation_input", "a-long-pass-phrase")
    page.click("#signup_submit")
    page.locator("#signed-up-note", has_text="Account created").wait_for(timeout=10_000)
    assert "/hub/login" in page.url
    assert page.input_value("#username_input") == name
    assert page.inner_text("#eye") == "Show"
    page.screenshot(path=str(SHOTS / "5-login-after-signup.png"), full_page=True)
    # the password field has the focus: type it and go
    page.keyboard.type("a-long-pass-phrase")
    page.keyboard.press("Enter")
    page.wait_for_selector("#join", state="visible", timeout=30_000)
    assert page.url.endswith("/" + PREFIX)
    assert page.inner_text("#username") == name
    page.context.close()
