"""JSON API of the platform service (under ``/services/<name>/api/``)."""

from __future__ import annotations

import json
import time

from tornado import web
from tornado.iostream import StreamClosedError

from ..matching import AlreadyBusy
from ..matching.preferences import InvalidPreferences, validate_preferences
from ..sessions.lifecycle import public_session
from ..store.sessions import InvalidTransition
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
            prefs = validate_preferences(body.get("preferences"))
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


class MeHandler(APIHandler):
    """The caller's place in the flow: idle, waiting, or in a session (with its URL)."""

    @web.authenticated
    async def get(self):
        state = await self.platform.room.state(self.username)
        session = await self.platform.store.sessions.open_for_user(self.username)
        latest = session or await self.platform.store.sessions.latest_for_user(self.username)
        profile = await self.platform.store.profiles.get(self.username) or {}
        self.write_json({
            "user": self.username,
            "state": state.get("state", "idle"),
            "match": await self._pending_match(state),
            "skill": {"rating": round(profile.get("rating", 1500.0)),
                      "rd": round(profile.get("rd", 350.0)), "games": profile.get("games", 0)},
            "session": public_session(session) if session else None,
            "last_session": public_session(latest) if latest else None,
            # for pages outside the service (the JupyterLab extension) that POST to its API:
            # same-origin reads only, so the token is as safe here as in the lobby's HTML
            "xsrf": self.xsrf_token.decode("ascii"),
        })


    async def _pending_match(self, state: dict) -> dict | None:
        """The match waiting for the caller's answer (state ``matched``), if any."""
        if state.get("state") != "matched":
            return None
        match = await self.platform.room.pending_match(state.get("session", ""))
        if self.username not in (match.get("a"), match.get("b")):
            return None
        me = "a" if match["a"] == self.username else "b"
        return {
            "id": state["session"],
            "partner": match["b" if me == "a" else "a"],
            "accepted": match.get(f"acc_{me}") == "1",
            "expires_in": max(0.0, (int(match["deadline"]) - time.time() * 1000) / 1000),
        }


class SessionHandler(APIHandler):
    async def _member_session(self, session_id: str) -> dict:
        doc = await self.platform.store.sessions.get(session_id)
        # 404 for strangers too: a session id is not something to probe for.
        if doc is None or (self.username not in doc["members"] and not self.current_user.get("admin")):
            raise web.HTTPError(404, "no such session")
        return doc

    @web.authenticated
    async def get(self, session_id):
        self.write_json(public_session(await self._member_session(session_id)))


class SessionEndHandler(SessionHandler):
    @web.authenticated
    async def post(self, session_id):
        body = self.get_json_body()
        reason = body.get("reason", "ended by a member")
        if not isinstance(reason, str) or len(reason) > 200:
            raise web.HTTPError(400, "reason must be a string of at most 200 characters")
        await self._member_session(session_id)
        try:
            doc = await self.platform.sessions.end(session_id, f"{reason} ({self.username})")
        except InvalidTransition as e:
            raise web.HTTPError(409, str(e)) from None
        self.write_json(public_session(doc))


class EventsHandler(APIHandler):
    """Server-sent events for the caller's lobby: matched, progress, ready, failed, ended."""

    keepalive = 15.0

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("X-Accel-Buffering", "no")

    def subscription(self):
        """The event source this stream relays (subclasses relay other channels)."""
        return self.platform.events.subscribe(self.username)

    @web.authenticated
    async def get(self):
        last_keepalive = time.monotonic()
        async with self.subscription() as sub:
            await self._send({"type": "hello", "user": self.username})
            while not self.request.connection.stream.closed():
                event = await sub.next_event(timeout=1.0)
                try:
                    if event is not None:
                        await self._send(event)
                    elif time.monotonic() - last_keepalive > self.keepalive:
                        self.write(": keepalive\n\n")
                        await self.flush()
                        last_keepalive = time.monotonic()
                except StreamClosedError:
                    break

    async def _send(self, event: dict) -> None:
        self.write(f"data: {json.dumps(event, default=str)}\n\n")
        await self.flush()

    def on_connection_close(self):
        # the loop above notices the closed stream within a second
        pass


def default_handlers(prefix: str):
    return [
        (prefix + r"api/waiting-room", WaitingRoomHandler),
        (prefix + r"api/waiting-room/heartbeat", HeartbeatHandler),
        (prefix + r"api/me", MeHandler),
        (prefix + r"api/events", EventsHandler),
        (prefix + r"api/sessions/([a-z0-9]{1,32})", SessionHandler),
        (prefix + r"api/sessions/([a-z0-9]{1,32})/end", SessionEndHandler),
    ]

