"""Per-message read-only filter on jupyter-collaboration's document websocket.

jupyter-collaboration authorizes ``/api/collaboration/room/<id>`` once, as *read*, at the
upgrade, and then applies every frame a client sends (document updates, RAW ``save``) to the
room, whatever the rights (notes/rtc.md §6, jupyter-collaboration #324). So every frame is
checked here, against the session's live roles: a connection whose user may not write can
only ask for the document (SYNC_STEP1) and share its presence (awareness, pinned to its own
client id). The decision is made per message, per connection, never per room: one room
holds the driver and any number of read-only sockets (the jupyverse #505 trap).

The subclass replaces ``jupyter_server_ydoc.app.YDocWebSocketHandler`` while extensions are
*linked* (imports), before any is *loaded* (handlers registered); ``wiring.py`` installs it
and then checks on the live router that the room URL reaches this class, or the server
refuses to start.
"""

from __future__ import annotations

from pycrdt import Decoder
from jupyter_server_ydoc.handlers import YDocWebSocketHandler

from .roles import PairState

STATE_KEY = "peerplatform_state"

# y-protocols message types (first var-uint of a frame) and sync sub-types (second).
SYNC, AWARENESS, RAW = 0, 1, 2
SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE = 0, 1, 2


def awareness_client_ids(message: bytes) -> list[int] | None:
    """Client ids carried by an AWARENESS frame, or None when it does not parse."""
    try:
        update = Decoder(message[1:]).read_message()
        if update is None:
            return None
        decoder = Decoder(update)
        ids = []
        for _ in range(decoder.read_var_uint()):
            ids.append(decoder.read_var_uint())
            decoder.read_var_uint()  # clock
            decoder.read_var_string()  # state (JSON)
        return ids
    except Exception:
        return None


def read_only_frame_allowed(message: bytes) -> bool:
    """Whether a read-only connection may send this frame (by type only).

    Allowed: SYNC_STEP1 (the client's state vector: "send me what I miss") and AWARENESS.
    Dropped: SYNC_STEP2 / SYNC_UPDATE (document changes), RAW (``save`` and anything else),
    and every type this filter does not know (an allowlist, so a new type fails closed).
    """
    if not message:
        return False
    if message[0] == SYNC:
        return len(message) > 1 and message[1] == SYNC_STEP1
    return message[0] == AWARENESS


class PairYDocWebSocketHandler(YDocWebSocketHandler):
    """``YDocWebSocketHandler`` that drops writes from connections that may not write now.

    Covers every room served by this URL: notebook and file documents (a ``text:file`` room
    on the notebook's path included), timeline/fork rooms and transient awareness rooms.
    """

    _awareness_id: int | None = None
    dropped_frames: int = 0

    @property
    def pair_state(self) -> PairState | None:
        return self.settings.get(STATE_KEY)

    def _may_write(self) -> bool:
        state = self.pair_state
        user = self.current_user
        return state is not None and user is not None and state.can_write(user.username)

    async def on_message(self, message):
        if isinstance(message, str):  # text frames are not part of the protocol
            message = message.encode()
        if message and message[0] == AWARENESS and self._awareness_id is None:
            self._claim_awareness_id(message)
        if self._may_write():
            return await super().on_message(message)
        if not read_only_frame_allowed(message) or not self._own_awareness(message):
            self.dropped_frames += 1
            self.log.info(
                "peerplatform: dropped a read-only %s frame from %s in room %s",
                _frame_name(message), getattr(self.current_user, "username", None),
                self._room_id,
            )
            return None
        return await super().on_message(message)

    def _claim_awareness_id(self, message: bytes) -> None:
        """The first awareness frame of a connection names its client id, unless another
        connection of the same room already speaks for that id."""
        ids = awareness_client_ids(message)
        if ids is None or len(ids) != 1:
            return
        room = getattr(self, "room", None)
        for other in getattr(room, "clients", ()):
            if other is not self and getattr(other, "_awareness_id", None) == ids[0]:
                return
        self._awareness_id = ids[0]

    def _own_awareness(self, message: bytes) -> bool:
        """A read-only client may only speak for its own awareness client id.

        Otherwise it could impersonate the driver's cursor or turn the room's autosave off
        (the room autosaves only if some client's awareness state allows it).
        """
        if message[0] != AWARENESS:
            return True
        ids = awareness_client_ids(message)
        return ids is not None and all(i == self._awareness_id for i in ids)


def _frame_name(message: bytes) -> str:
    if not message:
        return "empty"
    if message[0] == SYNC and len(message) > 1:
        return {SYNC_STEP1: "sync-step1", SYNC_STEP2: "sync-step2",
                SYNC_UPDATE: "sync-update"}.get(message[1], "sync-?")
    return {AWARENESS: "awareness", RAW: "raw"}.get(message[0], f"type-{message[0]}")
