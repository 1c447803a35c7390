"""Peer ratings API: members only, after the end, once per rater, editable for a window."""

from __future__ import annotations

from datetime import timedelta

import pytest
import seed

pytestmark = pytest.mark.hub

GOOD = {"communication": 4, "collaboration": 5, "problem_solving": 3, "comment": "clear"}


def rating_of(user, sid, method="GET", body=None, **kw):
    return user.api(method, f"sessions/{sid}/rating", body, **kw)


def error(resp, status):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["status"] == status and body["message"]
    return body["message"]


def review_page(user, sid) -> str:
    resp = user.http.get(user.url(f"services/peerplatform/review/{sid}"), timeout=30)
    assert resp.status_code == 200, resp.text
    return resp.text


def stored(hub, sid, rater):
    async def go(store):
        return await store.ratings.get(sid, rater)

    return seed.run(go)(hub)


@pytest.fixture(scope="module")
def trio(hub):
    return seed.users(hub, "ann", "ben", "cat")


def test_members_rate_each_other_once_after_the_end(hub, trio):
    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name)
    resp = rating_of(ann, sid, "POST", GOOD)
    assert resp.status_code == 201, resp.text
    got = resp.json()
    assert (got["rater"], got["ratee"], got["session"]) == (ann.name, ben.name, sid)
    assert (got["communication"], got["collaboration"], got["problem_solving"]) == (4, 5, 3)
    assert got["comment"] == "clear"
    # stored in MongoDB, as given
    doc = stored(hub, sid, ann.name)
    assert doc["scores"] == {"communication": 4, "collaboration": 5, "problem_solving": 3}
    # the caller reads back their own rating; the partner has none yet
    assert rating_of(ann, sid).json()["communication"] == 4
    error(rating_of(ben, sid), 404)
    # a second POST by the same rater is refused and changes nothing
    error(rating_of(ann, sid, "POST", {**GOOD, "communication": 1}), 409)
    assert stored(hub, sid, ann.name)["scores"]["communication"] == 4
    # the partner rates too: the ratee is the other member
    resp = rating_of(
        ben, sid, "POST", {"communication": 2, "collaboration": 2, "problem_solving": 2}
    )
    assert resp.status_code == 201 and resp.json()["ratee"] == ann.name
    assert resp.json()["comment"] == ""


def test_peer_ratings_never_move_the_matchmaking_rating(hub, trio):
    from peerplatform.matching.skill import Skill

    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name)
    fields = ("rating", "rd", "vol", "games", "rated_sessions")

    async def give_skills(store):
        # earlier rated sessions, as the outcome sweep writes them
        await store.profiles.apply(ann.name, "skillseed001", Skill(1620.0, 80.0, 0.059))
        await store.profiles.apply(ben.name, "skillseed002", Skill(1380.0, 120.0, 0.061))

    async def skills(store):
        docs = {u.name: await store.profiles.get(u.name) for u in (ann, ben)}
        return {name: {f: doc[f] for f in fields} for name, doc in docs.items()}

    seed.run(give_skills)(hub)
    before = seed.run(skills)(hub)
    assert before[ann.name]["rating"] == 1620.0 and before[ben.name]["rd"] == 120.0
    # the best and the worst scores, both ways, then an edit
    top = {"communication": 5, "collaboration": 5, "problem_solving": 5}
    assert rating_of(ann, sid, "POST", top).status_code == 201
    low = {"communication": 1, "collaboration": 1, "problem_solving": 1}
    assert rating_of(ben, sid, "POST", low).status_code == 201
    assert rating_of(ann, sid, "PUT", {"problem_solving": 1}).status_code == 200
    assert stored(hub, sid, ben.name)["ratee"] == ann.name
    assert seed.run(skills)(hub) == before


@pytest.mark.parametrize("state", ["pending", "active", "failed"])
def test_no_rating_before_the_session_ended(hub, trio, state):
    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name, state=state)
    assert "rate it once it has ended" in error(rating_of(ann, sid, "POST", GOOD), 409)
    assert stored(hub, sid, ann.name) is None


def test_strangers_and_unknown_sessions_get_404(hub, trio):
    ann, ben, cat = trio
    sid = seed.session(hub, ann.name, ben.name)
    for method in ("GET", "POST", "PUT"):
        error(rating_of(cat, sid, method, GOOD), 404)
        error(rating_of(cat, "abcdefabcdef", method, GOOD), 404)
    assert stored(hub, sid, cat.name) is None


