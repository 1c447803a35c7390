"""Peer ratings API: ``/api/sessions/<id>/rating`` (the caller's own rating of their partner).

``POST`` gives it (201; 409 when the session is not over yet or the caller already rated),
``PUT`` changes it within ``c.PeerPlatform.rating_edit_window`` (403 after), ``GET`` reads it
(404 when there is none). Only members reach a session; everyone else gets 404, as for the
session itself.
"""

from __future__ import annotations

import logging

from tornado import web

from ..store.ratings import (
    DuplicateRating,
    EditWindowClosed,
    InvalidRating,
    public_rating,
    validate_rating,
)
from .base import APIHandler

log = logging.getLogger("peerplatform.ratings")


class RatingHandler(APIHandler):
    async def _session(self, session_id: str) -> dict:
        doc = await self.platform.store.sessions.get(session_id)
        if doc is None or self.username not in doc["members"]:
            raise web.HTTPError(404, "no such session")
        return doc

    def _body(self, *, partial: bool) -> dict:
        try:
            return validate_rating(self.get_json_body(required=True), partial=partial)
        except InvalidRating as e:
            raise web.HTTPError(400, str(e)) from None

    async def _changed(self, before: dict | None, after: dict) -> None:
        """Tell the derived views (leaderboards) about a new or changed rating."""
        hook = getattr(self.platform, "rating_changed", None)
        if hook is None:
            return
        try:
            await hook(before, after)
        except Exception:
            # the rating is stored; a leaderboard can be rebuilt from MongoDB at any time
            log.exception("could not update the leaderboards for rating %s", after["_id"])

    @web.authenticated
    async def get(self, session_id):
        await self._session(session_id)
        doc = await self.platform.store.ratings.get(session_id, self.username)
        if doc is None:
            raise web.HTTPError(404, "you have not rated this session")
        self.write_json(public_rating(doc))

    @web.authenticated
    async def post(self, session_id):
        session = await self._session(session_id)
        body = self._body(partial=False)
        if session["state"] != "ended":
            raise web.HTTPError(
                409, f"the session is {session['state']}; rate it once it has ended"
            )
        ratee = next(m for m in session["members"] if m != self.username)
        try:
            doc = await self.platform.store.ratings.create(
                session_id=session_id,
                rater=self.username,
                ratee=ratee,
                scores=body["scores"],
                comment=body["comment"],
                edit_window_s=self.platform.settings.rating_edit_window,
            )
        except DuplicateRating:
            raise web.HTTPError(409, "you already rated this session; PUT changes it") from None
        await self._changed(None, doc)
        self.write_json(public_rating(doc), status=201)

    @web.authenticated
    async def put(self, session_id):
        await self._session(session_id)
        body = self._body(partial=True)
        try:
            before, after = await self.platform.store.ratings.edit(
                session_id, self.username, scores=body["scores"], comment=body.get("comment")
            )
        except KeyError:
            raise web.HTTPError(404, "you have not rated this session") from None
        except EditWindowClosed as e:
            raise web.HTTPError(403, str(e)) from None
        await self._changed(before, after)
        self.write_json(public_rating(after))


def default_handlers(prefix: str):
    return [(prefix + r"api/sessions/([a-z0-9]{1,32})/rating", RatingHandler)]
