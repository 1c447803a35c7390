"""Grading overhead, and the driver's "Run tests" round trip, through the platform service.

Grades a correct solution of a 5-test challenge RUNS times (one at a time) three ways and prints:

* ``grade_direct_overhead_ms=`` - the grader alone, in this process (``grade_sync``): median of
  ``duration_ms - tests_ms`` (sandbox start-up, isolation, job transfer, result parsing);
* ``grade_overhead_ms=`` - through the service, as a pair server calls it: median wall time of
  the service's ``POST api/pair/<session>/tests`` (with the pair server's token) minus the
  tests' own ``tests_ms``; what the service adds: HTTP, the credential and session checks, the
  per-session run mark, the grading slot, the sandbox, the result, recording the run. Goal:
  at most 300 ms;
* ``run_tests_roundtrip_ms_p50=`` / ``_p99=`` - the driver clicks "Run tests"
  (``POST /peerplatform/api/tests`` on the pair server, which sends the notebook's cells to the
  service) until BOTH learners have the result: the driver's answer (or its own ``tests``
  event, whichever comes first) and the observer's ``tests`` event on the pair server's
  ``/api/events/subscribe`` websocket, which the JupyterLab panel listens to
  (``labextension/src/model.ts``).

The service and the pair server are the tests' real ones (``tests/integration/pair_server/
pairkit.py``: a ``jupyter server`` pair server, the service's pair API as its own process);
the clients run in this process (one clock).

    .venv/bin/python bench/grade.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration" / "pair_server"))

import httpx  # noqa: E402
from pairkit import (  # noqa: E402
    DRIVER, OBSERVER, EventStream, PairServer, RtcClient, seed_session)

from _stores import mongodb_uri  # noqa: E402
from peerplatform.store import new_session_id  # noqa: E402
from peerplatform_grader import grade_sync  # noqa: E402

TESTS = {"cases": [{"name": f"t{i}", "code": f"assert add({i}, {i}) == {2 * i}"}
                   for i in range(5)]}
CHALLENGE = {"slug": "bench-add", "time_limit_s": 10, "tests": TESTS}
CODE = "def add(a, b):\n    return a + b\n"
#: The same challenge as the service stores it (what the session picks).
STORED = {
    **CHALLENGE,
    "title": "Add (bench)",
    "statement": "Write `add(a, b)`.",
    "difficulty": "easy",
    "tags": ["bench"],
    "track": "python",
    "starter_code": "def add(a, b):\n    pass\n",
    "examples": [{"input": "add(1, 2)", "output": "3"}],
    "solution": CODE,
}
#: Longest a run may take before the benchmark gives up (s).
RUN_TIMEOUT = 30.0


def percentile(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def direct(runs: int) -> dict:
    """The grader alone, in this process."""
    grade_sync(CHALLENGE, CODE)  # warm-up: isolation probe, page cache
    overheads, totals = [], []
    result = {}
    for _ in range(runs):
        result = grade_sync(CHALLENGE, CODE)
        assert result["status"] == "passed", result
        overheads.append(result["duration_ms"] - result["tests_ms"])
        totals.append(result["duration_ms"])
    return {"isolation": result["isolation"], "totals": totals, "overheads": overheads}


async def through_the_service(server: PairServer, runs: int) -> dict:
    sid = server.session_id
    async with RtcClient(server, DRIVER) as alice, \
            EventStream(server, DRIVER) as driver_events, \
            EventStream(server, OBSERVER) as observer_events, \
            httpx.AsyncClient(timeout=RUN_TIMEOUT, headers=server.auth(DRIVER)) as lab, \
            httpx.AsyncClient(timeout=RUN_TIMEOUT,
                              headers={"Authorization": f"token {server.token}"}) as pair:
        # the driver writes the solution in the starter cell
        src = alice.nb.ycells[1]["source"]
        del src[0:len(src)]
        src.insert(0, CODE)
        await asyncio.sleep(0.5)
        cells = [{"cell_type": c["cell_type"], "source": c["source"],
                  "metadata": c.get("metadata") or {}} for c in alice.cells()]
        tests_url = server.url("/peerplatform/api/tests")
        for _ in range(2):  # warm-up: both paths, the connections
            r = await lab.post(tests_url, content="{}")
            assert r.status_code == 200 and r.json()["result"]["status"] == "passed", r.text

        # -- the service's POST tests, as the pair server calls it ----------------------------
        service_url = f"{server.service.api_url}{sid}/tests"
        walls, overheads = [], []
        for _ in range(runs):
            t0 = time.perf_counter()
            r = await pair.post(service_url, json={"by": DRIVER, "cells": cells})
            wall = (time.perf_counter() - t0) * 1000
            assert r.status_code == 200, r.text
            result = r.json()["result"]
            assert result["status"] == "passed", result
            walls.append(wall)
            overheads.append(wall - result["tests_ms"])
            await asyncio.sleep(0.05)

        # -- the driver clicks "Run tests": until both learners have the result ---------------
        roundtrips = []
        for _ in range(runs):
            seen_driver = len(driver_events.of("tests"))
            seen_observer = len(observer_events.of("tests"))
            t0 = time.perf_counter()
            post = asyncio.create_task(lab.post(tests_url, content="{}"))
            t_driver = t_observer = None
            while t_driver is None or t_observer is None:
                now = time.perf_counter()
                if t_driver is None and (post.done()
                                         or len(driver_events.of("tests")) > seen_driver):
                    t_driver = now
                if t_observer is None and len(observer_events.of("tests")) > seen_observer:
                    t_observer = now
                if now - t0 > RUN_TIMEOUT:
                    raise RuntimeError("a test run did not reach both learners in "
                                       f"{RUN_TIMEOUT:.0f} s")
                await asyncio.sleep(0.0005)
            r = await post
            assert r.status_code == 200 and r.json()["result"]["status"] == "passed", r.text
            roundtrips.append((max(t_driver, t_observer) - t0) * 1000)
            await asyncio.sleep(0.1)
    return {"walls": walls, "overheads": overheads, "roundtrips": roundtrips}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="?", type=int, default=40,
                        help="gradings per figure (default 40)")
    parser.add_argument("--runs", dest="runs_opt", type=int, help="same as RUNS")
    args = parser.parse_args()
    runs = args.runs_opt or args.runs

    alone = direct(runs)
    database = "pp_bench_grade_" + secrets.token_hex(3)
    with mongodb_uri() as uri, tempfile.TemporaryDirectory() as folder:
        sid = new_session_id()
        # no scheduled swap: the driver stays the driver for the whole run
        seed_session(uri, database, sid, duration_s=24 * 3600, swap_schedule_s=[],
                     challenges=[STORED])
        server = PairServer(Path(folder), mongodb_uri=uri, database=database, session_id=sid)
        try:
            server.start(180)
            served = asyncio.run(through_the_service(server, runs))
        finally:
            server.stop()
            shutil.rmtree(server.session_dir, ignore_errors=True)

    direct_overheads = alone["overheads"]
    print(f"runs={runs} isolation={','.join(alone['isolation'])}")
    print(f"grade_total_ms_median={statistics.median(alone['totals']):.1f}")
    print(f"grade_direct_overhead_ms_p90={percentile(direct_overheads, 90):.1f}")
    print(f"grade_direct_overhead_ms={statistics.median(direct_overheads):.1f}")
    print(f"grade_service_wall_ms_median={statistics.median(served['walls']):.1f}")
    print(f"grade_overhead_ms_p90={percentile(served['overheads'], 90):.1f}")
    print(f"grade_overhead_ms={statistics.median(served['overheads']):.1f}")
    print(f"run_tests_roundtrip_ms_p50={percentile(served['roundtrips'], 50):.1f}")
    print(f"run_tests_roundtrip_ms_p99={percentile(served['roundtrips'], 99):.1f}")


if __name__ == "__main__":
    main()
