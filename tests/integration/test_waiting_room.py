"""The waiting room on a real Redis: presence, atomic pairing, release."""

from __future__ import annotations

import asyncio

import pytest

from peerplatform.matching import AlreadyBusy, MatchRules, WaitingRoom
from peerplatform.matching import keys
from peerplatform.store import new_session_id


@pytest.fixture
def room(redis):
    # auto-accept: these tests are about pairing and presence (the handshake: test_handshake)
    return WaitingRoom(redis, presence_ttl=2, rules=MatchRules(auto_accept=True))


async def test_two_present_learners_are_paired_once(room, redis):
    await room.join("alice")
    await room.join("bob")
    match = await room.pick("sessionaaaaa")
    assert match is not None and set(match.members) == {"alice", "bob"}
    assert match.members[0] == "alice"  # the longer-waiting learner comes first
    assert await room.pick("sessionbbbbb") is None
    assert await redis.zcard(keys.WAITING) == 0 and await redis.zcard(keys.RATING) == 0
    assert (await room.state("alice")) ["state"] == "session"


async def test_a_matched_learner_cannot_rejoin_until_released(room):
    await room.join("alice")
    await room.join("bob")
    match = await room.pick("sessionaaaaa")
    with pytest.raises(AlreadyBusy) as busy:
        await room.join("alice")
    assert busy.value.session_id == "sessionaaaaa"
    assert await room.release("sessionaaaaa", match.members) == 2
    await room.join("alice")
    assert (await room.state("alice"))["state"] == "waiting"


async def test_release_of_another_session_frees_nobody(room):
    await room.join("alice")
    await room.join("bob")
    await room.pick("sessionaaaaa")
    assert await room.release("othersession", ["alice", "bob"]) == 0
    assert (await room.state("bob"))["state"] == "session"


async def test_learner_whose_heartbeat_stops_is_not_matched(room, redis):
    await room.join("ghost")
    await room.join("alice")
    # alice keeps her heartbeat; the ghost closed the tab and sends none
    for _ in range(3):
        await asyncio.sleep(0.9)
        assert await room.heartbeat("alice") == "waiting"
    await room.join("bob")
    match = await room.pick("sessionaaaaa")
    assert set(match.members) == {"alice", "bob"}
    assert await redis.zscore(keys.WAITING, "ghost") is None  # cleaned up on the way
    assert await room.state("ghost") == {}


async def test_leave_takes_a_learner_out(room):
    await room.join("alice")
    assert await room.leave("alice") is True
    assert await room.leave("alice") is False
    await room.join("bob")
    assert await room.pick("sessionaaaaa") is None


async def test_heartbeat_of_someone_not_waiting_says_so(room):
    assert await room.heartbeat("nobody") == ""


async def test_fifty_concurrent_joins_give_twenty_five_pairs_nobody_twice(room, redis_url):
    from redis.asyncio import Redis

    users = [f"user{i:02d}" for i in range(50)]
    # separate connections, as separate service replicas would have
    clients = [Redis.from_url(redis_url, decode_responses=True) for _ in range(5)]
    rooms = [WaitingRoom(c, presence_ttl=30, rules=MatchRules(auto_accept=True)) for c in clients]
    try:
        await asyncio.gather(*(rooms[i % 5].join(u) for i, u in enumerate(users)))

        async def matcher(r):
            found = []
            while (m := await r.pick(new_session_id())) is not None:
                found.append(m)
            return found

        results = await asyncio.gather(*(matcher(r) for r in rooms))
    finally:
        for c in clients:
            await c.aclose()
    matches = [m for found in results for m in found]
    matched = [u for m in matches for u in m.members]
    assert len(matches) == 25
    assert sorted(matched) == sorted(users)  # everyone exactly once
    assert len({m.session_id for m in matches}) == 25
