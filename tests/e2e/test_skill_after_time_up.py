"""Skill ratings from a real session's end: the service's clock grades and records the outcome
at time-up, its rating sweep rates it (members and challenge)."""

from __future__ import annotations

import time

import pytest
from e2e_hub import start_hub
from flows import new_users

pytestmark = [pytest.mark.hub, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def short_hub(tmp_path_factory, redis_url, mongodb_uri):
    hub = start_hub(tmp_path_factory, redis_url, mongodb_uri,
                    env={"PEERPLATFORM_SESSION_DURATION": "10"})
    yield hub
    hub.stop()


def session_doc(hub, sid):
    from pymongo import MongoClient

    client = MongoClient(hub.mongodb_uri)
    try:
        db = client[hub.mongodb_database]
        doc = db.sessions.find_one({"_id": sid}, {"outcome.notebook_json": 0})
        challenge = None
        if doc and doc.get("outcome") and doc["outcome"].get("challenge"):
            challenge = db.challenges.find_one({"_id": doc["outcome"]["challenge"]},
                                               {"rating": 1, "rated_games": 1, "difficulty": 1})
        return doc, challenge
    finally:
        client.close()


def test_time_up_outcome_moves_learner_and_challenge_ratings(short_hub):
    pia, quin = new_users(short_hub, "pia", "quin")
    for u in (pia, quin):
        assert u.api("POST", "waiting-room", {}).status_code == 200
    assert pia.accept() == quin.accept()
    session = pia.wait_for_session(timeout=150)
    # nobody touches the starter code: at time-up the hidden tests fail
    ended = pia.wait_for_session(timeout=90, states=("ended",))
    assert ended["id"] == session["id"]
    deadline = time.monotonic() + 40  # the sweep runs every 10 s
    while time.monotonic() < deadline:
        doc, challenge = session_doc(short_hub, session["id"])
        if doc.get("rated_at"):
            break
        time.sleep(1)
    assert doc.get("rated_at"), doc.get("outcome")
    assert doc["outcome"]["tests"]["status"] != "passed"
    assert doc["rating"]["solved"] is False
    for user in (pia, quin):
        skill = user.api("GET", "me").json()["skill"]
        assert skill["games"] == 1 and skill["rating"] < 1500 and skill["rd"] < 350
    assert challenge["rated_games"] == 1
    assert challenge["rating"] > doc["rating"]["challenge_before"]
    # (that later sweeps and other replicas do not count it again: test_skill_ratings.py)
