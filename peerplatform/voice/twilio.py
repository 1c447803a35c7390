"""Twilio: access tokens, the conference TwiML, and conference control over REST.

Pure builders (token, TwiML) apart from I/O (:class:`ConferenceControl`). REST calls use the
``*_async`` methods with an ``AsyncTwilioHttpClient``; Twilio's base URL is fixed to
``api.twilio.com``, so tests point the client elsewhere through its ``http_client`` (the hook
twilio-python's own tests use).
"""

from __future__ import annotations

import logging

from twilio.jwt.access_token import AccessToken
from twilio.jwt.access_token.grants import VoiceGrant
from twilio.twiml.voice_response import Dial, VoiceResponse

from peerplatform_contracts.voice_identity import IDENTITY_RE

from .settings import VoiceSettings

log = logging.getLogger(__name__)

#: Conference events Twilio reports to our status callback.
STATUS_EVENTS = "start end join leave mute"


def access_token(settings: VoiceSettings, identity: str) -> str:
    """A Voice access token for ``identity``: outgoing calls to our TwiML App only
    (both members dial *into* the pair's conference; nobody can call them)."""
    if not IDENTITY_RE.match(identity):
        raise ValueError("a Twilio identity is 1-121 characters of [A-Za-z0-9_]")
    token = AccessToken(settings.twilio_account_sid, settings.twilio_api_key_sid,
                        settings.twilio_api_key_secret, identity=identity,
                        ttl=settings.token_ttl)
    token.add_grant(VoiceGrant(outgoing_application_sid=settings.twilio_twiml_app_sid,
                               incoming_allow=False))
    return token.to_jwt()


def conference_twiml(conference: str, identity: str, status_callback: str) -> str:
    """``<Dial><Conference>`` into the pair's conference (two participants at most)."""
    response = VoiceResponse()
    dial = Dial()
    dial.conference(
        conference,
        start_conference_on_enter=True,
        end_conference_on_exit=False,  # a member who drops out can call back in
        beep=False,
        max_participants=2,
        participant_label=identity,
        status_callback=status_callback,
        status_callback_event=STATUS_EVENTS,
        status_callback_method="POST",
    )
    response.append(dial)
    return str(response)


def reject_twiml() -> str:
    """A polite refusal (a call Twilio placed for an identity that is not in a session)."""
    response = VoiceResponse()
    response.reject(reason="rejected")
    return str(response)


class ConferenceControl:
    """The pair conference's REST side: find it by name, (un)mute a member, end it."""

    def __init__(self, settings: VoiceSettings, http_client=None):
        from twilio.http.async_http_client import AsyncTwilioHttpClient
        from twilio.rest import Client

        # no connection pool: calls are rare (a mute, the end), and an unpooled client holds
        # no aiohttp session that would have to be closed on the loop that made it
        self.client = Client(settings.twilio_api_key_sid, settings.twilio_api_key_secret,
                             account_sid=settings.twilio_account_sid,
                             http_client=http_client
                             or AsyncTwilioHttpClient(pool_connections=False))

    @property
    def _account(self):
        return self.client.api.v2010.accounts(self.client.account_sid)

    async def find(self, conference: str) -> str | None:
        """The SID (``CF…``) of the pair's in-progress conference, or None."""
        found = await self._account.conferences.list_async(
            friendly_name=conference, status="in-progress", limit=1)
        return found[0].sid if found else None

    async def participants(self, conference_sid: str) -> list:
        return await self._account.conferences(conference_sid).participants.list_async(limit=10)

    async def set_muted(self, conference_sid: str, label: str, muted: bool) -> bool:
        """Mute or unmute one participant (by its ``participantLabel``, our identity)."""
        part = await self._account.conferences(conference_sid).participants(label).update_async(
            muted=muted)
        return bool(part.muted)

    async def end(self, conference_sid: str) -> str:
        """End the conference for everybody (time is up)."""
        conf = await self._account.conferences(conference_sid).update_async(status="completed")
        return conf.status

    async def mute_member(self, conference: str, label: str, muted: bool) -> bool | None:
        sid = await self.find(conference)
        return None if sid is None else await self.set_muted(sid, label, muted)

    async def end_conference(self, conference: str) -> bool:
        sid = await self.find(conference)
        if sid is None:
            return False
        await self.end(sid)
        return True

    async def close(self) -> None:
        close = getattr(self.client.http_client, "close", None)
        if close is not None:
            await close()
