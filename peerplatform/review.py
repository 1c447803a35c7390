"""Session review: learners see their own sessions, instructors their cohorts', admins all.

``GET api/review/sessions?learner=&from=YYYY-MM-DD&to=YYYY-MM-DD&challenge=<slug>&tag=``
``&outcome=passed|failed|none`` lists what the caller may see, newest first, ``limit`` (at most
200, the default) at a time: ``next`` in the answer is the id to pass as ``before=`` for the
page after (null on the last page);
``GET api/review/sessions/<id>`` gives one (challenge, final notebook rendered safe, test
runs, role swaps, both ratings with comments) and ``GET api/review/sessions/<id>/replay`` its
snapshots. Anything else is 404, as if the
session did not exist. Pages: ``review`` and ``review/<id>``.

This module holds what the review API (:mod:`peerplatform.apihandlers.review`) and pages
(:mod:`peerplatform.handlers.review`) share: who may see which session, the query filters
and paging, and the review model of one session.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tornado import web
from tornado.escape import xhtml_escape

from peerplatform_contracts.challenge_view import render_statement

from .notebook_view import render_notebook
from .rights import can_review, reviewed_cohorts
from .sessions.lifecycle import public_session
from .store.ratings import public_rating

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
OUTCOMES = ("passed", "failed", "none")
FILTERS = ("learner", "from", "to", "challenge", "tag", "outcome")
SESSION_ID = re.compile(r"^[a-z0-9]{1,32}$")
#: Sessions per page of the review list (and the most ``limit=`` may ask for).
PAGE = 200


def time_html(when: datetime | str | None, *, seconds: bool = False) -> str:
    """``when`` as ``<time datetime="<ISO, UTC>">``: review.js shows it in the reader's own
    locale and time zone; without the script it reads ``2026-12-02 10:57 UTC``."""
    if isinstance(when, str):
        try:
            when = datetime.fromisoformat(when)
        except ValueError:
            return xhtml_escape(when)
    if not isinstance(when, datetime):
        return ""
    if when.tzinfo is None:  # the store's datetimes are UTC
        when = when.replace(tzinfo=timezone.utc)
    when = when.astimezone(timezone.utc)
    text = when.strftime("%Y-%m-%d %H:%M:%S UTC" if seconds else "%Y-%m-%d %H:%M UTC")
    return (f'<time datetime="{when.isoformat(timespec="seconds")}"'
            f'{" data-seconds" if seconds else ""}>{text}</time>')


def outcome_of(doc: dict) -> str:
    """passed (final hidden tests all pass), failed (they ran and did not), none (no run)."""
    tests = (doc.get("outcome") or {}).get("tests") or {}
    status = tests.get("status")
    if status == "passed":
        return "passed"
    return "failed" if status else "none"


async def visible_filter(handler) -> dict:
    """A MongoDB filter of the sessions the caller may review."""
    me = handler.current_user
    cohorts = reviewed_cohorts(me)
    if cohorts is None:
        return {}
    users = {me["name"]}
    for cohort in cohorts:
        doc = await handler.platform.store.cohorts.get(cohort)
        users.update((doc or {}).get("members", []))
    return {"members": {"$in": sorted(users)}}


def parse_filters(handler) -> dict:
    query: dict = {}
    learner = handler.get_argument("learner", "")
    if learner:
        if len(learner) > 128:
            raise web.HTTPError(400, "learner is too long")
        query["members"] = learner
    span = {}
    for arg, op, extra in (("from", "$gte", 0), ("to", "$lt", 1)):
        value = handler.get_argument(arg, "")
        if value:
            if not DATE.match(value):
                raise web.HTTPError(400, f"{arg} must be a date YYYY-MM-DD")
            try:
                day = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=timezone.utc)
            except ValueError:
                raise web.HTTPError(400, f"{arg} is not a valid date") from None
            span[op] = day + timedelta(days=extra)
    if span:
        query["created_at"] = span
    challenge = handler.get_argument("challenge", "")
    if challenge:
        if not SLUG.match(challenge):
            raise web.HTTPError(400, "challenge must be a challenge slug")
        query["challenge.slug"] = challenge
    tag = handler.get_argument("tag", "")
    if tag:
        if not SLUG.match(tag):
            raise web.HTTPError(400, "tag must be a tag like binary-search-tree")
        query["challenge.tags"] = tag
    outcome = handler.get_argument("outcome", "")
    if outcome:
        if outcome not in OUTCOMES:
            raise web.HTTPError(400, f"outcome must be one of {', '.join(OUTCOMES)}")
        query["outcome.tests.status"] = {
            "passed": "passed",
            "failed": {"$nin": ["passed", None]},
            "none": None,
        }[outcome]
    return query


def row(doc: dict) -> dict:
    ch = doc.get("challenge") or {}
    tests = (doc.get("outcome") or {}).get("tests") or {}
    return {
        "id": doc["_id"],
        "members": doc["members"],
        "state": doc["state"],
        "created_at": doc.get("created_at"),
        "challenge": ch.get("title"),
        "slug": ch.get("slug"),
        "tags": ch.get("tags") or [],
        "outcome": outcome_of(doc),
        "passed": tests.get("passed"),
        "total": tests.get("total"),
    }


def parse_page(handler) -> tuple[int, str]:
    """``limit`` (1 to PAGE) and ``before`` (the id of the last session of the page before)."""
    raw = handler.get_argument("limit", "")
    limit = PAGE
    if raw:
        if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= PAGE:
            raise web.HTTPError(400, f"limit must be a whole number from 1 to {PAGE}")
        limit = int(raw)
    before = handler.get_argument("before", "")
    if before and not SESSION_ID.match(before):
        raise web.HTTPError(400, "before must be a session id")
    return limit, before


async def list_sessions(handler) -> tuple[list[dict], str | None]:
    """One page of the sessions the caller may see, and the ``before`` of the next page."""
    store = handler.platform.store
    base = await visible_filter(handler)
    query = parse_filters(handler)
    limit, before = parse_page(handler)
    if base and "members" in query:
        query = {"$and": [base, query]}
    else:
        query = {**base, **query}
    start = None
    if before:
        start = await store.sessions.get(before)
        # paging from a session one may not see would tell when it happened
        if start is None or not await can_review(store, handler.current_user, start["members"]):
            raise web.HTTPError(400, "before must be the id of a session in your list")
    docs = await store.sessions.newest(query, limit=limit + 1, before=start)
    more = len(docs) > limit
    docs = docs[:limit]
    return [row(d) for d in docs], (docs[-1]["_id"] if more else None)


async def reviewable(handler, session_id: str) -> dict:
    doc = await handler.platform.store.sessions.get(session_id)
    if doc is None or not await can_review(
        handler.platform.store, handler.current_user, doc["members"]
    ):
        raise web.HTTPError(404, "no such session")
    return doc


async def review_model(handler, doc: dict) -> dict:
    store = handler.platform.store
    ch = doc.get("challenge") or {}
    statement_html = ""
    if ch.get("slug"):
        full = None
        if ch.get("version") is not None:
            full = await store.challenges.get_version(ch["slug"], ch["version"])
        full = full or await store.challenges.get(ch["slug"])
        if full:
            statement_html = render_statement(full.get("statement", ""))
    outcome = doc.get("outcome") or {}
    events = doc.get("events") or []
    return {
        "session": public_session(doc),
        "challenge": {k: ch.get(k) for k in ("slug", "title", "difficulty", "tags", "version")},
        "statement_html": statement_html,
        "outcome": outcome_of(doc),
        "final_tests": outcome.get("tests"),
        "test_runs": [
            {
                "at": e.get("at"),
                "by": e.get("by"),
                "final": e.get("final"),
                **{
                    k: (e.get("result") or {}).get(k)
                    for k in ("status", "passed", "failed", "total")
                },
            }
            for e in events
            if e.get("type") == "tests"
        ],
        "swaps": [
            {
                "at": e.get("at"),
                "driver": e.get("driver"),
                "observer": e.get("observer"),
                "reason": e.get("reason"),
            }
            for e in events
            if e.get("type") == "swap"
        ],
        "ratings": [public_rating(r) for r in await store.ratings.for_session(doc["_id"])],
        "notebook": render_notebook(outcome.get("notebook_json")),
    }
