"""Review API: ``GET api/review/sessions`` (the sessions the caller may see, filtered and
paged), ``GET api/review/sessions/<id>`` (one, for review) and
``GET api/review/sessions/<id>/replay`` (its snapshots). Who may see what and the filters:
:mod:`peerplatform.review`."""

from __future__ import annotations

from tornado import web

from ..review import list_sessions, review_model, reviewable
from .base import APIHandler


class ReviewListHandler(APIHandler):
    @web.authenticated
    async def get(self):
        sessions, after = await list_sessions(self)
        self.write_json({"sessions": sessions, "next": after})


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


SID = r"([a-z0-9]{1,32})"


def default_handlers(prefix: str):
    return [
        (prefix + r"api/review/sessions", ReviewListHandler),
        (prefix + r"api/review/sessions/" + SID, ReviewSessionHandler),
        (prefix + r"api/review/sessions/" + SID + r"/replay", ReplayHandler),
    ]
