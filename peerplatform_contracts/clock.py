"""The session clock: pure arithmetic on a session document or its pair view.

The clock is ``started_at`` (set by the platform service when the session became active)
plus ``duration_s``; role swaps are scheduled at ``swap_schedule_s`` (seconds after the
start; absent: :data:`DEFAULT_SWAP_FRACTIONS` of the duration). The service keeps the clock
of record and makes the swaps and the end; the pair server computes the same clock from the
view it was sent, to show the remaining time, to announce the phases and to lock writes at
``ends_at`` on its own even when the service cannot be reached at that moment. One module,
so both sides always agree on when a swap or the end is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """Stored datetimes are UTC; a naive one (a client without tz_aware) is read as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


#: Scheduled swaps of a session without ``swap_schedule_s``, as fractions of its duration.
DEFAULT_SWAP_FRACTIONS = (0.5,)


def swap_schedule(doc: dict, default_fractions=DEFAULT_SWAP_FRACTIONS) -> tuple[float, ...]:
    """Offsets (s after the start) of the scheduled swaps, sorted, inside the session."""
    duration = float(doc.get("duration_s") or 0)
    raw = doc.get("swap_schedule_s")
    if raw is None:
        raw = [duration * f for f in default_fractions]
    offsets = sorted(float(x) for x in raw
                     if isinstance(x, (int, float)) and not isinstance(x, bool))
    return tuple(x for x in offsets if 0 < x < duration)


@dataclass(frozen=True)
class Clock:
    started_at: datetime
    duration_s: float
    swaps_s: tuple[float, ...] = ()

    @classmethod
    def from_session(cls, doc: dict | None,
                     default_fractions=DEFAULT_SWAP_FRACTIONS) -> Clock | None:
        """The clock of a session that has started, else None."""
        if not doc or not doc.get("started_at") or doc.get("duration_s") is None:
            return None
        started = as_utc(doc["started_at"])
        duration = float(doc["duration_s"])
        if isinstance(doc.get("ends_at"), datetime):  # the service's end is the one in force
            duration = (as_utc(doc["ends_at"]) - started).total_seconds()
        return cls(started, duration, swap_schedule(doc, default_fractions))

    @property
    def ends_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration_s)

    def elapsed_s(self, now: datetime) -> float:
        return min(max((now - self.started_at).total_seconds(), 0.0), self.duration_s)

    def remaining_s(self, now: datetime) -> float:
        return max((self.ends_at - now).total_seconds(), 0.0)

    def is_over(self, now: datetime) -> bool:
        return now >= self.ends_at

    def swap_time(self, index: int) -> datetime:
        return self.started_at + timedelta(seconds=self.swaps_s[index])

    def due_swaps(self, now: datetime) -> list[int]:
        """Indexes of the scheduled swaps whose time has come (before the end)."""
        if self.is_over(now):
            return []
        return [i for i in range(len(self.swaps_s)) if self.swap_time(i) <= now]

    def phase(self, now: datetime) -> int:
        """0 before the first scheduled swap, 1 after it, …; ``len(swaps)+1`` once over."""
        if self.is_over(now):
            return len(self.swaps_s) + 1
        return len(self.due_swaps(now))

    def next_deadline(self, now: datetime) -> datetime | None:
        """The next moment something happens (a swap or the end), or None when over."""
        if self.is_over(now):
            return None
        upcoming = [self.swap_time(i) for i in range(len(self.swaps_s)) if self.swap_time(i) > now]
        return min([*upcoming, self.ends_at])

    def to_json(self, now: datetime) -> dict:
        nxt = [self.swap_time(i) for i in range(len(self.swaps_s)) if self.swap_time(i) > now]
        return {
            "server_time": now.isoformat(),
            "started_at": self.started_at.isoformat(),
            "ends_at": self.ends_at.isoformat(),
            "duration_s": self.duration_s,
            "elapsed_s": round(self.elapsed_s(now), 3),
            "remaining_s": round(self.remaining_s(now), 3),
            "phase": self.phase(now),
            "swaps_at": [self.swap_time(i).isoformat() for i in range(len(self.swaps_s))],
            "next_swap_at": nxt[0].isoformat() if nxt and not self.is_over(now) else None,
            "over": self.is_over(now),
        }
