"""Driver edit -> observer sees it, with N pairs running at once, each on its own pair server.

As the product runs them: one ``jupyter server`` process per pair (jupyter-collaboration and
peerplatform_ext loaded, with the read-only filter on every frame), each a client of the
platform service's pair API (one service process for all pairs, on the embedded document
store, as a replica serves many sessions; the pair servers get no store address), a driver
and an observer connected as Python RTC clients (pycrdt Provider + jupyter_ydoc YNotebook
over websockets). Every pair's driver types into the starter cell every ``--interval``
seconds; we time each keystroke until the observer's document has it. All clients run in
this one process (one clock, no skew); the servers share the machine.

    python bench/edit_latency.py --pairs 1
    python bench/edit_latency.py --pairs 25

Prints ``edit_to_observer_ms_p50=<float> p99=<float>``. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration" / "pair_server"))

from pairkit import DRIVER, OBSERVER, PairServer, RtcClient, seed_session  # noqa: E402
from serviceproc import ServiceProcess  # noqa: E402  (tests/integration/pair_api, via pairkit)

from _stores import mongodb_uri  # noqa: E402
from peerplatform.store import new_session_id  # noqa: E402

DATABASE = "pp_bench_latency"


def start_pairs(n: int, uri: str, root: Path) -> tuple[ServiceProcess, list[PairServer]]:
    # one service for every pair (each pair server's token maps to its own session)
    service = ServiceProcess(uri, DATABASE, settings=PairServer.SERVICE_SETTINGS, log_dir=root)
    service.start()
    servers = []
    for i in range(n):
        sid = new_session_id()
        # no scheduled swap: the driver stays the driver for the whole run
        seed_session(uri, DATABASE, sid, duration_s=3600, swap_schedule_s=[])
        folder = root / f"pair-{i}"
        folder.mkdir()
        server = PairServer(folder, mongodb_uri=uri, database=DATABASE, session_id=sid,
                            extra_config="c.YDocExtension.document_save_delay = 1\n")
        service.add_token(server.token, sid)
        server.service = service
        server.env["PEERPLATFORM_API_URL"] = service.api_url
        servers.append(server)
    # start them two at a time: the machine's cores, not the benchmark, limit start-up
    try:
        with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
            list(pool.map(lambda s: s.start(180), servers))
    except BaseException:
        for s in servers:
            s.stop(service=False)
        service.stop()
        raise
    return service, servers


async def run_pair(server: PairServer, edits: int, interval: float, out: list[float]) -> None:
    async with RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob:
        seen: dict[str, float] = {}
        text = bob.nb.ycells[1]["source"]

        def on_change(event):
            seen["len"] = time.perf_counter()

        sub = text.observe(on_change)  # keep the Text and the subscription (rtc.md §10.7)
        src = alice.nb.ycells[1]["source"]
        await asyncio.sleep(0.5)
        for i in range(edits):
            seen.clear()
            t0 = time.perf_counter()
            src.insert(len(src), f"#{i}")
            while "len" not in seen:
                if time.perf_counter() - t0 > 10:
                    raise RuntimeError("an edit did not reach the observer within 10 s")
                await asyncio.sleep(0.0005)
            out.append((seen["len"] - t0) * 1000)
            await asyncio.sleep(interval)
        text.unobserve(sub)


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=1)
    parser.add_argument("--edits", type=int, default=100, help="keystrokes per driver")
    parser.add_argument("--interval", type=float, default=0.2, help="s between keystrokes")
    args = parser.parse_args()
    with mongodb_uri() as uri, tempfile.TemporaryDirectory() as folder:
        t0 = time.monotonic()
        service, servers = start_pairs(args.pairs, uri, Path(folder))
        started = time.monotonic() - t0
        try:
            latencies: list[float] = []

            async def all_pairs():
                await asyncio.gather(*(run_pair(s, args.edits, args.interval, latencies)
                                       for s in servers))

            asyncio.run(all_pairs())
        finally:
            for s in servers:
                s.stop(service=False)
            service.stop()
    print(f"pairs={args.pairs} edits={len(latencies)} interval_s={args.interval} "
          f"servers_started_in_s={started:.1f}")
    print(f"edit_to_observer_ms_p50={statistics.median(latencies):.2f} "
          f"p99={percentile(latencies, 99):.2f} max={max(latencies):.2f}")


if __name__ == "__main__":
    main()
