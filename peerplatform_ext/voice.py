"""Voice in the pair server: the signaling relay between the two members, nothing secret.

The pair server is untrusted (learner code runs in its process tree), so it holds no Twilio
key, no identity secret and no TURN secret: the platform service gives the members their call
description, Twilio tokens, TURN credentials and conference control
(``<service>api/voice/<session>``, ``peerplatform.apihandlers.voice``). Here:

* ``GET /peerplatform/api/voice`` (members, while the session runs): where the rest is,
  ``{"session", "service_url", "signal_url"}`` - the service's prefix as the browser reaches
  it (same origin, through the Hub's proxy) and this server's signaling socket.
* ``/peerplatform/api/voice/signal`` (websocket, members only): relays ``offer`` /
  ``answer`` / ``candidate`` / ``bye`` between the two members; the server says who offers
  (the first member of the session, in both browsers' ``welcome`` and ``start``), so both
  never offer at once (no glare). It carries the members' mute state to the partner and tells
  both when the session ends (then it closes). The relay does not know whether the call is
  Twilio's: in Twilio mode the browsers simply send no WebRTC messages, and ignore them.
* ``/peerplatform/static/voice.js``: the browser side (``static/voice.js``; its header
  documents the API), for visitors the Hub lets into this server, like JupyterLab's own
  assets.

No media goes through the server: WebRTC audio flows between the browsers (or through the
TURN server the service names), Twilio audio through Twilio.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import FileFindHandler, JupyterHandler
from peerplatform_contracts.env import JUPYTERHUB_BASE_URL
from tornado import web, websocket

from .auth import OWN_RESOURCE
from .controller import PairError
from .handlers import PairAPIHandler
from .roles import Change, PairState

STATIC_DIR = Path(__file__).parent / "static"
SIGNAL_PATH = "peerplatform/api/voice/signal"
#: The platform service's path under the Hub's base URL (its JupyterHub service name).
SERVICE_PATH = "services/peerplatform/"
#: An SDP with many candidates is a few KB; nothing legitimate comes near this.
MAX_MESSAGE_BYTES = 64 * 1024
#: Close code for a socket replaced by the same member's newer one (another tab).
CLOSE_REPLACED = 4000
CLOSE_ENDED = 4001


def default_service_url() -> str:
    """The service's prefix as browsers reach it: the Hub's base URL (``$JUPYTERHUB_BASE_URL``,
    which the Hub gives every server it spawns) + ``services/peerplatform/``."""
    base = os.environ.get(JUPYTERHUB_BASE_URL) or "/"
    return base.rstrip("/") + "/" + SERVICE_PATH


class PairVoice:
    """The pair's signaling room as this server sees it: who is connected, who is muted."""

    def __init__(self, *, state: PairState, log, service_url: str | None = None):
        self.state = state
        self.log = log
        self.service_url = service_url or default_service_url()
        self.sockets: dict[str, VoiceSignalSocket] = {}
        self.muted: dict[str, bool] = {}
        state.add_listener(self._on_change)

    # -- who may take part ------------------------------------------------------------------

    def admit(self, username: str) -> dict:
        """The session (pair view) if ``username`` may be in the call now; else PairError."""
        doc = self.state.doc
        if doc is None:
            raise PairError(404, "no session is assigned to this server")
        if self.state.role_of(username) is None:
            raise PairError(403, "you are not a member of this session")
        if doc.get("state") != "active" or self.state.locked:
            raise PairError(409, "the session is not running: no call")
        return doc

    def partner(self, doc: dict, username: str) -> str:
        return doc["observer"] if username == doc["driver"] else doc["driver"]

    def offerer(self, doc: dict) -> str:
        # stable across role swaps: a swap must not renegotiate the call
        members = doc.get("members") or [doc["driver"], doc["observer"]]
        return sorted(members)[0]

    def describe(self, username: str) -> dict:
        """Where the caller finds the call: the service (description, tokens, ICE) and the
        signaling socket here. No secret, and nothing a member could not know."""
        self.admit(username)
        return {"session": self.state.session_id, "service_url": self.service_url,
                "signal_url": SIGNAL_PATH}

    # -- the signaling room -----------------------------------------------------------------

    def join(self, username: str, sock: VoiceSignalSocket) -> None:
        doc = self.state.doc
        old = self.sockets.get(username)
        self.sockets[username] = sock
        if old is not None and old is not sock:
            old.close(CLOSE_REPLACED, "replaced by a newer connection")
        partner = self.partner(doc, username)
        sock.send({"type": "welcome", "offerer": self.offerer(doc) == username,
                   "partner_present": partner in self.sockets,
                   "partner_muted": self.muted.get(partner, False)})
        other = self.sockets.get(partner)
        if other is not None:
            other.send({"type": "partner-joined", "muted": self.muted.get(username, False)})
            self._start(doc)

    def _start(self, doc: dict) -> None:
        """Both are here: (re)start the negotiation, the offerer first (WebRTC calls)."""
        offerer = self.offerer(doc)
        for user, sock in self.sockets.items():
            sock.send({"type": "start", "offerer": user == offerer})

    def leave(self, username: str, sock: VoiceSignalSocket) -> None:
        if self.sockets.get(username) is not sock:
            return  # a replaced socket closing
        del self.sockets[username]
        doc = self.state.doc
        if doc is not None:
            other = self.sockets.get(self.partner(doc, username))
            if other is not None:
                other.send({"type": "partner-left"})

    def handle(self, username: str, sock: VoiceSignalSocket, raw) -> None:
        """One message from a member: checked, then relayed (never as-is)."""
        if self.sockets.get(username) is not sock:
            return
        if isinstance(raw, bytes) or len(raw) > MAX_MESSAGE_BYTES:
            sock.send({"type": "error", "message": "messages are JSON text up to 64 KiB"})
            return
        try:
            msg = json.loads(raw)
        except ValueError:
            sock.send({"type": "error", "message": "messages must be JSON"})
            return
        if not isinstance(msg, dict):
            sock.send({"type": "error", "message": "a message is a JSON object"})
            return
        doc = self.state.doc
        kind = msg.get("type")
        out = None
        if kind == "offer" and self.offerer(doc) != username:
            error = "only the offerer sends offers"
        elif kind == "answer" and self.offerer(doc) == username:
            error = "the offerer does not answer"
        elif kind in ("offer", "answer"):
            sdp = msg.get("sdp")
            error = None if isinstance(sdp, str) and sdp else "sdp must be a non-empty string"
            out = {"type": kind, "sdp": sdp}
        elif kind == "candidate":
            cand = msg.get("candidate")
            error = None if cand is None or isinstance(cand, dict) else \
                "candidate must be an RTCIceCandidateInit object or null"
            out = {"type": "candidate", "candidate": cand}
        elif kind == "mute":
            muted = msg.get("muted")
            error = None if isinstance(muted, bool) else "muted must be true or false"
            if error is None:
                self.muted[username] = muted
                out = {"type": "partner-mute", "muted": muted}
        elif kind == "bye":
            error, out = None, {"type": "bye"}
        else:
            error = "type must be offer, answer, candidate, mute or bye"
        if error:
            sock.send({"type": "error", "message": error})
            return
        other = self.sockets.get(self.partner(doc, username))
        if other is not None:
            other.send(out)

    # -- the end ----------------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        doc = change.after
        if change.kind in ("locked", "session") or (
                change.kind == "state" and doc and doc.get("state") != "active"):
            # time is up, the session is over, or another session on a warm server: nobody
            # stays (the service ends a Twilio conference itself)
            self.end()

    def end(self) -> None:
        """Tell both the session ended and close their sockets."""
        for sock in list(self.sockets.values()):
            sock.send({"type": "ended"})
            sock.close(CLOSE_ENDED, "the session has ended")
        self.sockets.clear()
        self.muted.clear()

    async def close(self) -> None:
        self.end()


