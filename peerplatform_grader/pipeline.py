"""``grade()``: the grading steps run in order, off the event loop, a few at a time."""

from __future__ import annotations

import asyncio
import time
import weakref

from . import steps
from .settings import GraderSettings

#: The steps, in order (see :mod:`.steps`). A deployment may run a different list.
DEFAULT_STEPS = (
    steps.check_challenge,
    steps.choose_limits,
    steps.build_job,
    steps.run_sandboxed,
    steps.collect_results,
    steps.cap_output,
    steps.score,
)

_slots: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _semaphore() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    sem = _slots.get(loop)
    if sem is None:
        sem = _slots[loop] = asyncio.Semaphore(GraderSettings.instance().slots)
    return sem


def grade_sync(challenge: dict, code: str, *, limits=None, pipeline=DEFAULT_STEPS) -> dict:
    """Grade ``code`` against ``challenge``'s hidden tests (blocking)."""
    g = steps.Grading(challenge=challenge, code=code, limits=limits)
    started = time.perf_counter()
    try:
        for step in pipeline:
            step(g)
    except steps.GradingError as exc:
        return error_result(challenge, str(exc), started)
    return g.result


def error_result(challenge: dict, message: str, started: float) -> dict:
    return {
        "status": "error", "message": message, "passed": 0, "failed": 0, "errors": 0, "total": 0,
        "duration_ms": (time.perf_counter() - started) * 1000, "tests_ms": 0.0, "tests": [],
        "load_errors": [], "output": "", "output_truncated": False,
        "challenge": {k: (challenge or {}).get(k) for k in ("slug", "version", "hash")},
        "isolation": [], "limits": {},
    }


async def grade(challenge: dict, code: str, *, limits=None, pipeline=DEFAULT_STEPS) -> dict:
    """Async :func:`grade_sync`: runs in a worker thread, at most
    ``c.GraderSettings.concurrency`` at once."""
    async with _semaphore():
        return await asyncio.to_thread(grade_sync, challenge, code, limits=limits,
                                       pipeline=pipeline)
