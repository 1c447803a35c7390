"""``PairAuthorizer``: the observer (and, once time is up, everybody) gets read only.

Runs for every handler decorated with ``@authorized`` (jupyter_server's REST API, kernel and
terminal sockets, jupyter-collaboration, jupyter-lsp). JupyterHub's own check (the visitor
holds ``access:servers`` for this server) runs first and is never relaxed. Handlers that
never call an Authorizer (jupyterlab_server settings/workspaces, the extension manager,
``PATCH /api/me``) are covered by ``guard.py``; document websocket frames by
``rtc_filter.py``.
"""

from __future__ import annotations

from jupyter_server_ydoc.handlers import DocSessionHandler
from jupyterhub.singleuser.extension import JupyterHubAuthorizer

from .rtc_filter import STATE_KEY

#: Our own API checks the caller's role per endpoint (e.g. either member may ask for a swap).
OWN_RESOURCE = "peerplatform"


class PairAuthorizer(JupyterHubAuthorizer):
    """Read for members; write/execute only for the current driver of an active session.

    Exceptions, each for a stated reason:

    * ``PUT /api/collaboration/session/<path>`` asks for *write* on contents but only maps the
      path to a file id; refusing it would stop the observer from opening any document.
    * ``execute`` on ``events`` is subscribing to the server's event stream (timer, swaps).
      *Write* on ``events`` (``POST /api/events``) is refused to everybody, the driver too:
      it emits any registered schema, ours included, and both members' JupyterLab trust
      ``pair-session`` events (test results, notices). Only the server emits them.
    * ``server`` (``POST /api/shutdown``) is refused to everybody: learners never stop the
      pair server, the platform does.
    """

    def is_authorized(self, handler, user, action, resource):
        if not super().is_authorized(handler, user, action, resource):
            return False
        if action == "read":
            return True
        if resource == "server":
            return False
        if isinstance(handler, DocSessionHandler):
            return True
        if resource == "events":
            return action == "execute"
        if resource == OWN_RESOURCE:
            return True
        state = handler.settings.get(STATE_KEY)
        allowed = state is not None and state.can_write(user.username)
        if not allowed:
            self.log.info("peerplatform: %s may not %s %s (read-only)", user.username, action,
                          resource)
        return allowed
