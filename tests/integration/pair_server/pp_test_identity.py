"""TEST ONLY: an IdentityProvider that maps per-user tokens to JupyterHub user models.

In production the pair server runs under ``jupyterhub.singleuser`` and its
``JupyterHubIdentityProvider`` resolves the visitor from the Hub. Here, without a Hub, each
test user has a token; the user objects and the scope check are JupyterHub's own classes
(``JupyterHubUser``, ``jupyterhub.services.auth.check_scopes``), so ``PairAuthorizer``'s
``super()`` call (JupyterHubAuthorizer: "does the visitor hold access:servers for this
server?") runs for real. Loaded by the test server's config file; never shipped.
"""

from __future__ import annotations

from jupyter_server.auth.identity import IdentityProvider
from jupyterhub.services.auth import check_scopes
from jupyterhub.singleuser.extension import JupyterHubUser
from traitlets import Dict, List, Unicode


class _ScopesOnlyHubAuth:
    """The two members of ``HubOAuth`` that ``JupyterHubAuthorizer`` uses."""

    def __init__(self, access_scopes):
        self.access_scopes = set(access_scopes)

    @property
    def oauth_scopes(self):
        return self.access_scopes

    def check_scopes(self, required_scopes, user):
        return check_scopes(required_scopes, set(user["scopes"]))


class TokenUsersIdentityProvider(IdentityProvider):
    users = Dict(
        help="token -> JupyterHub user model ({'name', 'scopes', ...}).",
    ).tag(config=True)

    access_scopes = List(
        Unicode(), help="The scopes that grant access to this server (one is enough)."
    ).tag(config=True)

    @property
    def hub_auth(self):
        return _ScopesOnlyHubAuth(self.access_scopes)

    def get_user(self, handler):
        # browsers (test_pair_voice_browser.py) send the token as a cookie, as a Hub login would
        token = self.get_token(handler) or handler.get_cookie("pp-test-token") or ""
        model = self.users.get(token)
        if model is None:
            return None
        handler._token_authenticated = True  # skips XSRF/origin checks, as for any token
        return JupyterHubUser(dict(model))
