"""Memory of one pair: its ``jupyter server`` process plus the kernel the driver runs.

For each of ``--pairs`` pairs: a pair server as the product runs it (jupyter-collaboration,
peerplatform_ext, the session's challenge notebook), driver and observer connected over RTC,
the driver's kernel started and one cell executed, then a few seconds to settle. RSS and USS
(memory only this process holds) are read with psutil for the server and its kernel.

    python bench/pair_memory.py [--pairs 3]

Prints ``rss_per_pair_mb=<float>`` (server + kernel, mean over the pairs) and the split.
Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
from pathlib import Path

import psutil
import websockets

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "tests" / "integration" / "pair_server"))

from pairkit import DRIVER, OBSERVER, PairServer, RtcClient, seed_session  # noqa: E402

from _stores import mongodb_uri  # noqa: E402
from peerplatform.store import new_session_id  # noqa: E402

MB = 1024 * 1024


async def run_cell(server: PairServer, kernel_id: str, session: str) -> None:
    """Execute one cell on the kernel, as the driver's JupyterLab does."""
    async with websockets.connect(
            server.ws_url(f"/api/kernels/{kernel_id}/channels?session_id={session}"),
            additional_headers=server.auth(DRIVER)) as ws:
        msg = {"header": {"msg_id": "bench-1", "username": DRIVER, "session": session,
                          "msg_type": "execute_request", "version": "5.3"},
               "parent_header": {}, "metadata": {}, "channel": "shell",
               "content": {"code": "xs = list(range(1000)); sum(xs)", "silent": False,
                           "store_history": True, "user_expressions": {},
                           "allow_stdin": False, "stop_on_error": True}}
        await ws.send(json.dumps(msg))
        while True:
            reply = json.loads(await asyncio.wait_for(ws.recv(), 60))
            if reply.get("msg_type") == "execute_reply":
                return


async def load_pair(server: PairServer, settle: float) -> dict:
    async with RtcClient(server, DRIVER), RtcClient(server, OBSERVER):
        sess = (await server.request(DRIVER, "POST", "/api/sessions", {
            "path": "session.ipynb", "type": "notebook", "name": "session.ipynb",
            "kernel": {"name": "python3"}})).json()
        await run_cell(server, sess["kernel"]["id"], sess["id"])
        await asyncio.sleep(settle)
        proc = psutil.Process(server.proc.pid)
        kernels = proc.children(recursive=True)
        out = {"server_rss": proc.memory_full_info().rss, "server_uss": proc.memory_full_info().uss,
               "kernel_rss": sum(k.memory_full_info().rss for k in kernels),
               "kernel_uss": sum(k.memory_full_info().uss for k in kernels),
               "kernels": len(kernels)}
        return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--settle", type=float, default=3.0)
    args = parser.parse_args()
    rows = []
    with mongodb_uri() as uri, tempfile.TemporaryDirectory() as folder:
        for i in range(args.pairs):
            sid = new_session_id()
            seed_session(uri, "pp_bench_memory", sid, duration_s=3600)
            path = Path(folder) / f"pair-{i}"
            path.mkdir()
            server = PairServer(path, mongodb_uri=uri, database="pp_bench_memory",
                                session_id=sid).start()
            try:
                rows.append(asyncio.run(load_pair(server, args.settle)))
            finally:
                server.stop()

    def mean(key):
        return statistics.mean(r[key] for r in rows) / MB

    print(f"pairs={args.pairs} server_rss_mb={mean('server_rss'):.1f} "
          f"kernel_rss_mb={mean('kernel_rss'):.1f} server_uss_mb={mean('server_uss'):.1f} "
          f"kernel_uss_mb={mean('kernel_uss'):.1f}")
    print(f"rss_per_pair_mb={mean('server_rss') + mean('kernel_rss'):.1f} "
          f"uss_per_pair_mb={mean('server_uss') + mean('kernel_uss'):.1f}")


if __name__ == "__main__":
    main()
