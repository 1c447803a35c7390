"""What a pair session does in the pair server, in one place: the handlers and the clock
loop both call it.

The platform service decides (``peerplatform_contracts.pair_api``): it picks the challenge,
grades, keeps the clock, swaps roles on schedule, ends the session and records the outcome.
The pair server follows its view (``session.py``) and:

* puts the session's challenge in the live notebook (public view only) and replaces it when
  the driver draws another one (``POST challenge``);
* passes the members' requests on (run the tests with the notebook's cells, swap requests
  and answers) and tells both members what happened (``events/``);
* turns every change of the view into an event for both browsers (started, swap, challenge,
  locked, ended) and into enforcement at once (``roles.PairState``);
* keeps the replay: the cells, whenever they changed, at most every tick (``outbox.py``);
* at ``ends_at``: locks, saves the notebook, sends the final snapshot with the whole
  notebook (what the service grades for the outcome) and stops kernels and terminals.
"""

from __future__ import annotations

import asyncio
import json
import time

from jupyter_server.utils import ensure_async
from peerplatform_contracts.clock import Clock, utcnow
from peerplatform_contracts.difficulties import CHOICES as DIFFICULTIES
from peerplatform_contracts.pair_api import MAX_BODY_BYTES

from . import challenge as challenge_cells
from .channels import close_read_only_sockets
from .events import SessionEvents
from .notebook import SessionNotebook
from .outbox import Outbox
from .platform_client import PlatformClient, PlatformError, PlatformRefused
from .roles import Change, PairState
from .session import SessionFeed

OPEN_STATES = ("pending", "spawning", "active")
CLOSED_STATES = ("ended", "failed")


