"""Session lifecycle rules on real Redis + document store (Hub REST calls recorded).

The Hub side of these flows runs for real in tests/e2e; here the Hub client only records
what the manager asks of it, so the sweep and join rules can be driven precisely.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from peerplatform.events import EventBus
from peerplatform.matching import AlreadyBusy, MatchRules, WaitingRoom
from peerplatform.sessions import SessionManager
from peerplatform.settings import PeerPlatform
from peerplatform.store.sessions import utcnow


class RecordingHub:
    """Records the Hub calls; a started server is ready at once."""

    def __init__(self, store=None):
        self.calls = []
        self.store = store
        self.at_spawn = None  # the session document as the spawn found it

    async def remove_server(self, owner, name):
        self.calls.append(("remove", owner, name))

    async def start_server(self, owner, name, options):
        self.calls.append(("start", owner, name))
        self.at_spawn = await self.store.sessions.get(options["session_id"])

    async def share(self, owner, name, user):
        self.calls.append(("share", owner, name, user))

    async def progress(self, owner, name, timeout):
        yield {"progress": 100, "ready": True, "url": f"/user/{owner}/{name}/"}


@pytest.fixture
def manager(store, redis):
    settings = PeerPlatform(spawn_timeout=30, ended_server_grace=600)
    room = WaitingRoom(redis, presence_ttl=30, rules=MatchRules(auto_accept=True))
    return SessionManager(settings=settings, store=store, room=room, hub=RecordingHub(store),
                          events=EventBus(redis))


async def matched_session(manager, state="active"):
    room = manager.room
    await room.join("alice")
    await room.join("bob")
    match = await room.pick("abcdefabcdef")
    doc = await manager.store.sessions.create(
        session_id=match.session_id, members=list(match.members), driver="alice",
        observer="bob", server_owner="pp-pairs", duration_s=600)
    for step in {"pending": [], "spawning": ["spawning"],
                 "active": ["spawning", "active"]}[state]:
        doc = await manager.store.sessions.transition(doc["_id"], step)
    return doc


async def backdate(store, session_id, **fields):
    await store.sessions.collection.update_one({"_id": session_id}, {"$set": fields})


async def test_join_is_refused_while_the_session_is_open(manager):
    await matched_session(manager)
    with pytest.raises(AlreadyBusy):
        await manager.join("alice", {})


async def test_a_session_ended_in_the_pair_server_no_longer_holds_its_members(manager):
    doc = await matched_session(manager)
    await manager.store.sessions.transition(doc["_id"], "ended", reason="time is up")
    # Redis still says "session" (nothing released it yet); joining works all the same
    assert (await manager.room.state("alice"))["state"] == "session"
    await manager.join("alice", {"difficulty": "easy"})
    assert (await manager.room.state("alice"))["state"] == "waiting"


async def test_sweep_removes_the_server_after_the_grace_period_only(manager):
    old = await matched_session(manager)
    await manager.store.sessions.transition(old["_id"], "ended", reason="time is up")
    await backdate(manager.store, old["_id"], ended_at=utcnow() - timedelta(seconds=601))
    assert await manager.reap() == 1
    assert manager.hub.calls == [("remove", "pp-pairs", f"s-{old['_id']}")]
    doc = await manager.store.sessions.get(old["_id"])
    assert doc["server"]["removed_at"] is not None
    assert await manager.room.state("bob") == {}  # members released
    # a second sweep does not remove it again
    assert await manager.reap() == 0
    assert len(manager.hub.calls) == 1


async def test_sweep_leaves_a_recently_ended_server_up(manager):
    doc = await matched_session(manager)
    await manager.store.sessions.transition(doc["_id"], "ended", reason="time is up")
    assert await manager.reap() == 0
    assert manager.hub.calls == []


async def test_sweep_fails_a_session_stuck_in_spawning_and_tells_both(manager, redis):
    doc = await matched_session(manager, state="spawning")
    await backdate(manager.store, doc["_id"], updated_at=utcnow() - timedelta(seconds=61))
    async with manager.events.subscribe("alice") as sub:
        assert await manager.reap() == 1
        event = await sub.next_event(timeout=2)
    assert event["type"] == "failed" and "did not start" in event["reason"]
    failed = await manager.store.sessions.get(doc["_id"])
    assert failed["state"] == "failed"
    assert manager.hub.calls == [("remove", "pp-pairs", f"s-{doc['_id']}")]
    await manager.join("alice", {})  # free again


async def test_the_reaper_leaves_active_sessions_to_the_clock(manager):
    # the end at time-up, with its final grading, is the clock sweep's (tests/integration/
    # pair_api/test_pair_clock.py): the reaper never ends a session without its outcome
    doc = await matched_session(manager)
    await backdate(manager.store, doc["_id"], started_at=utcnow() - timedelta(seconds=600 + 301),
                   updated_at=utcnow() - timedelta(seconds=61))
    assert await manager.reap() == 0
    assert (await manager.store.sessions.get(doc["_id"]))["state"] == "active"


CHALLENGE = {"slug": "two-sum", "title": "Two sum", "statement": "Add them.",
             "difficulty": "easy", "tags": ["arrays"], "track": "python",
             "starter_code": "def solve(a, b):\n    pass\n", "examples": [],
             "tests": {"cases": [{"name": "t", "code": "assert solve(1, 2) == 3"}]},
             "solution": "def solve(a, b):\n    return a + b\n", "time_limit_s": 10}


async def test_the_service_picks_the_challenge_before_the_spawn(manager):
    await manager.store.challenges.upsert(dict(CHALLENGE))
    room = manager.room
    await room.join("alice", {"difficulty": "easy"})
    await room.join("bob", {"difficulty": "easy"})
    match = await room.pick("abcdefabcdef")
    doc = await manager.start_session(match)
    assert doc["state"] == "active"
    # the document named its challenge (public summary and pinned version) before the spawn
    assert manager.hub.at_spawn["challenge"] == {
        "slug": "two-sum", "title": "Two sum", "difficulty": "easy", "tags": ["arrays"],
        "track": "python", "version": 1}
    assert "tests" not in manager.hub.at_spawn["challenge"]
    seen = await manager.store.challenges.history.for_session(doc["_id"])
    assert sorted(a["user"] for a in seen) == ["alice", "bob"]


async def test_a_session_without_a_matching_challenge_still_starts(manager):
    room = manager.room
    await room.join("alice", {"difficulty": "hard"})
    await room.join("bob", {"difficulty": "hard"})
    doc = await manager.start_session(await room.pick("abcdefabcdef"))
    assert doc["state"] == "active" and manager.hub.at_spawn["challenge"] is None


async def test_session_preferences_merge_and_match_my_level(manager):
    room = manager.room
    await room.join("ann", {"difficulty": "any", "duration_minutes": 30}, rating=1500)
    await room.join("ben", {"difficulty": "hard", "track": "sql"}, rating=1500)
    prefs = await manager.session_preferences(["ann", "ben"])
    assert prefs == {"difficulty": "hard", "duration_minutes": 30, "track": "sql"}
    # both "match my level": the difficulty nearest the pair's mean skill rating
    await manager.store.profiles.collection.insert_many([
        {"_id": "cat", "rating": 1250.0}, {"_id": "dan", "rating": 1150.0}])
    await room.join("cat", {"difficulty": "any"})
    await room.join("dan", {})
    prefs = await manager.session_preferences(["cat", "dan"])
    assert prefs == {"difficulty": "easy", "difficulty_from": "ratings"}


async def test_join_uses_the_learners_skill_rating_and_cohort(manager, redis):
    from peerplatform.matching import keys

    await manager.store.profiles.collection.insert_one({"_id": "eve", "rating": 1720.5})
    await manager.join("eve", {}, "cohort-a")
    assert await redis.zscore(keys.RATING, "eve") == 1720.5
    assert await redis.hget(keys.user_state("eve"), "cohort") == "cohort-a"
    await manager.join("newbie", {})
    assert await redis.zscore(keys.RATING, "newbie") == 1500
