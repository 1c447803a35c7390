"""Opaque Twilio identities and conference names, and the way back to a session member.

Twilio allows identities of at most 121 characters of ``[A-Za-z0-9_]`` and warns against
personal data, so neither usernames nor anything derived reversibly from them goes to Twilio.
An identity is ``p_<session id>_<hmac(secret, session id, username)>``: the session id (random,
not personal) lets the webhook find the pair in the store, and the HMAC tells which member
is calling, checked against the session's own member list. Nothing the browser sends is used.
"""

from __future__ import annotations

import hashlib
import hmac
import re

IDENTITY_RE = re.compile(r"^[A-Za-z0-9_]{1,121}$")
_PARSE_RE = re.compile(r"^p_([a-z0-9]{12})_([0-9a-f]{32})$")


def _mac(secret: str, *parts: str) -> str:
    msg = "\x00".join(parts).encode()
    return hmac.new(secret.encode(), msg, hashlib.sha256).hexdigest()[:32]


def caller_identity(secret: str, session_id: str, username: str) -> str:
    """The Twilio identity of ``username`` in session ``session_id``."""
    if not secret:
        raise ValueError("no voice secret configured")
    return f"p_{session_id}_{_mac(secret, 'caller', session_id, username)}"


def conference_name(secret: str, session_id: str) -> str:
    """The pair's conference (``FriendlyName``): opaque, stable for the session."""
    if not secret:
        raise ValueError("no voice secret configured")
    return "pair_" + _mac(secret, "conference", session_id)


def session_of(identity: str) -> str | None:
    """The session id an identity names, or None if it is not one of ours."""
    m = _PARSE_RE.match(identity or "")
    return m.group(1) if m else None


def member_of(secret: str, doc: dict, identity: str) -> str | None:
    """The member of session ``doc`` whose identity this is, or None."""
    if session_of(identity) != doc.get("_id"):
        return None
    for member in doc.get("members") or []:
        if hmac.compare_digest(caller_identity(secret, doc["_id"], member), identity):
            return member
    return None
