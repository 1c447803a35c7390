"""User-facing failure paths of the service, over HTTP on the real platform: each answers a
clear error and changes nothing."""

from __future__ import annotations

import json
import secrets
import time

import pytest
import seed
from hubuser import HubUser
from redis import Redis
from seed import ADMIN

from peerplatform.matching import keys as roomkeys

pytestmark = pytest.mark.hub


def error(resp, status) -> str:
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["status"] == status and body["message"]
    return body["message"]


@pytest.fixture(scope="module")
def admin(hub):
    user = HubUser(hub.url, ADMIN)
    user.signup()
    assert user.login().status_code == 200 and user.open_lobby().status_code == 200
    return user


def test_joining_while_in_a_session_is_409(hub, redis_url):
    a, b = seed.users(hub, "insess", "partner")
    sid = seed.session(hub, a.name, b.name, state="active")
    # what the room holds for a learner whose match both accepted (see accept.lua)
    room = Redis.from_url(redis_url, decode_responses=True)
    state_key = roomkeys.user_state(a.name)
    room.hset(state_key, mapping={"state": "session", "session": sid,
                                  "since": int(time.time() * 1000)})
    try:
        says = error(a.api("POST", "waiting-room", {}), 409)
        assert says == f"you are already in a session ({sid})"
        # still in the session, not waiting
        assert a.api("GET", "me").json()["state"] == "session"
        assert room.zscore(roomkeys.WAITING, a.name) is None
        assert room.hget(state_key, "session") == sid
    finally:
        room.delete(state_key)
        room.close()


def test_a_learner_filter_too_long_is_400(hub):
    (u,) = seed.users(hub, "longq")
    long_name = "x" * 129
    assert "learner is too long" in error(
        u.api("GET", f"review/sessions?learner={long_name}"), 400
    )
    page = u.http.get(u.url(f"services/peerplatform/review?learner={long_name}"), timeout=30)
    assert page.status_code == 400
    # 128 is a name the Hub allows: just no sessions
    assert u.api("GET", f"review/sessions?learner={'x' * 128}").json()["sessions"] == []


def cohort_state(hub, name: str, learner: str):
    """The store's view: the cohort's document and the learner's cohort."""

    async def go(store):
        return await store.cohorts.get(name), await store.cohorts.cohort_of(learner)

    return seed.run(go)(hub)


def test_a_hub_refusal_is_502_and_changes_nothing(hub, admin):
    tag = secrets.token_hex(3)
    stray, first, teacher = seed.users(hub, "stray", "first", "teacher")
    # the store has the learner in a cohort whose Hub group an admin deleted by hand: the Hub
    # refuses to take them out of it (404), after the new cohort's groups were made
    ghost = f"ghost-{tag}"

    async def lost_group(store):
        await store.cohorts.ensure(ghost)
        await store.cohorts.add_members(ghost, [stray.name])

    seed.run(lost_group)(hub)

    def listed():
        return {c["name"] for c in admin.api("GET", "cohorts").json()["cohorts"]}

    names_file = hub.data_dir / "cohorts.json"
    names_before = json.loads(names_file.read_text())

    # a new cohort: nothing of it is left, in our store or in the Hub
    fresh = f"fresh-{tag}"
    body = {"title": "Fresh", "learners": [stray.name], "instructors": [teacher.name]}
    says = error(admin.api("PUT", f"cohorts/{fresh}", body), 502)
    assert says.startswith("the Hub refused") and ghost in says
    assert fresh not in listed()
    assert cohort_state(hub, fresh, stray.name) == (None, ghost)
    for group in (fresh, f"{fresh}-instructors"):
        assert hub.hub_api("GET", f"/groups/{group}").status_code == 404, group
    assert json.loads(names_file.read_text()) == names_before

    # an existing cohort keeps its title, learners and instructors
    known = f"known-{tag}"
    resp = admin.api("PUT", f"cohorts/{known}", {"title": "Known", "learners": [first.name]})
    assert resp.status_code == 200, resp.text
    names_after_create = json.loads(names_file.read_text())
    assert known in names_after_create
    body = {"title": "Renamed", "learners": [stray.name], "instructors": [teacher.name]}
    assert error(admin.api("PUT", f"cohorts/{known}", body), 502).startswith("the Hub refused")
    doc, of_stray = cohort_state(hub, known, stray.name)
    assert (doc["title"], doc["members"], doc["instructors"]) == ("Known", [first.name], [])
    assert of_stray == ghost
    assert hub.hub_api("GET", f"/groups/{known}").json()["users"] == [first.name]
    assert hub.hub_api("GET", f"/groups/{known}-instructors").json()["users"] == []
    assert json.loads(names_file.read_text()) == names_after_create
    # what the Hub takes still goes through
    resp = admin.api("PUT", f"cohorts/{known}", {"instructors": [teacher.name]})
    assert resp.status_code == 200 and resp.json()["instructors"] == [teacher.name]
