"""The tornado application of the platform service: the pages (:mod:`.handlers`) and the JSON
API (:mod:`.apihandlers`), with the templates and static files beside this module."""

from __future__ import annotations

from pathlib import Path

from tornado import web

from .apihandlers import (
    cohorts,
    dashboard,
    events,
    leaderboard,
    matches,
    me,
    pair,
    profiles,
    ratings,
    review,
    sessions,
    voice,
    voice_webhooks,
    waiting_room,
)
from .handlers import dashboard as dashboard_page
from .handlers import labbridge, lobby
from .handlers import leaderboard as leaderboard_page
from .handlers import profiles as profile_pages
from .handlers import review as review_pages
from .handlers.base import OAuthCallbackHandler
from .voice.settings import VoiceSettings

HERE = Path(__file__).parent


def make_app(platform, *, hub_auth, prefix: str, hub_prefix: str, cookie_secret: bytes,
             **extra_settings) -> web.Application:
    """Build the service app; ``platform`` carries the shared objects the handlers use."""
    if not prefix.endswith("/"):
        prefix += "/"
    handlers = [
        # pages
        *lobby.default_handlers(prefix),
        *labbridge.default_handlers(prefix),
        *leaderboard_page.default_handlers(prefix),
        *profile_pages.default_handlers(prefix),
        *review_pages.default_handlers(prefix),
        *dashboard_page.default_handlers(prefix),
        # JSON API
        *waiting_room.default_handlers(prefix),
        *me.default_handlers(prefix),
        *events.default_handlers(prefix),
        *sessions.default_handlers(prefix),
        *ratings.default_handlers(prefix),
        *leaderboard.default_handlers(prefix),
        *matches.default_handlers(prefix),
        *profiles.default_handlers(prefix),
        *cohorts.default_handlers(prefix),
        *review.default_handlers(prefix),
        *dashboard.default_handlers(prefix),
        # the members' call: Twilio tokens, ICE/TURN, conference control (never the pair server)
        *voice.default_handlers(prefix),
        # the pair servers' API (token-authenticated, no OAuth; settings["pair_api"])
        *pair.default_handlers(prefix),
        # Twilio's webhooks (no Hub login: Twilio's signature authenticates them)
        *voice_webhooks.default_handlers(prefix),
        (prefix + "oauth_callback", OAuthCallbackHandler),
    ]
    settings = dict(
        platform=platform,
        hub_auth=hub_auth,
        cookie_secret=cookie_secret,
        service_prefix=prefix,
        hub_prefix=hub_prefix,
        template_path=str(HERE / "templates"),
        static_path=str(HERE / "static"),
        static_url_prefix=prefix + "static/",
        login_url=prefix + "oauth_callback",
        voice_settings=VoiceSettings(),
    )
    settings.update(extra_settings)
    return web.Application(handlers, **settings)
