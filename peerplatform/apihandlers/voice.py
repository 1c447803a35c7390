"""Voice API for the members of a session: ``<prefix>api/voice/<session>[/...]``.

The browser (``voice.js``, loaded from the pair server) asks the service, not the pair server,
for everything that takes a voice secret, with the service's own Hub login (OAuth cookie plus
XSRF token, or a token in the ``Authorization`` header):

``GET api/voice/<session>``
    How to join the call: ``{"mode": "twilio"|"webrtc", "session", "connect_timeout_s", ...}``;
    in Twilio mode with ``token``, ``identity`` (opaque), ``ttl_s``, ``token_url``,
    ``mute_url``, ``sdk_url``; in WebRTC mode with ``ice_servers`` (TURN credentials included
    when a TURN server is configured). URLs are relative to the service's prefix.
``GET api/voice/<session>/token``
    A fresh Twilio access token for the caller's own identity (``tokenWillExpire``).
``POST api/voice/<session>/mute`` ``{"muted": bool}``
    Twilio mode: mute or unmute the caller's own conference participant (the browser mutes
    its microphone itself; this keeps the conference's state, which Twilio reports to the
    status callback, in step). ``{"muted", "applied"}``; 502 when Twilio did not take it.
``GET api/voice/<session>/sdk.js``
    Twilio's Voice SDK bundle (Twilio mode), so browsers need no CDN.

Only the session's two members get an answer, while the session runs: 401 without a login,
404 for an unknown session, 403 for anyone else (the pair servers' owner, other learners,
instructors), 409 once the session is over (or before it starts). Nothing here changes the
session. The end of the session ends the Twilio conference
(:func:`peerplatform.voice.calls.end_conference`, called by the service's clock).
"""

from __future__ import annotations

from tornado import web

from ..voice.calls import VoiceCalls, VoiceError
from .base import APIHandler

#: Settings key of the shared :class:`VoiceCalls` (tests put one with a fake Twilio there).
CALLS_KEY = "voice_calls"
SESSION = r"(?P<session_id>[^/]+)"


class VoiceAPIHandler(APIHandler):
    """Base: the caller must be logged in (401) and a member of a running session."""

    @property
    def calls(self) -> VoiceCalls:
        calls = self.settings.get(CALLS_KEY)
        if calls is None:
            # one per application (the settings object is the application's); stateless
            calls = self.settings[CALLS_KEY] = VoiceCalls(self.settings["voice_settings"])
        return calls

    def prepare(self):
        super().prepare()
        # before anything else, so that every verb (not only GET, as tornado's
        # @web.authenticated does) answers 401 to an anonymous caller
        if self.current_user is None:
            raise web.HTTPError(401, "log in to the platform first")

    def get_login_url(self):
        raise web.HTTPError(401, "log in to the platform first")

    async def member_session(self, session_id: str) -> dict:
        doc = await self.platform.store.sessions.get(session_id)
        return self.check(self.calls.admit, doc, self.username)

    @staticmethod
    def check(fn, *args):
        try:
            return fn(*args)
        except VoiceError as e:
            raise web.HTTPError(e.status, e.message) from None


class VoiceCallHandler(VoiceAPIHandler):
    @web.authenticated
    async def get(self, session_id):
        doc = await self.member_session(session_id)
        self.write_json(self.check(self.calls.describe, doc, self.username))


class VoiceTokenHandler(VoiceAPIHandler):
    @web.authenticated
    async def get(self, session_id):
        doc = await self.member_session(session_id)
        self.write_json(self.check(self.calls.token, doc, self.username))


class VoiceMuteHandler(VoiceAPIHandler):
    @web.authenticated
    async def post(self, session_id):
        body = self.get_json_body(required=True)
        unknown = set(body) - {"muted"}
        if unknown:
            raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        muted = body.get("muted")
        if not isinstance(muted, bool):
            raise web.HTTPError(400, "muted must be true or false")
        doc = await self.member_session(session_id)
        try:
            self.write_json(await self.calls.mute(doc, self.username, muted))
        except VoiceError as e:
            raise web.HTTPError(e.status, e.message) from None


class VoiceSDKHandler(VoiceAPIHandler):
    """Twilio's SDK for the members of a Twilio call (it says whether the call is Twilio's,
    so nobody else gets it). A ``<script src>`` is a same-origin no-cors GET: the login
    cookie is enough, no XSRF token is needed."""

    @web.authenticated
    async def get(self, session_id):
        await self.member_session(session_id)
        path = self.calls.sdk_file() if self.calls.mode == "twilio" else None
        if path is None:
            raise web.HTTPError(404, "Twilio's Voice SDK is not served here")
        self.set_header("Content-Type", "text/javascript; charset=utf-8")
        self.set_header("Cache-Control", "private, max-age=3600")
        self.finish(path.read_bytes())


def default_handlers(prefix: str):
    base = prefix + r"api/voice/" + SESSION
    return [
        (base, VoiceCallHandler),
        (base + r"/token", VoiceTokenHandler),
        (base + r"/mute", VoiceMuteHandler),
        (base + r"/sdk\.js", VoiceSDKHandler),
    ]
