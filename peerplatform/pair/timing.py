"""When learners may act in a session, by the shared clock (``peerplatform_contracts.clock``).

Only the service's time counts: the pair view sends ``server_time`` so a pair server can show
the remaining time without trusting its own clock.
"""

from __future__ import annotations

from datetime import datetime

from peerplatform_contracts.clock import Clock, utcnow


def is_running(doc: dict, now: datetime | None = None) -> bool:
    """Whether learners may act in the session now: active and its time not up."""
    if doc.get("state") != "active":
        return False
    clock = Clock.from_session(doc)
    return clock is None or not clock.is_over(now or utcnow())
