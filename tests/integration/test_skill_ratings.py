"""Skill ratings driven from recorded outcomes, once per session (real document store)."""

from __future__ import annotations

from peerplatform.sessions.ratings import rate_ended_sessions


async def ended_session(store, sid, status, *, slug="two-sum", members=("alice", "bob")):
    await store.sessions.create(session_id=sid, members=list(members), driver=members[0],
                                observer=members[1], server_owner="pp-pairs", duration_s=600)
    await store.sessions.transition(sid, "spawning")
    await store.sessions.transition(sid, "active")
    outcome = {"challenge": slug, "tests": {"status": status, "passed": 1, "total": 1}}
    await store.sessions.transition(sid, "ended", reason="time is up", outcome=outcome)


async def test_an_outcome_moves_members_and_challenge_once(store):
    await store.challenges.collection.insert_one({"_id": "two-sum", "rating": 1500})
    await ended_session(store, "sessiona0001", "passed")
    assert await rate_ended_sessions(store) == 1
    alice = await store.profiles.get("alice")
    assert alice["rating"] > 1500 and alice["rd"] < 350 and alice["games"] == 1
    challenge = await store.challenges.get("two-sum")
    assert challenge["rating"] < 1500 and challenge["rated_games"] == 1
    doc = await store.sessions.get("sessiona0001")
    assert doc["rated_at"] and doc["rating"]["solved"] is True
    # idempotent: the sweep again, or a replica that read the session before it was marked
    assert await rate_ended_sessions(store) == 0
    from peerplatform.sessions.ratings import rate_session_outcome
    await rate_session_outcome(store, doc)
    assert (await store.profiles.get("alice"))["rating"] == alice["rating"]
    assert (await store.profiles.get("alice"))["games"] == 1
    assert (await store.challenges.get("two-sum"))["rated_games"] == 1


async def test_a_failed_attempt_lowers_the_rating(store):
    await store.challenges.collection.insert_one({"_id": "two-sum", "rating": 1500})
    await ended_session(store, "sessiona0002", "failed")
    await rate_ended_sessions(store)
    assert (await store.profiles.get("bob"))["rating"] < 1500
    assert (await store.challenges.get("two-sum"))["rating"] > 1500
    assert await store.profiles.ratings(["bob", "newcomer"]) == {
        "bob": (await store.profiles.get("bob"))["rating"], "newcomer": 1500.0}


async def test_sessions_without_a_test_result_are_not_rated(store):
    await store.sessions.create(session_id="sessiona0003", members=["alice", "bob"],
                                driver="alice", observer="bob", server_owner="pp-pairs",
                                duration_s=600)
    await store.sessions.transition("sessiona0003", "ended", reason="ended by a member")
    await ended_session(store, "sessiona0004", None)
    assert await rate_ended_sessions(store) == 1  # 0003 has no outcome: not even looked at
    assert (await store.sessions.get("sessiona0004"))["rating"] == {
        "skipped": "no challenge result to rate"}
    assert await store.profiles.get("alice") is None
