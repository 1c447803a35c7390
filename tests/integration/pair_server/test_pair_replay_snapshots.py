"""Replay snapshots: while the notebook changes, the pair server stores its cells in MongoDB
at least every 2 s, naming the driver; one last snapshot at the end."""

from __future__ import annotations

import asyncio

import pytest
from pairkit import DRIVER, RtcClient, eventually, platform_store

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def server(pair_server_factory):
    # spawning: the clock starts when the test marks it active, whatever the start-up took
    return pair_server_factory(duration_s=14, state="spawning")


async def test_edits_are_snapshotted_for_replay(server):
    assert await eventually(
        lambda: (
            (server.work / "session.ipynb").exists()
            and len(server.notebook_on_disk()["cells"]) == 2
        ),
        30,
    )
    async with RtcClient(server, DRIVER) as alice:
        async with platform_store(server) as store:
            await store.sessions.transition(server.session_id, "active")
        assert await eventually(lambda: server.session().get("started_at") is not None, 5)
        await asyncio.sleep(1.5)  # the controller's next tick sees it active
        for i in range(4):
            src = alice.nb.ycells[1]["source"]
            src.insert(len(src), f"\n# step {i}")
            await asyncio.sleep(1.5)
    assert await eventually(lambda: server.session()["state"] == "ended", 30)
    async with platform_store(server) as store:
        snaps = await store.snapshots.for_session(server.session_id)
    assert snaps, "no snapshots stored"
    assert snaps[-1]["final"] is True
    times = [s["t"] for s in snaps]
    assert times == sorted(times)
    # every step is seen, in order, and each appears within 2 s of the previous snapshot
    seen = []
    for snap in snaps:
        text = snap["cells"][1]["source"]
        steps = [i for i in range(4) if f"# step {i}" in text]
        if steps and (not seen or steps[-1] != seen[-1]):
            seen.append(steps[-1])
    assert seen == [0, 1, 2, 3], [(s["t"], s["cells"][1]["source"][-40:]) for s in snaps]
    changing = [s["t"] for s in snaps if not s["final"]]
    assert all(b - a <= 2.5 for a, b in zip(changing, changing[1:], strict=False))
    assert {s["by"] for s in snaps} <= {server.session()["driver"], server.session()["observer"]}
    assert snaps[0]["by"] == DRIVER
