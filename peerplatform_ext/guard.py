"""A request guard for the handlers that never ask the Authorizer.

jupyterlab_server's settings and workspaces, JupyterLab's extension manager and plugin
manager, and ``PATCH /api/me`` are only ``@web.authenticated``: with any Authorizer, an
observer could still change the server-wide settings or (with the ``pypi`` extension
manager) install packages. Every handler resolves its user through the IdentityProvider in
``JupyterHandler.prepare()``, so the guard sits there: a user who may not write gets 403 for
every method but GET/HEAD/OPTIONS, whatever handler the URL reaches.

The guard is a mixin on whatever IdentityProvider the server is configured with
(JupyterHub's in production), applied by ``wiring.py`` at link time.
"""

from __future__ import annotations

import inspect
import json

from jupyter_server_ydoc.handlers import DocSessionHandler
from tornado import web

from .rtc_filter import STATE_KEY

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _exempt(handler, method: str) -> bool:
    # The RTC session PUT only indexes a path (see auth.py); our own API checks roles itself.
    from .handlers import PairAPIHandler

    if method == "PUT" and isinstance(handler, DocSessionHandler):
        return True
    return isinstance(handler, PairAPIHandler)


class ReadOnlyGuardMixin:
    """IdentityProvider mixin: refuse unsafe methods to users who may not write."""

    peerplatform_guard = True

    async def get_user(self, handler):
        user = super().get_user(handler)
        if inspect.isawaitable(user):
            user = await user
        if user is None:
            return None
        method = (handler.request.method or "").upper()
        if method in SAFE_METHODS or _exempt(handler, method):
            return user
        state = handler.settings.get(STATE_KEY)
        if state is None or not state.can_write(user.username):
            handler.log.info("peerplatform: refused %s %s from %s (read-only)", method,
                             handler.request.path, user.username)
            refuse(handler, 403, "read-only: only the driver can change this session")
        return user


def refuse(handler, status: int, message: str) -> None:
    """End the request with ``status`` and a JSON ``{"message"}``, written here.

    Raising ``HTTPError`` instead would leave the answer to the handler's own ``write_error``:
    for a page handler (``/api/shutdown``, ...) that renders an HTML template needing the
    user this refusal never resolved, so tornado logs "Uncaught exception in write_error" and
    sends an empty body."""
    handler.set_status(status)
    handler.set_header("Content-Type", "application/json")
    raise web.Finish(json.dumps({"message": message, "reason": None}))


def guarded(identity_provider_class: type) -> type:
    """``identity_provider_class`` with the read-only guard in front of ``get_user``."""
    if issubclass(identity_provider_class, ReadOnlyGuardMixin):
        return identity_provider_class
    return type(f"ReadOnlyGuarded{identity_provider_class.__name__}",
                (ReadOnlyGuardMixin, identity_provider_class),
                {"__module__": __name__, "__doc__": identity_provider_class.__doc__})
