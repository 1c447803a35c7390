"""Twilio's webhooks: the TwiML App's Voice URL and the conference status callback.

Twilio must reach these from the internet, so they are the service's only routes without a
Hub login (and without XSRF): the ``X-Twilio-Signature`` header is their authentication,
checked against the **configured public URL** plus the request path and query (behind the
proxy the URL this process sees is internal, and the Host header is the caller's to choose).

The caller is ``From=client:<identity>``: Twilio binds it to the access token we signed. The
pair is read from the store (the session named by the identity, which must list the caller
as a member and be active); parameters the browser passed to ``Device.connect`` arrive as
form fields too and are never used.
"""

from __future__ import annotations

import json
import logging

from tornado import web
from twilio.request_validator import RequestValidator

from peerplatform_contracts.voice_identity import conference_name, member_of, session_of

from ..voice.settings import VoiceSettings
from ..voice.twilio import conference_twiml, reject_twiml

log = logging.getLogger("peerplatform.voice")

#: Twilio's webhook bodies are a few hundred bytes.
MAX_WEBHOOK_BYTES = 16 * 1024


class _Form(dict):
    """Form fields as lists, with the ``getall`` RequestValidator uses for repeated keys."""

    def getall(self, name):
        return self[name]


class TwilioWebhookHandler(web.RequestHandler):
    """Base: signature check, form parsing, plain errors."""

    @property
    def voice(self) -> VoiceSettings:
        return self.settings["voice_settings"]

    @property
    def store(self):
        return self.settings["platform"].store

    def check_xsrf_cookie(self):
        pass  # the signature authenticates Twilio's requests; it sends no cookie

    def set_default_headers(self):
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Cache-Control", "no-store")

    def write_error(self, status_code, **kwargs):
        message = self._reason
        exc = (kwargs.get("exc_info") or (None, None))[1]
        if isinstance(exc, web.HTTPError) and exc.log_message:
            message = exc.log_message
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"status": status_code, "message": message}))

    def signed_form(self) -> _Form:
        """The form fields, once the signature is checked (else 403 and nothing happens)."""
        if not self.voice.webhook_enabled:
            raise web.HTTPError(404, "Twilio voice is not configured")
        if len(self.request.body or b"") > MAX_WEBHOOK_BYTES:
            raise web.HTTPError(413, "webhook body too large")
        form = _Form({k: [v.decode("utf-8", "replace") for v in vs]
                      for k, vs in self.request.body_arguments.items()})
        signature = self.request.headers.get("X-Twilio-Signature", "")
        url = self.voice.public_url + self.request.uri
        if not signature or not RequestValidator(self.voice.twilio_auth_token).validate(
                url, form, signature):
            log.warning("voice webhook: bad or missing Twilio signature for %s", self.request.path)
            raise web.HTTPError(403, "invalid Twilio signature")
        return form

    async def caller(self, identity: str) -> tuple[dict | None, str | None]:
        """The session and member an identity stands for (from the store), or (None, None)."""
        sid = session_of(identity)
        if sid is None:
            return None, None
        doc = await self.store.sessions.get(sid)
        if doc is None:
            return None, None
        return doc, member_of(self.voice.secret, doc, identity)


class TwimlHandler(TwilioWebhookHandler):
    """``POST <prefix>voice/twiml``: put the caller into its pair's conference."""

    async def post(self):
        form = self.signed_form()
        caller = (form.get("From") or [""])[0]
        identity = caller[len("client:"):] if caller.startswith("client:") else ""
        doc, member = await self.caller(identity)
        self.set_header("Content-Type", "text/xml; charset=utf-8")
        if member is None or doc.get("state") != "active":
            log.info("voice: refused a call from %s (no active session for it)", identity or caller)
            self.finish(reject_twiml())
            return
        callback = self.voice.public_url + self.settings["service_prefix"] + "voice/events"
        self.finish(conference_twiml(conference_name(self.voice.secret, doc["_id"]), identity,
                                     callback))


class ConferenceEventsHandler(TwilioWebhookHandler):
    """``POST <prefix>voice/events``: the conference's status callback (join, leave, mute…),
    kept as a session event for reviewers."""

    async def post(self):
        form = self.signed_form()
        first = {k: v[0] for k, v in form.items() if v}
        label = first.get("ParticipantLabel", "")
        doc, member = await self.caller(label)
        if member is not None:
            event = {"type": "voice", "event": first.get("StatusCallbackEvent"), "by": member,
                     "conference_sid": first.get("ConferenceSid")}
            if "Muted" in first:
                event["muted"] = first["Muted"] == "true"
            await self.store.sessions.add_event(doc["_id"], event)
        self.set_status(204)
        self.finish()


def default_handlers(prefix: str):
    return [
        (prefix + r"voice/twiml", TwimlHandler),
        (prefix + r"voice/events", ConferenceEventsHandler),
    ]
