"""The tornado application of the platform service."""

from __future__ import annotations

from pathlib import Path

from tornado import web

from . import (
    api,
    cohorts,
    dashboard,
    labbridge,
    leaderboard,
    matches,
    pages,
    profiles,
    ratings,
    review,
    voice,
)
from ..voice.settings import VoiceSettings
from .base import OAuthCallbackHandler

HERE = Path(__file__).parent


def make_app(platform, *, hub_auth, prefix: str, hub_prefix: str, cookie_secret: bytes,
             **extra_settings) -> web.Application:
    """Build the service app; ``platform`` carries the shared objects the handlers use."""
    if not prefix.endswith("/"):
        prefix += "/"
    handlers = [
        *pages.default_handlers(prefix),
        *api.default_handlers(prefix),
        *ratings.default_handlers(prefix),
        *labbridge.default_handlers(prefix),
        *leaderboard.default_handlers(prefix),
        *matches.default_handlers(prefix),
        *profiles.default_handlers(prefix),
        *cohorts.default_handlers(prefix),
        *review.default_handlers(prefix),
        *dashboard.default_handlers(prefix),
        *voice.default_handlers(prefix),
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
