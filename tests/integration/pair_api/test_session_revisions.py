"""The session store's side of the pair API: every write moves ``rev`` (the long poll's
signal), and the conditional writes happen once."""

from __future__ import annotations

from apikit import DRIVER, OBSERVER, OWNER


async def test_every_write_increments_the_revision(store):
    doc = await store.sessions.create(members=[DRIVER, OBSERVER], driver=DRIVER,
                                      observer=OBSERVER, server_owner=OWNER, duration_s=600)
    sid = doc["_id"]
    revs = [doc["rev"]]

    async def rev():
        revs.append((await store.sessions.revision(sid))[0])
        return revs[-1]

    await store.sessions.transition(sid, "spawning")
    await rev()
    await store.sessions.transition(sid, "active")
    await rev()
    await store.sessions.set_fields(sid, {"timings": {"x": 1}})
    await rev()
    await store.sessions.add_event(sid, {"type": "kernel"})
    await rev()
    await store.sessions.request_swap(sid, OBSERVER)
    await rev()
    await store.sessions.swap_roles(sid, driver=DRIVER, observer=OBSERVER, reason="requested")
    await rev()
    await store.sessions.set_challenge(sid, {"slug": "x"}, previous=None)
    await rev()
    assert revs == sorted(set(revs)) and len(revs) == 8
    # a write whose condition fails changes nothing, rev included
    before = await rev()
    assert await store.sessions.swap_roles(sid, driver=DRIVER, observer=OBSERVER,
                                           reason="stale") is None
    assert await store.sessions.request_swap(sid, "mallory") is None
    assert await rev() == before


async def test_the_swap_answers_the_pending_request_and_the_end_clears_it(store):
    doc = await store.sessions.create(members=[DRIVER, OBSERVER], driver=DRIVER,
                                      observer=OBSERVER, server_owner=OWNER, duration_s=600)
    sid = doc["_id"]
    for step in ("spawning", "active"):
        await store.sessions.transition(sid, step)
    assert (await store.sessions.request_swap(sid, OBSERVER))["swap_request"]["by"] == OBSERVER
    assert await store.sessions.request_swap(sid, DRIVER) is None  # one pending at a time
    swapped = await store.sessions.swap_roles(sid, driver=DRIVER, observer=OBSERVER,
                                              reason="schedule", scheduled=0)
    assert swapped["swap_request"] is None
    assert await store.sessions.swap_roles(sid, driver=OBSERVER, observer=DRIVER,
                                           reason="schedule", scheduled=0) is None
    await store.sessions.request_swap(sid, DRIVER)
    ended = await store.sessions.transition(sid, "ended", reason="time is up")
    assert ended["swap_request"] is None


async def test_one_end_lease_at_a_time(store):
    doc = await store.sessions.create(members=[DRIVER, OBSERVER], driver=DRIVER,
                                      observer=OBSERVER, server_owner=OWNER, duration_s=600)
    sid = doc["_id"]
    for step in ("spawning", "active"):
        await store.sessions.transition(sid, step)
    assert await store.sessions.claim_end(sid, owner="a", lease_s=60)
    assert await store.sessions.claim_end(sid, owner="b", lease_s=60) is None
    assert await store.sessions.claim_end(sid, owner="a", lease_s=60)  # its own, renewed
    await store.sessions.transition(sid, "ended", reason="time is up")
    assert await store.sessions.claim_end(sid, owner="a", lease_s=60) is None
