"""Skill ratings driven from recorded outcomes, once per session (real document store)."""

from __future__ import annotations

from pathlib import Path

import pytest

from challenges_loader import collect
from peerplatform.challenge_packs import load
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


# -- a challenge's learned rating belongs to its slug: new versions keep it ---------------------

PACKS = Path(__file__).resolve().parents[1] / "fixtures" / "packs"
SKILL = ("rating", "rating_rd", "rating_vol", "rated_games", "rated_sessions")


def ok_minimal(**edits):
    """The ok-minimal pack, with ``edits`` ({slug: {field: value}}) applied as a file edit."""
    collection = collect([str(PACKS / "ok-minimal")])
    for challenge in collection.challenges:
        challenge.update(edits.get(challenge["slug"], {}))
    return collection


async def rated(store, sid, status, slug="add-two") -> dict:
    await ended_session(store, sid, status, slug=slug)
    assert await rate_ended_sessions(store) == 1
    return await store.challenges.get(slug)


async def test_an_edited_challenge_keeps_its_learned_rating(store):
    await load(ok_minimal(), store)
    learned = await rated(store, "sessionb0001", "failed")
    assert learned["rating"] > 1200 and learned["rated_games"] == 1  # the pack said 1200
    report = await load(ok_minimal(**{"add-two": {"statement": "Write `add(a, b)`, edited."}}),
                        store)
    assert report.updated == [("add-two", 1, 2)]
    current = await store.challenges.get("add-two")
    assert current["version"] == 2 and current["statement"].endswith("edited.")
    assert {k: current[k] for k in SKILL} == {k: learned[k] for k in SKILL}
    # the version keeps the pack's content; selection by rating reads the learned one
    assert (await store.challenges.get_version("add-two", 2))["rating"] == 1200
    low, high = learned["rating"] - 1, learned["rating"] + 1
    picked = await store.challenges.pick(rating=(low + high) / 2, rating_window=1)
    assert picked["slug"] == "add-two"
    # the next session rates the new version, from the learned values
    after = await rated(store, "sessionb0002", "failed")
    assert after["version"] == 2 and after["rated_games"] == 2
    assert after["rating"] > learned["rating"]
    assert after["rated_sessions"] == ["sessionb0001", "sessionb0002"]


async def test_a_never_rated_challenge_takes_the_new_pack_rating(store):
    await load(ok_minimal(), store)
    await load(ok_minimal(**{"double-it": {"rating": 1450}}), store)
    current = await store.challenges.get("double-it")
    assert (current["version"], current["rating"]) == (2, 1450)
    assert "rated_games" not in current


async def test_a_session_rated_during_the_reload_is_kept(store, monkeypatch):
    await load(ok_minimal(), store)
    await rated(store, "sessionb0003", "passed")
    real = store.challenges.collection.replace_one
    raced = []

    async def rated_first(*args, **kwargs):
        if not raced:  # a replica's sweep rates a session between the load's read and write
            raced.append(await rated(store, "sessionb0004", "passed"))
        return await real(*args, **kwargs)

    monkeypatch.setattr(store.challenges.collection, "replace_one", rated_first)
    await load(ok_minimal(**{"add-two": {"title": "Add them"}}), store)
    current = await store.challenges.get("add-two")
    assert (current["version"], current["title"]) == (2, "Add them")
    assert current["rated_games"] == 2 and current["rating"] == raced[0]["rating"]
    assert current["rated_sessions"] == ["sessionb0003", "sessionb0004"]


async def test_a_failed_reload_keeps_the_learned_rating(store, monkeypatch):
    await load(ok_minimal(), store)
    learned = await rated(store, "sessionb0005", "failed")
    real = store.challenges.collection.replace_one

    async def write_then_fail(*args, **kwargs):
        await real(*args, **kwargs)
        monkeypatch.undo()  # the rollback's own writes go through
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store.challenges.collection, "replace_one", write_then_fail)
    with pytest.raises(RuntimeError, match="disk on fire"):
        await load(ok_minimal(**{"add-two": {"title": "Add them"}}), store)
    current = await store.challenges.get("add-two")
    assert (current["version"], current["title"]) == (1, "Add two numbers")
    assert {k: current[k] for k in SKILL} == {k: learned[k] for k in SKILL}
