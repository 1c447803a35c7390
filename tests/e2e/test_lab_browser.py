"""The session as learners see it, in headless Chromium, on the real stack.

The whole-session proof of the pair API: the pair server runs with wrong store addresses
(``e2e_hub.UNREACHABLE_STORES``, checked in its process's environment) and everything below
still happens, through the service: challenge, edits, tests, swap, time-up, the outcome
graded and recorded by the service, the replay, the ratings.

Two browser contexts sign up, log in, join the waiting room, accept the match, land in
JupyterLab on their shared pair server with the challenge and the session panel (statement,
tags, examples as stored); the observer's notebook toolbar offers nothing that edits or runs
and it never opens a kernel socket (the former driver neither, once swapped); the driver
types and the observer sees it; the observer's keystrokes change nothing (UI and server);
the driver runs the tests and both see the results; a swap flips who can type; the timer goes
through its phases and warns near the end; time-up locks both and shows the rating dialog;
both ratings are stored; the review shows the outcome and the replay (the driver's and the
new driver's edits, the final snapshot). Screenshots of the key moments go to
``test-output/<test name>/``.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from e2e_hub import assert_pair_server_cannot_reach_the_stores, start_hub

pytestmark = [pytest.mark.hub, pytest.mark.browser]

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "peerplatform_ext" / "labextension"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
#: Short enough to wait out, long enough for two JupyterLabs to load on a busy 2-core machine.
SESSION_S = 90
PASSWORD = "correct-horse-42"
#: Stands in for the pair server's voice module (issue "Voice") in one learner's browser, to
#: check the panel against the module's contract: connect({baseUrl, onState, onPartnerMute,
#: onError}) -> call with mute(bool), leave(), state. The other learner's browser talks to the
#: real server's voice endpoint (WebRTC by default; the module itself is tested with real
#: audio in tests/integration/pair_server/test_pair_voice_browser.py).
VOICE_MODULE = """
export async function connect({ baseUrl, onState, onPartnerMute, onError, Device }) {
  const log = (window.__ppVoice = window.__ppVoice || []);
  log.push(['connect', baseUrl, typeof Device]);
  if (window.__ppVoiceFail) {
    setTimeout(() => {
      onError(new Error('no route to the media server'));
      onState('failed');
    }, 20);
    return { state: 'connecting', mute() {}, leave() {} };
  }
  const call = {
    state: 'connecting',
    mute(m) { log.push(['mute', m]); },
    leave() { log.push(['leave']); call.state = 'ended'; },
  };
  setTimeout(() => { call.state = 'connected'; onState('connected'); onPartnerMute(true); }, 50);
  return call;
}
"""
DRIVER_MARK = "# typed-by-the-driver"
NEW_DRIVER_MARK = "# typed-by-the-new-driver"


@pytest.fixture(scope="module")
def lab_hub(tmp_path_factory, redis_url, mongodb_uri):
    if not (BUILT / "package.json").is_file():
        pytest.fail(f"the JupyterLab extension is not built ({BUILT}): run `make` or "
                    "`npm install && npm run build` in labextension/")
    # the pair servers load this checkout's extension (whatever else the venv holds)
    # (outside pytest's 0700 temp folder: pair servers run as an unprivileged user)
    jpath = Path(tempfile.mkdtemp(prefix="pp-jupyter-path-"))
    jpath.chmod(0o755)
    (jpath / "labextensions").mkdir()
    (jpath / "labextensions" / "peerplatform-lab").symlink_to(BUILT)
    extra = (
        f"c.Spawner.environment = {{'JUPYTER_PATH': {str(jpath)!r}}}\n"
        # no scheduled swap in the middle of the test: the learners swap by request
        "c.PeerPlatform.swap_at_fractions = []\n"
    )
    hub = start_hub(tmp_path_factory, redis_url, mongodb_uri, extra_config=extra,
                    env={"PEERPLATFORM_SESSION_DURATION": str(SESSION_S)})
    yield hub
    hub.stop()
    shutil.rmtree(jpath, ignore_errors=True)


@pytest.fixture
def shots(request):
    folder = REPO / "test-output" / request.node.name
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return folder


def snap(page, folder: Path, name: str) -> None:
    page.screenshot(path=str(folder / f"{name}.png"))


def sign_up_and_log_in(page, base: str, name: str) -> None:
    page.goto(base + "hub/signup")
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.fill("#password_confirmation_input", PASSWORD)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_load_state()
    page.goto(base + "hub/login")
    page.fill("#username_input", name)
    page.fill("#password_input", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/services/peerplatform/.*"), timeout=60_000)


def use_platform_default_length(page) -> None:
    """The lobby offers 30/45/60 minutes; drop the choice so the platform's (short, test)
    default applies (``c.PeerPlatform.session_duration``)."""

    def handle(route):
        request = route.request
        if request.method == "POST":
            body = json.loads(request.post_data or "{}")
            body.get("preferences", {}).pop("duration_minutes", None)
            route.continue_(post_data=json.dumps(body))
        else:
            route.continue_()

    page.route(re.compile(r".*/services/peerplatform/api/waiting-room$"), handle)


def cell_text(page, index: int) -> str:
    return page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content").inner_text()


def starter_index(page) -> int:
    """Index of the challenge's starter (code) cell."""
    cells = page.locator(".jp-Notebook .jp-Cell")
    for i in range(cells.count()):
        if "jp-CodeCell" in (cells.nth(i).get_attribute("class") or ""):
            return i
    raise AssertionError("no code cell in the notebook")


