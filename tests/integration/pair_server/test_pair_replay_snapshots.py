"""Replay snapshots: while the notebook changes, the pair server stores its cells in MongoDB
at least every 2 s, naming the driver (so the replay can show each participant's edits); one
last snapshot at the end."""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

import pytest
from pairkit import DRIVER, OBSERVER, RtcClient, eventually, platform_store

pytestmark = pytest.mark.timeout(180)

SWAP_AT = 7


@pytest.fixture(scope="module")
def server(pair_server_factory):
    # spawning: the clock starts when the test marks it active, whatever the start-up took
    return pair_server_factory(duration_s=14, state="spawning", swap_schedule_s=[SWAP_AT])


EDITED: list[float] = []  # when each edit was made, in seconds after started_at


async def edit(server, client, text):
    src = client.nb.ycells[1]["source"]
    src.insert(len(src), text)
    started = server.session()["started_at"]
    EDITED.append(
        (datetime.now(timezone.utc) - started.replace(tzinfo=timezone.utc)).total_seconds()
    )
    await asyncio.sleep(1.5)


async def test_edits_are_snapshotted_for_replay_per_participant(server):
    assert await eventually(
        lambda: (
            (server.work / "session.ipynb").exists()
            and len(server.notebook_on_disk()["cells"]) == 2
        ),
        30,
    )
    async with RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob:
        async with platform_store(server) as store:
            await store.sessions.transition(server.session_id, "active")
        assert await eventually(lambda: server.session().get("started_at") is not None, 5)
        await asyncio.sleep(1.5)  # the controller's next tick sees it active
        await edit(server, alice, "\n# step 0")
        await edit(server, alice, "\n# step 1")
        # the scheduled swap: bob drives the second half
        assert await eventually(lambda: server.session()["driver"] == OBSERVER, SWAP_AT + 3)
        await asyncio.sleep(1.0)
        await edit(server, bob, "\n# step 2")
        await edit(server, bob, "\n# step 3")
    assert await eventually(lambda: server.session()["state"] == "ended", 30)
    async with platform_store(server) as store:
        snaps = await store.snapshots.for_session(server.session_id)
    assert snaps, "no snapshots stored"
    assert snaps[-1]["final"] is True
    times = [s["t"] for s in snaps]
    assert times == sorted(times)

    def first_with(step):
        return next(s for s in snaps if f"# step {step}" in s["cells"][1]["source"])

    # every step is seen, in order, each in a snapshot of its own
    firsts = [first_with(i) for i in range(4)]
    assert [s["t"] for s in firsts] == sorted({s["t"] for s in firsts})
    # ... and attributed to whoever drove when it was made
    assert [s["by"] for s in firsts] == [DRIVER, DRIVER, OBSERVER, OBSERVER]
    # each edit is in a snapshot taken at most 2 s after it was made (the replay's granularity)
    lags = [s["t"] - t for s, t in zip(firsts, EDITED, strict=True)]
    assert all(-0.1 <= lag <= 2.0 for lag in lags), lags
