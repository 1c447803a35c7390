"""Voice settings of the platform service (``c.VoiceSettings.*``).

Only the service reads them: it mints the members' Twilio tokens and TURN credentials, answers
Twilio's webhooks and controls the conference. Pair servers are untrusted (learner code runs
in their process tree) and get none of these values, secret or not: they only relay the
members' signaling (``peerplatform_ext.voice``). Each trait defaults to its environment
variable (:data:`ENV`), as ``jupyterhub_config.py`` documents.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from traitlets import Dict, Float, Integer, List, TraitError, Unicode, default, validate
from traitlets.config import Configurable

#: trait name -> environment variable it defaults to.
ENV = {
    "twilio_account_sid": "TWILIO_ACCOUNT_SID",
    "twilio_api_key_sid": "TWILIO_API_KEY_SID",
    "twilio_api_key_secret": "TWILIO_API_KEY_SECRET",
    "twilio_twiml_app_sid": "TWILIO_TWIML_APP_SID",
    "twilio_auth_token": "TWILIO_AUTH_TOKEN",
    "public_url": "PEERPLATFORM_PUBLIC_URL",
    "secret": "PEERPLATFORM_VOICE_SECRET",
    "turn_secret": "PEERPLATFORM_TURN_SECRET",
}
#: Every variable the voice settings read. None of them may reach a pair server (the spawner
#: forwards none; tests assert a pair server's environment holds none of the secrets).
VOICE_ENV = (*ENV.values(), "PEERPLATFORM_TURN_URLS", "PEERPLATFORM_ICE_SERVERS")


class VoiceSettings(Configurable):
    """How the members of a pair talk (``c.VoiceSettings.*``; read by the service only)."""

    twilio_account_sid = Unicode(
        help="Twilio account SID (``AC…``; ``$TWILIO_ACCOUNT_SID``). Empty: no Twilio.",
    ).tag(config=True)
    twilio_api_key_sid = Unicode(
        help="""Twilio API key SID (``SK…``; ``$TWILIO_API_KEY_SID``). Signs the access tokens
        and authenticates the REST calls (conference mute and end).""",
    ).tag(config=True)
    twilio_api_key_secret = Unicode(
        help="Secret of that API key (``$TWILIO_API_KEY_SECRET``). Never logged.",
    ).tag(config=True)
    twilio_twiml_app_sid = Unicode(
        help="""TwiML App SID (``AP…``; ``$TWILIO_TWIML_APP_SID``) whose Voice URL is our
        webhook ``<public_url>/services/peerplatform/voice/twiml``.""",
    ).tag(config=True)
    twilio_auth_token = Unicode(
        help="""Account Auth Token (``$TWILIO_AUTH_TOKEN``): Twilio signs its webhook requests
        with it. Only the platform service needs it.""",
    ).tag(config=True)
    public_url = Unicode(
        help="""The public base URL Twilio reaches the hub at, e.g. ``https://pair.example.org``
        (``$PEERPLATFORM_PUBLIC_URL``). Webhook signatures are checked against this URL plus
        the request path, never against the Host header (behind the proxy the request URL is
        internal).""",
    ).tag(config=True)
    secret = Unicode(
        help="""Server-side secret (``$PEERPLATFORM_VOICE_SECRET``) from which the opaque
        identities and conference names are derived (HMAC). Only the service holds it (every
        replica the same); ``jupyterhub_config.py`` generates one in the data dir.""",
    ).tag(config=True)
    token_ttl = Integer(
        3600,
        help="Seconds a Twilio access token is valid (Twilio allows at most 24 h). "
             "The browser asks for a fresh one when the SDK says it will expire.",
    ).tag(config=True)
    connect_timeout = Float(
        20.0,
        help="""Seconds the browser waits for a call to connect before it gives up with a
        clear message (offline, Twilio's SDK retries forever).""",
    ).tag(config=True)
    twilio_sdk_path = Unicode(
        help="""File of Twilio's Voice SDK (``@twilio/voice-sdk``'s ``dist/twilio.min.js``)
        that the service serves to the members of a Twilio call
        (``<prefix>api/voice/<session>/sdk.js``), so browsers need no CDN. Default: the copy
        ``npm install`` puts in the project's ``node_modules`` (pinned in ``package.json``).
        Empty or missing: the page must load the SDK itself (or pass ``Device`` to
        ``voice.js``).""",
    ).tag(config=True)

    @default("twilio_sdk_path")
    def _d_sdk(self):
        return str(Path(__file__).resolve().parents[2] / "node_modules" / "@twilio" / "voice-sdk"
                   / "dist" / "twilio.min.js")

    ice_servers = List(
        Dict(),
        help="""ICE servers for the self-hosted WebRTC call, as RTCIceServer objects
        (``$PEERPLATFORM_ICE_SERVERS``, JSON). Empty (the default): host candidates only,
        enough on a LAN or one machine. Never a public STUN server by default.""",
    ).tag(config=True)
    turn_urls = List(
        Unicode(),
        help="""TURN URLs of your coturn (``$PEERPLATFORM_TURN_URLS``, comma-separated), e.g.
        ``turn:turn.example.org:3478?transport=udp``. Used with ``turn_secret``.""",
    ).tag(config=True)
    turn_secret = Unicode(
        help="""coturn ``static-auth-secret`` (``use-auth-secret``; ``$PEERPLATFORM_TURN_SECRET``):
        the service mints each member short-lived TURN credentials with it.""",
    ).tag(config=True)
    turn_ttl = Integer(
        3600, help="Seconds the minted TURN credentials are valid."
    ).tag(config=True)
    rest_timeout = Float(
        10.0,
        help="""Seconds one call to Twilio's REST API (mute a participant, end the conference)
        may take. These calls are best effort: the browsers hold the call itself.""",
    ).tag(config=True)

    @default("twilio_account_sid")
    def _d_account(self):
        return os.environ.get(ENV["twilio_account_sid"], "")

    @default("twilio_api_key_sid")
    def _d_key(self):
        return os.environ.get(ENV["twilio_api_key_sid"], "")

    @default("twilio_api_key_secret")
    def _d_key_secret(self):
        return os.environ.get(ENV["twilio_api_key_secret"], "")

    @default("twilio_twiml_app_sid")
    def _d_app(self):
        return os.environ.get(ENV["twilio_twiml_app_sid"], "")

    @default("twilio_auth_token")
    def _d_auth_token(self):
        return os.environ.get(ENV["twilio_auth_token"], "")

    @default("public_url")
    def _d_public_url(self):
        return os.environ.get(ENV["public_url"], "").rstrip("/")

    @default("secret")
    def _d_secret(self):
        return os.environ.get(ENV["secret"], "")

    @default("turn_secret")
    def _d_turn_secret(self):
        return os.environ.get(ENV["turn_secret"], "")

    @default("turn_urls")
    def _d_turn_urls(self):
        return [u.strip() for u in os.environ.get("PEERPLATFORM_TURN_URLS", "").split(",")
                if u.strip()]

    @default("ice_servers")
    def _d_ice_servers(self):
        raw = os.environ.get("PEERPLATFORM_ICE_SERVERS", "").strip()
        return json.loads(raw) if raw else []

    @validate("ice_servers")
    def _v_ice_servers(self, proposal):
        for server in proposal.value:
            urls = server.get("urls")
            if not (isinstance(urls, str) or (isinstance(urls, list) and urls)):
                raise TraitError(f"ICE server {server!r} has no urls")
        return proposal.value

    @validate("public_url")
    def _v_public_url(self, proposal):
        return proposal.value.rstrip("/")

    @validate("token_ttl")
    def _v_ttl(self, proposal):
        if not 60 <= proposal.value <= 24 * 3600:
            raise TraitError("token_ttl must be between 60 s and 24 h (Twilio's limit)")
        return proposal.value

    @property
    def twilio_enabled(self) -> bool:
        """Calls use Twilio when the service can mint tokens (else: self-hosted WebRTC)."""
        return all((self.twilio_account_sid, self.twilio_api_key_sid,
                    self.twilio_api_key_secret, self.twilio_twiml_app_sid, self.secret))

    @property
    def webhook_enabled(self) -> bool:
        """The service answers Twilio's webhook when it can check signatures and map callers."""
        return all((self.twilio_auth_token, self.public_url, self.secret))