def type_in_cell(page, index: int, text: str) -> None:
    editor = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+End")
    page.keyboard.type(text, delay=15)


def kernel_idle(page) -> bool:
    """The open notebook's kernel is connected and idle: the status bar's kernel item reads
    "<kernel> | Idle" (an observer's reads "No Kernel | Unknown")."""
    return "| Idle" in page.locator("#jp-main-statusbar").inner_text()


def wait_until(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except Exception as e:  # the page may be re-rendering
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def no_news(page) -> None:
    """Pair servers fetch no JupyterLab news. Where the package's settings defaults are not
    installed (an editable dev install), JupyterLab still asks about it in a toast over the
    session panel: the learner answers no."""
    config = json.loads(page.locator("#jupyter-config-data").text_content())
    assert config["news"] == {"disabled": True}
    try:
        page.locator(".jp-toast-button", has_text=re.compile(r"^No$")).click(timeout=5_000)
    except Exception:
        pass  # not asked


def role_of(page) -> str:
    return page.locator(".pp-RoleBadge").get_attribute("data-role")


#: Notebook toolbar commands that edit, save or run (lock.ts blocks them for an observer).
EDIT_OR_RUN = re.compile(r"^(notebook:(run|insert|cut|paste|restart|interrupt)|kernelmenu:"
                         r"|runmenu:|docmanager:save)")


def notebook_toolbar(page) -> dict[str, bool]:
    """The session notebook's toolbar buttons that edit, save or run: command -> disabled."""
    state = page.locator(".jp-NotebookPanel-toolbar").first.evaluate("""bar =>
        Object.fromEntries([...bar.querySelectorAll('[data-command]')].map(b => [
            b.dataset.command,
            !!b.disabled || b.hasAttribute('disabled') || b.getAttribute('aria-disabled') === 'true'
        ]))""")
    edits = {command: off for command, off in state.items() if EDIT_OR_RUN.match(command)}
    assert any(c.startswith("notebook:run") for c in edits) \
        and any(c.startswith("notebook:insert") for c in edits), state
    return edits


def wait_toolbar(page, disabled: bool, who: str) -> None:
    wait_until(lambda: set(notebook_toolbar(page).values()) == {disabled}, 15,
               f"the {who}'s notebook toolbar to be {'dis' if disabled else 'en'}abled")


#: Records the top-bar timer's phase, label and warning as they change (read at time-up).
RECORD_TIMER = """() => {
  const node = document.querySelector('#peerplatform-timer');
  const log = (window.__ppTimer = []);
  const read = () => {
    const flag = name => node.classList.contains(name);
    const entry = [node.dataset.phase, node.querySelector('.pp-Timer-phase').textContent,
                   flag('pp-mod-warning'), flag('pp-mod-over'),
                   node.querySelector('.pp-Timer-time').textContent];
    const last = log[log.length - 1];
    if (!last || last.slice(0, 4).join() !== entry.slice(0, 4).join()) log.push(entry);
  };
  read();
  window.setInterval(read, 200);
}"""


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data):
        self.parts.append(data)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def assert_panel_shows(page, challenge: dict) -> None:
    """The session panel shows the challenge's statement, tags and examples (as stored)."""
    from playwright.sync_api import expect

    from peerplatform_contracts.challenge_view import render_statement

    panel = page.locator("#peerplatform-session .pp-Challenge")
    expect(panel.locator(".pp-Challenge-title")).to_have_text(challenge["title"])
    expect(panel.locator(".pp-Difficulty")).to_have_text(challenge["difficulty"])
    statement = _Text()
    statement.feed(render_statement(challenge["statement"]))
    expected = squash("".join(statement.parts))
    assert len(expected) > 20, challenge["statement"]
    expect(panel.locator(".pp-Statement")).to_be_visible()
    wait_until(lambda: squash(panel.locator(".pp-Statement").inner_text()) == expected, 10,
               "the statement in the panel")
    assert challenge["tags"]
    expect(panel.locator(".pp-Tags")).to_be_visible()
    assert panel.locator(".pp-Tag").all_text_contents() == [str(t) for t in challenge["tags"]]
    examples = challenge["examples"]
    assert examples
    shown = panel.locator(".pp-Examples pre")
    expect(shown).to_have_count(len(examples))
    for i, example in enumerate(examples):
        expect(shown.nth(i)).to_be_visible()
        want = str(example) if not isinstance(example, dict) else "".join(
            f"{k}:{v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)}"
            for k, v in example.items())
        assert squash(shown.nth(i).inner_text()) == squash(want), (i, example)


