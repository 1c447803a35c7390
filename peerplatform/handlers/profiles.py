"""Profile pages: ``profile`` (own, with the edit form) and ``profile/<user>`` (the public
part, for those who may see it; 404 for everyone else)."""

from __future__ import annotations

from tornado import web

from ..profiles import may_view, profile_model
from ..store.profiles import FIELDS
from .base import PageHandler


class OwnProfilePage(PageHandler):
    @web.authenticated
    async def get(self):
        model = await profile_model(self.platform, self.username, full=True)
        self.render_page(
            "profile.html",
            title="Your profile",
            profile=model,
            own=True,
            fields=FIELDS,
            max_picture=self.platform.settings.picture_max_bytes,
        )


class ProfilePage(PageHandler):
    @web.authenticated
    async def get(self, user):
        if not await may_view(self, user):
            raise web.HTTPError(404, "no such profile")
        model = await profile_model(self.platform, user, full=user == self.username)
        self.render_page(
            "profile.html",
            title=f"{user} · profile",
            profile=model,
            own=user == self.username,
            fields=FIELDS,
            max_picture=0,
        )


USER = r"([^/]{1,128})"


def default_handlers(prefix: str):
    return [
        (prefix + r"profile", OwnProfilePage),
        (prefix + r"profile/" + USER, ProfilePage),
    ]
