"""The lobby page (``<prefix>`` and ``<prefix>lobby``)."""

from __future__ import annotations

from tornado import web

from .base import BaseHandler


def length_label(seconds: int) -> str:
    """``45 minutes``, ``1 minute``, ``10 seconds``: a session length as the lobby shows it."""
    value, unit = (seconds // 60, "minute") if seconds % 60 == 0 else (seconds, "second")
    return f"{value} {unit}{'' if value == 1 else 's'}"


def duration_options(settings) -> list[dict]:
    """The lobby's Length choices from the settings, the default preselected.

    Each is ``{"value", "label", "selected"}``; ``value`` is what the page sends as
    ``duration_minutes``, empty for a default length that is not whole minutes (then the
    page leaves it out and the session gets ``session_duration``)."""
    default_s = settings.session_duration
    options = [
        {"value": str(m), "label": length_label(m * 60), "selected": m * 60 == default_s}
        for m in settings.duration_choices_minutes()
    ]
    if default_s % 60:
        options.insert(0, {"value": "", "label": length_label(default_s), "selected": True})
    return options


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
            durations=duration_options(settings),
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
