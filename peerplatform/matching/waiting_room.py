"""The waiting room in Redis: join, leave, heartbeat and the atomic pairing step.

Every state change is one Lua script, so several service replicas can share one Redis: a
learner is in at most one of {waiting, session} and is never paired twice. The pick rule is
``lua/pick_pair.lua`` and nothing else; a smarter rule replaces that script.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from importlib.resources import files

from . import keys


def _script(name: str) -> str:
    return files(__package__).joinpath("lua", f"{name}.lua").read_text()


class AlreadyBusy(Exception):
    """The learner is already matched or in a session."""

    def __init__(self, state: str, session_id: str):
        super().__init__(f"already in a {state} ({session_id})")
        self.state = state
        self.session_id = session_id


@dataclass(frozen=True)
class Match:
    session_id: str
    members: tuple[str, str]
    #: wall-clock seconds when the pair was made (for the session's step timings)
    matched_at: float = 0.0


def now_ms() -> int:
    return int(time.time() * 1000)


class WaitingRoom:
    """Operations on the waiting room. ``redis`` is a ``redis.asyncio.Redis`` (decode_responses)."""

    #: How many of the longest-waiting entries one pick looks at (ghosts are cleaned on the way).
    scan_limit = 64

    def __init__(self, redis, presence_ttl: int = 10):
        self.redis = redis
        self.presence_ttl = presence_ttl
        self._join = redis.register_script(_script("join"))
        self._leave = redis.register_script(_script("leave"))
        self._heartbeat = redis.register_script(_script("heartbeat"))
        self._pick = redis.register_script(_script("pick_pair"))
        self._release = redis.register_script(_script("release"))

    async def join(self, user: str, preferences: dict | None = None) -> None:
        result = await self._join(
            keys=[keys.WAITING, keys.user_state(user), keys.presence(user), keys.prefs(user)],
            args=[user, now_ms(), self.presence_ttl, json.dumps(preferences or {})],
        )
        if result[0] == "busy":
            raise AlreadyBusy(result[1], result[2])

    async def leave(self, user: str) -> bool:
        left = await self._leave(
            keys=[keys.WAITING, keys.user_state(user), keys.presence(user), keys.prefs(user)],
            args=[user],
        )
        return bool(left)

    async def heartbeat(self, user: str) -> str:
        """Refresh presence; returns the learner's state ('' if they are not in the room)."""
        return await self._heartbeat(
            keys=[keys.user_state(user), keys.presence(user)], args=[self.presence_ttl]
        )

    async def state(self, user: str) -> dict:
        return await self.redis.hgetall(keys.user_state(user))

    async def preferences(self, user: str) -> dict:
        raw = await self.redis.hget(keys.prefs(user), "json")
        return json.loads(raw) if raw else {}

    async def waiting_count(self) -> int:
        return await self.redis.zcard(keys.WAITING)

    async def pick(self, session_id: str) -> Match | None:
        """One atomic pairing attempt; the pair is reserved under ``session_id``."""
        picked = await self._pick(
            keys=[keys.WAITING], args=[session_id, now_ms(), self.scan_limit, keys.PREFIX]
        )
        if not picked:
            return None
        return Match(session_id, (picked[0], picked[1]), matched_at=time.time())

    async def release(self, session_id: str, members) -> int:
        """Free the members of an ended or failed session so they can join again."""
        return await self._release(
            keys=[keys.user_state(u) for u in members], args=[session_id]
        )
