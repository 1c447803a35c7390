"""Voice in the pair server: the call's description, Twilio tokens, and the signaling socket.

* ``GET /peerplatform/api/voice`` (members, while the session runs): how to join the call,
  ``{"mode": "twilio"|"webrtc", ...}``; in Twilio mode with an access token for the caller's
  opaque identity (``peerplatform.voice.identity``), else with the ICE servers to use.
* ``GET /peerplatform/api/voice/token``: a fresh Twilio token (the SDK's ``tokenWillExpire``).
* ``/peerplatform/api/voice/signal`` (websocket, members only): in WebRTC mode it relays
  ``offer`` / ``answer`` / ``candidate`` / ``bye`` between the two members; the server says
  who offers (the first member of the session), so both never offer at once (no glare). In
  both modes it carries the members' mute state to the partner and tells both when the
  session ends (then it closes, and in Twilio mode the conference is ended over REST).
* ``/peerplatform/static/voice.js``: the browser side (``static/voice.js``, its header
  documents the API), for visitors the Hub lets into this server, like JupyterLab's own
  assets; ``/peerplatform/static/twilio-voice.min.js`` (Twilio's SDK) for members only, as
  it tells whether the call is Twilio's.

No media goes through the server: WebRTC audio flows between the browsers.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from jupyter_server.auth.decorator import authorized, ws_authenticated
from jupyter_server.base.handlers import FileFindHandler, JupyterHandler
from tornado import web, websocket

from peerplatform.voice.ice import ice_servers
from peerplatform.voice.identity import caller_identity, conference_name
from peerplatform.voice.settings import VoiceSettings
from peerplatform.voice.twilio import ConferenceControl, access_token

from .auth import OWN_RESOURCE
from .controller import PairError
from .handlers import PairAPIHandler
from .roles import Change, PairState

STATIC_DIR = Path(__file__).parent / "static"
SIGNAL_PATH = "peerplatform/api/voice/signal"
TOKEN_PATH = "peerplatform/api/voice/token"
SDK_PATH = "peerplatform/static/twilio-voice.min.js"
#: An SDP with many candidates is a few KB; nothing legitimate comes near this.
MAX_MESSAGE_BYTES = 64 * 1024
#: Close code for a socket replaced by the same member's newer one (another tab).
CLOSE_REPLACED = 4000
CLOSE_ENDED = 4001
WEBRTC_TYPES = ("offer", "answer", "candidate")


class PairVoice:
    """The pair's call as this server sees it: who is connected, who is muted, the end."""

    def __init__(self, settings: VoiceSettings, state: PairState, log, control_factory=None):
        self.settings = settings
        self.state = state
        self.log = log
        self.sockets: dict[str, VoiceSignalSocket] = {}
        self.muted: dict[str, bool] = {}
        self._control_factory = control_factory or (lambda: ConferenceControl(settings))
        self._control: ConferenceControl | None = None
        self._ended_for: str | None = None
        self._tasks: set[asyncio.Task] = set()
        state.add_listener(self._on_change)

    @property
    def mode(self) -> str:
        return "twilio" if self.settings.twilio_enabled else "webrtc"

    # -- who may take part ------------------------------------------------------------------

    def admit(self, username: str) -> dict:
        """The session doc if ``username`` may be in the call now; else PairError."""
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
        return sorted(doc["members"])[0]

    def describe(self, username: str) -> dict:
        doc = self.admit(username)
        sid = doc["_id"]
        out = {"mode": self.mode, "signal_url": SIGNAL_PATH,
               "connect_timeout_s": self.settings.connect_timeout}
        if self.mode == "twilio":
            identity = caller_identity(self.settings.secret, sid, username)
            out.update(token=access_token(self.settings, identity), identity=identity,
                       ttl_s=self.settings.token_ttl, token_url=TOKEN_PATH,
                       sdk_url=SDK_PATH if self.sdk_file() else None)
        else:
            opaque = caller_identity(self.settings.secret or "webrtc", sid, username)
            out.update(ice_servers=ice_servers(self.settings, opaque),
                       offerer=self.offerer(doc) == username)
        return out

    def sdk_for(self, username: str) -> Path:
        """The SDK bundle for a member, if this server serves it; else PairError."""
        if self.state.role_of(username) is None:
            raise PairError(403, "you are not a member of this session")
        path = self.sdk_file() if self.mode == "twilio" else None
        if path is None:
            raise PairError(404, "Twilio's Voice SDK is not served here")
        return path

    def sdk_file(self) -> Path | None:
        """Twilio's Voice SDK bundle, if this server has it to serve."""
        path = self.settings.twilio_sdk_path
        return Path(path) if path and Path(path).is_file() else None

    def token(self, username: str) -> dict:
        doc = self.admit(username)
        if self.mode != "twilio":
            raise PairError(404, "this server's voice is not Twilio")
        identity = caller_identity(self.settings.secret, doc["_id"], username)
        return {"token": access_token(self.settings, identity), "identity": identity,
                "ttl_s": self.settings.token_ttl}

    # -- the signaling room -----------------------------------------------------------------

    def join(self, username: str, sock: VoiceSignalSocket) -> None:
        doc = self.state.doc
        old = self.sockets.get(username)
        self.sockets[username] = sock
        if old is not None and old is not sock:
            old.close(CLOSE_REPLACED, "replaced by a newer connection")
        partner = self.partner(doc, username)
        sock.send({"type": "welcome", "mode": self.mode,
                   "offerer": self.offerer(doc) == username,
                   "partner_present": partner in self.sockets,
                   "partner_muted": self.muted.get(partner, False)})
        other = self.sockets.get(partner)
        if other is not None:
            other.send({"type": "partner-joined", "muted": self.muted.get(username, False)})
            if self.mode == "webrtc":
                self._start(doc)

    def _start(self, doc: dict) -> None:
        """Both are here: (re)start the negotiation, the offerer first."""
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
        partner = self.partner(doc, username)
        out = None
        if kind in WEBRTC_TYPES and self.mode != "webrtc":
            error = "this call is not WebRTC"
        elif kind == "offer" and self.offerer(doc) != username:
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
                if self.mode == "twilio":
                    self._spawn(self._twilio_mute(doc["_id"], username, muted))
        elif kind == "bye":
            error, out = None, {"type": "bye"}
        else:
            error = "type must be offer, answer, candidate, mute or bye"
        if error:
            sock.send({"type": "error", "message": error})
            return
        other = self.sockets.get(partner)
        if other is not None:
            other.send(out)

    # -- the end ----------------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        doc = change.after
        if change.kind == "locked" or (
                change.kind == "state" and doc and doc.get("state") in ("ended", "failed")):
            self.end()
        elif change.kind == "session":
            self.end(conference=False)  # another session on a warm server: nobody stays

    def end(self, conference: bool = True) -> None:
        """Tell both the session ended, close their sockets; end the Twilio conference."""
        for sock in list(self.sockets.values()):
            sock.send({"type": "ended"})
            sock.close(CLOSE_ENDED, "the session has ended")
        self.sockets.clear()
        doc = self.state.doc
        if conference and doc is not None and self.mode == "twilio" \
                and self._ended_for != doc["_id"]:
            self._ended_for = doc["_id"]
            self._spawn(self._twilio_end(doc["_id"]))

    # -- Twilio conference control (best effort: the browsers hold the call itself) ---------

    @property
    def control(self) -> ConferenceControl:
        if self._control is None:
            self._control = self._control_factory()
        return self._control

    async def _twilio_mute(self, sid: str, username: str, muted: bool) -> None:
        try:
            await self.control.mute_member(conference_name(self.settings.secret, sid),
                                           caller_identity(self.settings.secret, sid, username),
                                           muted)
        except Exception as e:
            self.log.warning("peerplatform: could not set the conference mute state: %s", e)

    async def _twilio_end(self, sid: str) -> None:
        try:
            await self.control.end_conference(conference_name(self.settings.secret, sid))
        except Exception as e:
            self.log.warning("peerplatform: could not end the Twilio conference: %s", e)

    def _spawn(self, coro) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        self.end(conference=False)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        if self._control is not None:
            await self._control.close()


