"""The voice module in headless Chromium (Debian's, through Playwright), with the pair server
(signaling) and the platform service's voice API (the call, tokens, ICE) on one origin behind
JupyterHub's proxy, as in production (``voice_page.VoiceStack``).

* Real audio: two Chromium processes join one session's call through our signaling and talk
  (fake microphones playing tones), inside a loopback-only network namespace.
* The Twilio path with a fake ``Device`` (Twilio's SDK cannot reach its cloud here): token
  refresh on ``tokenWillExpire`` from the service, mute (the partner is told through the pair
  server, the conference participant through the service), disconnect when the session ends,
  and a timeout with a clear message when ``connect()`` never completes.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import websockets
from pairkit import DRIVER, OBSERVER, TOKENS, eventually, platform_store
from voice_page import CHROMIUM, CHROMIUM_ARGS, VoiceStack, page_config
from voicekit import KEY_SECRET, SECRET, twilio_settings

from peerplatform_contracts.voice_identity import caller_identity, conference_name

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]
HERE = Path(__file__).resolve().parent


# -- real audio ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def audio(tmp_path_factory):
    """Run voice_audio_run.py in its own network namespace; its measurements."""
    if not shutil.which("unshare"):
        pytest.fail("util-linux unshare is needed to isolate the real-audio test")
    tmp = tmp_path_factory.mktemp("voice-audio")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(HERE.parents[2]), os.environ.get("PYTHONPATH", "")])}
    script = f"ip link set lo up && exec {sys.executable} {HERE / 'voice_audio_run.py'} {tmp}"
    proc = subprocess.run(["unshare", "-n", "sh", "-c", script], env=env, capture_output=True,
                          text=True, timeout=240)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    assert proc.returncode == 0 and lines, (
        f"the audio run failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return json.loads(lines[-1][len("RESULT "):])


def test_the_call_connects_through_our_signaling_with_one_offerer(audio):
    assert audio["alice_join"] == "ok" and audio["bob_join"] == "ok"
    assert audio["connected"], audio
    assert audio["states"] == {"alice": ["connecting", "connected"],
                               "bob": ["connecting", "connected"]}
    assert audio["offerer"] == {"alice": True, "bob": False}
    assert audio["errors"] == {"alice": [], "bob": []}


def test_audio_flows_both_ways(audio):
    for user in ("alice", "bob"):
        heard = audio["talking"][user]
        assert heard["packets_delta"] > 10, heard  # inbound-rtp packets keep arriving
        assert heard["energy_delta"] > 0, heard  # totalAudioEnergy grows
        assert heard["energy"] > 1e-5 and heard["peak"] > 0.01, heard  # WebAudio hears it


def test_mute_stops_the_audio_and_the_partner_is_told(audio):
    muted = audio["driver_muted"]
    assert muted["bob"]["energy_delta"] < 1e-4 * max(audio["talking"]["bob"]["energy_delta"], 1)
    assert muted["bob"]["peak"] < 0.002 and muted["bob"]["energy"] < 1e-7, muted["bob"]
    assert muted["alice"]["peak"] > 0.01  # bob was not muted: alice still hears him
    assert audio["observer_saw_mute"][-1] is True
    back = audio["unmuted"]["bob"]
    assert back["peak"] > 0.01 and back["energy_delta"] > 0, back
    assert audio["observer_saw_unmute"][-1] is False


def test_leaving_ends_one_side_and_the_other_waits(audio):
    after = audio["after_leave"]
    assert after["bob"]["state"] == "ended"
    assert after["alice"]["state"] == "connecting" and after["alice"]["presence"][-1] is False


def test_the_call_came_from_the_service_without_a_public_server(audio):
    assert audio["modes"] == {"alice": "webrtc", "bob": "webrtc"}
    assert audio["ice_servers"] == {"alice": [], "bob": []}


def test_a_non_member_is_refused(audio):
    assert audio["outsider_join"] == \
        "rejected: voice is unavailable (403): you are not a member of this session"
    assert audio["outsider_signal"] == "closed 1006"  # the upgrade was refused (403)


# -- the Twilio path with a fake Device ------------------------------------------------------

FAKE_DEVICE = """
() => {
  class Emitter {
    constructor() { this.handlers = {}; }
    on(event, fn) { (this.handlers[event] ||= []).push(fn); return this; }
    emit(event, ...args) { for (const fn of this.handlers[event] || []) fn(...args); }
  }
  class FakeCall extends Emitter {
    constructor() { super(); this.log = []; }
    mute(m) { this.log.push(['mute', m]); }
    disconnect() { this.log.push(['disconnect']); this.emit('disconnect'); }
    status() { return 'pending'; }
  }
  window.devices = [];
  window.FakeDevice = class FakeDevice extends Emitter {
    constructor(token, options) {
      super(); this.token = token; this.options = options; this.updates = [];
      this.destroyed = false; window.devices.push(this);
    }
    updateToken(token) { this.updates.push(token); }
    connect(options) {
      this.connectOptions = options;
      if (window.hang) return new Promise(() => {});  // what the real SDK does offline
      this.call = new FakeCall();
      return Promise.resolve(this.call);
    }
    destroy() { this.destroyed = true; }
  };
}
"""


@pytest.fixture(scope="module")
def pair_server(pair_server_factory, tmp_path_factory):
    page = page_config(tmp_path_factory.mktemp("voice-page"))
    return pair_server_factory(duration_s=3600, extra_config=page)


@pytest.fixture
async def twilio_server(pair_server, tmp_path):
    """The pair server, and the service's voice API in Twilio mode, behind one proxy."""
    async with platform_store(pair_server) as store:
        stack = VoiceStack(store, twilio_settings(token_ttl=120), pair_server.base,
                           log_path=tmp_path / "proxy.log").start()
        stack.server = pair_server
        try:
            yield stack
        finally:
            stack.stop()


