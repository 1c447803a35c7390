"""The service's side of a pair's call: what a member gets, and the conference's REST side.

Everything that needs a voice secret happens here, in the platform service, never in a pair
server: the call description with a Twilio access token for the caller's opaque identity (or
the ICE servers with short-lived TURN credentials), fresh tokens, muting the caller's
conference participant, and ending the conference when the session ends
(:func:`end_conference`, called where the service records the end).

:class:`VoiceCalls` holds no state of its own but a Twilio REST client, so any number of
service replicas can answer. Who may have what is decided from the session document alone:
members of an active session whose time is not up (:meth:`VoiceCalls.admit`).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import Path

from twilio.base.exceptions import TwilioRestException

from peerplatform_contracts.voice_identity import caller_identity, conference_name

from .ice import ice_servers
from .settings import VoiceSettings
from .twilio import ConferenceControl, access_token

log = logging.getLogger("peerplatform.voice")


class VoiceError(Exception):
    """A refused request; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _as_utc(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class VoiceCalls:
    """Calls of every session, as the service answers their members.

    ``http_client`` is handed to Twilio's REST client (tests point it at a fake or at Prism;
    Twilio's base URL is fixed in the library).
    """

    def __init__(self, settings: VoiceSettings, *, http_client=None):
        self.settings = settings
        self._http_client = http_client
        self._control: ConferenceControl | None = None

    @property
    def mode(self) -> str:
        return "twilio" if self.settings.twilio_enabled else "webrtc"

    # -- who may take part ------------------------------------------------------------------

    def admit(self, doc: dict | None, username: str, now: datetime | None = None) -> dict:
        """The session if ``username`` may be in its call now; else :class:`VoiceError`
        (404 no such session, 403 not a member, 409 the session is not running)."""
        if doc is None:
            raise VoiceError(404, "no such session")
        if username not in (doc.get("members") or []):
            raise VoiceError(403, "you are not a member of this session")
        if doc.get("state") != "active" or self._time_is_up(doc, now):
            raise VoiceError(409, "the session is not running: no call")
        return doc

    @staticmethod
    def _time_is_up(doc: dict, now: datetime | None) -> bool:
        # the clock may not have recorded the end yet: past the deadline there is no call
        started, duration = _as_utc(doc.get("started_at")), doc.get("duration_s")
        if started is None or duration is None:
            return False
        now = now or datetime.now(timezone.utc)
        return (now - started).total_seconds() >= float(duration)

    # -- what a member gets -----------------------------------------------------------------

    def describe(self, doc: dict, username: str) -> dict:
        """How ``username`` joins the call of session ``doc`` (already admitted).

        URLs are relative to the service's prefix."""
        sid = doc["_id"]
        base = f"api/voice/{sid}"
        out = {"mode": self.mode, "session": sid,
               "connect_timeout_s": self.settings.connect_timeout}
        if self.mode == "twilio":
            out.update(self.token(doc, username), token_url=f"{base}/token",
                       mute_url=f"{base}/mute",
                       sdk_url=f"{base}/sdk.js" if self.sdk_file() else None)
        else:
            out["ice_servers"] = ice_servers(self.settings, self._opaque(sid, username))
        return out

    def token(self, doc: dict, username: str) -> dict:
        """A fresh Twilio access token for the caller's own identity (never anyone else's)."""
        if self.mode != "twilio":
            raise VoiceError(404, "this platform's calls are not Twilio's")
        identity = caller_identity(self.settings.secret, doc["_id"], username)
        return {"token": access_token(self.settings, identity), "identity": identity,
                "ttl_s": self.settings.token_ttl}

    def sdk_file(self) -> Path | None:
        """Twilio's Voice SDK bundle, if the service has it to serve."""
        path = self.settings.twilio_sdk_path
        return Path(path) if path and Path(path).is_file() else None

    def _opaque(self, sid: str, username: str) -> str:
        """An id for the member's TURN username: opaque, like Twilio identities."""
        key = self.settings.secret or self.settings.turn_secret
        return caller_identity(key, sid, username) if key else "member"

    # -- the conference over REST (Twilio mode) ---------------------------------------------

    @property
    def control(self) -> ConferenceControl:
        if self._control is None:
            self._control = ConferenceControl(self.settings, http_client=self._http_client)
        return self._control

    async def mute(self, doc: dict, username: str, muted: bool) -> dict:
        """Mute or unmute the caller's own participant in the pair's conference.

        ``applied`` is False when the conference is not (yet) in progress; a REST failure is
        :class:`VoiceError` 502 (the browser's own mute still silences the microphone)."""
        if self.mode != "twilio":
            raise VoiceError(404, "this platform's calls are not Twilio's")
        secret, sid = self.settings.secret, doc["_id"]
        try:
            state = await asyncio.wait_for(
                self.control.mute_member(conference_name(secret, sid),
                                         caller_identity(secret, sid, username), muted),
                self.settings.rest_timeout)
        except TwilioRestException as e:
            if e.status != 404:  # 404: the caller is not in the conference (yet)
                log.warning("voice: Twilio refused the mute state of session %s: %s", sid, e)
                raise VoiceError(502, "Twilio did not take the mute state; try again") from None
            state = None
        except Exception as e:  # Twilio unreachable, or too slow
            log.warning("voice: could not set the conference mute state of session %s: %s",
                        sid, e)
            raise VoiceError(502, "Twilio did not take the mute state; try again") from None
        return {"muted": muted, "applied": state is not None}

    async def end_conference(self, session_id: str) -> bool:
        """End the session's conference for everybody (best effort, never raises).

        True when a conference in progress was ended."""
        if self.mode != "twilio":
            return False
        try:
            return await asyncio.wait_for(
                self.control.end_conference(conference_name(self.settings.secret, session_id)),
                self.settings.rest_timeout)
        except Exception as e:
            log.warning("voice: could not end the Twilio conference of session %s: %s",
                        session_id, e)
            return False

    async def close(self) -> None:
        if self._control is not None:
            await self._control.close()
            self._control = None


async def end_conference(settings: VoiceSettings, session_id: str, *, http_client=None) -> bool:
    """End session ``session_id``'s Twilio conference, if any (the service calls this where it
    records the end of a session). Best effort: logs and returns False on any failure, and
    does nothing (False) in WebRTC mode, where the pair server's relay ends the call."""
    # Twilio's default client here keeps no connection pool: nothing to close afterwards
    return await VoiceCalls(settings, http_client=http_client).end_conference(session_id)
