"""The lobby page (``<prefix>`` and ``<prefix>lobby``)."""

from __future__ import annotations

from tornado import web

from .base import BaseHandler


class LobbyHandler(BaseHandler):
    """The lobby: join the waiting room, watch the match and the spawn, go to the session."""

    @web.authenticated
    def get(self):
        settings = self.platform.settings
        self.render(
            "lobby.html",
            user=self.current_user,
            prefix=self.settings["service_prefix"],
            hub_prefix=self.settings["hub_prefix"],
            heartbeat_interval=settings.heartbeat_interval,
            xsrf_token=self.xsrf_token.decode("ascii"),
        )

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'self'",
        )


def default_handlers(prefix: str):
    return [(prefix, LobbyHandler), (prefix + r"lobby", LobbyHandler)]
