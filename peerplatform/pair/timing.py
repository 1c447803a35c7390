"""The session clock, as arithmetic on the session document: the service decides it.

``started_at`` (written when the session became active) plus ``duration_s`` is the end; role
swaps are scheduled at ``swap_schedule_s`` (seconds after the start; absent: half time). Only
the service's time counts: the pair view sends ``server_time`` so a pair server can show the
remaining time without trusting its own clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

#: Scheduled swaps of a session without ``swap_schedule_s``, as fractions of its duration.
DEFAULT_SWAP_FRACTIONS = (0.5,)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """Stored datetimes are UTC; a naive one (a client without tz_aware) is read as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


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
class SessionClock:
    started_at: datetime
    duration_s: float
    swaps_s: tuple[float, ...] = ()

    @classmethod
    def of(cls, doc: dict | None) -> SessionClock | None:
        """The clock of a session that has started, else None."""
        if not doc or not doc.get("started_at") or doc.get("duration_s") is None:
            return None
        return cls(as_utc(doc["started_at"]), float(doc["duration_s"]), swap_schedule(doc))

    @property
    def ends_at(self) -> datetime:
        return self.started_at + timedelta(seconds=self.duration_s)

    def is_over(self, now: datetime) -> bool:
        return now >= self.ends_at

    def elapsed_s(self, now: datetime) -> float:
        return min(max((now - self.started_at).total_seconds(), 0.0), self.duration_s)

    def due_swaps(self, now: datetime) -> list[int]:
        """Indexes of the scheduled swaps whose time has come (none once the time is up)."""
        if self.is_over(now):
            return []
        return [i for i, offset in enumerate(self.swaps_s)
                if self.started_at + timedelta(seconds=offset) <= now]


def is_running(doc: dict, now: datetime | None = None) -> bool:
    """Whether learners may act in the session now: active and its time not up."""
    if doc.get("state") != "active":
        return False
    clock = SessionClock.of(doc)
    return clock is None or not clock.is_over(now or utcnow())
