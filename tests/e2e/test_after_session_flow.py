"""After a real session (Hub, pair server, time-up): both members rate each other, the
leaderboards and dashboards count it, and its review shows what the service recorded (the
outcome it graded at time-up, the final notebook and the replay snapshots the pair server
sent through the pair API; the pair server has wrong store addresses, as in every e2e run)."""

from __future__ import annotations

import pytest
from e2e_hub import assert_pair_server_cannot_reach_the_stores, start_hub
from flows import new_users

pytestmark = [pytest.mark.hub, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def short_hub(tmp_path_factory, redis_url, mongodb_uri):
    hub = start_hub(tmp_path_factory, redis_url, mongodb_uri,
                    env={"PEERPLATFORM_SESSION_DURATION": "10"})
    yield hub
    hub.stop()


def test_rate_count_and_review_a_real_session(short_hub):
    ada, bo = new_users(short_hub, "ada", "bo")
    for u in (ada, bo):
        assert u.api("POST", "waiting-room", {}).status_code == 200
    assert ada.accept() == bo.accept()
    session = ada.wait_for_session(timeout=150)
    sid = session["id"]
    assert_pair_server_cannot_reach_the_stores(short_hub, sid)
    body = {"communication": 4, "collaboration": 5, "problem_solving": 3}
    # not before the end
    assert ada.api("POST", f"sessions/{sid}/rating", body).status_code == 409
    ended = ada.wait_for_session(timeout=90, states=("ended",))
    assert ended["id"] == sid

    assert ada.api("POST", f"sessions/{sid}/rating", {**body, "comment": "calm"}).status_code == 201
    assert bo.api("POST", f"sessions/{sid}/rating", body).status_code == 201
    rows = {r["user"]: r for r in ada.api("GET", "leaderboard").json()["rows"]}
    assert rows[ada.name]["n"] == 1 and rows[bo.name]["n"] == 1

    review = bo.api("GET", f"review/sessions/{sid}").json()
    assert review["challenge"]["slug"] and review["challenge"]["tags"]
    assert review["statement_html"]  # the challenge as it was given
    assert review["final_tests"] is not None and review["outcome"] in ("passed", "failed")
    assert review["notebook"], "the pair server's final notebook"
    assert {r["rater"] for r in review["ratings"]} == {ada.name, bo.name}
    replay = bo.api("GET", f"review/sessions/{sid}/replay").json()["snapshots"]
    assert replay and replay[-1]["final"] is True
    # the first snapshot already holds the challenge cells the pair server placed
    assert any(review["challenge"]["title"] in c["source"] for c in replay[0]["cells"])

    dash = ada.api("GET", "dashboard").json()
    assert dash["totals"]["sessions"] == 1 and dash["totals"]["ratings_received"] == 1
    assert {t["tag"] for t in dash["tags"]} == set(review["challenge"]["tags"])