def server_notebook(context, base: str, server: str) -> str:
    """The notebook as the server has it on disk (contents API, as a member)."""
    resp = context.request.get(base.rstrip("/") + server + "api/contents/session.ipynb")
    assert resp.ok, resp.status
    return "".join("".join(c["source"]) for c in resp.json()["content"]["cells"])


def test_two_learners_in_the_lab_end_to_end(lab_hub, shots, mongodb_uri):
    from playwright.sync_api import expect, sync_playwright

    base = lab_hub.url
    tag = secrets.token_hex(3)
    names = [f"ada-{tag}", f"bob-{tag}"]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True)
        pages = {}
        try:
            ctx = {n: browser.new_context(viewport={"width": 1400, "height": 900}) for n in names}
            pages.update({n: ctx[n].new_page() for n in names})
            voice_user = names[1]
            ctx[voice_user].route(
                re.compile(r".*/peerplatform/api/voice(\?.*)?$"), lambda route: route.fulfill(
                    status=200, content_type="application/json", body='{"mode": "twilio"}'))
            ctx[voice_user].route(re.compile(r".*/peerplatform/static/voice\.js$"),
                                  lambda route: route.fulfill(
                                      status=200, content_type="text/javascript",
                                      body=VOICE_MODULE))
            refused = {n: [] for n in names}  # pair-server requests answered 403
            kernel_sockets = {n: [] for n in names}
            for n, page in pages.items():
                page.set_default_timeout(30_000)
                page.on("response", lambda r, n=n: refused[n].append(
                    f"{r.request.method} {r.url}") if r.status == 403 and "/user/pp-pairs/" in r.url
                    else None)
                page.on("websocket", lambda ws, n=n: kernel_sockets[n].append(ws)
                        if "/api/kernels/" in ws.url else None)
            # -- sign up, log in, join the waiting room, see the progress, accept ------------
            for n in names:
                sign_up_and_log_in(pages[n], base, n)
                use_platform_default_length(pages[n])
                pages[n].click("#join")
                expect(pages[n].locator("#status")).to_contain_text("waiting", ignore_case=True)
            snap(pages[names[0]], shots, "01-waiting-room")
            for n in names:
                pages[n].locator("#accept-match").click(timeout=60_000)
            expect(pages[names[0]].locator("#progress")).to_be_visible(timeout=60_000)
            snap(pages[names[0]], shots, "02-progress")
            # -- both land in JupyterLab on the pair server ----------------------------------
            for n in names:
                pages[n].wait_for_url(re.compile(r".*/user/pp-pairs/s-[a-z0-9]+/lab.*"),
                                      timeout=150_000)
            url = pages[names[0]].url
            sid = re.search(r"/s-([a-z0-9]+)/", url).group(1)
            server = f"/user/pp-pairs/s-{sid}/"
            # the pair server holds only wrong store addresses: whatever follows works
            # through the service's pair API, or fails
            assert_pair_server_cannot_reach_the_stores(lab_hub, sid)
            for n in names:
                page = pages[n]
                expect(page.locator("#peerplatform-session .pp-RoleBadge")).to_be_visible(
                    timeout=90_000)
                expect(page.locator(".pp-Challenge-title")).not_to_be_empty()
                expect(page.locator("#peerplatform-timer .pp-Timer-time")).to_have_text(
                    re.compile(r"^\d+:\d\d$"))
                # the challenge statement cell and the starter cell, live in the notebook
                expect(page.locator(".jp-Notebook .jp-MarkdownCell").first).to_be_visible(
                    timeout=60_000)
            for n in names:
                no_news(pages[n])
            roles = {n: role_of(pages[n]) for n in names}
            assert sorted(roles.values()) == ["driver", "observer"], roles
            driver = next(n for n in names if roles[n] == "driver")
            observer = next(n for n in names if roles[n] == "observer")
            d, o = pages[driver], pages[observer]
            expect(d.locator(".pp-RoleBadge")).to_have_text("You are driving")
            expect(o.locator(".pp-RoleBadge")).to_have_text("You are observing")
            expect(o.locator(".pp-Partner")).to_contain_text(driver)
            title = d.locator(".pp-Challenge-title").inner_text()
            assert o.locator(".pp-Challenge-title").inner_text() == title
            d.evaluate(RECORD_TIMER)
            # the panel shows the session's challenge as the store has it, for both
            challenge = _session_challenge(mongodb_uri, lab_hub.mongodb_database, sid)
            for page in (d, o):
                assert_panel_shows(page, challenge)
            # the observer's notebook toolbar offers no edit, save or run; the driver's does
            wait_toolbar(o, True, "observer")
            wait_toolbar(d, False, "driver")
            for page in (d, o):  # the statement cell of the notebook shows the same challenge
                wait_until(lambda page=page: title in page.locator(
                    ".jp-Notebook .jp-MarkdownCell").first.inner_text(), 30,
                    "the statement cell")
            # only the driver has the driver's controls
            expect(d.locator("[data-pp-key=run-tests]")).to_be_visible()
            expect(d.locator("[data-pp-key=another-challenge]")).to_be_visible()
            assert o.locator("[data-pp-key=run-tests]").count() == 0
            # voice: the real server's endpoint (self-hosted WebRTC: no Twilio configured)
            plain = pages[names[0]]
            expect(plain.locator(".pp-VoiceState")).to_have_attribute("data-state", "idle")
            expect(plain.locator(".pp-VoiceState")).to_contain_text("WebRTC")
            expect(plain.locator("[data-pp-key=voice-join]")).to_be_visible()
            # ... and the voice module's contract, in the other browser: join, partner muted,
            # mute, leave, and a clear message when the call cannot connect
            v = pages[voice_user]
            v.locator("[data-pp-key=voice-join]").click()
            expect(v.locator(".pp-VoiceState")).to_have_attribute("data-state", "connected")
            expect(v.locator(".pp-Voice")).to_contain_text(f"{names[0]} is muted")
            v.locator("[data-pp-key=voice-mute]").click()
            expect(v.locator("[data-pp-key=voice-mute]")).to_have_attribute("aria-pressed", "true")
            v.locator("[data-pp-key=voice-leave]").click()
            expect(v.locator(".pp-VoiceState")).to_have_attribute("data-state", "idle")
            calls = v.evaluate("window.__ppVoice")
            assert calls[0][0] == "connect" and calls[0][1].endswith(server)  # the server's base
            assert calls[0][2] == "function"  # Twilio mode: Twilio's Voice SDK Device is passed
            assert ["mute", True] in calls \
                and calls[-1] == ["leave"], calls
            v.evaluate("window.__ppVoiceFail = true")
            v.locator("[data-pp-key=voice-join]").click()
            expect(v.locator(".pp-VoiceState")).to_have_attribute("data-state", "failed")
            expect(v.locator(".pp-VoiceState")).to_contain_text("could not connect")
            expect(v.locator(".pp-VoiceState")).to_have_attribute("role", "alert")
            expect(v.locator("[data-pp-key=voice-join]")).to_have_text("Try again")
            snap(d, shots, "03-driver-landed")
            # the panel follows JupyterLab's theme (the driver switches to the dark one)
            light = d.locator(".pp-Panel").evaluate("n => getComputedStyle(n).backgroundColor")
            d.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Settings$")).click()
            d.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Theme$")).hover()
            d.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^JupyterLab Dark$")).click()
            wait_until(lambda: d.locator(".pp-Panel").evaluate(
                "n => getComputedStyle(n).backgroundColor") != light, 15, "the dark theme")
            snap(d, shots, "03b-driver-dark-theme")
            snap(o, shots, "04-observer-landed")

            # -- the driver draws another challenge (easy): both see it, in panel and notebook
            d.locator("#pp-difficulty").select_option("easy")
            d.locator("[data-pp-key=another-challenge]").click()
            for page in (d, o):
                expect(page.locator(".pp-Challenge-title")).not_to_have_text(title,
                                                                            timeout=20_000)
                expect(page.locator(".pp-Difficulty")).to_have_text("easy", timeout=20_000)
            title = d.locator(".pp-Challenge-title").inner_text()
            challenge = wait_until(
                lambda: (c := _session_challenge(mongodb_uri, lab_hub.mongodb_database, sid))
                and c["title"] == title and c, 10, "the new challenge in the store")
            for page in (d, o):
                expect(page.locator(".pp-Challenge-title")).to_have_text(title)
                assert_panel_shows(page, challenge)
                wait_until(lambda page=page: title in page.locator(
                    ".jp-Notebook .jp-MarkdownCell").first.inner_text(), 30,
                    "the new statement cell")
            snap(o, shots, "04b-observer-sees-new-challenge")

            # -- the driver types, the observer sees it --------------------------------------
            si = starter_index(d)
            assert starter_index(o) == si
            type_in_cell(d, si, "\n" + DRIVER_MARK)
            wait_until(lambda: DRIVER_MARK in cell_text(o, si), 20, "the observer to see the edit")
            snap(o, shots, "05-observer-sees-driver-typing")

            # -- the observer's keystrokes change nothing ------------------------------------
            cells_before = o.locator(".jp-Notebook .jp-Cell").count()
            type_in_cell(o, si, "OBSERVER-WAS-HERE")
            o.keyboard.press("Escape")
            for key in ("a", "b", "d", "d", "x", "m", "Shift+Enter", "Control+Enter"):
                o.keyboard.press(key)
            time.sleep(1.5)
            assert "OBSERVER-WAS-HERE" not in cell_text(o, si)
            assert o.locator(".jp-Notebook .jp-Cell").count() == cells_before
            assert "OBSERVER-WAS-HERE" not in cell_text(d, si)
            assert d.locator(".jp-Notebook .jp-Cell").count() == cells_before
            # on the server: the saved notebook has the driver's edit, not the observer's
            saved = wait_until(
                lambda: (t := server_notebook(ctx[driver], base, server)) and DRIVER_MARK in t
                and t, 20, "the driver's edit on disk")
            assert "OBSERVER-WAS-HERE" not in saved
            # the observer's UI never tried to start or connect a kernel, nor to save or
            # change the notebook: nothing of that kind it asked the pair server was refused
            # (JupyterLab's own layout and preference saves, lab/api/workspaces and
            # lab/api/settings, are refused too, by design, and harmless)
            assert o.locator(".pp-mod-readonly").count() >= 1
            assert [ws.url for ws in kernel_sockets[observer]] == []
            assert not kernel_idle(o) and kernel_idle(d)
            assert [r for r in refused[observer]
                    if "/lab/api/workspaces/" not in r and "/lab/api/settings/" not in r] == []
            snap(o, shots, "06-observer-typing-ignored")

            # -- the driver runs the tests, both see the result, per test --------------------
            d.locator("[data-pp-key=run-tests]").click()
            for page in (d, o):
                expect(page.locator(".pp-TestSummary")).to_be_visible(timeout=60_000)
            summary = d.locator(".pp-TestSummary").inner_text()
            assert re.search(r"\d+/\d+ passed", summary), summary
            wait_until(lambda: o.locator(".pp-TestSummary").inner_text() == summary, 10,
                       "the observer to see the same result")
            n_tests = d.locator(".pp-Test").count()
            assert n_tests >= 1 and o.locator(".pp-Test").count() == n_tests
            snap(d, shots, "07-driver-test-results")
            snap(o, shots, "08-observer-test-results")

            # -- a reload: the same server time, the last results, still read-only -----------
            o.reload()
            expect(o.locator(".pp-RoleBadge")).to_have_text("You are observing", timeout=60_000)
            expect(o.locator(".pp-TestSummary")).to_have_text(summary, timeout=30_000)
            wait_until(lambda: o.evaluate("document.body.dataset.ppEditable") == "false", 15,
                       "the reloaded observer's lock")

            def seconds(page):
                m, sec = page.locator("#peerplatform-timer .pp-Timer-time").inner_text().split(":")
                return int(m) * 60 + int(sec)

            wait_until(lambda: abs(seconds(o) - seconds(d)) <= 2, 15,
                       "the reloaded timer to agree with the partner's")
            expect(o.locator(".jp-Notebook .jp-MarkdownCell").first).to_be_visible(timeout=60_000)
            wait_until(lambda: DRIVER_MARK in cell_text(o, si), 30, "the reloaded notebook")

            # -- a swap (asked by the observer, accepted by the driver) flips who can type ----
            o.locator("[data-pp-key=swap-request]").click()
            d.locator("[data-pp-key=swap-accept]").click(timeout=15_000)
            expect(o.locator(".pp-RoleBadge")).to_have_text("You are driving", timeout=15_000)
            expect(d.locator(".pp-RoleBadge")).to_have_text("You are observing", timeout=15_000)
            wait_until(lambda: o.evaluate("document.body.dataset.ppEditable") == "true", 15,
                       "the new driver's UI to unlock")
            wait_until(lambda: d.evaluate("document.body.dataset.ppEditable") == "false", 15,
                       "the new observer's UI to lock")
            wait_toolbar(d, True, "new observer")
            wait_toolbar(o, False, "new driver")
            # the former driver lets go of its kernel and opens no other; the new one connects
            assert kernel_sockets[driver], "the driver never connected to a kernel"
            former_driver_sockets = len(kernel_sockets[driver])
            wait_until(lambda: all(ws.is_closed() for ws in kernel_sockets[driver]), 15,
                       "the new observer's kernel sockets to close")
            wait_until(lambda: not kernel_idle(d), 15,
                       "the new observer's notebook to let go of its kernel")
            # ... and the new driver's notebook gets a live kernel (read from its status bar: a
            # count of websocket events proved unreliable here, a connected kernel with no
            # event seen for its socket)
            wait_until(lambda: kernel_idle(o), 30,
                       "the new driver's notebook to connect to its kernel")
            type_in_cell(o, si, "\n" + NEW_DRIVER_MARK)
            wait_until(lambda: NEW_DRIVER_MARK in cell_text(d, si), 20,
                       "the new observer to see the new driver's edit")
            # the partner's cursor and name (jupyter-collaboration awareness) are shown
            wait_until(lambda: d.locator(".jp-remote-userFlag-name", has_text=observer).count(),
                       10, "the new driver's named cursor in the new observer's notebook")
            type_in_cell(d, si, "FORMER-DRIVER-WAS-HERE")
            time.sleep(1.0)
            assert "FORMER-DRIVER-WAS-HERE" not in cell_text(d, si)
            assert "FORMER-DRIVER-WAS-HERE" not in cell_text(o, si)
            expect(o.locator("[data-pp-key=run-tests]")).to_be_visible()
            assert d.locator("[data-pp-key=run-tests]").count() == 0
            # (how much of the session was left: the margin of SESSION_S on this machine)
            left = o.locator("#peerplatform-timer .pp-Timer-time").inner_text()
            print(f"time left after the swap: {left}")
            snap(o, shots, "09-after-swap-new-driver")
            snap(d, shots, "10-after-swap-new-observer")

            # -- time-up: both locked, the rating dialog, both ratings stored ----------------
            for page in (d, o):
                expect(page.locator(".pp-RatingForm")).to_be_visible(
                    timeout=(SESSION_S + 60) * 1000)
                assert page.evaluate("document.body.dataset.ppEditable") == "false"
                expect(page.locator("#peerplatform-timer .pp-Timer-time")).to_have_text("0:00")
            snap(d, shots, "11-time-up-rating-dialog")
            # the former driver, observing since the swap, never connected a kernel again
            assert len(kernel_sockets[driver]) == former_driver_sockets, \
                [ws.url for ws in kernel_sockets[driver]]
            # the timer went through the phases and warned before the end (SESSION_S is short)
            timeline = d.evaluate("window.__ppTimer")
            phases = [e[0] for e in timeline]
            order = ["waiting", "discuss", "code", "review", "over"]
            assert phases == sorted(phases, key=order.index), timeline
            assert "review" in phases and phases[-1] == "over", timeline
            assert all(a[1] != b[1] for a, b in zip(timeline, timeline[1:])
                       if a[0] != b[0]), timeline  # the label follows the phase
            warned = [e for e in timeline if e[2]]
            assert warned and not warned[0][3], timeline  # a warning before time was up
            first = timeline.index(warned[0])
            assert all(e[2] for e in timeline[first:-1]), timeline  # until the end
            m, sec = warned[0][4].split(":")
            assert 0 < int(m) * 60 + int(sec) < SESSION_S / 2, timeline  # near the end
            assert timeline[-1][3] and not timeline[-1][2], timeline  # over: no more warning
            for page in (d, o):  # the final test results, for both
                expect(page.locator(".pp-TestSummary")).to_contain_text("Final result")
            # one rates with the mouse ...
            expect(d.locator(".jp-Dialog .jp-mod-accept")).to_be_disabled()
            for key, score in zip(("communication", "collaboration", "problem_solving"),
                                  (4, 5, 3)):
                d.locator(f"label[for=pp-rating-{key}-{score}]").click()
            d.locator("#pp-rating-comment").fill("Good session, thanks!")
            d.locator(".jp-Dialog .jp-mod-accept").click()
            # ... the other with the keyboard only (the dialog starts on the first score)
            expect(o.locator(".jp-Dialog .jp-mod-accept")).to_be_disabled()
            expect(o.locator("#pp-rating-communication-1")).to_be_focused()
            for i, score in enumerate((5, 4, 4)):
                if i:
                    o.keyboard.press("Tab")  # to the next group
                o.keyboard.press("Space")  # score 1
                for _ in range(score - 1):
                    o.keyboard.press("ArrowRight")
            o.keyboard.press("Tab")
            expect(o.locator("#pp-rating-comment")).to_be_focused()
            o.keyboard.type("Good session, thanks!")
            expect(o.locator(".jp-Dialog .jp-mod-accept")).to_be_enabled()
            for _ in range(10):  # Tab on to the submit button
                if o.locator(".jp-Dialog .jp-mod-accept").evaluate(
                        "n => n === document.activeElement"):
                    break
                o.keyboard.press("Tab")
            expect(o.locator(".jp-Dialog .jp-mod-accept")).to_be_focused()
            o.keyboard.press("Enter")
            for page in (d, o):
                expect(page.locator(".pp-RatingState")).to_have_attribute(
                    "data-state", "stored", timeout=15_000)
                expect(page.locator(".pp-LobbyLink")).to_have_attribute(
                    "href", "/services/peerplatform/")
                # locked after the end: typing changes nothing
                type_in_cell(page, si, "AFTER-THE-END")
            time.sleep(1.0)
            for page in (d, o):
                assert "AFTER-THE-END" not in cell_text(page, si)
            snap(o, shots, "12-rating-stored")

            # the ratings are in the store: each rater reads back their own
            for n, scores in ((driver, (4, 5, 3)), (observer, (5, 4, 4))):
                resp = ctx[n].request.get(base + f"services/peerplatform/api/sessions/{sid}/rating")
                assert resp.status == 200, resp.text()
                got = resp.json()
                assert (got["communication"], got["collaboration"], got["problem_solving"]) \
                    == scores
                assert got["comment"] == "Good session, thanks!"
            # the review: the outcome the service graded at time-up, and the replay of
            # what the pair server sent through the pair API (batched snapshots)
            review = ctx[driver].request.get(
                base + f"services/peerplatform/api/review/sessions/{sid}")
            assert review.status == 200, review.text()
            review = review.json()
            assert review["outcome"] in ("passed", "failed"), review["outcome"]
            assert review["final_tests"]["total"] == n_tests, review["final_tests"]
            assert review["challenge"]["title"] == title
            assert NEW_DRIVER_MARK in json.dumps(review["notebook"]), "the final notebook"
            replay = ctx[observer].request.get(
                base + f"services/peerplatform/api/review/sessions/{sid}/replay")
            assert replay.status == 200, replay.text()
            snapshots = replay.json()["snapshots"]
            sources = ["".join(c["source"] for c in snap_["cells"]) for snap_ in snapshots]
            first_edit = next(i for i, t in enumerate(sources) if DRIVER_MARK in t)
            assert any(NEW_DRIVER_MARK in t for t in sources[first_edit:]), \
                "the new driver's edit, after the first driver's, in the replay"
            assert snapshots[-1]["final"] is True and NEW_DRIVER_MARK in sources[-1]
            assert "OBSERVER-WAS-HERE" not in "".join(sources)
            # and the lobby link leads back to the lobby (by keyboard)
            o.locator(".pp-LobbyLink").focus()
            o.keyboard.press("Enter")
            o.wait_for_url(re.compile(r".*/services/peerplatform/$"), timeout=30_000)
            expect(o.locator("#join")).to_be_visible()
        except Exception:
            for n, page in pages.items():  # what each learner saw when it failed
                try:
                    snap(page, shots, f"failed-{n}")
                except Exception:
                    pass
            raise
        finally:
            browser.close()
    # the session ended on the server (time is up), and nobody can write any more
    doc = _session_doc(mongodb_uri, lab_hub.mongodb_database, sid)
    assert doc["state"] == "ended"
    assert doc["outcome"]["reason"] == "time is up"
    # recorded by the service (the pair server cannot report an outcome), on the final
    # snapshot the pair server sent when it locked the notebook
    assert doc["outcome"]["ended_by"] == "service"
    assert doc["outcome"]["final_snapshot"] is True
    assert doc["outcome"]["tests"]["status"] in ("passed", "failed"), doc["outcome"]["tests"]
    assert any(e.get("type") == "tests" for e in doc.get("events") or [])
    # one swap, the learners' own: c.PeerPlatform.swap_at_fractions = [] scheduled none
    assert doc["swap_schedule_s"] == []
    swaps = [e for e in doc.get("events") or [] if e.get("type") == "swap"]
    assert len(swaps) == 1 and "scheduled" not in swaps[0], swaps


