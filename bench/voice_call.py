"""Voice: how long a self-hosted WebRTC call takes to connect, and the signaling relay's latency.

As the product runs it: one pair server (jupyter server + peerplatform_ext, a client of the
service's pair API) for a session in the embedded document store; the service's voice API
(the call's description and ICE servers, WebRTC mode) and JupyterHub's proxy in front of both,
so the page reaches them on one origin (``tests/integration/pair_server/voice_page.py``
``VoiceStack``); two headless Chromiums (Debian's) load the pair server's ``voice.js`` and join
the call: the description from the service, the signaling through the pair server's socket,
fake microphones. Run inside a loopback-only network namespace (the script re-runs itself under
``unshare -n``; root), so nothing leaves the machine.

    python bench/voice_call.py [--calls 5] [--messages 300]

Prints ``voice_connect_ms_p50=<float>`` / ``voice_connect_ms_max=`` (both members click "join"
→ both report ``connected``: the service's description, then the signaling), and
``signal_relay_ms_p50=`` / ``signal_relay_ms_p99=`` (a mute message from one member's websocket
→ the partner's websocket). Not a test: nothing asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration" / "pair_server"))


def in_netns(argv) -> int:
    script = f"ip link set lo up && exec {sys.executable} {Path(__file__).resolve()} " + \
        " ".join(argv)
    env = {**os.environ, "PP_BENCH_NETNS": "1",
           "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.call(["unshare", "-n", "sh", "-c", script], env=env)


async def connect_times(stack, calls: int) -> list[float]:
    from pairkit import DRIVER, OBSERVER, TOKENS
    from playwright.async_api import async_playwright
    from voice_page import CHROMIUM, CHROMIUM_ARGS

    out = []
    async with async_playwright() as pw:
        browsers = [await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
                    for _ in range(2)]
        pages = [await stack.open_page(b, u, TOKENS[u])
                 for b, u in zip(browsers, (DRIVER, OBSERVER))]
        for _ in range(calls):
            t0 = time.perf_counter()
            joined = await asyncio.gather(*(p.evaluate("pp.join()") for p in pages))
            if joined != ["ok", "ok"]:
                raise RuntimeError(f"join: {joined}")
            for p in pages:
                await p.wait_for_function("pp.call && pp.call.state === 'connected'",
                                          timeout=30_000)
            out.append((time.perf_counter() - t0) * 1000)
            for p in pages:
                await p.evaluate("pp.call.leave()")
            await asyncio.sleep(0.3)
        for b in browsers:
            await b.close()
    return out


async def relay_times(server, messages: int) -> list[float]:
    import websockets
    from pairkit import DRIVER, OBSERVER

    url = server.ws_url("/peerplatform/api/voice/signal")
    async with websockets.connect(url, additional_headers=server.auth(DRIVER)) as a, \
            websockets.connect(url, additional_headers=server.auth(OBSERVER)) as b:
        async def until(ws, kind):
            while True:
                msg = json.loads(await ws.recv())
                if msg["type"] == kind:
                    return msg
        await until(b, "start")
        out = []
        for i in range(messages):
            t0 = time.perf_counter()
            await a.send(json.dumps({"type": "mute", "muted": bool(i % 2)}))
            await until(b, "partner-mute")
            out.append((time.perf_counter() - t0) * 1000)
        return out


async def run(args) -> None:
    from pairkit import PairServer, seed_session
    from voice_page import VoiceStack, page_config
    from voicekit import webrtc_settings

    from peerplatform.embedded import EmbeddedMongo
    from peerplatform.store import connect, new_session_id

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        mongo = EmbeddedMongo(tmp / "mongo", memory=True)
        mongo.start()
        server = stack = store = None
        try:
            sid = new_session_id()
            await asyncio.to_thread(seed_session, mongo.url, "bench_voice", sid, duration_s=3600)
            (tmp / "pair").mkdir()
            server = PairServer(tmp / "pair", mongodb_uri=mongo.url, database="bench_voice",
                                session_id=sid, extra_config=page_config(tmp / "page"))
            await asyncio.to_thread(server.start)
            store = await connect(mongo.url, "bench_voice")
            stack = VoiceStack(store, webrtc_settings(), server.base).start()
            connects = await connect_times(stack, args.calls)
            relays = sorted(await relay_times(server, args.messages))
        finally:
            if stack is not None:
                stack.stop()
            if store is not None:
                await store.close()
            if server is not None:
                server.stop()
            mongo.stop()
    print(f"voice_connect_ms_p50={statistics.median(connects):.1f}")
    print(f"voice_connect_ms_max={max(connects):.1f}")
    print(f"signal_relay_ms_p50={statistics.median(relays):.2f}")
    print(f"signal_relay_ms_p99={relays[int(len(relays) * 0.99) - 1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=5)
    parser.add_argument("--messages", type=int, default=300)
    args = parser.parse_args()
    if os.environ.get("PP_BENCH_NETNS") != "1":
        sys.exit(in_netns(sys.argv[1:]))
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
