"""Kernel and terminal sockets follow the live roles too.

jupyter_server checks ``execute`` on kernels/terminals only when a socket connects, so the
observer never gets one (auth.py). But a driver who becomes observer (swap) or is locked
(time is up) would keep the socket they opened while driving. Two measures:

* ``PairKernelWebsocketConnection`` (``ServerApp.kernel_websocket_connection_class``) drops
  every message from a user who may not write *now*: checked per message, like the RTC filter.
* ``close_read_only_sockets`` closes the kernel and terminal sockets of users who may no
  longer write, so their UI shows a disconnected kernel instead of a silent one.
"""

from __future__ import annotations

import weakref

from jupyter_server.services.kernels.connection.channels import ZMQChannelsWebsocketConnection

from .rtc_filter import STATE_KEY

#: Open kernel connections of this process (weak: a closed socket drops out by itself).
_OPEN: weakref.WeakSet = weakref.WeakSet()


def _username(handler) -> str | None:
    user = getattr(handler, "current_user", None)
    return getattr(user, "username", None)


class PairKernelWebsocketConnection(ZMQChannelsWebsocketConnection):
    """Kernel channel connection that forwards messages only from a user who may write."""

    def connect(self):
        _OPEN.add(self)
        return super().connect()

    def handle_incoming_message(self, incoming_msg) -> None:
        handler = self.websocket_handler
        state = handler.settings.get(STATE_KEY)
        if state is None or not state.can_write(_username(handler)):
            self.log.info("peerplatform: dropped a kernel message from %s (read-only)",
                          _username(handler))
            return
        super().handle_incoming_message(incoming_msg)


def close_read_only_sockets(state, terminal_manager=None, log=None) -> int:
    """Close kernel and terminal sockets whose user may not write now; returns how many."""
    closed = 0
    for conn in list(_OPEN):
        handler = conn.websocket_handler
        if handler is not None and not state.can_write(_username(handler)):
            handler.close()
            closed += 1
    terminals = getattr(terminal_manager, "terminals", None) or {}
    for term in list(terminals.values()):
        for client in list(getattr(term, "clients", [])):
            if not state.can_write(_username(client)):
                client.close()
                closed += 1
    if closed and log:
        log.info("peerplatform: closed %d kernel/terminal socket(s) of read-only users", closed)
    return closed
