"""What the learners feel in JupyterLab, in headless Chromium on the real platform.

Starts the embedded stores and the Hub (pair servers load this checkout's built extension),
two browser contexts sign up, join and get matched (auto-accept), then:

* ``lab_ready_s``: the lobby sends the browser to JupyterLab -> the session panel, the role
  badge and the challenge statement cell are shown (each learner);
* ``edit_to_partner_ms``: the driver types one character -> it is in the observer's notebook
  (``--edits`` times; timed in the observer's page with requestAnimationFrame polling, plus
  one Playwright round trip);
* ``swap_flip_ms``: the driver accepts the observer's swap request -> both UIs flipped
  (roles shown, locks applied, the new driver's notebook reopened and editable).

    python bench/lab_browser.py [--edits 30]

Prints ``name=value`` lines. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from hubproc import HubProcess  # noqa: E402

from peerplatform.embedded import EmbeddedMongo, EmbeddedRedis  # noqa: E402

BUILT = REPO / "peerplatform_ext" / "labextension"
PASSWORD = "correct-horse-42"
#: Records, in each JupyterLab page, when the session is first usable (ms since the navigation
#: from the lobby started: the pair server's OAuth redirects included).
READY_PROBE = """
(() => {
  const id = setInterval(() => {
    if (!location.pathname.endsWith('/lab')) { clearInterval(id); return; }
    if (document.querySelector('#peerplatform-session .pp-RoleBadge')
        && document.querySelector('.jp-Notebook .jp-MarkdownCell')
        && document.querySelector('.jp-Notebook .jp-CodeCell .cm-content')) {
      window.__ppReady = performance.now();
      clearInterval(id);
    }
  }, 10);
})();
"""


def p95(values):
    return sorted(values)[max(0, int(round(0.95 * len(values))) - 1)]


def sign_up_and_join(page, base: str, name: str) -> None:
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

    def drop_length(route):  # the platform's default session length, not the lobby's 45 min
        body = json.loads(route.request.post_data or "{}")
        body.get("preferences", {}).pop("duration_minutes", None)
        route.continue_(post_data=json.dumps(body))

    page.route(re.compile(r".*/services/peerplatform/api/waiting-room$"), drop_length)
    page.click("#join")


def code_text(page) -> str:
    return page.locator(".jp-Notebook .jp-CodeCell .cm-content").first.inner_text()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=30)
    args = parser.parse_args()
    if not (BUILT / "package.json").is_file():
        sys.exit("build the extension first: cd labextension && npm install && npm run build")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory(prefix="pp-bench-lab-") as tmp:
        tmp = Path(tmp)
        # pair servers run as an unprivileged user (as root: pp-server): they must pass this
        # folder (not list it) to read the extension
        tmp.chmod(0o711)
        (tmp / "jp" / "labextensions").mkdir(parents=True)
        for folder in (tmp / "jp", tmp / "jp" / "labextensions"):
            folder.chmod(0o755)
        (tmp / "jp" / "labextensions" / "peerplatform-lab").symlink_to(BUILT)
        (tmp / "hub").mkdir()
        redis, mongo = EmbeddedRedis(tmp / "redis"), EmbeddedMongo(tmp / "mongo", memory=True)
        redis.start()
        mongo.start()
        hub = HubProcess(
            tmp / "hub", redis_url=redis.url, mongodb_uri=mongo.url, mongodb_database="pp_bench",
            extra_config=(f"c.Spawner.environment = {{'JUPYTER_PATH': {str(tmp / 'jp')!r}}}\n"
                          # no scheduled swap: the service writes none into the sessions
                          "c.PeerPlatform.swap_at_fractions = []\n"),
            env={"PEERPLATFORM_AUTO_ACCEPT": "1", "PEERPLATFORM_SESSION_DURATION": "900"})
        try:
            hub.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(
                    executable_path=shutil.which("chromium") or "/usr/bin/chromium")
                try:
                    run(browser, hub.url, args.edits)
                finally:
                    browser.close()
        finally:
            hub.stop()
            mongo.stop()
            redis.stop()


def run(browser, base: str, edits: int) -> None:
    tag = secrets.token_hex(3)
    names = [f"ada-{tag}", f"bob-{tag}"]
    pages = {}
    for n in names:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        context.add_init_script(READY_PROBE)
        pages[n] = context.new_page()
        pages[n].set_default_timeout(120_000)
        sign_up_and_join(pages[n], base, n)
    ready = {}
    for n in names:
        page = pages[n]
        page.wait_for_url(re.compile(r".*/user/pp-pairs/s-[a-z0-9]+/lab.*"), timeout=180_000)
        page.wait_for_function("window.__ppReady !== undefined", timeout=120_000)
        ready[n] = page.evaluate("window.__ppReady") / 1000
    print("lab_ready_s=" + ",".join(f"{ready[n]:.2f}" for n in names))
    roles = {n: pages[n].locator(".pp-RoleBadge").get_attribute("data-role") for n in names}
    d = pages[next(n for n in names if roles[n] == "driver")]
    o = pages[next(n for n in names if roles[n] == "observer")]
    for page in (d, o):  # JupyterLab's news question, where the settings defaults are absent
        try:
            page.locator(".jp-toast-button", has_text=re.compile(r"^No$")).click(timeout=3_000)
        except Exception:
            pass
    d.locator(".jp-Notebook .jp-CodeCell .cm-content").first.click()
    d.keyboard.press("Control+End")
    d.keyboard.type("\n# ")
    times = []
    for i in range(edits):
        ch = "abcdefghijklmnopqrstuvwxyz"[i % 26]
        expected = code_text(d) + ch
        t = time.monotonic()
        d.keyboard.type(ch)
        o.wait_for_function(
            "([sel, text]) => document.querySelector(sel)?.innerText === text",
            arg=[".jp-Notebook .jp-CodeCell .cm-content", expected], polling="raf",
            timeout=10_000)
        times.append((time.monotonic() - t) * 1000)
        time.sleep(0.1)
    print(f"edits={len(times)}")
    print(f"edit_to_partner_ms_median={statistics.median(times):.1f}")
    print(f"edit_to_partner_ms_p95={p95(times):.1f}")
    print(f"edit_to_partner_ms_max={max(times):.1f}")

    o.locator("[data-pp-key=swap-request]").click()
    d.locator("[data-pp-key=swap-accept]").wait_for()
    t = time.monotonic()
    d.locator("[data-pp-key=swap-accept]").click()
    d.wait_for_function("document.body.dataset.ppEditable === 'false'", polling="raf")
    o.wait_for_function("document.body.dataset.ppEditable === 'true'", polling="raf")
    o.locator(".jp-Notebook .jp-CodeCell .cm-content[contenteditable=true]").first.wait_for()
    print(f"swap_flip_ms={(time.monotonic() - t) * 1000:.0f}")


if __name__ == "__main__":
    main()
