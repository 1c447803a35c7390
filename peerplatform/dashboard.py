"""A learner's progress dashboard: sessions over time, outcomes, the peer-rating trend per
criterion and performance by challenge tag, as server-rendered SVG charts with the numbers in
tables, and as CSV. The learner sees their own; instructors of their cohort and admins too.

``GET dashboard`` / ``dashboard/<user>`` (page), ``GET api/dashboard[/<user>]`` (JSON),
``GET api/dashboard[/<user>]/csv?part=sessions|tags|ratings`` (CSV download).

This module holds what the page (:mod:`peerplatform.handlers.dashboard`) and the API
(:mod:`peerplatform.apihandlers.dashboard`) share: the data, the charts, who may see whose.
"""

from __future__ import annotations

from collections import OrderedDict

from tornado import web

from .charts import bar_chart, line_chart
from .review import outcome_of
from .rights import can_review
from .store.ratings import CRITERIA

PARTS = ("sessions", "tags", "ratings")


async def dashboard_data(platform, user: str) -> dict:
    store = platform.store
    sessions = []
    tags: dict[str, dict] = {}
    weeks: OrderedDict[str, list[int]] = OrderedDict()
    received = {r["session_id"]: r for r in await store.ratings.received_by(user)}
    for doc in await store.sessions.ended_for_user(user):
        ch = doc.get("challenge") or {}
        tests = (doc.get("outcome") or {}).get("tests") or {}
        outcome = outcome_of(doc)
        solved = outcome == "passed"
        when = doc.get("created_at")
        partner = next((m for m in doc["members"] if m != user), "")
        rating = received.get(doc["_id"])
        sessions.append(
            {
                "date": when.strftime("%Y-%m-%d") if when else "",
                "session": doc["_id"],
                "partner": partner,
                "challenge": ch.get("title") or "",
                "slug": ch.get("slug") or "",
                "tags": ch.get("tags") or [],
                "outcome": outcome,
                "tests_passed": tests.get("passed"),
                "tests_total": tests.get("total"),
                "solved_in_time": solved,
                **{f"rated_{c}": (rating or {}).get("scores", {}).get(c) for c in CRITERIA},
            }
        )
        if when:
            week = when.strftime("%G-W%V")
            counts = weeks.setdefault(week, [0, 0])
            counts[0] += 1
            counts[1] += int(solved)
        for tag in ch.get("tags") or []:
            t = tags.setdefault(tag, {"tag": tag, "attempted": 0, "solved": 0})
            t["attempted"] += 1
            t["solved"] += int(solved)
    for t in tags.values():
        t["solve_rate"] = round(t["solved"] / t["attempted"], 3) if t["attempted"] else 0.0
    ratings = [
        {
            "date": r["created_at"].strftime("%Y-%m-%d"),
            "session": r["session_id"],
            "from": r["rater"],
            **r["scores"],
        }
        for r in received.values()
    ]
    ratings.sort(key=lambda r: r["date"])
    return {
        "user": user,
        "totals": {
            "sessions": len(sessions),
            "solved": sum(s["solved_in_time"] for s in sessions),
            "ratings_received": len(ratings),
        },
        "sessions": sessions,
        "weeks": [{"week": w, "sessions": c[0], "solved": c[1]} for w, c in weeks.items()],
        "tags": sorted(tags.values(), key=lambda t: (-t["attempted"], t["tag"])),
        "ratings": ratings,
    }


def plural(n: int, one: str, many: str | None = None) -> str:
    """``1 session``, ``2 sessions``: the count with the word it agrees with."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def rolling(values: list[float], k: int = 3) -> list[float]:
    """Mean of the last ``k`` values at each point: a trend, not single-session noise."""
    return [
        sum(values[max(0, i - k + 1) : i + 1]) / len(values[max(0, i - k + 1) : i + 1])
        for i in range(len(values))
    ]


def charts(data: dict) -> dict:
    return {
        "weeks": bar_chart(
            "chart-weeks",
            "Sessions per week (dark: solved)",
            [(w["week"], w["sessions"], w["solved"]) for w in data["weeks"]],
        ),
        "tags": bar_chart(
            "chart-tags",
            "Challenges by tag: attempted (dark: solved)",
            [(t["tag"], t["attempted"], t["solved"]) for t in data["tags"]],
        ),
        "ratings": line_chart(
            "chart-ratings",
            "Peer ratings received (mean of the last 3)",
            {
                c.replace("_", " "): rolling([float(r[c]) for r in data["ratings"]])
                for c in CRITERIA
            },
        ),
    }


def csv_safe(value) -> str:
    """Cells a spreadsheet would run as a formula get a leading quote (CSV injection)."""
    text = "" if value is None else (" ".join(value) if isinstance(value, list) else str(value))
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


async def allowed_user(handler, user: str | None) -> str:
    """The learner whose dashboard the caller asks for (themselves by default); 404 when the
    caller may not see it."""
    user = user or handler.username
    if not await can_review(handler.platform.store, handler.current_user, [user]):
        raise web.HTTPError(404, "no such dashboard")
    return user
