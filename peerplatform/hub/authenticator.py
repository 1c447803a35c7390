"""Authenticators for the Hub: open signup, and no consent click when entering a pair server.

* :class:`PairConsentMixin` adds to any Authenticator an OAuth authorize handler that skips
  JupyterHub's one-time "Authorize access" page for the two members of a pair server (and
  nobody else). Combine it with another authenticator, e.g. for a bootcamp using GitHub::

      from oauthenticator.github import GitHubOAuthenticator
      class BootcampAuthenticator(PairConsentMixin, GitHubOAuthenticator):
          pass

* :class:`PeerNativeAuthenticator` is NativeAuthenticator 1.3.0 (signup + login) with its two
  JupyterHub 6 breakages mended in one subclassed handler, without patching the library.
"""

from __future__ import annotations

from jinja2 import ChoiceLoader, FileSystemLoader
from jupyterhub import orm
from jupyterhub.apihandlers.auth import OAuthAuthorizeHandler
from nativeauthenticator import NativeAuthenticator
from nativeauthenticator import handlers as native_handlers
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
        return super().render_template(name, sync=sync or self._render_sync, **ns)


class PeerNativeAuthenticator(PairConsentMixin, NativeAuthenticator):
    """NativeAuthenticator (open signup by default) for the embedded platform."""

    def get_handlers(self, app):
        return [
            (route, PeerLoginHandler if route == r"/login" else handler)
            for route, handler in super().get_handlers(app)
        ]
