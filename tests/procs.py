"""Process checks shared by the launcher tests."""

from __future__ import annotations

import time

import psutil


def gone(pid: int) -> bool:
    try:
        # an orphan's zombie stays until init reaps it (some container inits never do)
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def survivors(pids, within: float = 10) -> list[int]:
    """The pids still running after ``within`` s (a SIGKILL lands a moment after it is sent)."""
    deadline = time.monotonic() + within
    while any(not gone(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [pid for pid in pids if not gone(pid)]
