"""Dashboard: per-learner numbers, SVG charts with text alternatives, CSV export, rights."""

from __future__ import annotations

import csv
import io

import pytest
import seed
from hubuser import HubUser
from seed import ADMIN

pytestmark = pytest.mark.hub


def ch(slug, title, tags):
    return {"slug": slug, "title": title, "difficulty": "easy", "tags": tags, "version": 1}


PASSED = {"tests": {"status": "passed", "passed": 4, "failed": 0, "total": 4}}
FAILED = {"tests": {"status": "failed", "passed": 1, "failed": 3, "total": 4}}


@pytest.fixture(scope="module")
def learners(hub):
    du, pa, xo = seed.users(hub, "du", "pa", "xo")
    sids = [
        seed.session(
            hub,
            du.name,
            pa.name,
            outcome=PASSED,
            challenge=ch("bst-insert", "BST insert", ["binary-search-tree"]),
        ),
        seed.session(
            hub,
            pa.name,
            du.name,
            outcome=FAILED,
            challenge=ch("bst-delete", "BST delete", ["binary-search-tree", "recursion"]),
        ),
        seed.session(
            hub,
            du.name,
            pa.name,
            outcome=PASSED,
            challenge=ch("ll-rev", '=HYPERLINK("http://x")<script>x</script>', ["linked-list"]),
        ),
        seed.session(hub, du.name, pa.name, state="failed"),  # never counted
    ]
    for sid, score in zip(sids[:3], (3, 4, 5), strict=True):
        assert (
            pa.api(
                "POST",
                f"sessions/{sid}/rating",
                {"communication": score, "collaboration": 5, "problem_solving": score},
            ).status_code
            == 201
        )
    return du, pa, xo


def test_numbers(learners):
    du = learners[0]
    d = du.api("GET", "dashboard").json()
    assert d["totals"] == {"sessions": 3, "solved": 2, "ratings_received": 3}
    tags = {t["tag"]: t for t in d["tags"]}
    assert tags["binary-search-tree"] == {
        "tag": "binary-search-tree",
        "attempted": 2,
        "solved": 1,
        "solve_rate": 0.5,
    }
    assert tags["linked-list"]["solve_rate"] == 1.0 and tags["recursion"]["solved"] == 0
    assert [r["communication"] for r in d["ratings"]] == [3, 4, 5]
    assert sum(w["sessions"] for w in d["weeks"]) == 3
    assert [s["outcome"] for s in d["sessions"]] == ["passed", "failed", "passed"]


def test_page_has_svg_charts_with_text_alternatives_and_escapes(learners):
    du = learners[0]
    page = du.http.get(du.url("services/peerplatform/dashboard"), timeout=30)
    assert page.status_code == 200
    text = page.text
    for chart in ("chart-weeks", "chart-tags", "chart-ratings"):
        assert f'id="{chart}" role="img"' in text
        assert f'<title id="{chart}-t">' in text and f'<desc id="{chart}-d">' in text
    assert 'data-tag="binary-search-tree"' in text and "50%" in text
    assert "<script>x</script>" not in text and "&lt;script&gt;x&lt;/script&gt;" in text
    assert "<canvas" not in text


def test_csv_export(learners):
    du = learners[0]
    resp = du.http.get(du.url("services/peerplatform/api/dashboard/csv?part=sessions"), timeout=30)
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.text)))
    assert (
        len(rows) == 3 and rows[0]["outcome"] == "passed" and rows[0]["rated_communication"] == "3"
    )
    # a formula in user-influenced text is neutralised
    assert rows[2]["challenge"].startswith("'=HYPERLINK")
    tags = list(
        csv.DictReader(
            io.StringIO(
                du.http.get(
                    du.url("services/peerplatform/api/dashboard/csv?part=tags"), timeout=30
                ).text
            )
        )
    )
    assert {r["tag"] for r in tags} == {"binary-search-tree", "recursion", "linked-list"}
    assert (
        du.http.get(
            du.url("services/peerplatform/api/dashboard/csv?part=x"), timeout=30
        ).status_code
        == 400
    )


def test_rights(hub, learners):
    du, pa, xo = learners
    assert xo.api("GET", f"dashboard/{du.name}").status_code == 404
    assert (
        pa.api("GET", f"dashboard/{du.name}").status_code == 404
    )  # a partner is not an instructor
    assert (
        xo.http.get(xo.url(f"services/peerplatform/dashboard/{du.name}"), timeout=30).status_code
        == 404
    )
    assert (
        xo.http.get(
            xo.url(f"services/peerplatform/api/dashboard/{du.name}/csv"), timeout=30
        ).status_code
        == 404
    )
    admin = HubUser(hub.url, ADMIN)
    admin.signup()
    assert admin.login().status_code == 200 and admin.open_lobby().status_code == 200
    assert admin.api("GET", f"dashboard/{du.name}").json()["totals"]["sessions"] == 3
