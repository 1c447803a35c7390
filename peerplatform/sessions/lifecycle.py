"""From a match to a running pair server, and from there to the end of the session.

``pending`` (document written, its challenge picked) -> ``spawning`` (Hub asked to start
``<owner>/s-<id>``, both learners given a share) -> ``active`` (server ready, both lobbies told
the URL) -> ``ended`` (at time-up by the service's clock, :mod:`peerplatform.pair.clock`, with
the outcome; or from a lobby). Any failure on the way -> ``failed``: the reason goes to both
lobbies, the half-started server and its shares are removed, and both learners are free to
join again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timedelta, timezone

from ..matching import AlreadyBusy, Match
from ..matching.skill import difficulty_for
from ..pair.picking import pick_for, summary
from ..store.sessions import OPEN_STATES, InvalidTransition, utcnow
from ..voice.calls import end_conference
from .hubclient import HubAPIError

log = logging.getLogger("peerplatform.sessions")


def public_session(doc: dict) -> dict:
    """What a member may see of a session document."""
    return {
        "id": doc["_id"],
        "members": doc["members"],
        "driver": doc["driver"],
        "observer": doc["observer"],
        "state": doc["state"],
        "url": (doc.get("server") or {}).get("url"),
        "duration_s": doc.get("duration_s"),
        "challenge": (doc.get("challenge") or {}).get("title"),
        "created_at": doc.get("created_at"),
        "started_at": doc.get("started_at"),
        "ended_at": doc.get("ended_at"),
        "failure_reason": doc.get("failure_reason"),
    }


class SessionManager:
    """``voice_settings`` (the service's ``VoiceSettings``; None: no calls to end): a session
    ended or failed here after it started has its Twilio conference ended."""

    def __init__(self, *, settings, store, room, hub, events, base_url: str = "/",
                 voice_settings=None, voice_http_client=None):
        self.settings = settings
        self.voice_settings = voice_settings
        self.voice_http_client = voice_http_client
        self.store = store
        self.room = room
        self.hub = hub
        self.events = events
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.tasks: set[asyncio.Task] = set()

    async def join(self, user: str, preferences: dict, cohort: str = "") -> None:
        """Put ``user`` in the waiting room at their skill rating; a session that is over no
        longer holds them.

        A session ended inside the pair server (time-up) leaves its members marked "in
        session" in Redis until the teardown sweep; the store is the authority on that. A
        pending match (handshake) does hold them until it is resolved.
        """
        rating = (await self.store.profiles.ratings([user]))[user]
        try:
            await self.room.join(user, preferences, rating=rating, cohort=cohort)
        except AlreadyBusy as busy:
            if busy.state == "matched":
                raise
            doc = await self.store.sessions.get(busy.session_id)
            if doc is not None and doc["state"] in OPEN_STATES:
                raise
            await self.room.release(busy.session_id, [user])
            await self.room.join(user, preferences, rating=rating, cohort=cohort)

    async def session_preferences(self, members) -> dict:
        """What the pair's session is about: the members' preferences are compatible (the
        matcher checked), so an explicit choice of either wins; both "match my level": the
        difficulty nearest the pair's mean rating."""
        merged: dict = {}
        for user in members:
            for key, value in (await self.room.preferences(user)).items():
                if value not in (None, "any") and key not in merged:
                    merged[key] = value
        if "difficulty" not in merged:
            ratings = await self.store.profiles.ratings(list(members))
            merged["difficulty"] = difficulty_for(ratings.values())
            merged["difficulty_from"] = "ratings"
        return merged

    async def pick_challenge(self, members, prefs: dict) -> dict | None:
        """The session's challenge, chosen here before the spawn (the pair server never
        picks: it never holds hidden tests). None when nothing matches or the store fails:
        the session starts all the same and the driver can draw one."""
        try:
            picked = await pick_for(self.store, members, difficulty=prefs.get("difficulty"),
                                    track=prefs.get("track"))
        except Exception:
            log.exception("could not pick a challenge for %s", list(members))
            return None
        if picked is None:
            log.warning("no challenge matches %s for %s", prefs, list(members))
        return picked

    def launch(self, match: Match) -> asyncio.Task:
        """Start a matched pair's session in the background (keeps a reference to the task)."""
        task = asyncio.create_task(self.start_session(match))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def start_session(self, match: Match) -> dict | None:
        driver, observer = match.members  # the longer-waiting learner drives first
        try:
            prefs = await self.session_preferences(match.members)
        except Exception:  # the store is down: the session still starts, any difficulty
            log.exception("could not read the preferences of %s", match.members)
            prefs = {}
        duration = int(prefs.get("duration_minutes") or 0) * 60 or self.settings.session_duration
        challenge = await self.pick_challenge(match.members, prefs)
        try:
            doc = await self.store.sessions.create(
                session_id=match.session_id, members=[driver, observer], driver=driver,
                observer=observer, server_owner=self.settings.pair_owner, duration_s=duration,
                preferences=prefs, challenge=summary(challenge) if challenge else None,
                swap_schedule_s=self.settings.swap_schedule_for(duration),
            )
        except Exception as e:  # the store is down: free the pair, tell them
            log.exception("could not create session %s", match.session_id)
            await self.room.release(match.session_id, match.members)
            await self.events.publish_all(match.members, "failed", reason=f"store error: {e}")
            return None
        if challenge is not None:
            try:
                await self.store.challenges.record_seen(match.members, challenge, doc["_id"])
            except Exception:  # history is secondary: the session goes on
                log.exception("could not record who saw the challenge of %s", doc["_id"])
        for me in match.members:
            partner = observer if me == driver else driver
            await self.events.publish(
                me, "matched", session=match.session_id, partner=partner,
                role="driver" if me == driver else "observer",
            )
        try:
            return await asyncio.wait_for(
                self._spawn(doc, match.matched_at or time.time()),
                timeout=self.settings.spawn_timeout,
            )
        except asyncio.TimeoutError:
            return await self.fail(doc["_id"], f"the session server did not start within "
                                                f"{self.settings.spawn_timeout} s")
        except HubAPIError as e:
            log.warning("spawn of session %s failed: %s", doc["_id"], e)
            return await self.fail(doc["_id"], f"the hub refused to start the server: {e.message}")
        except Exception as e:
            log.exception("spawn of session %s failed", doc["_id"])
            return await self.fail(doc["_id"], f"the session server failed to start: {e}")

    async def _spawn(self, doc: dict, matched_at: float) -> dict:
        sid, members = doc["_id"], doc["members"]
        owner, name = doc["server"]["owner"], doc["server"]["name"]
        # Seconds since the match at each step: where a slow start spends its time.
        timings = {"created": time.time() - matched_at}
        await self.store.sessions.transition(sid, "spawning")
        timings["spawn_requested"] = time.time() - matched_at
        await self.hub.start_server(owner, name, {"session_id": sid})
        timings["spawn_accepted"] = time.time() - matched_at
        # Shares work on a server that is not running yet; the members hold them before
        # their lobbies send them to the server.
        for user in members:
            await self.hub.share(owner, name, user)
        timings["shared"] = time.time() - matched_at
        ready_url = None
        async for event in self.hub.progress(owner, name, timeout=self.settings.spawn_timeout):
            if event.get("failed"):
                raise RuntimeError(event.get("message") or "spawn failed")
            await self.events.publish_all(
                members, "progress", session=sid, progress=event.get("progress", 0),
                message=event.get("message", ""),
            )
            if event.get("ready"):
                ready_url = event.get("url")
                break
        if not ready_url:
            raise RuntimeError("the hub's progress stream ended before the server was ready")
        timings["hub_ready"] = time.time() - matched_at
        url = ready_url.rstrip("/") + "/lab"
        doc = await self.store.sessions.transition(sid, "active", **{"server.url": url})
        await self.events.publish_all(members, "ready", session=sid, url=url)
        timings["lobbies_told"] = time.time() - matched_at
        await self.store.sessions.set_fields(sid, {"timings": timings})
        return doc

    async def fail(self, session_id: str, reason: str) -> dict | None:
        try:
            doc = await self.store.sessions.transition(session_id, "failed", reason=reason)
        except InvalidTransition:
            return None
        await self._end_call(doc)
        await self._teardown(doc)
        await self.events.publish_all(doc["members"], "failed", session=session_id, reason=reason)
        return doc

    async def end(self, session_id: str, reason: str) -> dict:
        doc = await self.store.sessions.transition(session_id, "ended", reason=reason)
        await self._end_call(doc)
        await self._teardown(doc)
        await self.events.publish_all(doc["members"], "ended", session=session_id, reason=reason)
        return doc

    async def _end_call(self, doc: dict) -> None:
        """End the Twilio conference of a session that had started (``started_at``: it was
        active, so its members may be in a call). Best effort, never raises."""
        if self.voice_settings is not None and doc.get("started_at"):
            await end_conference(self.voice_settings, doc["_id"],
                                 http_client=self.voice_http_client)

    async def _teardown(self, doc: dict) -> None:
        server = doc.get("server") or {}
        try:
            await self.hub.remove_server(server["owner"], server["name"])
        except Exception:
            log.exception("could not remove pair server %s/%s", server.get("owner"), server.get("name"))
        else:
            await self.store.sessions.set_fields(doc["_id"], {"server.removed_at": utcnow()})
        await self.room.release(doc["_id"], doc["members"])

    async def reap(self) -> int:
        """Fail sessions stuck before ``active`` (a replica died mid-spawn) and remove the
        servers of sessions over for ``ended_server_grace``. (Active sessions are ended at
        time-up by the clock sweep, :class:`peerplatform.pair.clock.ClockSweep`.)

        Any replica may run this; the state transitions are atomic, so each session is reaped
        once.
        """
        now = datetime.now(timezone.utc)
        reaped = 0
        stuck = await self.store.sessions.stale(
            ("pending", "spawning"), now - timedelta(seconds=self.settings.spawn_timeout + 30)
        )
        for doc in stuck:
            if await self.fail(doc["_id"], "the session server did not start (timed out)"):
                reaped += 1
        # Sessions ended at time-up: the members are free at once (join checks the store);
        # remove the server once learners had time to rate and look back.
        grace = timedelta(seconds=self.settings.ended_server_grace)
        for doc in await self.store.sessions.awaiting_teardown(now - grace):
            await self._teardown(doc)
            reaped += 1
        return reaped


__all__ = ["SessionManager", "public_session", "OPEN_STATES"]