@pytest.fixture
async def chromium():
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


async def fake_page(browser, stack, user=DRIVER):
    page = await stack.open_page(browser, user, TOKENS[user])
    await page.evaluate(FAKE_DEVICE)
    return page


def claims(token: str) -> dict:
    return jwt.decode(token, KEY_SECRET, algorithms=["HS256"])


async def test_connect_times_out_with_a_clear_message(twilio_server, chromium):
    page = await fake_page(chromium, twilio_server)
    await page.evaluate("window.hang = true")
    assert await page.evaluate("pp.join({Device: FakeDevice, timeoutMs: 1500})") == "ok"
    assert await page.evaluate("pp.call.state") == "connecting"
    await page.wait_for_function("pp.call.state === 'failed'", timeout=10_000)
    errors = await page.evaluate("pp.errors")
    assert errors == ["the call did not connect within 2 s; check your network connection "
                      "and try again"]
    assert await page.evaluate("pp.states") == ["connecting", "failed"]
    assert await page.evaluate("devices[0].destroyed") is True
    assert await page.evaluate("pp.call.connected.then(() => 'ok', (e) => e.message)") == \
        "the call failed"


async def test_the_real_sdk_offline_fails_with_a_clear_message(twilio_server):
    """Twilio's own SDK, served by the platform service, with every hostname but 127.0.0.1
    unresolvable: its connect() never completes, so our timeout must end the attempt."""
    from playwright.async_api import async_playwright

    assert twilio_server.service.calls.sdk_file(), \
        "Twilio's Voice SDK is missing: run `npm install`"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"])
        try:
            page = await twilio_server.open_page(browser, DRIVER, TOKENS[DRIVER])
            assert await page.evaluate("pp.join({timeoutMs: 3000})") == "ok"
            assert await page.evaluate("typeof Twilio.Device") == "function"
            assert await page.evaluate("Twilio.Device.version") == "2.18.5"
            await page.wait_for_function("pp.call.state === 'failed'", timeout=15_000)
            errors = await page.evaluate("pp.errors")
            assert errors[-1] == ("the call did not connect within 3 s; check your network "
                                  "connection and try again"), errors
            assert await page.evaluate("pp.states") == ["connecting", "failed"]
        finally:
            await browser.close()


async def test_twilio_call_token_refresh_mute_and_end(twilio_server, chromium):
    page = await fake_page(chromium, twilio_server)
    server = twilio_server.server
    sid = server.session_id
    # the members are in the pair's conference (what Twilio does after the TwiML webhook)
    me = caller_identity(SECRET, sid, DRIVER)
    conf = twilio_server.twilio.start_conference(
        conference_name(SECRET, sid), [me, caller_identity(SECRET, sid, OBSERVER)])
    async with websockets.connect(server.ws_url("/peerplatform/api/voice/signal"),
                                  additional_headers=server.auth(OBSERVER)) as partner:
        assert json.loads(await partner.recv())["type"] == "welcome"
        assert await page.evaluate("pp.join({Device: FakeDevice})") == "ok"
        first = claims(await page.evaluate("devices[0].token"))
        assert first["grants"]["identity"] == caller_identity(SECRET, sid, DRIVER)
        # nothing from the browser decides the conference
        assert await page.evaluate("devices[0].connectOptions") == {}
        await page.evaluate("devices[0].call.emit('accept')")
        assert await page.evaluate("pp.call.state") == "connected"

        await asyncio.sleep(1.1)  # a token minted in another second differs
        await page.evaluate("devices[0].emit('tokenWillExpire')")
        await page.wait_for_function("devices[0].updates.length === 1")
        fresh = claims(await page.evaluate("devices[0].updates[0]"))
        assert fresh["grants"]["identity"] == first["grants"]["identity"]
        assert fresh["nbf"] > first["nbf"]

        await page.evaluate("pp.call.mute(true)")
        assert await page.evaluate("devices[0].call.log") == [["mute", True]]
        # the conference's own state, through the service (the pair server has no Twilio key)
        assert await eventually(
            lambda: twilio_server.twilio.participant(conf, me)["muted"] is True, 10)
        # the relay does not know the call is Twilio's: it says who would offer, and the
        # browsers of a Twilio call ignore that
        assert [json.loads(await asyncio.wait_for(partner.recv(), 10)) for _ in range(3)] == [
            {"type": "partner-joined", "muted": False}, {"type": "start", "offerer": False},
            {"type": "partner-mute", "muted": True}]
        await partner.send(json.dumps({"type": "mute", "muted": True}))
        await page.wait_for_function("pp.partnerMute.at(-1) === true")

        async with platform_store(server) as store:
            await store.sessions.transition(sid, "ended", reason="time is up")
        await page.wait_for_function("pp.call.state === 'ended'", timeout=15_000)
        assert await page.evaluate("devices[0].call.log") == [["mute", True], ["disconnect"]]
        assert await page.evaluate("devices[0].destroyed") is True
        assert await page.evaluate("pp.states") == ["connecting", "connected", "ended"]
        assert await page.evaluate("pp.errors") == []
    assert await eventually(lambda: server.session()["state"] == "ended", 10)