@pytest.mark.parametrize(
    "body, says",
    [
        ({"communication": 4, "collaboration": 5}, "problem_solving is required"),
        ({**GOOD, "communication": 0}, "communication"),
        ({**GOOD, "communication": 6}, "communication"),
        ({**GOOD, "collaboration": True}, "collaboration"),
        ({**GOOD, "collaboration": 4.0}, "collaboration"),
        ({**GOOD, "problem_solving": "4"}, "problem_solving"),
        ({**GOOD, "problem_solving": None}, "problem_solving"),
        ({**GOOD, "comment": "x" * 1001}, "1000"),
        ({**GOOD, "comment": ["x"]}, "comment"),
        ({**GOOD, "stars": 5}, "stars"),
    ],
)
def test_bad_bodies_are_400_and_store_nothing(hub, trio, body, says):
    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name)
    assert says in error(rating_of(ann, sid, "POST", body), 400)
    assert stored(hub, sid, ann.name) is None


def test_malformed_oversized_and_forged_requests(hub, trio):
    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name)
    error(
        rating_of(ann, sid, "POST", raw=b"{nope", headers={"Content-Type": "application/json"}), 400
    )
    error(
        rating_of(ann, sid, "POST", raw=b"[1]", headers={"Content-Type": "application/json"}), 400
    )
    error(rating_of(ann, sid, "POST", raw=b"", headers={"Content-Type": "application/json"}), 400)
    big = b'{"communication": 4, "comment": "' + b"x" * 70_000 + b'"}'
    assert (
        rating_of(
            ann, sid, "POST", raw=big, headers={"Content-Type": "application/json"}
        ).status_code
        == 413
    )
    # a cookie-authenticated write without the XSRF token is refused
    assert rating_of(ann, sid, "POST", GOOD, headers={"X-XSRFToken": "forged"}).status_code == 403
    assert stored(hub, sid, ann.name) is None


def test_edit_within_the_window_then_403(hub, trio):
    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name)
    error(rating_of(ann, sid, "PUT", {"communication": 2}), 404)  # nothing to edit yet
    assert rating_of(ann, sid, "POST", GOOD).status_code == 201
    resp = rating_of(ann, sid, "PUT", {"communication": 2, "comment": "better: <b>kind</b>"})
    assert resp.status_code == 200, resp.text
    got = resp.json()
    assert (got["communication"], got["collaboration"], got["comment"]) == (
        2,
        5,
        "better: <b>kind</b>",
    )
    error(rating_of(ann, sid, "PUT", {"communication": 9}), 400)
    error(rating_of(ann, sid, "PUT", {}), 400)
    assert stored(hub, sid, ann.name)["scores"]["communication"] == 2
    # inside the window the review page offers the change
    page = review_page(ann, sid)
    assert 'id="rate-form"' in page and "Change my rating" in page and 'data-method="PUT"' in page

    # the window closes (moved into the past in the store, as time would)
    async def expire(store):
        doc = await store.ratings.get(sid, ann.name)
        await store.ratings.collection.update_one(
            {"_id": doc["_id"]},
            {"$set": {"editable_until": doc["created_at"] - timedelta(seconds=1)}},
        )

    seed.run(expire)(hub)
    assert "edit window" in error(rating_of(ann, sid, "PUT", {"communication": 5}), 403)
    assert stored(hub, sid, ann.name)["scores"]["communication"] == 2
    # and the page no longer offers a form the server would refuse, saying why
    page = review_page(ann, sid)
    assert 'id="rate-form"' not in page and "Change my rating" not in page
    assert f"You rated {ben.name}" in page and "could be changed until" in page
    # the partner, who has not rated yet, still gets the form
    page = review_page(ben, sid)
    assert 'id="rate-form"' in page and "Send rating" in page


def test_anonymous_calls_are_refused(hub, trio):
    import requests

    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name)
    for method in ("GET", "POST", "PUT"):
        resp = requests.request(
            method,
            hub.url + f"services/peerplatform/api/sessions/{sid}/rating",
            json=GOOD,
            timeout=10,
            allow_redirects=False,
        )
        assert resp.status_code == 403


def test_concurrent_posts_store_exactly_one(hub, trio):
    from concurrent.futures import ThreadPoolExecutor

    ann, ben, _ = trio
    sid = seed.session(hub, ann.name, ben.name)
    with ThreadPoolExecutor(6) as pool:
        codes = sorted(pool.map(lambda _: rating_of(ann, sid, "POST", GOOD).status_code, range(6)))
    assert codes == [201, 409, 409, 409, 409, 409]
