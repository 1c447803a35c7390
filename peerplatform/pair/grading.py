"""Grading on the trusted side: the driver's cells against the challenge's hidden tests.

The pair server sends the notebook's cells; the grading rule (which cells count) is the
grader's (:mod:`peerplatform_grader.notebook`), applied here to a notebook rebuilt from them.
The challenge is read as the session pinned it (``challenge.version``), so a pack reloaded
mid-session changes neither the statement nor the hidden tests of running sessions.

Limits, per replica and per session:

* at most ``c.PeerPlatform.grading_concurrency`` driver runs grade at once in a replica; one
  more is refused at once with **429** and ``Retry-After`` (no queue: a queued click would
  hold the pair server's request, and the driver sees "busy, retrying" instead of nothing).
  The final grading at time-up never gets 429: it waits for a slot.
* one run at a time per session, across replicas (**409**): a ``tests_run`` mark in the session
  document, taken atomically, with an expiry should the replica die mid-run.
"""

from __future__ import annotations

import asyncio
import logging
import secrets

from .errors import PairError
from .timing import is_running

log = logging.getLogger("peerplatform.pair")


def default_grader():
    """The grader package (imported when first used: it is heavy, and tests swap it)."""
    import peerplatform_grader

    return peerplatform_grader


def notebook_of(cells: list[dict]) -> dict:
    """An nbformat-4 dict of the validated cells (what ``code_from_notebook`` reads)."""
    return {
        "nbformat": 4, "nbformat_minor": 5, "metadata": {},
        "cells": [
            {"cell_type": c["cell_type"], "source": c["source"],
             "metadata": c.get("metadata") or {},
             **({"outputs": [], "execution_count": None} if c["cell_type"] == "code" else {})}
            for c in cells
        ],
    }


class Grading:
    def __init__(self, store, *, concurrency: int = 4, timeout: float = 120.0,
                 grader_factory=default_grader):
        self.store = store
        self.concurrency = max(1, int(concurrency))
        self.timeout = timeout
        self.grader_factory = grader_factory
        self._slots = asyncio.Semaphore(self.concurrency)
        self._busy = 0

    @property
    def busy(self) -> int:
        """Runs grading now in this replica."""
        return self._busy

    async def challenge_of(self, doc: dict) -> dict | None:
        """The session's challenge exactly as it was picked (hidden tests included)."""
        picked = doc.get("challenge") or {}
        slug, version = picked.get("slug"), picked.get("version")
        if not slug:
            return None
        if version is not None:
            full = await self.store.challenges.get_version(slug, version)
            if full is not None:
                return full
        return await self.store.challenges.get(slug)

    async def grade_cells(self, challenge: dict, cells: list[dict]) -> dict:
        grader = self.grader_factory()
        code = grader.code_from_notebook(notebook_of(cells))
        return await asyncio.wait_for(grader.grade(challenge, code), self.timeout)

    async def _graded(self, challenge: dict, cells: list[dict]) -> dict:
        self._busy += 1
        try:
            return await self.grade_cells(challenge, cells)
        finally:
            self._busy -= 1

    async def run_tests(self, doc: dict, by: str, cells: list[dict]) -> dict:
        """The driver's run: graded, recorded as a ``tests`` event (both learners see it)."""
        sid = doc["_id"]
        if not is_running(doc):
            raise PairError(409, "the session is not running")
        challenge = await self.challenge_of(doc)
        if challenge is None:
            raise PairError(409, "the session has no challenge to test against")
        if self._slots.locked():
            raise PairError(429, "the grader is busy; retry in a moment",
                            headers={"Retry-After": "1"})
        run = secrets.token_hex(8)
        if await self.store.sessions.claim_tests_run(sid, run=run,
                                                     lease_s=self.timeout + 30) is None:
            current = await self.store.sessions.get(sid)
            if current is None or not is_running(current):
                raise PairError(409, "the session is not running")
            raise PairError(409, "a test run is already in progress")
        result = None
        try:
            async with self._slots:
                result = await self._graded(challenge, cells)
        except asyncio.TimeoutError:
            raise PairError(504, f"grading took longer than {self.timeout:.0f} s") from None
        finally:
            event = None
            if result is not None:
                event = {"type": "tests", "by": by, "final": False, "result": result}
            await self.store.sessions.finish_tests_run(sid, run=run, event=event)
        return result

    async def final(self, doc: dict, cells: list[dict] | None) -> tuple[dict | None, str]:
        """The final grading at time-up: ``(result, grader status)``; never raises."""
        if cells is None:
            return None, "skipped: no notebook was received from the pair server"
        try:
            challenge = await self.challenge_of(doc)
            if challenge is None:
                return None, "skipped: the session has no challenge"
            async with self._slots:
                return await self._graded(challenge, cells), "ok"
        except asyncio.TimeoutError:
            return None, "timeout"
        except NotImplementedError:
            return None, "unavailable"
        except Exception as e:
            log.exception("final grading of session %s failed", doc["_id"])
            return None, f"error: {e}"
