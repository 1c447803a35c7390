"""Match -> both lobbies told "ready", on the real platform (Hub + proxy + service + stores).

Starts the embedded Redis and document server and the Hub with ``jupyterhub_config.py`` on free
ports, signs up 2*N learners, then for each of N pairs: both open their lobby's event stream,
both join, and we time from the "matched" event to the later of the two "ready" events. The
session's own step timings split that into the Hub's spawn and the platform's work.

    python bench/spawn.py [--pairs 5]

Prints ``match_to_ready_s_median=<float>`` and the split. Not a test: nothing is asserted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from hubproc import HubProcess  # noqa: E402
from hubuser import EventListener, HubUser  # noqa: E402

from peerplatform.embedded import EmbeddedMongo, EmbeddedRedis  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="pp-bench-") as tmp:
        tmp = Path(tmp)
        redis, mongo = EmbeddedRedis(tmp / "redis"), EmbeddedMongo(tmp / "mongo", memory=True)
        redis.start()
        mongo.start()
        hub = HubProcess(tmp / "hub", redis_url=redis.url, mongodb_uri=mongo.url,
                         mongodb_database="pp_bench",
                         env={"PEERPLATFORM_AUTO_ACCEPT": "1"})  # spawn time, not the handshake
        try:
            t = time.monotonic()
            hub.start()
            print(f"hub_start_s={time.monotonic() - t:.2f}", flush=True)
            results = [run_pair(hub, i) for i in range(args.pairs)]
        finally:
            hub.stop()
            mongo.stop()
            redis.stop()

    totals = [r["match_to_ready_s"] for r in results]
    hub_part = [r["hub_spawn_s"] for r in results]
    own = [r["platform_s"] for r in results]
    print(f"pairs={len(results)}")
    print("match_to_ready_s=" + ",".join(f"{x:.2f}" for x in totals))
    print(f"match_to_ready_s_median={statistics.median(totals):.2f}")
    print(f"hub_spawn_s_median={statistics.median(hub_part):.2f}")
    print(f"platform_work_s_median={statistics.median(own):.3f}")


def run_pair(hub: HubProcess, i: int) -> dict:
    a, b = HubUser(hub.url, f"bench-a{i}"), HubUser(hub.url, f"bench-b{i}")
    for u in (a, b):
        u.signup()
        u.login()
        u.open_lobby()
    lobbies = [EventListener(u) for u in (a, b)]
    for lobby in lobbies:
        lobby.wait_for("hello", timeout=10)
    a.api("POST", "waiting-room", {})
    b.api("POST", "waiting-room", {})
    ready = [lobby.wait_for("ready", timeout=180) for lobby in lobbies]
    matched = [lobby.wait_for("matched", timeout=1) for lobby in lobbies]
    total = max(r["_received"] for r in ready) - min(m["_received"] for m in matched)
    session = a.api("GET", "me").json()["session"]
    # The session's step timings (seconds since the match, measured by the service).
    doc = hub_session_timings(hub, session["id"])
    hub_spawn = doc["hub_ready"] - doc["spawn_accepted"]
    a.api("POST", f"sessions/{session['id']}/end", {"reason": "benchmark"})
    for lobby in lobbies:
        lobby.close()
    result = {"match_to_ready_s": total, "hub_spawn_s": hub_spawn,
              "platform_s": total - hub_spawn, "timings": doc}
    print(f"pair {i}: match_to_ready_s={total:.2f} hub_spawn_s={hub_spawn:.2f} "
          f"steps={ {k: round(v, 3) for k, v in doc.items()} }", flush=True)
    return result


def hub_session_timings(hub: HubProcess, session_id: str) -> dict:
    from pymongo import MongoClient

    client = MongoClient(hub.mongodb_uri)
    try:
        return client[hub.mongodb_database].sessions.find_one({"_id": session_id})["timings"]
    finally:
        client.close()


if __name__ == "__main__":
    main()
