"""The pair view of a session document: what a pair server gets (``GET state``).

Built field by field from the contract (``peerplatform_contracts.pair_api``), never by copying
the document: no hidden test, no solution, no lease, no rating, no notebook reaches a pair
server. Datetimes are ISO 8601 strings (UTC).
"""

from __future__ import annotations

from datetime import datetime

from peerplatform_contracts.clock import Clock, as_utc, swap_schedule, utcnow
from peerplatform_contracts.pair_api import CHALLENGE_SUMMARY_FIELDS


#: What the outcome's test summary keeps of a grader result.
TEST_SUMMARY_FIELDS = ("status", "passed", "failed", "errors", "total", "message")


def iso(value) -> str | None:
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    return None


def last_tests(doc: dict) -> dict | None:
    """The session's latest test run (an event of the document), if any."""
    for event in reversed(doc.get("events") or []):
        if event.get("type") == "tests":
            return {"by": event.get("by"), "final": bool(event.get("final")),
                    "at": iso(event.get("at")), "result": event.get("result")}
    return None


def tests_summary(result: dict | None) -> dict | None:
    if not isinstance(result, dict):
        return None
    return {k: result.get(k) for k in TEST_SUMMARY_FIELDS}


def pair_view(doc: dict, now: datetime | None = None) -> dict:
    now = now or utcnow()
    clock = Clock.from_session(doc)
    challenge = doc.get("challenge")
    request = doc.get("swap_request")
    outcome = doc.get("outcome")
    return {
        "id": doc["_id"],
        "state": doc["state"],
        "members": list(doc.get("members") or []),
        "driver": doc.get("driver"),
        "observer": doc.get("observer"),
        "duration_s": doc.get("duration_s"),
        "started_at": iso(doc.get("started_at")),
        "ends_at": iso(clock.ends_at) if clock else None,
        "swap_schedule_s": list(swap_schedule(doc)),
        "scheduled_swaps_done": sorted(doc.get("scheduled_swaps_done") or []),
        "swap_request": {"by": request.get("by"), "at": iso(request.get("at"))}
        if isinstance(request, dict) else None,
        "challenge": {k: challenge.get(k) for k in CHALLENGE_SUMMARY_FIELDS}
        if isinstance(challenge, dict) else None,
        "last_tests": last_tests(doc),
        "outcome": {"reason": outcome.get("reason"), "grader": outcome.get("grader"),
                    "tests": tests_summary(outcome.get("tests"))}
        if isinstance(outcome, dict) else None,
        "server_time": iso(now),
    }
