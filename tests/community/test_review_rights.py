"""Review: who sees which session (members, instructors of a cohort via the custom scope,
admins), filters, the detail (ratings, notebook rendered inert) and the replay."""

from __future__ import annotations

import json

import pytest
import requests
import seed
from hubuser import HubUser
from seed import ADMIN

pytestmark = pytest.mark.hub

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
NOTEBOOK = json.dumps(
    {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": "markdown", "metadata": {}, "source": "# Title\n" + XSS},
            {
                "cell_type": "code",
                "metadata": {},
                "execution_count": 1,
                "source": "print('<b>hi</b>')",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": "<b>hi</b>\n"},
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/html": XSS + "<p>kept</p>", "text/plain": "x"},
                    },
                ],
            },
        ],
    }
)
CHALLENGE = {
    "slug": "two-sum",
    "title": "Two sum",
    "difficulty": "easy",
    "tags": ["hash-map", "arrays"],
    "version": 1,
}


def login(hub, user: HubUser) -> HubUser:
    assert user.login().status_code == 200
    assert user.open_lobby().status_code == 200
    return user


@pytest.fixture(scope="module")
def world(hub):
    tag = seed.secrets.token_hex(3)
    admin = HubUser(hub.url, ADMIN)
    admin.signup()
    login(hub, admin)
    la, lb, lc, st, ot = seed.users(hub, "la", "lb", "lc", "st", "ot")
    iv = HubUser(hub.url, f"iv-{tag}")
    assert iv.signup().status_code == 200
    assert iv.login().status_code == 200  # the Hub knows a user from their first login
    # a learner may not manage cohorts
    assert la.api("PUT", "cohorts/north", {"learners": [la.name]}).status_code == 403
    resp = admin.api(
        "PUT",
        "cohorts/north",
        {"title": "North <Bootcamp>", "learners": [la.name, lb.name], "instructors": [iv.name]},
    )
    assert resp.status_code == 200, resp.text
    assert resp.json()["hub_restart_needed"] is False  # its role was defined at Hub start
    assert admin.api("PUT", "cohorts/south", {"learners": [lc.name]}).status_code == 200
    # the instructor's rights come with the next login (a token's scopes are set when issued)
    iv = login(hub, HubUser(hub.url, iv.name))
    passed = {
        "tests": {"status": "passed", "passed": 3, "failed": 0, "total": 3},
        "notebook_json": NOTEBOOK,
    }
    failed = {"tests": {"status": "failed", "passed": 1, "failed": 2, "total": 3}}
    s = {
        "north": seed.session(
            hub,
            la.name,
            lb.name,
            outcome=passed,
            challenge=CHALLENGE,
            events=[
                {"type": "swap", "driver": lb.name, "observer": la.name, "reason": "schedule"},
                {
                    "type": "tests",
                    "by": la.name,
                    "final": False,
                    "result": {"status": "failed", "passed": 1, "total": 3},
                },
            ],
        ),
        "mixed": seed.session(hub, la.name, lc.name, outcome=failed),
        "south": seed.session(hub, lc.name, st.name),
        "none": seed.session(hub, st.name, ot.name),
    }
    return dict(admin=admin, la=la, lb=lb, lc=lc, st=st, ot=ot, iv=iv, s=s, hub=hub)


def listed(user, query="", among=None):
    """Ids listed for ``user`` (only this module's sessions if ``among``: modules share a hub)."""
    resp = user.api("GET", "review/sessions" + (f"?{query}" if query else ""))
    assert resp.status_code == 200, resp.text
    ids = {row["id"] for row in resp.json()["sessions"]}
    return ids & set(among) if among is not None else ids


def test_who_sees_which_session(world):
    s = world["s"]
    expect = {
        "la": {s["north"], s["mixed"]},  # own sessions
        "lc": {s["mixed"], s["south"]},
        "st": {s["south"], s["none"]},
        "iv": {s["north"], s["mixed"]},  # instructor of north: any session with a north learner
        "admin": set(s.values()),
    }
    for who, visible in expect.items():
        user = world[who]
        got = listed(user) & set(s.values())
        assert got == visible, who
        for sid in s.values():
            for path in (f"review/sessions/{sid}", f"review/sessions/{sid}/replay"):
                code = user.api("GET", path).status_code
                assert code == (200 if sid in visible else 404), (who, path, code)
            page = user.http.get(user.url(f"services/peerplatform/review/{sid}"), timeout=30)
            assert page.status_code == (200 if sid in visible else 404), (who, sid)


def test_instructor_sees_cohort_profiles_only(world):
    iv, la, lc = world["iv"], world["la"], world["lc"]
    assert iv.api("GET", f"profiles/{la.name}").status_code == 200
    assert iv.api("GET", f"profiles/{lc.name}").status_code == 404
    assert la.api("GET", f"profiles/{la.name}").json()["cohort"]["title"] == "North <Bootcamp>"


