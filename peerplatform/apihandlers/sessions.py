"""A member's session: ``GET api/sessions/<id>`` and ``POST api/sessions/<id>/end``."""

from __future__ import annotations

from tornado import web

from ..sessions.lifecycle import public_session
from ..store.sessions import InvalidTransition
from .base import APIHandler


class SessionHandler(APIHandler):
    async def _member_session(self, session_id: str) -> dict:
        doc = await self.platform.store.sessions.get(session_id)
        # 404 for strangers too: a session id is not something to probe for.
        if doc is None or (self.username not in doc["members"] and not self.current_user.get("admin")):
            raise web.HTTPError(404, "no such session")
        return doc

    @web.authenticated
    async def get(self, session_id):
        self.write_json(public_session(await self._member_session(session_id)))


class SessionEndHandler(SessionHandler):
    @web.authenticated
    async def post(self, session_id):
        body = self.get_json_body()
        reason = body.get("reason", "ended by a member")
        if not isinstance(reason, str) or len(reason) > 200:
            raise web.HTTPError(400, "reason must be a string of at most 200 characters")
        await self._member_session(session_id)
        try:
            doc = await self.platform.sessions.end(session_id, f"{reason} ({self.username})")
        except InvalidTransition as e:
            raise web.HTTPError(409, str(e)) from None
        self.write_json(public_session(doc))


def default_handlers(prefix: str):
    return [
        (prefix + r"api/sessions/([a-z0-9]{1,32})", SessionHandler),
        (prefix + r"api/sessions/([a-z0-9]{1,32})/end", SessionEndHandler),
    ]
