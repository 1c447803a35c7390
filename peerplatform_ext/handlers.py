"""REST API of the pair server under ``/peerplatform/api/``."""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from .session import role_of

AUTH_RESOURCE = "peerplatform"


class PairAPIHandler(ExtensionHandlerMixin, APIHandler):
    auth_resource = AUTH_RESOURCE

    @property
    def pair(self):
        return self.settings["peerplatform_session"]

    async def member_session(self) -> tuple[dict, str]:
        """The session and the caller's role; 404 without a session, 403 for non-members."""
        doc = await self.pair.get()
        if doc is None:
            raise web.HTTPError(404, "no session is assigned to this server")
        role = role_of(doc, self.current_user.username)
        if role is None:
            raise web.HTTPError(403, "you are not a member of this session")
        return doc, role


class SessionHandler(PairAPIHandler):
    """``GET /peerplatform/api/session``: the session and who the caller is in it."""

    @web.authenticated
    @authorized
    async def get(self):
        doc, role = await self.member_session()
        partner = doc["observer"] if role == "driver" else doc["driver"]
        self.finish(json.dumps({
            "username": self.current_user.username,
            "role": role,
            "partner": partner,
            "session": {
                "id": doc["_id"],
                "state": doc["state"],
                "driver": doc["driver"],
                "observer": doc["observer"],
                "duration_s": doc.get("duration_s"),
                "started_at": doc.get("started_at"),
            },
        }, default=str))


default_handlers = [
    (r"/peerplatform/api/session", SessionHandler),
]