def test_instructor_list_links_cohort_dashboards(world):
    iv, la = world["iv"], world["la"]
    page = iv.http.get(iv.url("services/peerplatform/review"), timeout=30).text
    assert f'data-learner="{la.name}"' in page and "North &lt;Bootcamp&gt;" in page
    assert iv.api("GET", f"dashboard/{la.name}").status_code == 200
    assert iv.api("GET", f"dashboard/{world['lc'].name}").status_code == 404
    own = la.http.get(la.url("services/peerplatform/review"), timeout=30).text
    assert 'id="cohorts"' not in own


def test_filters(world):
    s, iv, admin = world["s"], world["iv"], world["admin"]
    listed = lambda user, query="": globals()["listed"](user, query, s.values())  # noqa: E731
    assert listed(iv, f"learner={world['lb'].name}") == {s["north"]}
    assert listed(iv, f"learner={world['st'].name}") == set()  # outside the instructor's rights
    assert listed(admin, f"learner={world['st'].name}") == {s["south"], s["none"]}
    assert listed(iv, "outcome=passed") == {s["north"]}
    assert listed(iv, "outcome=failed") == {s["mixed"]}
    assert listed(iv, "tag=hash-map") == {s["north"]}
    assert listed(iv, "challenge=two-sum") == {s["north"]}
    assert listed(iv, "from=2000-01-01&to=2999-12-31") == {s["north"], s["mixed"]}
    assert listed(iv, "to=2000-01-01") == set()
    for bad in ("outcome=great", "from=yesterday", "to=2026-13-45", "tag=<x>", "challenge=A%20B"):
        resp = iv.api("GET", f"review/sessions?{bad}")
        assert resp.status_code == 400 and resp.json()["message"], bad


def test_detail_has_everything_and_renders_inert(world):
    la, lb, iv, s = world["la"], world["lb"], world["iv"], world["s"]
    sid = s["north"]
    assert (
        la.api(
            "POST",
            f"sessions/{sid}/rating",
            {"communication": 5, "collaboration": 4, "problem_solving": 3, "comment": XSS},
        ).status_code
        == 201
    )
    assert (
        lb.api(
            "POST",
            f"sessions/{sid}/rating",
            {"communication": 2, "collaboration": 2, "problem_solving": 2, "comment": "ok"},
        ).status_code
        == 201
    )
    model = iv.api("GET", f"review/sessions/{sid}").json()
    assert model["outcome"] == "passed" and model["final_tests"]["passed"] == 3
    assert {r["rater"] for r in model["ratings"]} == {la.name, lb.name}
    assert [w["driver"] for w in model["swaps"]] == [lb.name]
    assert model["test_runs"][0]["status"] == "failed"
    assert model["challenge"]["tags"] == ["hash-map", "arrays"]
    page = iv.http.get(iv.url(f"services/peerplatform/review/{sid}"), timeout=30)
    assert page.status_code == 200
    text = page.text
    i = text.find("<script>alert")
    assert i < 0, text[max(0, i - 300) : i + 100]
    assert "onerror=" not in text.replace("&lt;img src=x onerror=alert(1)&gt;", "")
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in text  # the comment, as text
    assert "<p>kept</p>" in text  # sanitized HTML output keeps harmless markup
    assert "&lt;b&gt;hi&lt;/b&gt;" in text  # stream output as text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


def test_replay_snapshots_in_time_order(world):
    sid, la = world["s"]["north"], world["la"]

    async def add(store):
        for t, by, src in (
            (4.0, la.name, "x = 2"),
            (1.0, la.name, "x = 1"),
            (6.5, world["lb"].name, "x = 3"),
        ):
            await store.snapshots.add(sid, t=t, by=by, cells=[{"cell_type": "code", "source": src}])

    seed.run(add)(world["hub"])
    snaps = world["iv"].api("GET", f"review/sessions/{sid}/replay").json()["snapshots"]
    assert [(x["t"], x["cells"][0]["source"]) for x in snaps] == [
        (1.0, "x = 1"),
        (4.0, "x = 2"),
        (6.5, "x = 3"),
    ]


