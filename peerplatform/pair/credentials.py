"""Who is calling the pair API, for which session: a pair server's Hub token, checked.

A pair server's one credential is its own JupyterHub API token (``$JUPYTERHUB_API_TOKEN``):
the Hub issues it at spawn with :data:`~peerplatform_contracts.pair_api.PAIR_SCOPE` filtered to
that one server (``c.PairSpawner.server_token_scopes`` in ``jupyterhub_config.py``) and deletes
it when the server stops. Nothing home-made: the Hub says who the token is, the scope says for
which session, the session document says whether it is still open.

:meth:`PairCredentials.authorize` answers the session document or raises
:class:`~.errors.PairError`: no token or one the Hub does not know 401; a token of anyone but
the pair owner, without the scope for this session's server, or for a session that does not
exist 403 (the same answer: a caller learns nothing about other sessions); a session that is
over 403 "the session has ended".

Tests without a Hub configure another class (``c.PeerPlatform.pair_credentials_class``) that
overrides :meth:`PairCredentials.identify` only, so the checks themselves are the same.
"""

from __future__ import annotations

import hashlib
import time

from jupyterhub.services.auth import check_scopes
from peerplatform_contracts.pair_api import PAIR_SCOPE
from peerplatform_contracts.sessions import server_name
from traitlets import Any, Float, Integer, Unicode
from traitlets.config import LoggingConfigurable

from ..store.sessions import OPEN_STATES
from .errors import PairError


def required_scope(owner: str, session_id: str) -> str:
    """The scope a token needs for ``session_id``'s endpoints."""
    return f"{PAIR_SCOPE}!server={owner}/{server_name(session_id)}"


class PairCredentials(LoggingConfigurable):
    """Checks ``Authorization: token <t>`` for a session (``c.PairCredentials.*``)."""

    cache_max_age = Float(
        5.0,
        help="""Seconds the service remembers who a token is before asking the Hub again.

        Short, because a stopped pair server's token is deleted by the Hub: it is refused
        (401) at most this long after. Whether the session is still open is read from the
        store on every request, whatever this is. 0 asks the Hub on every request.""",
    ).tag(config=True)

    cache_size = Integer(
        10_000,
        help="Most tokens remembered at once (the oldest are forgotten first).",
    ).tag(config=True)

    hub_auth = Any(help="The service's ``HubAuth`` (asks the Hub who a token is).")
    store = Any(help="The platform's store (session documents).")
    owner = Unicode("pp-pairs", help="The Hub user owning every pair server "
                    "(``c.PeerPlatform.pair_owner``).")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._cache: dict[str, tuple[float, dict]] = {}

    async def identify(self, token: str) -> dict | None:
        """The Hub's model of the token's owner (``name``, ``kind``, ``scopes``: the token's
        own scopes), or None for a token the Hub does not know."""
        return await self.hub_auth.user_for_token(token, use_cache=False, sync=False)

    async def _identify(self, token: str) -> dict | None:
        key = hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        try:
            model = await self.identify(token)
        except PairError:
            raise
        except Exception as e:  # the Hub is down or answered nonsense: retry later
            self.log.warning("pair API: could not ask the Hub about a token: %s", e)
            raise PairError(503, "cannot check the credential now; retry",
                            headers={"Retry-After": "1"}) from None
        if model is not None and self.cache_max_age > 0:  # unknown tokens are not remembered
            if len(self._cache) >= self.cache_size:
                for stale in list(self._cache)[: max(1, self.cache_size // 10)]:
                    self._cache.pop(stale, None)
            self._cache[key] = (time.monotonic() + self.cache_max_age, model)
        return model

    async def authorize(self, token: str | None, session_id: str) -> dict:
        """The session document, if ``token`` may act for the session ``session_id`` now."""
        if not token:
            raise PairError(401, "a token is required (Authorization: token <token>)")
        model = await self._identify(token)
        if not model:
            raise PairError(401, "invalid or expired token")
        if model.get("kind") != "user" or model.get("name") != self.owner:
            raise PairError(403, "this token is not a pair server's")
        if not check_scopes({required_scope(self.owner, session_id)},
                            set(model.get("scopes") or ())):
            raise PairError(403, "this token is not for this session")
        doc = await self.store.sessions.get(session_id)
        server = (doc or {}).get("server") or {}
        if doc is None or server.get("owner") != self.owner \
                or server.get("name") != server_name(session_id):
            raise PairError(403, "this token is not for this session")
        if doc["state"] not in OPEN_STATES:
            raise PairError(403, "the session has ended")
        return doc
