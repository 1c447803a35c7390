"""Session documents on the embedded MongoDB-compatible server: the state machine holds."""

from __future__ import annotations

import asyncio

import pytest

from peerplatform.store.sessions import InvalidTransition, new_session_id


async def make(store, **kw):
    args = dict(members=["alice", "bob"], driver="alice", observer="bob",
                server_owner="pp-pairs", duration_s=600)
    args.update(kw)
    return await store.sessions.create(**args)


def test_session_ids_are_valid_server_names():
    from peerplatform.settings import SERVER_NAME_RE

    ids = {new_session_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(SERVER_NAME_RE.match(f"s-{i}") for i in ids)


async def test_lifecycle_records_history(store):
    doc = await make(store)
    assert doc["state"] == "pending" and doc["server"]["name"] == f"s-{doc['_id']}"
    await store.sessions.transition(doc["_id"], "spawning")
    active = await store.sessions.transition(doc["_id"], "active", **{"server.url": "/user/x/"})
    assert active["server"]["url"] == "/user/x/" and active["started_at"]
    ended = await store.sessions.transition(doc["_id"], "ended", reason="time is up")
    assert [h["state"] for h in ended["history"]] == ["pending", "spawning", "active", "ended"]
    assert ended["history"][-1]["reason"] == "time is up" and ended["ended_at"]


@pytest.mark.parametrize("path", [["active"], ["ended", "active"], ["failed", "ended"],
                                  ["spawning", "pending"]])
async def test_invalid_transitions_change_nothing(store, path):
    doc = await make(store)
    for state in path[:-1]:
        await store.sessions.transition(doc["_id"], state)
    before = await store.sessions.get(doc["_id"])
    with pytest.raises(InvalidTransition):
        await store.sessions.transition(doc["_id"], path[-1])
    assert await store.sessions.get(doc["_id"]) == before


async def test_concurrent_enders_only_one_wins(store):
    doc = await make(store)
    await store.sessions.transition(doc["_id"], "spawning")
    await store.sessions.transition(doc["_id"], "active")
    results = await asyncio.gather(
        *(store.sessions.transition(doc["_id"], "ended", reason=f"r{i}") for i in range(6)),
        return_exceptions=True,
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert all(isinstance(r, InvalidTransition) for r in results if isinstance(r, Exception))


@pytest.mark.parametrize("members, driver, observer", [
    (["alice", "alice"], "alice", "alice"), (["alice", "bob"], "alice", "carol"),
    (["alice", "bob", "carol"], "alice", "bob"),
])
async def test_a_session_has_two_distinct_members(store, members, driver, observer):
    with pytest.raises(ValueError):
        await make(store, members=members, driver=driver, observer=observer)


async def test_lookups(store):
    old = await make(store)
    await store.sessions.transition(old["_id"], "failed", reason="x")
    new = await make(store)
    assert (await store.sessions.open_for_user("bob"))["_id"] == new["_id"]
    assert (await store.sessions.latest_for_user("alice"))["_id"] == new["_id"]
    assert await store.sessions.open_for_user("carol") is None
    found = await store.sessions.for_server("pp-pairs", f"s-{old['_id']}")
    assert found["_id"] == old["_id"]
    assert await store.sessions.for_server("someone", f"s-{old['_id']}") is None