def test_cohort_admin_bad_input(world):
    admin = world["admin"]
    assert admin.api("PUT", "cohorts/north", {"learners": ["nobody-at-all"]}).status_code == 400
    assert admin.api("PUT", "cohorts/Bad%20Name", {}).status_code == 400
    # names the Hub could not make a role of on its next start
    for bad in ("ends-", "north%0A", "x" * 64):
        resp = admin.api("PUT", f"cohorts/{bad}", {})
        assert resp.status_code == 400 and "cohort names" in resp.json()["message"], bad
    assert admin.api("PUT", "cohorts/north", {"learners": "x"}).status_code == 400
    assert admin.api("PUT", "cohorts/north", {"colour": 1}).status_code == 400
    names = [c["name"] for c in admin.api("GET", "cohorts").json()["cohorts"]]
    assert "north" in names and not {"Bad Name", "ends-", "north\n"} & set(names)
    assert world["la"].api("GET", "cohorts").status_code == 403


def test_anonymous_is_refused(world):
    sid = world["s"]["north"]
    for path in (
        "api/review/sessions",
        f"api/review/sessions/{sid}",
        f"api/review/sessions/{sid}/replay",
    ):
        resp = requests.get(
            world["hub"].url + "services/peerplatform/" + path, timeout=10, allow_redirects=False
        )
        assert resp.status_code == 403, path


def seed_sessions(hub, learner: str, n: int, at=None) -> list[str]:
    """``n`` sessions of ``learner`` with new partners (all created at ``at`` if given)."""

    async def go(store):
        ids = []
        for i in range(n):
            doc = await store.sessions.create(
                members=[learner, f"{learner}-p{i}"],
                driver=learner,
                observer=f"{learner}-p{i}",
                server_owner="pp-pairs",
                duration_s=600,
            )
            if at is not None:
                await store.sessions.set_fields(doc["_id"], {"created_at": at})
            ids.append(doc["_id"])
        return ids

    return seed.run(go)(hub)


def test_list_pages_on_without_skipping_or_repeating(world):
    from datetime import datetime, timezone

    hub, st = world["hub"], world["st"]
    (pg,) = seed.users(hub, "pg")
    same = datetime(2020, 3, 1, 12, tzinfo=timezone.utc)  # older, all equal: the id orders them
    ids = seed_sessions(hub, pg.name, 3) + seed_sessions(hub, pg.name, 3, at=same)
    seen, before, pages = [], "", 0
    while True:
        resp = pg.api("GET", "review/sessions?limit=2" + (f"&before={before}" if before else ""))
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert len(body["sessions"]) <= 2
        seen += [r["id"] for r in body["sessions"]]
        pages += 1
        before = body["next"]
        if before is None:
            break
        assert before == seen[-1]
    assert pages == 3 and sorted(seen) == sorted(ids) and len(set(seen)) == len(ids)
    # newest first; the three seeded at one instant come last, by id descending
    assert seen[3:] == sorted(ids[3:], reverse=True)
    # filters hold across pages
    learner = f"learner={pg.name}-p0"
    resp = pg.api("GET", f"review/sessions?{learner}&limit=1")
    assert [r["id"] for r in resp.json()["sessions"]] == [ids[0]]
    nxt = resp.json()["next"]
    assert nxt == ids[0]
    second = pg.api("GET", f"review/sessions?{learner}&limit=1&before={nxt}").json()
    assert [r["id"] for r in second["sessions"]] == [ids[3]] and second["next"] is None
    # no paging from a session one may not see (it would tell when it happened)
    others = world["s"]["none"]  # st and ot's
    for bad, says in (
        ("limit=0", "limit"),
        ("limit=201", "limit"),
        ("limit=two", "limit"),
        ("limit=%C2%B2", "limit"),
        ("before=Not-An-Id", "before"),
        ("before=nosuchsession", "before"),
        (f"before={others}", "before"),
    ):
        resp = pg.api("GET", f"review/sessions?{bad}")
        assert resp.status_code == 400 and says in resp.json()["message"], (bad, resp.text)
    assert st.api("GET", f"review/sessions?before={others}").status_code == 200


def test_list_page_shows_200_and_links_the_older_ones(world):
    import html
    import re

    hub = world["hub"]
    (many,) = seed.users(hub, "many")
    ids = seed_sessions(hub, many.name, 201)
    page = many.http.get(many.url("services/peerplatform/review"), timeout=30).text
    assert page.count("<tr data-session=") == 200
    assert 'id="more"' in page and "200 sessions shown" in page
    assert f'data-session="{ids[0]}"' not in page  # the oldest is on the next page
    href = html.unescape(re.search(r'id="next-page" href="([^"]+)"', page).group(1))
    older = many.http.get(many.url(href), timeout=30).text
    assert re.findall(r'<tr data-session="([a-z0-9]+)"', older) == [ids[0]]
    assert 'id="next-page"' not in older and 'id="first-page"' in older
    # with a filter narrow enough, everything fits and no paging is offered
    one = many.http.get(
        many.url(f"services/peerplatform/review?learner={many.name}-p7"), timeout=30
    ).text
    assert one.count("<tr data-session=") == 1 and 'id="more"' not in one
