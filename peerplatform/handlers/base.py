"""Base handlers of the service's pages: Hub OAuth login for every route, the page frame.

The JSON API's base (:class:`peerplatform.apihandlers.base.APIHandler`) builds on
:class:`BaseHandler`.
"""

from __future__ import annotations

from jupyterhub.services.auth import HubOAuthCallbackHandler, HubOAuthenticated
from tornado import web


class BaseHandler(HubOAuthenticated, web.RequestHandler):
    """Every page and API call acts for the Hub user logged in through OAuth."""

    @property
    def hub_auth(self):
        return self.settings["hub_auth"]

    @hub_auth.setter
    def hub_auth(self, value):  # HubAuthenticated's setter; ours comes from settings
        pass

    @property
    def platform(self):
        """The service's shared objects (settings, store, room, sessions, events)."""
        return self.settings["platform"]

    @property
    def username(self) -> str:
        return self.current_user["name"]

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Referrer-Policy", "same-origin")


class OAuthCallbackHandler(HubOAuthCallbackHandler):
    @property
    def hub_auth(self):
        return self.settings["hub_auth"]

    @hub_auth.setter
    def hub_auth(self, value):
        pass


class PageHandler(BaseHandler):
    """HTML pages around ``page.html`` (navigation, strict CSP). Templates autoescape every
    ``{{ }}`` expression, so names, bios and comments render as text, never as markup."""

    csp = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; frame-ancestors 'self'"

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Content-Security-Policy", self.csp)

    def render_page(self, template: str, **kwargs) -> None:
        self.render(
            template,
            user=self.current_user,
            prefix=self.settings["service_prefix"],
            hub_prefix=self.settings["hub_prefix"],
            xsrf_token=self.xsrf_token.decode("ascii"),
            **kwargs,
        )
