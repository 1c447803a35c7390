"""Session review: learners see their own sessions, instructors their cohorts', admins all.

``GET api/review/sessions?learner=&from=YYYY-MM-DD&to=YYYY-MM-DD&challenge=<slug>&tag=``
``&outcome=passed|failed|none`` lists what the caller may see;
``GET api/review/sessions/<id>`` gives one (challenge, final notebook rendered safe, test
runs, role swaps, both ratings with comments) and ``GET api/review/sessions/<id>/replay`` its
snapshots. Anything else is 404, as if the
session did not exist. Pages: ``review`` and ``review/<id>``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

from tornado import web

from ..sessions.lifecycle import public_session
from ..store.challenge_view import render_statement
from ..store.ratings import CRITERIA, public_rating
from ..store.sessions import utcnow
from .base import APIHandler, PageHandler
from .notebook_view import render_notebook
from .rights import can_review, reviewed_cohorts

DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,99}$")
OUTCOMES = ("passed", "failed", "none")


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


async def list_sessions(handler, limit: int = 200) -> list[dict]:
    base = await visible_filter(handler)
    query = parse_filters(handler)
    if base and "members" in query:
        query = {"$and": [base, query]}
    else:
        query = {**base, **query}
    return [row(d) for d in await handler.platform.store.sessions.newest(query, limit=limit)]


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


class ReviewListHandler(APIHandler):
    @web.authenticated
    async def get(self):
        self.write_json({"sessions": await list_sessions(self)})


class ReviewSessionHandler(APIHandler):
    @web.authenticated
    async def get(self, session_id):
        self.write_json(await review_model(self, await reviewable(self, session_id)))


class ReplayHandler(APIHandler):
    @web.authenticated
    async def get(self, session_id):
        doc = await reviewable(self, session_id)
        snaps = await self.platform.store.snapshots.for_session(session_id)
        self.write_json(
            {
                "session": session_id,
                "members": doc["members"],
                "snapshots": [
                    {
                        "t": s["t"],
                        "by": s.get("by"),
                        "final": s.get("final", False),
                        "cells": s["cells"],
                    }
                    for s in snaps
                ],
            }
        )


class ReviewListPage(PageHandler):
    @web.authenticated
    async def get(self):
        sessions = await list_sessions(self)
        cohorts = reviewed_cohorts(self.current_user)
        # instructors get their cohorts' learners, with links to their dashboards
        taught = [
            {"name": d["_id"], "title": d.get("title") or d["_id"],
             "learners": sorted(d.get("members", []))}
            for d in await self.platform.store.cohorts.all()
            if cohorts is None or d["_id"] in cohorts
        ]
        self.render_page(
            "review_list.html",
            title="Sessions",
            sessions=sessions,
            taught=taught,
            instructor=cohorts is None or bool(cohorts),
            args={
                k: self.get_argument(k, "")
                for k in ("learner", "from", "to", "challenge", "tag", "outcome")
            },
            outcomes=OUTCOMES,
        )


class ReviewPage(PageHandler):
    # review pages show output images as data: URLs (validated base64, see notebook_view)
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'self'"
    )

    @web.authenticated
    async def get(self, session_id):
        doc = await reviewable(self, session_id)
        me = self.username
        own = None
        if me in doc["members"]:
            rated = await self.platform.store.ratings.get(session_id, me)
            own = public_rating(rated) if rated else {}
        # the form is offered while the server would take it: a first rating, or an edit
        # inside the window (RatingHandler answers 403 after it)
        editable = not own or own["editable_until"] > utcnow()
        self.render_page(
            "review.html",
            title="Session review",
            r=await review_model(self, doc),
            rater=own is not None and doc["state"] == "ended",
            can_rate=own is not None and doc["state"] == "ended" and editable,
            own_rating=own or {},
            partner=next((m for m in doc["members"] if m != me), None),
            criteria=CRITERIA,
        )


SID = r"([a-z0-9]{1,32})"


def default_handlers(prefix: str):
    return [
        (prefix + r"review", ReviewListPage),
        (prefix + r"review/" + SID, ReviewPage),
        (prefix + r"api/review/sessions", ReviewListHandler),
        (prefix + r"api/review/sessions/" + SID, ReviewSessionHandler),
        (prefix + r"api/review/sessions/" + SID + r"/replay", ReplayHandler),
    ]
