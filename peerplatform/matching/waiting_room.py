"""The waiting room in Redis: join, leave, heartbeat, the atomic matcher and the handshake.

Every state change is one Lua script, so several service replicas can share one Redis: a
learner is in at most one of {waiting, pending match, session} and is never paired twice.

The match rule is ``lua/pick.lua`` (one call = one attempt, O(log N + k)); the handshake is
``accept.lua`` / ``decline.lua`` and the sweep of overdue handshakes ``expire.lua``. Scripts
share ``lua/common.lua`` (prepended) and get the key prefix as ``ARGV[1]``.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from importlib.resources import files

from peerplatform_contracts.ratings import DEFAULT_LEARNER_RATING

from . import keys


def _script(name: str) -> str:
    lua = files(__package__).joinpath("lua")
    return lua.joinpath("common.lua").read_text() + "\n" + lua.joinpath(f"{name}.lua").read_text()


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
    #: 'matched' (both must accept) or 'session' (auto-accept: confirmed at once)
    state: str = "session"
    gap: float = 0.0
    #: each member's window when matched (``math.inf`` once anyone in the cohort fits)
    windows: tuple[float, float] = (0.0, 0.0)
    #: the clock (epoch ms) the match script decided with
    at_ms: int = 0


@dataclass(frozen=True)
class Window:
    """How far apart two ratings may be, by how long a learner has waited (see README)."""

    start: float = 25.0
    growth_per_s: float = 5.0
    cap: float = 400.0
    #: from this wait on (seconds; 0 = never) anyone compatible fits, whatever the rating
    anyone_after_s: float = 120.0

    def at(self, waited_s: float) -> float:
        if self.anyone_after_s and waited_s >= self.anyone_after_s:
            return math.inf
        return min(self.start + self.growth_per_s * max(waited_s, 0.0), self.cap)


@dataclass
class MatchRules:
    window: Window = field(default_factory=Window)
    cohort_mode: str = "prefer"  # anyone | prefer | only
    auto_accept: bool = False
    handshake_s: float = 20.0
    anchors: int = 8
    neighbours: int = 16


def now_ms() -> int:
    return int(time.time() * 1000)


def _window(value: str) -> float:
    x = float(value)
    return math.inf if x < 0 else x


class WaitingRoom:
    """Operations on the waiting room. ``redis`` is a ``redis.asyncio.Redis`` (decode_responses)."""

    def __init__(self, redis, presence_ttl: int = 10, rules: MatchRules | None = None):
        self.redis = redis
        self.presence_ttl = presence_ttl
        self.rules = rules or MatchRules()
        for name in ("join", "leave", "heartbeat", "pick", "release", "accept", "decline",
                     "expire"):
            setattr(self, f"_{name}", redis.register_script(_script(name)))

    async def join(self, user: str, preferences: dict | None = None, *,
                   rating: float = DEFAULT_LEARNER_RATING, cohort: str = "",
                   at_ms: int | None = None) -> None:
        """Wait for a partner at ``rating``; ``at_ms`` (simulations) is the join time."""
        prefs = preferences or {}
        result = await self._join(keys=[], args=[
            keys.PREFIX, user, at_ms if at_ms is not None else now_ms(), self.presence_ttl,
            json.dumps(prefs), float(rating),
            cohort, prefs.get("track") or "any", int(prefs.get("duration_minutes") or 0),
            prefs.get("difficulty") or "any",
        ])
        if result[0] == "busy":
            raise AlreadyBusy(result[1], result[2])

    async def leave(self, user: str) -> bool:
        """Leave the room; leaving with a pending match declines it (the partner is requeued).
        Returns whether the learner was in the room."""
        return (await self.leave_with_partner(user))[0]

    async def leave_with_partner(self, user: str) -> tuple[bool, str | None, str | None]:
        """:meth:`leave`, also returning the partner put back in the room and the match id
        when the learner left a pending match."""
        result = await self._leave(keys=[], args=[keys.PREFIX, user])
        if result[0] == 1:
            return True, None, None
        if len(result) > 1 and result[1]:
            outcome = await self.decline(user, result[1], mark="")
            if outcome[0] == "declined":
                return True, outcome[1], result[1]
        return False, None, None

    async def heartbeat(self, user: str) -> str:
        """Refresh presence; returns the learner's state ('' if they are not in the room)."""
        return await self._heartbeat(keys=[], args=[keys.PREFIX, user, self.presence_ttl])

    async def state(self, user: str) -> dict:
        return await self.redis.hgetall(keys.user_state(user))

    async def preferences(self, user: str) -> dict:
        raw = await self.redis.hget(keys.prefs(user), "json")
        return json.loads(raw) if raw else {}

    async def waiting_count(self) -> int:
        return await self.redis.zcard(keys.WAITING)

    async def pending_match(self, match_id: str) -> dict:
        return await self.redis.hgetall(keys.match(match_id))

    async def next_deadline_ms(self) -> int | None:
        """When the earliest pending handshake is due (epoch ms), if any."""
        first = await self.redis.zrange(keys.PENDING, 0, 0, withscores=True)
        return int(first[0][1]) if first else None

    async def marks(self, user: str) -> dict:
        return {k: int(v) for k, v in (await self.redis.hgetall(keys.marks(user))).items()}

    async def pick(self, session_id: str, *, at_ms: int | None = None, anchor: str = "",
                   offset: int = 0) -> Match | None:
        """One atomic match attempt; the pair is reserved under ``session_id``.

        Anchors: ``anchor`` first (a learner who just joined), then the waiting room's entries
        ``offset`` … ``offset + anchors - 1`` by wait time (0: the longest-waiting)."""
        r = self.rules
        at_ms = at_ms if at_ms is not None else now_ms()
        picked = await self._pick(keys=[], args=[
            keys.PREFIX, session_id, at_ms, r.anchors,
            r.neighbours, r.window.start, r.window.growth_per_s, r.window.cap,
            r.window.anyone_after_s, r.cohort_mode, int(r.auto_accept),
            int(r.handshake_s * 1000), anchor, offset,
        ])
        if not picked:
            return None
        mid, a, b, state, gap, wa, wb = picked
        return Match(mid, (a, b), matched_at=time.time(), state=state, gap=float(gap),
                     windows=(_window(wa), _window(wb)), at_ms=at_ms)

    async def accept(self, user: str, match_id: str) -> list:
        """``['confirmed', a, b]``, ``['accepted', partner]``, ``['expired']`` or ``['gone']``."""
        return await self._accept(keys=[], args=[keys.PREFIX, user, match_id, now_ms()])

    async def decline(self, user: str, match_id: str, *, mark: str = "declined") -> list:
        """``['declined', partner]`` (the partner is back in the room) or ``['gone']``."""
        return await self._decline(keys=[], args=[keys.PREFIX, user, match_id, now_ms(), mark])

    async def expire(self, *, at_ms: int | None = None, limit: int = 100) -> list[tuple]:
        """Resolve overdue handshakes: ``[(match_id, user, 'requeued'|'noshow'), ...]``."""
        flat = await self._expire(keys=[], args=[
            keys.PREFIX, at_ms if at_ms is not None else now_ms(), limit])
        return [tuple(flat[i:i + 3]) for i in range(0, len(flat), 3)]

    async def release(self, session_id: str, members) -> int:
        """Free the members of an ended or failed session so they can join again."""
        return await self._release(
            keys=[keys.user_state(u) for u in members], args=[keys.PREFIX, session_id]
        )
