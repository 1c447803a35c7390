"""Authenticators for the Hub: open signup, and no consent click when entering a pair server.

* :class:`PairConsentMixin` adds to any Authenticator an OAuth authorize handler that skips
  JupyterHub's one-time "Authorize access" page for the two members of a pair server (and
  nobody else). Combine it with another authenticator, e.g. for a bootcamp using GitHub::

      from oauthenticator.github import GitHubOAuthenticator
      class BootcampAuthenticator(PairConsentMixin, GitHubOAuthenticator):
          pass

* :class:`PeerNativeAuthenticator` is NativeAuthenticator 1.3.0 (signup + login) with its two
  JupyterHub 6 breakages mended in one subclassed handler, without patching the library; a
  learner whose account works at once (open signup) goes from the signup to the login page
  with the name filled in, and the signup and login pages are ours (``templates/`` here: a
  show/hide-password button in words).
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import ChoiceLoader, FileSystemLoader
from jupyterhub import orm
from jupyterhub.apihandlers.auth import OAuthAuthorizeHandler
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator import handlers as native_handlers
from tornado.httputil import url_concat
from traitlets import Unicode
from traitlets.config import Configurable

from peerplatform_contracts.sessions import SERVER_NAME_PREFIX


class PairOAuthAuthorizeHandler(OAuthAuthorizeHandler):
    """``/hub/api/oauth2/authorize`` that needs no confirmation for a pair server's members.

    The Hub has already checked, before asking this, that the user may access the server. We
    skip the page only for servers of the synthetic pair owner whose name has the session
    prefix, and only for users holding a direct share of that server (the two learners).
    """

    def needs_oauth_confirm(self, user, oauth_client, requested_scopes):
        if self._is_pair_member(user, oauth_client):
            self.log.debug("Pair member %s enters %s without consent page", user.name,
                           oauth_client.identifier)
            return False
        return super().needs_oauth_confirm(user, oauth_client, requested_scopes)

    def _is_pair_member(self, user, oauth_client) -> bool:
        spawner = getattr(oauth_client, "spawner", None)
        if spawner is None or spawner.user is None:
            return False
        auth = self.authenticator
        if spawner.user.name != auth.pair_owner or not spawner.name.startswith(
            auth.pair_server_prefix
        ):
            return False
        share = (
            self.db.query(orm.Share)
            .filter_by(user_id=user.orm_user.id, spawner_id=spawner.id)
            .first()
        )
        return share is not None


class PairConsentMixin(Configurable):
    """Authenticator mixin: pair-server members enter their shared server without a consent page.

    Put it first in the bases of any :class:`jupyterhub.auth.Authenticator` subclass.
    """

    pair_owner = Unicode(
        "pp-pairs",
        help="""Hub user that owns the pair servers (must equal ``c.PeerPlatform.pair_owner``).""",
    ).tag(config=True)

    pair_server_prefix = Unicode(
        SERVER_NAME_PREFIX,
        help="""Name prefix of pair servers; only those skip the consent page.""",
    ).tag(config=True)

    def get_handlers(self, app):
        # Authenticator handlers are registered before the Hub's own, so ours serves the route.
        return [
            *super().get_handlers(app),
            (r"/api/oauth2/authorize", PairOAuthAuthorizeHandler),
        ]


#: The login page's query argument saying "your account was just created" (with ``username``).
SIGNED_UP_ARG = "signed_up"

#: Our versions of Native's signup.html and native-login.html, found before Native's own.
TEMPLATE_DIR = str(Path(__file__).parent / "templates")


def _prefer_our_templates(settings) -> None:
    """Put :data:`TEMPLATE_DIR` first in both of the Hub's template environments (async pages,
    and the sync one JupyterHub 6 renders form errors through), once per process."""
    for key in ("jinja2_env", "jinja2_env_sync"):
        env = settings.get(key)
        if env is None or getattr(env, "_peerplatform_templates", False):
            continue
        env.loader = ChoiceLoader([FileSystemLoader([TEMPLATE_DIR]), env.loader])
        env._peerplatform_templates = True


class _NoStatsd:
    """Stands in for the statsd client JupyterHub 6 removed (NativeAuthenticator still calls it)."""

    def timer(self, *args, **kwargs):
        return self

    def start(self):
        return self

    def stop(self, send=True):
        return None


class PeerLoginHandler(native_handlers.LoginHandler):
    """Native's login handler, working on JupyterHub 6.

    1. ``statsd`` is gone from JupyterHub 6; Native's ``post`` still times the login with it.
    2. JupyterHub 6 renders form errors (e.g. an expired XSRF token) through
       ``_render(..., sync=True)``, which Native's ``_render`` does not accept, and its sync
       template environment does not know Native's templates.
    """

    statsd = _NoStatsd()
    _sync_templates_registered = False

    def initialize(self, *args, **kwargs):
        super().initialize(*args, **kwargs)
        _prefer_our_templates(self.settings)
        cls = PeerLoginHandler
        if not cls._sync_templates_registered:
            env = self.settings["jinja2_env_sync"]
            env.loader = ChoiceLoader(
                [env.loader, FileSystemLoader([native_handlers.TEMPLATE_DIR])]
            )
            cls._sync_templates_registered = True

    _render_sync = False

    def _render(self, login_error=None, username=None, sync=False, **kwargs):
        self._render_sync = sync
        try:
            return super()._render(login_error=login_error, username=username)
        finally:
            self._render_sync = False

    def render_template(self, name, sync=False, **ns):
        if name == "native-login.html" and self.get_argument(SIGNED_UP_ARG, "") == "1":
            # the note only for an account that exists (the link is no way to fake one)
            username = ns.get("username") or ""
            ns["signed_up"] = bool(username) and self.authenticator.get_user(username) is not None
        return super().render_template(name, sync=sync or self._render_sync, **ns)


class PeerSignUpHandler(native_handlers.SignUpHandler):
    """Native's signup, ending on the login page with the name filled in.

    Native answers a successful signup with the empty signup form and "you can now log in",
    leaving the learner to find the login page and type their name again. When the account may
    log in now (open signup, or a hub admin) and needs no 2FA code (whose secret the signup
    page shows once), we send the learner to the login page with their name filled in and an
    "account created" note. Otherwise (approval pending, 2FA, a refused form) Native's page
    stands, keeping the typed name on a refused form.

    (Not a login by the signup itself: a signed-in visitor of ``/hub/login`` is sent on by
    JupyterHub, so "sign up, then log in", the way scripts and tests enter, would break.)
    """

    _signed_up = None  # the new account's UserInfo, when it may log in now

    def initialize(self, *args, **kwargs):
        super().initialize(*args, **kwargs)
        _prefer_our_templates(self.settings)

    def get_result_message(self, user, *args, **kwargs):
        alert, message = super().get_result_message(user, *args, **kwargs)
        if alert == "alert-success" and user is not None and not user.has_2fa:
            self._signed_up = user
        return alert, message

    def render_template(self, name, sync=False, **ns):
        if name == "signup.html" and self.request.method == "POST":
            if self._signed_up is not None and not sync:
                return self._to_login_page()
            ns.setdefault("username", self.get_body_argument("username", "", strip=False))
            ns.setdefault("email", self.get_body_argument("email", "", strip=False))
        return super().render_template(name, sync=sync, **ns)

    async def _to_login_page(self) -> str:
        """Redirect to the login page; Native's ``finish(html)`` sends it with this empty
        body."""
        self.set_status(302)
        self.set_header("Location", url_concat(
            self.settings["login_url"],
            {"username": self._signed_up.username, SIGNED_UP_ARG: "1"}))
        return ""


class PeerNativeAuthenticator(PairConsentMixin, NativeAuthenticator):
    """NativeAuthenticator (open signup by default) for the embedded platform."""

    def get_handlers(self, app):
        ours = {r"/login": PeerLoginHandler, r"/signup": PeerSignUpHandler}
        return [(route, ours.get(route, handler)) for route, handler in super().get_handlers(app)]