def _session_challenge(uri: str, database: str, sid: str) -> dict:
    """The session's challenge as stored, in the version the session picked."""
    from pymongo import MongoClient

    client = MongoClient(uri)
    try:
        db = client[database]
        picked = db["sessions"].find_one({"_id": sid})["challenge"]
        return db["challenge_versions"].find_one({"_id": f"{picked['slug']}@{picked['version']}"}) \
            or db["challenges"].find_one({"slug": picked["slug"]})
    finally:
        client.close()


def _session_doc(uri: str, database: str, sid: str) -> dict:
    from pymongo import MongoClient

    client = MongoClient(uri)
    try:
        return client[database]["sessions"].find_one({"_id": sid})
    finally:
        client.close()


def test_lab_bridge_hands_the_service_token_to_same_origin_pages(lab_hub):
    """A browser's fetch (``Sec-Fetch-Mode: cors``) to the service needs the service's XSRF
    token; JupyterLab gets it from the ``lab-bridge`` page (a navigation needs none)."""
    from hubuser import HubUser

    user = HubUser(lab_hub.url, f"cy-{secrets.token_hex(3)}")
    assert user.signup().status_code == 200 and user.login().status_code == 200
    cors = {"Sec-Fetch-Mode": "cors", "Sec-Fetch-Site": "same-origin"}
    me = user.url("services/peerplatform/api/me")
    assert user.http.get(me, headers=cors, timeout=30).status_code == 403
    page = user.http.get(user.url("services/peerplatform/lab-bridge"), timeout=30,
                         headers={"Sec-Fetch-Mode": "navigate", "Sec-Fetch-Dest": "iframe"})
    assert page.status_code == 200
    assert "frame-ancestors 'self'" in page.headers["Content-Security-Policy"]
    assert "<script" not in page.text
    token = re.search(r'data-xsrf="([^"]+)"', page.text).group(1)
    ok = user.http.get(me, headers={**cors, "X-XSRFToken": token}, timeout=30)
    assert ok.status_code == 200 and ok.json()["user"] == user.name
    bad = user.http.get(me, headers={**cors, "X-XSRFToken": token[:-4] + "AAAA"}, timeout=30)
    assert bad.status_code == 403
    # nobody logged in: the page sends the browser to log in, it never hands out a token
    anon = HubUser(lab_hub.url, "nobody").http.get(
        user.url("services/peerplatform/lab-bridge"), allow_redirects=False, timeout=30)
    assert anon.status_code == 302 and "data-xsrf" not in anon.text