class PairError(Exception):
    """A refused or impossible request; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def notebook_cells(notebook: dict) -> list[dict]:
    """The notebook's cells as the pair API takes them (test runs and replay snapshots):
    type, source and metadata (the service grades by tags / ``peerplatform.grade``);
    outputs are not sent."""
    return [{"cell_type": c.get("cell_type", "code"), "source": _source(c),
             "metadata": c.get("metadata") or {}} for c in notebook.get("cells", [])]


def final_notebook(notebook: dict, limit: int = MAX_BODY_BYTES // 2) -> dict:
    """The notebook for the final snapshot, without outputs if it is too big with them (the
    service keeps it for review; the cells are what it grades)."""
    if len(json.dumps(notebook, default=str)) <= limit:
        return notebook
    cells = [{**c, "outputs": []} if c.get("cell_type") == "code" else c
             for c in notebook.get("cells", [])]
    return {**notebook, "cells": cells}


def tests_summary(tests: dict | None) -> dict | None:
    if not tests:
        return None
    return {k: tests.get(k) for k in ("status", "passed", "failed", "total")}


class PairController:
    def __init__(self, *, state: PairState, client: PlatformClient, notebook: SessionNotebook,
                 events: SessionEvents, serverapp, tick_s: float = 1.0, poll_wait_s: float = 25.0,
                 shutdown_kernels_at_end: bool = True, log=None):
        self.state = state
        self.client = client
        self.notebook = notebook
        self.events = events
        self.serverapp = serverapp
        self.tick_s = tick_s
        self.shutdown_kernels_at_end = shutdown_kernels_at_end
        self.log = log
        self.outbox = Outbox(client, log=log)
        self.feed = SessionFeed(client=client, state=state, wait_s=poll_wait_s,
                                on_connection=self._on_connection,
                                on_revoked=self._on_revoked, log=log)
        if state.fetch is None:
            state.fetch = client.state
        self._challenges: dict[tuple, dict] = {}  # public views by (slug, version)
        self._placed: tuple | None = None  # (slug, version) whose cells are in the notebook
        self._place_lock = asyncio.Lock()
        self._prepared = False  # the notebook file exists
        self.place_retry_s = max(tick_s * 10, 1.0)
        self._place_after = 0.0
        self._place_error: str | None = None
        self._phase: int | None = None
        self._tests_lock = asyncio.Lock()
        self._last_cells: list[dict] | None = None
        self._finishing: asyncio.Task | None = None
        self.notebook_saved: bool | None = None
        self._ended_emitted = False
        self._revoked_reason: str | None = None
        self._task: asyncio.Task | None = None
        self._flushing: asyncio.Task | None = None
        self._background: set[asyncio.Task] = set()
        state.add_listener(self._on_change)

    # -- reading ----------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self.feed.connected

    @property
    def swap_request(self) -> dict | None:
        doc = self.state.doc
        return doc.get("swap_request") if doc else None

    def clock(self, doc: dict | None = None) -> Clock | None:
        return Clock.from_session(doc if doc is not None else self.state.doc)

    def clock_json(self) -> dict:
        doc = self.state.doc
        clock = self.clock(doc)
        base = {"state": doc["state"] if doc else None, "locked": self.state.locked}
        if clock is None:
            return {**base, "server_time": utcnow().isoformat(), "started_at": None,
                    "remaining_s": None}
        return {**base, **clock.to_json(utcnow())}

    def member_doc(self, username: str) -> tuple[dict, str]:
        doc = self.state.doc
        if doc is None and self.feed.revoked is not None:  # restarted after the end
            raise PairError(409, "this session is over")
        if doc is None:
            raise PairError(503, "the platform service has not sent this session yet; "
                                 "try again in a moment")
        role = self.state.role_of(username)
        if role is None:
            raise PairError(403, "you are not a member of this session")
        return doc, role

    def _require_driver(self, username: str) -> dict:
        doc, role = self.member_doc(username)
        if not self.state.can_write(username):
            if role == "driver":
                raise PairError(409, "the session is not running (time is up or not started)")
            raise PairError(403, "only the driver can do this")
        return doc

    def _require_running(self, username: str) -> dict:
        doc, _ = self.member_doc(username)
        if doc["state"] != "active" or self.state.locked:
            raise PairError(409, "the session is not running")
        return doc

    @staticmethod
    async def _platform(coro):
        """Await a call to the service; its refusals and faults as :class:`PairError`."""
        try:
            return await coro
        except PlatformRefused as e:
            if e.status == 401:  # our credential, not the member's: not a login problem
                raise PairError(403, "the platform no longer accepts this session's "
                                     "server: the session is over") from e
            raise PairError(e.status, e.message) from e
        except PlatformError as e:
            if e.status == 429:
                raise PairError(429, "the platform is busy; try again in a moment") from e
            raise PairError(503, "the platform service cannot be reached right now; "
                                 "try again in a moment") from e

    # -- events from view changes ------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        doc = change.after
        if doc is None:
            return
        if change.kind in ("roles", "locked", "session"):
            close_read_only_sockets(self.state, self.serverapp.web_app.settings.get(
                "terminal_manager"), self.log)
        if change.kind == "roles":
            self.events.emit("swap", doc, by=_swap_by(change.before),
                             data={"reason": _swap_reason(change.before, doc),
                                   "at": doc.get("server_time") or utcnow()})
        elif change.kind == "state" and doc.get("state") == "active":
            self.events.emit("started", doc, data=self.clock_json())
        elif change.kind == "state" and doc.get("state") in CLOSED_STATES:
            self.state.lock()
        elif change.kind == "locked":
            self.events.emit("locked", doc, data=self.clock_json())
        elif change.kind == "challenge":
            self.events.emit("challenge", doc, data={"challenge": doc.get("challenge")})
            if self._prepared:
                self._place_after = 0.0
                self._spawn(self.prepare())
        if change.kind == "session" and doc.get("state") in CLOSED_STATES:
            self.state.lock()  # a server (re)started after the end

    def _on_connection(self, ok: bool) -> None:
        self.events.emit("connection", self.state.doc, data={"ok": ok})

    def _on_revoked(self, refusal: PlatformRefused) -> None:
        # the service no longer answers for this session: it is over here (the state is
        # locked already; the next step saves, stops the code and says it ended)
        self._revoked_reason = "ended by the platform"

    def kernel_notice(self, reason: str, message: str) -> None:
        """Tell both learners why their kernel stopped or cannot start (``kernel`` event),
        and keep the notice with the session on the platform."""
        self.events.emit("kernel", self.state.doc, data={"reason": reason, "message": message})
        self.outbox.add_event("kernel", {"reason": reason, "message": message})

    def _spawn(self, coro) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)
        task.add_done_callback(self._log_failure)

    def _log_failure(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None and self.log:
            self.log.error("peerplatform: background step failed: %r", task.exception())

    # -- the challenge in the notebook --------------------------------------------------------

    async def prepare(self) -> None:
        """Create the notebook and put the session's challenge in it (idempotent). A
        challenge that cannot be placed now is tried again later (and said once): the clock
        runs anyway, and the driver can still draw one."""
        if not self._prepared:
            await self.notebook.ensure_file()
            self._prepared = True
        picked = (self.state.doc or {}).get("challenge") or {}
        key = (picked.get("slug"), picked.get("version"))
        if not key[0] or key == self._placed or time.monotonic() < self._place_after:
            return
        try:
            await self._place_current()
            self._place_error = None
        except Exception as e:
            self._place_after = time.monotonic() + self.place_retry_s
            if str(e) != self._place_error:
                self._place_error = str(e)
                self.log.warning("peerplatform: the challenge is not in the notebook yet (%s); "
                                 "retrying every %.0f s", e, self.place_retry_s)

    async def public_challenge(self, slug: str, version) -> dict | None:
        """The public view of ``slug`` at ``version``, from the service once per version."""
        key = (slug, version)
        if key not in self._challenges:
            view = await self.client.challenge()
            if view is None:
                return None
            self._challenges[(view.get("slug"), view.get("version"))] = view
            if (view.get("slug"), view.get("version")) != key:
                return view if view.get("slug") == slug else None
        return self._challenges[key]

    async def _place_current(self) -> None:
        """Make the notebook show the view's challenge (a restarted server finds it there)."""
        async with self._place_lock:
            picked = (self.state.doc or {}).get("challenge") or {}
            key = (picked.get("slug"), picked.get("version"))
            if not key[0] or key == self._placed:
                return
            nb = await self.notebook.live()
            if challenge_cells.challenge_in(nb) == key[0]:
                self._placed = key
                return
            view = await self.public_challenge(*key)
            if view is None:
                raise PairError(404, f"the platform has no challenge {key[0]!r} for this session")
            if challenge_cells.challenge_in(nb) != key[0]:
                challenge_cells.place_challenge(nb, challenge_cells.public_challenge(view))
            self._placed = key

    async def _place(self, view: dict) -> None:
        async with self._place_lock:
            nb = await self.notebook.live()
            if challenge_cells.challenge_in(nb) != view["slug"]:
                challenge_cells.place_challenge(nb, challenge_cells.public_challenge(view))
            self._placed = (view["slug"], view.get("version"))

    async def change_challenge(self, username: str, difficulty: str | None = None) -> dict:
        self._require_driver(username)
        if difficulty is not None and difficulty not in DIFFICULTIES:
            raise PairError(400, f"difficulty must be one of {', '.join(DIFFICULTIES)}")

        async def write():
            view = await self.client.change_challenge(username, difficulty)
            if not isinstance(view, dict) or not view.get("slug"):
                raise PairError(502, "the platform sent no challenge")
            self._challenges[(view["slug"], view.get("version"))] = view
            return view

        view = await self._platform(self.state.update(write))
        await self._place(view)
        return challenge_cells.public_challenge(view)

    async def current_challenge(self, username: str) -> dict | None:
        doc, _ = self.member_doc(username)
        picked = doc.get("challenge") or {}
        if not picked.get("slug"):
            return None
        view = await self._platform(self.public_challenge(picked["slug"], picked.get("version")))
        return challenge_cells.public_challenge(view) if view else None

    # -- role swaps -------------------------------------------------------------------------

    async def swap(self, username: str, action: str) -> dict:
        """``request`` | ``accept`` | ``decline`` | ``cancel``: the service decides; the
        roles it sets apply as soon as it answers."""
        doc = self._require_running(username)
        before = doc.get("swap_request")
        result = await self._platform(self.state.update(lambda: self.client.swap(username,
                                                                                 action)))
        after = self.state.doc or doc
        pending = result.get("swap_request") if isinstance(result, dict) else None
        if action == "request" and pending and pending.get("by") == username \
                and before != pending:
            self.events.emit("swap_requested", after, by=username,
                             data={"at": pending.get("at")})
        elif action == "decline":
            self.events.emit("swap_declined", after, by=username)
        elif action == "cancel":
            self.events.emit("swap_cancelled", after, by=username)
        return {"swap_request": pending, "driver": (result or {}).get("driver", after["driver"])}

    # -- tests ------------------------------------------------------------------------------

    async def run_tests(self, username: str) -> dict:
        """The driver's cells graded by the service; both members see the result."""
        self._require_driver(username)
        if self._tests_lock.locked():
            raise PairError(409, "a test run is already in progress")
        async with self._tests_lock:
            cells = notebook_cells(await self.notebook.content())
            result = await self._platform(self.client.run_tests(username, cells))
        self.events.emit("tests", self.state.doc, by=username,
                         data={"result": result, "final": False})
        self._spawn(self.feed.refresh())  # last_tests of the view, for pages loaded now
        return result

    # -- the end ----------------------------------------------------------------------------

    async def finish(self) -> None:
        """Lock, save the notebook, send the final snapshot, stop the code. Runs once (again
        only if it failed)."""
        task = self._finishing
        if task is None or (task.done() and (task.cancelled() or task.exception())):
            self._finishing = task = asyncio.create_task(self._finish())
        await asyncio.shield(task)

    async def _finish(self) -> None:
        self.state.lock()
        doc = self.state.doc or {}
        try:
            self.notebook_saved = await self.notebook.save()
        except Exception:
            self.notebook_saved = False
            self.log.exception("peerplatform: could not save the notebook at the end")
        try:
            content = await self.notebook.content()
        except Exception:
            content = None
            self.log.exception("peerplatform: could not read the final notebook")
        if content is not None and doc.get("state") == "active":
            self.outbox.add_snapshot(t=self._t(doc), by=doc.get("driver"),
                                     cells=notebook_cells(content), final=True,
                                     notebook=final_notebook(content))
            await self.outbox.flush()  # at once: the service grades it for the outcome
        if self.shutdown_kernels_at_end:
            await self._stop_code()

    def _emit_ended(self) -> None:
        if self._ended_emitted:
            return
        self._ended_emitted = True
        doc = self.state.doc or {}
        outcome = doc.get("outcome") or {}
        self.events.emit("ended", doc, data={
            "reason": outcome.get("reason") or self._revoked_reason or "ended by the platform",
            "notebook_saved": self.notebook_saved,
            "grader": outcome.get("grader"),
            "tests": tests_summary(outcome.get("tests")),
        })

    async def _stop_code(self) -> None:
        """No code runs after the end (it could still change files behind the notebook)."""
        try:
            await ensure_async(self.serverapp.kernel_manager.shutdown_all())
            terminals = self.serverapp.web_app.settings.get("terminal_manager")
            if terminals is not None:
                await terminals.terminate_all()
        except Exception:
            self.log.exception("peerplatform: could not stop kernels/terminals at the end")

    # -- replay snapshots ---------------------------------------------------------------------

    @staticmethod
    def _t(doc: dict) -> float:
        started = doc.get("started_at")
        return max((utcnow() - started).total_seconds(), 0.0) if started else 0.0

    async def snapshot(self, doc: dict) -> None:
        """Queue the notebook's cells when they changed since the last snapshot (called every
        tick while active, so the replay has ≤ 2 s granularity). Never fails the session."""
        try:
            cells = notebook_cells(await self.notebook.content())
        except Exception:
            self.log.exception("peerplatform: could not read the notebook for the replay")
            return
        if cells == self._last_cells:
            return
        self.outbox.add_snapshot(t=self._t(doc), by=doc.get("driver"), cells=cells)
        self._last_cells = cells

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        self.feed.start()
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        await self.feed.stop()
        for task in [self._task, self._flushing, *self._background]:
            if task is not None:
                task.cancel()
                try:
                    await task
                except (asyncio.CancelledError, Exception):
                    pass
        try:  # a last chance for what is queued, without holding the shutdown
            await asyncio.wait_for(self.outbox.flush(), 5)
        except (asyncio.TimeoutError, Exception):
            pass
        await self.client.close()

    async def run(self) -> None:
        while True:
            try:
                delay = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.log.exception("peerplatform: session step failed; retrying")
                delay = self.tick_s
            await asyncio.sleep(delay)

    async def step(self) -> float:
        """One look at the session (the feed keeps the view current); returns how long to
        wait before the next."""
        doc = self.state.doc
        if doc is None:
            return self.tick_s / 4
        if doc["state"] in OPEN_STATES:
            await self.prepare()
        delay = self.tick_s
        clock = self.clock(doc)
        now = utcnow()
        if doc["state"] in CLOSED_STATES or self.feed.revoked is not None:
            await self.finish()
            self._emit_ended()
            delay = self.tick_s * 5
        elif doc["state"] == "active" and clock is not None and clock.is_over(now):
            await self.finish()  # the service ends the session; its view says when
        elif doc["state"] == "active":
            await self.snapshot(doc)
            if clock is not None:
                self._phase_event(clock, now)
                nxt = clock.next_deadline(now)
                if nxt is not None:
                    delay = min(max((nxt - now).total_seconds(), 0.01), self.tick_s)
        else:
            delay = self.tick_s / 4  # the learners arrive as soon as it is active
        if self.outbox.pending and (self._flushing is None or self._flushing.done()):
            # in the background: an unreachable service must not hold the clock loop
            self._flushing = asyncio.create_task(self.outbox.flush())
        return delay

    def _phase_event(self, clock: Clock, now) -> None:
        phase = clock.phase(now)
        if phase != self._phase:
            if self._phase is not None:
                self.events.emit("phase", self.state.doc, data=self.clock_json())
            self._phase = phase


def _swap_by(before: dict | None) -> str | None:
    request = (before or {}).get("swap_request") or {}
    return request.get("by")


def _swap_reason(before: dict | None, after: dict) -> str | None:
    done_before = len((before or {}).get("scheduled_swaps_done") or [])
    if len(after.get("scheduled_swaps_done") or []) > done_before:
        return "schedule"
    if (before or {}).get("swap_request"):
        return "requested"
    return None
