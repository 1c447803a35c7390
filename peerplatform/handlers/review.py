"""Review pages: ``review`` (the sessions the caller may see, with filters and paging; an
instructor's cohorts) and ``review/<id>`` (one session, with the member's own peer rating
form). Who may see what: :mod:`peerplatform.review`."""

from __future__ import annotations

from urllib.parse import urlencode

from tornado import web

from ..review import FILTERS, OUTCOMES, list_sessions, review_model, reviewable, time_html
from ..rights import reviewed_cohorts
from ..store.ratings import CRITERIA, public_rating
from ..store.sessions import utcnow
from .base import PageHandler


class ReviewListPage(PageHandler):
    @web.authenticated
    async def get(self):
        sessions, after = await list_sessions(self)
        args = {k: self.get_argument(k, "") for k in FILTERS}
        # paging keeps the filters (and a limit= given by hand); filtering again starts over
        kept = {k: v for k, v in {**args, "limit": self.get_argument("limit", "")}.items() if v}
        page_url = self.settings["service_prefix"] + "review"
        next_url = page_url + "?" + urlencode({**kept, "before": after}) if after else None
        first_url = None
        if self.get_argument("before", ""):
            first_url = page_url + ("?" + urlencode(kept) if kept else "")
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
            args=args,
            outcomes=OUTCOMES,
            next_url=next_url,
            first_url=first_url,
            when=time_html,
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
            when=time_html,
        )


SID = r"([a-z0-9]{1,32})"


def default_handlers(prefix: str):
    return [
        (prefix + r"review", ReviewListPage),
        (prefix + r"review/" + SID, ReviewPage),
    ]
