"""The test page that loads the pair server's voice module in Chromium (test only), and the
stack it talks to.

The test server serves the page as a static file (``c.ServerApp.extra_static_paths``, see
:func:`page_config`), so the page has the pair server's origin and address space (its cookies,
its websocket; Chromium's local-network checks block a loopback websocket from a page it
cannot place) without the product shipping a test page. ``window.pp`` holds what tests read.

``voice.js`` asks the platform service for the call (description, Twilio token, ICE servers)
and the pair server for the signaling, both on the page's origin, as behind the Hub's proxy:
:class:`VoiceStack` runs the service's voice API (``tests/integration/voice/voicekit.py``)
beside the pair server, with JupyterHub's proxy in front of both.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "voice"))

from voicekit import PREFIX, FakeTwilio, SameOrigin, VoiceService  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    "--no-sandbox",
]
PAGE_PATH = "/static/voice-test.html"

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>voice test</title></head>
<body>
<audio id="remote" autoplay></audio>
<script type="module">
const pp = window.pp = {states: [], errors: [], partnerMute: [], presence: [], log: []};

pp.load = async () => (pp.voice = await import('/peerplatform/static/voice.js'));

pp.join = async (extra = {}) => {
  await pp.load();
  try {
    pp.call = await pp.voice.connect({
      baseUrl: '/',
      audioElement: document.getElementById('remote'),
      onState: (s) => pp.states.push(s),
      onError: (e) => pp.errors.push(e.message),
      onPartnerMute: (m) => pp.partnerMute.push(m),
      onPartnerPresent: (p) => pp.presence.push(p),
      ...extra,
    });
    return 'ok';
  } catch (e) {
    return 'rejected: ' + e.message;
  }
};

// inbound audio as seen by RTCPeerConnection stats
pp.inbound = async () => {
  const pc = pp.call.peerConnection;
  if (!pc) return null;
  for (const s of (await pc.getStats()).values()) {
    if (s.type === 'inbound-rtp' && s.kind === 'audio') {
      return {packets: s.packetsReceived || 0, bytes: s.bytesReceived || 0,
              energy: s.totalAudioEnergy || 0};
    }
  }
  return null;
};

// WebAudio: mean square and peak of what arrives from the partner over `ms`
pp.listen = async (ms) => {
  if (!pp.ctx) {
    pp.ctx = new AudioContext();
    await pp.ctx.resume();
    pp.analyser = pp.ctx.createAnalyser();
    pp.analyser.fftSize = 2048;
    pp.ctx.createMediaStreamSource(pp.call.remoteStream).connect(pp.analyser);
  }
  const buf = new Float32Array(pp.analyser.fftSize);
  let sum = 0, n = 0, peak = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    pp.analyser.getFloatTimeDomainData(buf);
    for (const v of buf) { sum += v * v; peak = Math.max(peak, Math.abs(v)); }
    n += buf.length;
    await new Promise((r) => setTimeout(r, 40));
  }
  return {energy: sum / Math.max(n, 1), peak};
};

// a raw signaling socket, e.g. to show a non-member is refused
pp.rawSignal = () => new Promise((resolve) => {
  const url = location.origin.replace('http', 'ws') + '/peerplatform/api/voice/signal';
  const ws = new WebSocket(url);
  ws.onopen = () => { resolve('open'); ws.close(); };
  ws.onclose = (e) => resolve('closed ' + e.code);
});
window.ppReady = true;
</script>
</body></html>
"""


def page_config(folder) -> str:
    """Write the page into ``folder``; the pair server config line that serves it."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "voice-test.html").write_text(PAGE)
    return f"c.ServerApp.extra_static_paths = [{str(folder)!r}]\n"


async def open_page(browser, base: str, token: str, service_cookie: tuple | None = None):
    """The test page at ``base`` (the pair server, or the proxy in front of it), logged in as
    the user holding ``token``, and into the service with ``service_cookie`` (name, value)."""
    context = await browser.new_context()
    cookies = [{"name": "pp-test-token", "value": token, "url": base}]
    if service_cookie:
        host = base.split("://", 1)[1].split("/", 1)[0].split(":")[0]
        cookies.append({"name": service_cookie[0], "value": service_cookie[1], "domain": host,
                        "path": PREFIX, "httpOnly": True})
    await context.add_cookies(cookies)
    page = await context.new_page()
    await page.goto(base + PAGE_PATH)
    await page.wait_for_function("window.ppReady === true")
    return page


class VoiceStack:
    """The service's voice API (in this event loop, on ``store``) and JupyterHub's proxy in
    front of it and of the pair server at ``pair_base``: the page is at :attr:`base`.

    ``settings`` are the service's ``VoiceSettings``; Twilio's REST API is a
    :class:`~voicekit.FakeTwilio` (:attr:`twilio`)."""

    def __init__(self, store, settings, pair_base: str, *, log_path: Path | None = None):
        self.twilio = FakeTwilio()
        self.service = VoiceService(store, settings, http_client=self.twilio)
        self.proxy = SameOrigin(pair_base, self.service.base, log_path=log_path)

    @property
    def base(self) -> str:
        return self.proxy.base

    def start(self) -> VoiceStack:
        self.service.start()
        try:
            self.proxy.start()
        except Exception:
            self.service.stop()
            raise
        return self

    def stop(self) -> None:
        self.proxy.stop()
        self.service.stop()

    async def open_page(self, browser, user: str, pair_token: str):
        return await open_page(browser, self.base, pair_token,
                               self.service.login_cookie(user))
