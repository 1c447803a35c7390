"""``GET api/me``: the caller's place in the flow (idle, waiting, matched, in a session)."""

from __future__ import annotations

import time

from tornado import web

from peerplatform_contracts.ratings import DEFAULT_LEARNER_RATING

from ..sessions.lifecycle import public_session
from .base import APIHandler


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
            "skill": {"rating": round(profile.get("rating", DEFAULT_LEARNER_RATING)),
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


def default_handlers(prefix: str):
    return [(prefix + r"api/me", MeHandler)]
