"""In Chromium, the pages a learner opens after a session, as a newcomer reads them (issue 17,
items 13 to 16): the dashboard's chart labels are whole and its counts agree with their nouns;
review times are the reader's local time, outputs stand apart from code, the end of the
replay is nobody's edit, a link at the top leads to the replay, and only instructors get a
Learner filter; the profile's confirmation survives the save; the leaderboard says how a
bootcamp or college gets onto it.

Screenshots go to ``test-output/after-session-pages/``.
"""

from __future__ import annotations

import io
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest
import seed
from hubuser import HubUser
from PIL import Image
from seed import ADMIN

pytestmark = [pytest.mark.hub, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "after-session-pages"
#: Enough tags, long ones first, that an unclipped chart needs room left and below.
TAGS = ["regex-groups", "binary-search-tree", "dynamic-programming", "hash-maps", "strings",
        "recursion"]
#: When the seeded test run happened: 10:57:12 UTC is 19:57:12 in Tokyo.
TEST_RUN_AT = datetime(2026, 12, 2, 10, 57, 12, 299000, tzinfo=timezone.utc)
NOTEBOOK = {
    "nbformat": 4, "nbformat_minor": 5, "metadata": {},
    "cells": [{"cell_type": "code", "source": "print('first line of output')",
               "metadata": {}, "execution_count": 1,
               "outputs": [{"output_type": "stream", "name": "stdout",
                            "text": "first line of output\n"}]}],
}


@pytest.fixture(scope="module")
def scene(hub):
    la, lb = seed.users(hub, "na", "nb")
    iv = HubUser(hub.url, "ivn-" + la.name.split("-")[-1])
    assert iv.signup().status_code == 200 and iv.login().status_code == 200
    admin = HubUser(hub.url, ADMIN)
    admin.signup()
    assert admin.login().status_code == 200 and admin.open_lobby().status_code == 200
    resp = admin.api(
        "PUT", "cohorts/east", {"learners": [la.name, lb.name], "instructors": [iv.name]}
    )
    assert resp.status_code == 200, resp.text
    sid = seed.session(
        hub, la.name, lb.name,
        challenge={"slug": "many-tags", "title": "Many tags", "difficulty": "easy",
                   "tags": TAGS, "version": 1},
        events=[{"type": "tests", "by": la.name, "final": False, "at": TEST_RUN_AT,
                 "result": {"status": "passed", "passed": 2, "failed": 0, "total": 2}}],
        outcome={"tests": {"status": "passed", "passed": 2, "failed": 0, "total": 2},
                 "notebook_json": json.dumps(NOTEBOOK)},
    )

    async def snapshots(store):
        cells = [{"cell_type": "code", "source": "x = 1"}]
        await store.snapshots.add(sid, t=0, by=la.name, cells=cells)
        cells = [{"cell_type": "code", "source": "x = 1\ny = 2"}]
        await store.snapshots.add(sid, t=2, by=la.name, cells=cells)
        # the session ends with lb driving: the last snapshot changes nothing
        await store.snapshots.add(sid, t=4, by=lb.name, cells=cells, final=True)

    seed.run(snapshots)(hub)
    resp = lb.api("POST", f"sessions/{sid}/rating",
                  {"communication": 4, "collaboration": 5, "problem_solving": 4})
    assert resp.status_code == 201, resp.text
    return dict(la=la, lb=lb, iv=iv, sid=sid, hub=hub)


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


def login(browser, hub, user):
    # a reader in Tokyo, with British date formats: neither is the server's UTC
    context = browser.new_context(viewport={"width": 1400, "height": 900},
                                  timezone_id="Asia/Tokyo", locale="en-GB")
    page = context.new_page()
    page.goto(hub.url + "hub/login")
    page.fill("#username_input", user.name)
    page.fill("#password_input", user.password)
    page.click("#login_submit")
    page.wait_for_url("**/services/peerplatform/**", timeout=30_000)
    return page


def base(scene) -> str:
    return scene["hub"].url + "services/peerplatform/"


def test_dashboard_labels_are_whole_and_counts_agree(scene, browser):
    page = login(browser, scene["hub"], scene["la"])
    page.goto(base(scene) + "dashboard")
    totals = page.inner_text("#totals")
    assert "1 session ·" in totals and "1 peer rating received" in totals, totals
    assert "1 sessions" not in totals and "ratings" not in totals
    # every tag label is drawn whole, inside the chart
    clipped = page.evaluate("""() => {
        const svg = document.getElementById('chart-tags'), box = svg.getBoundingClientRect();
        return Array.from(svg.querySelectorAll('text')).filter((t) => {
            const r = t.getBoundingClientRect();
            return r.left < box.left - 0.5 || r.right > box.right + 0.5
                || r.top < box.top - 0.5 || r.bottom > box.bottom + 0.5;
        }).map((t) => t.textContent);
    }""")
    assert clipped == [], f"labels cut off by the chart's edge: {clipped}"
    shown = page.eval_on_selector_all("#chart-tags text", "(ts) => ts.map((t) => t.textContent)")
    assert all(tag in shown for tag in TAGS), shown
    page.locator("#chart-tags").screenshot(path=str(SHOTS / "1-dashboard-tags.png"))


def test_review_reads_as_a_learner_sees_it(scene, browser):
    la, lb = scene["la"], scene["lb"]
    page = login(browser, scene["hub"], la)
    page.goto(base(scene) + f"review/{scene['sid']}")
    page.wait_for_selector("#replay[data-ready='1']", timeout=10_000)
    # times: local (Tokyo), readable, with the exact instant kept in the markup
    when = page.locator("#test-runs time").first
    text = when.inner_text()
    assert "19:57:12" in text and "2026" in text, text
    assert "+00:00" not in text and ".299" not in text and "UTC" not in text
    assert when.get_attribute("datetime").startswith("2026-12-02T10:57:12")
    # a link at the top, in the first screen, leads to the replay further down
    link = page.locator("#replay-link")
    assert link.bounding_box()["y"] < 300
    page.screenshot(path=str(SHOTS / "2-review-top.png"))
    link.click()
    page.wait_for_function("location.hash === '#replay-section'")
    top = page.evaluate("document.getElementById('replay').getBoundingClientRect().top")
    assert 0 <= top < 900, top
    # the last step changed nothing: it is the end of the session, not lb's edit
    label = page.inner_text("#replay-time")
    assert "end of session" in label and lb.name not in label, label
    page.screenshot(path=str(SHOTS / "3-review-replay-end.png"))
    page.select_option("#replay-who", lb.name)  # and lb made no edit at all
    assert "no edits" in page.inner_text("#replay-time")
    # the final notebook: the output is set apart from the code, and labelled
    cell = page.locator("#final-notebook .cell.code").first
    source, output = cell.locator("pre.source"), cell.locator(".outputs")
    assert "first line of output" in output.inner_text() and "Output" in output.inner_text()
    gap = output.bounding_box()["y"] - (source.bounding_box()["y"]
                                        + source.bounding_box()["height"])
    assert gap >= 4, gap
    border = output.evaluate("(el) => getComputedStyle(el).borderTopStyle")
    assert border != "none"
    cell.screenshot(path=str(SHOTS / "4-review-final-notebook.png"))
    # a learner, who sees only their own sessions, gets no Learner filter; dates are local
    page.goto(base(scene) + "review")
    assert page.locator("#learner").count() == 0
    row = page.locator(f"tr[data-session='{scene['sid']}'] time")
    assert row.count() == 1 and "UTC" not in row.inner_text()
    # an instructor does
    page = login(browser, scene["hub"], scene["iv"])
    page.goto(base(scene) + "review")
    assert page.locator("#learner").is_visible()


def test_profile_confirmation_stays(scene, browser):
    page = login(browser, scene["hub"], scene["la"])
    page.goto(base(scene) + "profile")
    page.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads
    page.fill("#f-first_name", "Ngozi")
    page.click("#save-profile")
    page.wait_for_timeout(1500)  # a reload would have come by now
    assert page.inner_text("#profile-status") == "Saved."
    assert "Ngozi" in page.inner_text("#display-name")  # the card shows what was saved
    picture = io.BytesIO()
    Image.new("RGB", (32, 32), (30, 120, 200)).save(picture, "PNG")
    page.set_input_files("#picture", files=[
        {"name": "me.png", "mimeType": "image/png", "buffer": picture.getvalue()}])
    page.click("#upload-picture")
    page.locator("#avatar").wait_for(timeout=10_000)
    page.wait_for_timeout(1500)
    assert page.inner_text("#profile-status") == "Picture updated."
    assert page.evaluate("window.__sameDocument") == "yes"
    assert page.evaluate("document.getElementById('avatar').naturalWidth") > 0
    page.screenshot(path=str(SHOTS / "5-profile-saved.png"), full_page=True)


def test_leaderboard_says_how_a_cohort_appears(scene, browser):
    page = login(browser, scene["hub"], scene["la"])
    page.goto(base(scene) + "leaderboard")
    note = page.locator("#cohort-empty")
    if page.locator("#cohort-rows tr").count():
        assert note.is_hidden()
    else:  # nobody of a cohort has enough ratings yet (this module's learners have one)
        assert note.is_visible()
        text = note.inner_text()
        assert "appears here" in text and "3 peer ratings" in text, text
    page.screenshot(path=str(SHOTS / "6-leaderboard-cohorts.png"), full_page=True)
