"""The test page that loads the pair server's voice module in Chromium (test only).

The test server serves it as a static file (``c.ServerApp.extra_static_paths``, see
:func:`page_config`), so the page has the pair server's origin and address space (its cookies,
its websocket; Chromium's local-network checks block a loopback websocket from a page it
cannot place) without the product shipping a test page. ``window.pp`` holds what tests read.
"""

from __future__ import annotations

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


async def open_page(browser, base: str, token: str):
    """The test page at the pair server, logged in as the user holding ``token``."""
    context = await browser.new_context()
    await context.add_cookies([{"name": "pp-test-token", "value": token, "url": base}])
    page = await context.new_page()
    await page.goto(base + PAGE_PATH)
    await page.wait_for_function("window.ppReady === true")
    return page
