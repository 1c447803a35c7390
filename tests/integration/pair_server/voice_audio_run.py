"""Real audio between two headless Chromiums through the pair server's signaling.

Run by ``test_pair_voice_browser.py`` inside a loopback-only network namespace
(``unshare -n`` + ``ip link set lo up``), so it starts its own document server, pair server,
the service's voice API and JupyterHub's proxy in front of both there (``VoiceStack``);
nothing can leave the machine. Prints one JSON line of measurements for the test to assert
on: ``python voice_audio_run.py <tmpdir>``.
"""

from __future__ import annotations

import asyncio
import json
import math
import struct
import sys
import wave
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parents[1])]

from pairkit import (  # noqa: E402
    DRIVER,
    OBSERVER,
    OUTSIDER,
    TOKENS,
    PairServer,
    eventually,
    seed_session,
)
from playwright.async_api import async_playwright  # noqa: E402
from voice_page import CHROMIUM, CHROMIUM_ARGS, VoiceStack, page_config  # noqa: E402
from voicekit import webrtc_settings  # noqa: E402

from peerplatform.embedded import EmbeddedMongo  # noqa: E402
from peerplatform.store import connect, new_session_id  # noqa: E402


def tone(path: Path, freq: float, seconds: float = 10, rate: int = 48000) -> Path:
    """A continuous tone for the fake microphone (the default fake device only beeps)."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(
            struct.pack("<h", int(12000 * math.sin(2 * math.pi * freq * i / rate)))
            for i in range(int(seconds * rate))))
    return path


async def measure(pages: dict, ms: int = 1500) -> dict:
    out = {}
    for name, page in pages.items():
        before = await page.evaluate("pp.inbound()")
        heard = await page.evaluate(f"pp.listen({ms})")
        after = await page.evaluate("pp.inbound()")
        out[name] = {"inbound": after, "packets_delta": after["packets"] - before["packets"],
                     "energy_delta": after["energy"] - before["energy"], **heard}
    return out


async def run(tmp: Path) -> dict:
    result: dict = {}
    mongo = EmbeddedMongo(tmp / "mongo", memory=True)
    mongo.start()
    server = stack = store = None
    try:
        database, sid = "pp_voice_audio", new_session_id()
        await asyncio.to_thread(seed_session, mongo.url, database, sid, duration_s=3600)
        (tmp / "pair").mkdir()
        server = PairServer(tmp / "pair", mongodb_uri=mongo.url, database=database,
                            session_id=sid, extra_config=page_config(tmp / "page"))
        await asyncio.to_thread(server.start)
        store = await connect(mongo.url, database)
        stack = VoiceStack(store, webrtc_settings(), server.base,
                           log_path=tmp / "proxy.log").start()
        async with async_playwright() as pw:
            browsers = {}
            for user, freq in ((DRIVER, 440), (OBSERVER, 660)):
                browsers[user] = await pw.chromium.launch(
                    executable_path=CHROMIUM, headless=True,
                    args=CHROMIUM_ARGS + [
                        f"--use-file-for-fake-audio-capture={tone(tmp / f'{user}.wav', freq)}"])
            pages = {u: await stack.open_page(b, u, TOKENS[u]) for u, b in browsers.items()}

            outsider = await stack.open_page(browsers[DRIVER], OUTSIDER, TOKENS[OUTSIDER])
            result["outsider_join"] = await outsider.evaluate("pp.join()")
            result["outsider_signal"] = await outsider.evaluate("pp.rawSignal()")

            for user in (DRIVER, OBSERVER):
                result[f"{user}_join"] = await pages[user].evaluate("pp.join()")
            connected = await eventually(lambda: _all_connected(pages), 30, 0.25)
            result["connected"] = connected
            result["states"] = {u: await p.evaluate("pp.states") for u, p in pages.items()}
            result["offerer"] = {u: await p.evaluate("pp.call && pp.call.offerer")
                                 for u, p in pages.items()}
            result["modes"] = {u: await p.evaluate("pp.call && pp.call.info.mode")
                               for u, p in pages.items()}
            result["ice_servers"] = {u: await p.evaluate("pp.call && pp.call.info.ice_servers")
                                     for u, p in pages.items()}
            if connected:
                await asyncio.sleep(1.0)
                result["talking"] = await measure(pages)
                await pages[DRIVER].evaluate("pp.call.mute(true)")
                await asyncio.sleep(0.8)  # what was already in flight drains
                result["driver_muted"] = await measure(pages)
                result["observer_saw_mute"] = await pages[OBSERVER].evaluate("pp.partnerMute")
                await pages[DRIVER].evaluate("pp.call.mute(false)")
                await asyncio.sleep(0.8)
                result["unmuted"] = await measure(pages)
                result["observer_saw_unmute"] = await pages[OBSERVER].evaluate("pp.partnerMute")
                await pages[OBSERVER].evaluate("pp.call.leave()")
                await asyncio.sleep(0.5)
                result["after_leave"] = {u: await p.evaluate(
                    "({state: pp.call.state, presence: pp.presence})") for u, p in pages.items()}
            result["errors"] = {u: await p.evaluate("pp.errors") for u, p in pages.items()}
            for b in browsers.values():
                await b.close()
    finally:
        if stack is not None:
            stack.stop()
        if store is not None:
            await store.close()
        if server is not None:
            server.stop()
            result["server_log_tail"] = server.log()[-1500:]
        mongo.stop()
    return result


async def _all_connected(pages) -> bool:
    for page in pages.values():
        if await page.evaluate("pp.call ? pp.call.state : null") != "connected":
            return False
    return True


if __name__ == "__main__":
    out = asyncio.run(run(Path(sys.argv[1])))
    print("RESULT " + json.dumps(out))
