"""Leaderboards through the service: a new rating reaches open boards at once (SSE), the
API and page show it, bad parameters are 400."""

from __future__ import annotations

import pytest
import seed

pytestmark = pytest.mark.hub


@pytest.fixture(scope="module")
def four(hub):
    return seed.users(hub, "lea", "max", "nia", "oto")


def test_a_rating_reaches_an_open_board_without_reload(hub, four):
    lea, max_, nia, _ = four
    listener = seed.StreamListener(nia, "leaderboard/events")
    try:
        listener.wait_for("hello", timeout=10)
        sid = seed.session(hub, lea.name, max_.name)
        resp = lea.api(
            "POST",
            f"sessions/{sid}/rating",
            {"communication": 5, "collaboration": 5, "problem_solving": 5},
        )
        assert resp.status_code == 201
        ev = listener.wait_for_match(lambda e: e.get("user") == max_.name)
        assert ev["type"] == "leaderboard" and ev["n"] == 1
        assert ev["scores"]["overall"] == pytest.approx((5 * 3 + 5) / 6, abs=1e-3)
        # an edit moves it again, without adding a rating
        resp = lea.api("PUT", f"sessions/{sid}/rating", {"communication": 1})
        assert resp.status_code == 200
        ev = listener.wait_for_match(
            lambda e: e.get("user") == max_.name and e["scores"]["communication"] < 3
        )
        assert ev["n"] == 1 and ev["scores"]["communication"] == pytest.approx(
            (15 + 1) / 6, abs=1e-3
        )
    finally:
        listener.close()
    rows = nia.api("GET", "leaderboard?board=communication").json()["rows"]
    row = next(r for r in rows if r["user"] == max_.name)
    assert row["n"] == 1 and row["score"] == pytest.approx(16 / 6, abs=1e-3)


def test_cohort_filter_and_totals(hub, four):
    lea, max_, nia, oto = four
    cohort = "c-" + lea.name.split("-")[-1]

    async def setup(store):
        await store.cohorts.ensure(cohort)
        await store.cohorts.add_members(cohort, [oto.name])

    seed.run(setup)(hub)
    for rater in (lea, max_, nia):
        sid = seed.session(hub, rater.name, oto.name)
        assert (
            rater.api(
                "POST",
                f"sessions/{sid}/rating",
                {"communication": 4, "collaboration": 4, "problem_solving": 4},
            ).status_code
            == 201
        )
    rows = lea.api("GET", f"leaderboard?cohort={cohort}").json()["rows"]
    assert [r["user"] for r in rows] == [oto.name] and rows[0]["n"] == 3
    totals = lea.api("GET", "leaderboard/cohorts").json()["rows"]
    mine = next(r for r in totals if r["cohort"] == cohort)
    assert mine["members_counted"] == 1
    page = lea.http.get(lea.url(f"services/peerplatform/leaderboard?cohort={cohort}"), timeout=30)
    assert page.status_code == 200
    assert f'data-user="{oto.name}"' in page.text and "Bayesian average" in page.text
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    "query", ["board=stars", "cohort=NOT%20OK", "limit=0", "limit=501", "limit=x"]
)
def test_bad_parameters_are_400(four, query):
    lea = four[0]
    resp = lea.api("GET", f"leaderboard?{query}")
    assert resp.status_code == 400 and resp.json()["message"]
    page = lea.http.get(lea.url(f"services/peerplatform/leaderboard?{query}"), timeout=30)
    assert page.status_code == 400


def test_anonymous_is_refused(hub):
    import requests

    for path in ("api/leaderboard", "api/leaderboard/cohorts", "api/leaderboard/events"):
        resp = requests.get(
            hub.url + "services/peerplatform/" + path, timeout=10, allow_redirects=False
        )
        assert resp.status_code == 403, path
