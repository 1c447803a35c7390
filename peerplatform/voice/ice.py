"""ICE servers for the self-hosted call, with short-lived TURN credentials.

coturn's ``use-auth-secret`` (the "TURN REST API"): the username is ``<expiry>:<id>`` and the
password ``base64(hmac_sha1(static-auth-secret, username))``; coturn recomputes it and refuses
it after the expiry. So the secret stays on the servers and a leaked credential dies soon.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from .settings import VoiceSettings


def turn_credentials(secret: str, user_id: str, ttl: int, now: float | None = None) -> dict:
    expiry = int((time.time() if now is None else now) + ttl)
    username = f"{expiry}:{user_id}"
    password = base64.b64encode(
        hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return {"username": username, "credential": password}


def ice_servers(settings: VoiceSettings, user_id: str) -> list[dict]:
    """The RTCIceServer list for one member: the configured servers, plus our TURN server
    with fresh credentials when one is configured. ``user_id`` must be opaque."""
    servers = [dict(s) for s in settings.ice_servers]
    if settings.turn_urls and settings.turn_secret:
        servers.append({"urls": list(settings.turn_urls),
                        **turn_credentials(settings.turn_secret, user_id, settings.turn_ttl)})
    return servers
