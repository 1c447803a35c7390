"""The session-store writes the pair server relies on: conditional, atomic, recorded."""

from __future__ import annotations

import pytest

from peerplatform.store.sessions import InvalidTransition


async def _active(store, **kw):
    doc = await store.sessions.create(
        members=["alice", "bob"], driver="alice", observer="bob", server_owner="pp-pairs",
        duration_s=600, **kw,
    )
    await store.sessions.transition(doc["_id"], "spawning")
    return await store.sessions.transition(doc["_id"], "active")


async def test_swap_roles_swaps_once_and_records_an_event(store):
    doc = await _active(store)
    after = await store.sessions.swap_roles(doc["_id"], driver="alice", observer="bob",
                                            reason="requested", by="bob")
    assert (after["driver"], after["observer"]) == ("bob", "alice")
    assert after["events"][-1]["type"] == "swap"
    assert after["events"][-1]["driver"] == "bob" and after["events"][-1]["at"]
    # the same request again is stale: alice no longer drives, nothing changes
    assert await store.sessions.swap_roles(doc["_id"], driver="alice", observer="bob",
                                           reason="requested") is None
    again = await store.sessions.get(doc["_id"])
    assert again["driver"] == "bob" and len(again["events"]) == 1


async def test_a_scheduled_swap_is_applied_at_most_once(store):
    doc = await _active(store)
    first = await store.sessions.swap_roles(doc["_id"], driver="alice", observer="bob",
                                            reason="schedule", scheduled=0)
    assert first["scheduled_swaps_done"] == [0]
    # a restarted server that still believes alice drives must not repeat swap 0
    back = await store.sessions.swap_roles(doc["_id"], driver="bob", observer="alice",
                                           reason="schedule", scheduled=0)
    assert back is None
    assert (await store.sessions.get(doc["_id"]))["driver"] == "bob"


async def test_no_swap_once_the_session_is_over(store):
    doc = await _active(store)
    await store.sessions.transition(doc["_id"], "ended", reason="time is up")
    assert await store.sessions.swap_roles(doc["_id"], driver="alice", observer="bob",
                                           reason="requested") is None


async def test_set_challenge_only_from_the_expected_previous(store):
    doc = await _active(store)
    first = await store.sessions.set_challenge(doc["_id"], {"slug": "two-sum"}, previous=None)
    assert first["challenge"]["slug"] == "two-sum"
    assert await store.sessions.set_challenge(doc["_id"], {"slug": "x"}, previous=None) is None
    second = await store.sessions.set_challenge(doc["_id"], {"slug": "fizz"},
                                                previous="two-sum", by="alice")
    assert second["challenge"]["slug"] == "fizz"
    assert [e["slug"] for e in second["events"] if e["type"] == "challenge"] == ["two-sum", "fizz"]


async def test_record_outcome_keeps_the_first(store):
    doc = await _active(store)
    ended = await store.sessions.transition(doc["_id"], "ended", reason="time is up",
                                            outcome={"by": "pair-server"})
    assert ended["outcome"] == {"by": "pair-server"}
    assert await store.sessions.record_outcome(doc["_id"], {"by": "late"}) is False
    other = await _active(store)
    assert await store.sessions.record_outcome(other["_id"], {"by": "late"}) is True
    assert (await store.sessions.get(other["_id"]))["outcome"] == {"by": "late"}
    with pytest.raises(InvalidTransition):
        await store.sessions.transition(doc["_id"], "ended")


async def test_a_swap_schedule_is_stored_sorted(store):
    doc = await _active(store, swap_schedule_s=[400, 200])
    assert (await store.sessions.get(doc["_id"]))["swap_schedule_s"] == [200, 400]
    plain = await _active(store)
    assert "swap_schedule_s" not in plain                    # the pair server's default


@pytest.mark.parametrize("schedule", [[0], [600], [700], [-5], [1.5], ["60"], [True]])
async def test_a_bad_swap_schedule_creates_nothing(store, schedule):
    with pytest.raises(ValueError, match="swap_schedule_s"):
        await store.sessions.create(
            members=["alice", "bob"], driver="alice", observer="bob", server_owner="pp-pairs",
            duration_s=600, swap_schedule_s=schedule)
    assert await store.sessions.collection.count_documents({}) == 0
