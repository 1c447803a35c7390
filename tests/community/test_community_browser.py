"""In Chromium: two learners rate each other after their session while a third learner's open
leaderboard shows both ratings arrive without a reload; then an instructor opens the session
and scrubs the replay to the middle, seeing the notebook as it was then.

Screenshots go to ``test-output/community-browser/``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import seed
from hubuser import HubUser
from seed import ADMIN

pytestmark = [pytest.mark.hub, pytest.mark.browser]

SHOTS = Path(__file__).resolve().parents[2] / "test-output" / "community-browser"
STEPS = 11  # snapshots t = 0, 2, ..., 20 s


@pytest.fixture(scope="module")
def scene(hub):
    ra, rb, watcher = seed.users(hub, "ra", "rb", "wat")
    iv = HubUser(hub.url, "ivb-" + ra.name.split("-")[-1])
    assert iv.signup().status_code == 200 and iv.login().status_code == 200
    admin = HubUser(hub.url, ADMIN)
    admin.signup()
    assert admin.login().status_code == 200 and admin.open_lobby().status_code == 200
    resp = admin.api(
        "PUT", "cohorts/east", {"learners": [ra.name, rb.name], "instructors": [iv.name]}
    )
    assert resp.status_code == 200, resp.text
    sid = seed.session(
        hub,
        ra.name,
        rb.name,
        challenge={
            "slug": "sum-list",
            "title": "Sum a list",
            "difficulty": "easy",
            "tags": ["arrays"],
            "version": 1,
        },
        outcome={"tests": {"status": "passed", "passed": 2, "failed": 0, "total": 2}},
    )

    async def snapshots(store):
        # what the pair server writes while the notebook changes (see test_pair_replay_snapshots)
        for k in range(STEPS):
            by = ra.name if k < STEPS // 2 else rb.name
            await store.snapshots.add(
                sid,
                t=2.0 * k,
                by=by,
                final=k == STEPS - 1,
                cells=[
                    {"cell_type": "markdown", "source": "# Sum a list"},
                    {
                        "cell_type": "code",
                        "source": "def total(xs):\n"
                        + "".join(f"    # step {i}\n" for i in range(k + 1))
                        + "    return sum(xs)",
                    },
                ],
            )

    seed.run(snapshots)(hub)
    return dict(ra=ra, rb=rb, watcher=watcher, iv=iv, sid=sid, hub=hub)


def login(browser, hub, user):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.goto(hub.url + "hub/login")
    page.fill("#username_input", user.name)
    page.fill("#password_input", user.password)
    page.click("#login_submit")
    page.wait_for_url("**/services/peerplatform/**", timeout=30_000)
    return page


def test_live_leaderboard_and_replay_in_chromium(scene):
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    hub, sid = scene["hub"], scene["sid"]
    ra, rb = scene["ra"], scene["rb"]
    base = hub.url + "services/peerplatform/"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path="/usr/bin/chromium",
            headless=True,
            args=["--no-sandbox", "--disable-gpu"],
        )
        try:
            # -- a third learner keeps the leaderboard open --------------------------------
            board = login(browser, hub, scene["watcher"])
            board.goto(base + "leaderboard")
            board.wait_for_selector("body[data-live='1']", timeout=15_000)  # stream connected
            board.evaluate("window.__sameDocument = 'yes'")  # gone if the page reloads
            assert board.locator(f"tr[data-user='{ra.name}']").count() == 0
            board.screenshot(path=str(SHOTS / "1-leaderboard-before.png"), full_page=True)

            # -- both learners rate each other from the session's page ----------------------
            for rater, scores, partner in ((ra, ("5", "4", "5"), rb), (rb, ("3", "4", "2"), ra)):
                page = login(browser, hub, rater)
                # the lobby offers to rate the partner of the last (ended) session
                page.locator("#rate-last-link").click(timeout=15_000)
                page.wait_for_url(f"**/review/{sid}", timeout=15_000)
                page.select_option("#rate-communication", scores[0])
                page.select_option("#rate-collaboration", scores[1])
                page.select_option("#rate-problem_solving", scores[2])
                page.fill("#rate-comment", f"Thanks {partner.name} <b>!</b>")
                page.click("#rate-submit")
                page.locator("#rate-status", has_text="saved").wait_for(timeout=10_000)
                page.screenshot(path=str(SHOTS / f"2-rated-by-{rater.name}.png"), full_page=True)
                # the open leaderboard shows the partner's new score, without reloading
                row = board.locator(f"#board-rows tr[data-user='{partner.name}']")
                row.wait_for(timeout=5_000)
                assert row.get_attribute("data-n") == "1"
            assert board.evaluate("window.__sameDocument") == "yes"
            rb_score = float(board.get_attribute(f"tr[data-user='{rb.name}']", "data-score"))
            ra_score = float(board.get_attribute(f"tr[data-user='{ra.name}']", "data-score"))
            assert rb_score == pytest.approx((15 + 14 / 3) / 6, abs=1e-2)  # Bayesian, (5+4+5)/3
            assert ra_score == pytest.approx((15 + 3) / 6, abs=1e-2)
            assert "updated" in board.inner_text("#live").lower()
            board.screenshot(path=str(SHOTS / "3-leaderboard-after.png"), full_page=True)

            # -- the instructor opens the session and scrubs the replay to the middle ---------
            page = login(browser, hub, scene["iv"])
            page.goto(base + f"review/{sid}")
            page.wait_for_selector("#replay[data-ready='1']", timeout=10_000)
            cells = page.locator("#replay-cells")
            assert f"step {STEPS - 1}" in cells.inner_text()  # starts at the end
            slider = page.locator("#replay-slider")
            slider.focus()
            page.keyboard.press("Home")
            for _ in range(STEPS // 2):
                page.keyboard.press("ArrowRight")
            middle = STEPS // 2
            text = cells.inner_text()
            assert f"step {middle}" in text and f"step {middle + 1}" not in text
            assert float(page.get_attribute("#replay", "data-t")) == 2.0 * middle
            assert "0:10" in page.inner_text("#replay-time")
            page.screenshot(path=str(SHOTS / "4-replay-middle.png"), full_page=True)
            # per participant: only ra's edits (the first half)
            page.select_option("#replay-who", ra.name)
            assert f"by {ra.name}" in page.inner_text("#replay-time")
            assert (
                f"step {middle - 1}" in cells.inner_text()
                and f"step {middle}" not in cells.inner_text()
            )
            # both ratings and comments are on the page, as text
            ratings = page.inner_text("#ratings")
            assert (
                f"Thanks {rb.name} <b>!</b>" in ratings and f"Thanks {ra.name} <b>!</b>" in ratings
            )
            page.screenshot(path=str(SHOTS / "5-review-ratings.png"), full_page=True)

            # -- and the learner's dashboard, as the instructor sees it -----------------------
            page.goto(base + f"dashboard/{rb.name}")
            assert page.locator("#chart-ratings").is_visible()
            assert page.locator("#table-tags tr[data-tag='arrays']").count() == 1
            page.screenshot(path=str(SHOTS / "6-dashboard.png"), full_page=True)

            # -- a bio keeps the line breaks its author typed -----------------------------------
            bio = "Likes graphs.\nAnd tries.\n\n  Indented, too."
            assert rb.api("PUT", "profile", {"bio": bio}).status_code == 200
            page.goto(base + f"profile/{rb.name}")
            assert page.inner_text("#bio") == bio  # collapsed to one line without pre-wrap
            page.screenshot(path=str(SHOTS / "7-profile-bio.png"), full_page=True)
        finally:
            browser.close()