# -- handlers --------------------------------------------------------------------------------

class VoiceHandler(PairAPIHandler):
    """``GET /peerplatform/api/voice``: where the caller's call is (see :class:`PairVoice`)."""

    @property
    def voice(self) -> PairVoice:
        return self.settings["peerplatform_voice"]

    @web.authenticated
    @authorized
    async def get(self):
        self.reply(self.check(self.voice.describe, self.username))


class VoiceSignalSocket(JupyterHandler, websocket.WebSocketHandler):
    """One member's signaling connection (see :class:`PairVoice`)."""

    auth_resource = OWN_RESOURCE

    @property
    def voice(self) -> PairVoice:
        return self.settings["peerplatform_voice"]

    @ws_authenticated
    @authorized
    async def get(self, *args, **kwargs):
        self.member = self.current_user.username
        try:
            self.voice.admit(self.member)
        except PairError as e:
            raise web.HTTPError(e.status, e.message) from e
        await super().get(*args, **kwargs)

    def open(self, *args, **kwargs):
        try:
            self.voice.admit(self.member)  # the session may have ended during the upgrade
        except PairError as e:
            self.close(CLOSE_ENDED, e.message)
            return
        self.voice.join(self.member, self)

    def on_message(self, message):
        self.voice.handle(self.member, self, message)

    def on_close(self):
        self.voice.leave(self.member, self)

    def send(self, msg: dict) -> None:
        try:
            self.write_message(json.dumps(msg))
        except websocket.WebSocketClosedError:
            pass


class VoiceStaticHandler(FileFindHandler):
    """``/peerplatform/static/*``: the browser module (plain ES module, no bundler)."""

    auth_resource = OWN_RESOURCE

    def initialize(self, **kwargs):
        super().initialize(path=[str(STATIC_DIR)])

    def set_extra_headers(self, path):
        self.set_header("Cache-Control", "no-cache")

    @web.authenticated
    @authorized
    async def head(self, path):
        await super().head(path)

    @web.authenticated
    @authorized
    async def get(self, path, include_body=True):
        await super().get(path, include_body=include_body)


voice_handlers = [
    (r"/peerplatform/api/voice", VoiceHandler),
    (r"/peerplatform/api/voice/signal", VoiceSignalSocket),
    (r"/peerplatform/static/(voice\.js)", VoiceStaticHandler),
]
