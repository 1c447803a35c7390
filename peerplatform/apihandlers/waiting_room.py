"""The waiting room: ``POST|DELETE api/waiting-room`` (join, leave) and
``POST api/waiting-room/heartbeat`` (presence)."""

from __future__ import annotations

from tornado import web

from ..matching import AlreadyBusy
from ..matching.preferences import InvalidPreferences, validate_preferences
from .base import APIHandler


class WaitingRoomHandler(APIHandler):
    """``POST`` joins the waiting room, ``DELETE`` leaves it."""

    @web.authenticated
    async def post(self):
        body = self.get_json_body()
        unknown = set(body) - {"preferences"}
        if unknown:
            raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        try:
            prefs = validate_preferences(
                body.get("preferences"),
                durations=self.platform.settings.duration_choices_minutes())
        except InvalidPreferences as e:
            raise web.HTTPError(400, str(e)) from None
        try:
            cohort = self.platform.settings.cohort_of(self.current_user.get("groups"))
            await self.platform.sessions.join(self.username, prefs, cohort)
        except AlreadyBusy as e:
            if e.state == "matched":
                raise web.HTTPError(409, f"you have a match to accept or decline ({e.session_id})") from None
            raise web.HTTPError(409, f"you are already in a session ({e.session_id})") from None
        await self.platform.learner_joined(self.username)
        self.write_json({"state": "waiting", "preferences": prefs,
                         "heartbeat_interval": self.platform.settings.heartbeat_interval})

    @web.authenticated
    async def delete(self):
        left, partner, match_id = await self.platform.room.leave_with_partner(self.username)
        if partner:  # leaving declined a pending match: the partner is back in the room
            await self.platform.events.publish(
                partner, "match_cancelled", match=match_id, requeued=True,
                reason="your partner left; you are back at the head of the room")
            self.platform.wake_matcher()
        self.write_json({"left": left})


class HeartbeatHandler(APIHandler):
    @web.authenticated
    async def post(self):
        self.get_json_body()  # rejects oversized or malformed bodies like every other route
        state = await self.platform.room.heartbeat(self.username)
        self.write_json({"state": state or "idle"})


def default_handlers(prefix: str):
    return [
        (prefix + r"api/waiting-room", WaitingRoomHandler),
        (prefix + r"api/waiting-room/heartbeat", HeartbeatHandler),
    ]