# -- handlers --------------------------------------------------------------------------------

class VoiceHandler(PairAPIHandler):
    """``GET /peerplatform/api/voice``: how the caller joins the pair's call."""

    @property
    def voice(self) -> PairVoice:
        return self.settings["peerplatform_voice"]

    @web.authenticated
    @authorized
    async def get(self):
        self.reply(self.check(self.voice.describe, self.username))


class VoiceTokenHandler(VoiceHandler):
    """``GET /peerplatform/api/voice/token``: a fresh Twilio access token."""

    @web.authenticated
    @authorized
    async def get(self):
        self.reply(self.check(self.voice.token, self.username))


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


class TwilioSDKHandler(JupyterHandler):
    """``/peerplatform/static/twilio-voice.min.js``: Twilio's Voice SDK (Twilio mode only),
    so the browser needs nothing from a CDN."""

    auth_resource = OWN_RESOURCE

    @web.authenticated
    @authorized
    async def get(self):
        voice: PairVoice = self.settings["peerplatform_voice"]
        try:
            path = voice.sdk_for(self.current_user.username)
        except PairError as e:
            raise web.HTTPError(e.status, e.message) from e
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.set_header("Cache-Control", "max-age=3600")
        self.finish(path.read_bytes())


voice_handlers = [
    (r"/peerplatform/api/voice", VoiceHandler),
    (r"/peerplatform/api/voice/token", VoiceTokenHandler),
    (r"/peerplatform/api/voice/signal", VoiceSignalSocket),
    (r"/peerplatform/static/(voice\.js)", VoiceStaticHandler),
    (r"/peerplatform/static/twilio-voice\.min\.js", TwilioSDKHandler),
]
