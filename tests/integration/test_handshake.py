"""The handshake on a real Redis: both accept, one declines, one never answers, one leaves."""

from __future__ import annotations

import pytest

from peerplatform.matching import AlreadyBusy, MatchRules, WaitingRoom, keys
from peerplatform.matching.waiting_room import now_ms


@pytest.fixture
def room(redis):
    return WaitingRoom(redis, presence_ttl=30, rules=MatchRules(handshake_s=20))


async def offered(room, redis):
    await room.join("alice", rating=1500)
    await redis.zadd(keys.WAITING, {"alice": now_ms() - 60_000})  # alice waited longer
    await redis.hset(keys.user_state("alice"), "joined", now_ms() - 60_000)
    await room.join("bob", rating=1510)
    match = await room.pick("m1", at_ms=now_ms() + 5_000)
    assert match.state == "matched" and match.members == ("alice", "bob")
    return match


async def test_both_accept_confirms(room, redis):
    await offered(room, redis)
    assert (await room.state("alice"))["state"] == "matched"
    assert await room.accept("alice", "m1") == ["accepted", "bob"]
    assert await room.accept("alice", "m1") == ["accepted", "bob"]  # idempotent
    assert await room.accept("bob", "m1") == ["confirmed", "alice", "bob"]
    for user in ("alice", "bob"):
        assert (await room.state(user))["state"] == "session"
        assert (await room.state(user))["session"] == "m1"
    assert await room.pending_match("m1") == {}
    assert await redis.zcard(keys.PENDING) == 0
    assert await room.accept("bob", "m1") == ["gone"]


async def test_nobody_else_can_answer_a_match(room, redis):
    await offered(room, redis)
    assert await room.accept("mallory", "m1") == ["gone"]
    assert await room.decline("mallory", "m1") == ["gone"]
    assert await room.accept("alice", "nosuchmatch") == ["gone"]
    assert (await room.state("alice"))["state"] == "matched"


async def test_a_pending_learner_cannot_join_twice(room, redis):
    await offered(room, redis)
    with pytest.raises(AlreadyBusy) as busy:
        await room.join("bob")
    assert busy.value.state == "matched"
    # the heartbeat keeps a pending learner present
    await redis.delete(keys.presence("bob"))
    assert await room.heartbeat("bob") == "matched"
    assert await redis.exists(keys.presence("bob"))


async def test_decline_removes_the_decliner_and_requeues_the_partner_at_the_head(room, redis):
    match = await offered(room, redis)
    alice_joined = int(await redis.hget(keys.user_state("alice"), "joined"))
    await room.join("carol", rating=1500)
    assert await room.accept("alice", match.session_id) == ["accepted", "bob"]
    assert await room.decline("bob", match.session_id) == ["declined", "alice"]
    assert await room.state("bob") == {}
    assert (await room.marks("bob")) == {"declined": 1}
    assert (await room.state("alice"))["state"] == "waiting"
    # back with her original wait time: ahead of carol, who joined after her
    assert await redis.zscore(keys.WAITING, "alice") == alice_joined
    assert await redis.zrange(keys.WAITING, 0, -1) == ["alice", "carol"]
    assert await redis.zscore(keys.RATING, "alice") == 1500
    assert await redis.zcard(keys.PENDING) == 0


async def test_expiry_requeues_who_accepted_and_marks_who_did_not(room, redis):
    match = await offered(room, redis)
    assert await room.accept("bob", match.session_id) == ["accepted", "alice"]
    assert await room.expire(at_ms=now_ms() + 1_000) == []  # not due yet
    resolved = await room.expire(at_ms=now_ms() + 26_000)  # picked 5 s "later"
    assert sorted(resolved) == [("m1", "alice", "noshow"), ("m1", "bob", "requeued")]
    assert await room.state("alice") == {} and await room.marks("alice") == {"noshow": 1}
    assert (await room.state("bob"))["state"] == "waiting"
    assert await room.expire(at_ms=now_ms() + 60_000) == []  # resolved once
    assert await room.accept("alice", "m1") == ["gone"]


async def test_an_answer_after_the_deadline_is_expired(room, redis):
    match = await offered(room, redis)
    await redis.hset(keys.match(match.session_id), "deadline", now_ms() - 1)
    assert await room.accept("alice", match.session_id) == ["expired"]
    assert (await room.state("alice"))["state"] == "matched"  # until the sweep resolves it


async def test_leaving_with_a_pending_match_declines_it(room, redis):
    match = await offered(room, redis)
    assert await room.leave("alice") is True
    assert await room.state("alice") == {}
    assert await room.marks("alice") == {}  # leaving is not a no-show
    assert (await room.state("bob"))["state"] == "waiting"
    assert await room.pending_match(match.session_id) == {}
