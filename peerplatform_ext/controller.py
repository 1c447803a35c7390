"""What a pair session does, in one place: the handlers and the clock loop both call it.

* prepares the session notebook and its challenge cells when the session is assigned;
* swaps roles on the schedule and on a request accepted by the partner;
* changes the challenge (driver only), runs the tests (driver only);
* at time-up: locks everybody, saves the notebook through RTC, runs the final tests,
  records the outcome (atomic ``ended`` transition; the platform's reaper may race it)
  and tells both members.

The state of record is the session document in the store (roles, clock, challenge,
schedule progress, outcome): a restarted server reads it back and carries on.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from jupyter_server.utils import ensure_async

from peerplatform.store.sessions import OPEN_STATES, InvalidTransition

from . import challenge as challenge_cells
from .channels import close_read_only_sockets
from .events import SessionEvents
from .notebook import SessionNotebook
from .roles import Change, PairState
from .timer import Clock, utcnow

DIFFICULTIES = ("easy", "medium", "hard", "any")
#: The final notebook is kept in the outcome for review unless it is bigger than this.
MAX_STORED_NOTEBOOK_BYTES = 4 * 1024 * 1024


class PairError(Exception):
    """A refused or impossible request; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def _grader():
    from . import grader

    return grader


class PairController:
    def __init__(self, *, state: PairState, notebook: SessionNotebook, events: SessionEvents,
                 serverapp, swap_fractions=(0.5,), tick_s: float = 1.0,
                 final_tests_timeout_s: float = 120.0, shutdown_kernels_at_end: bool = True,
                 grader_factory: Callable = _grader, log=None):
        self.state = state
        self.notebook = notebook
        self.events = events
        self.serverapp = serverapp
        self.swap_fractions = tuple(swap_fractions)
        self.tick_s = tick_s
        self.final_tests_timeout_s = final_tests_timeout_s
        self.shutdown_kernels_at_end = shutdown_kernels_at_end
        self.grader_factory = grader_factory
        self.log = log
        self.swap_request: dict | None = None
        self._prepared_for: str | None = None
        self._phase: int | None = None
        self._ending: asyncio.Task | None = None
        self._tests_lock = asyncio.Lock()
        self.prepare_retry_s = max(self.tick_s * 10, 1.0)
        self._prepare_after = 0.0
        self._prepare_error: str | None = None
        self._task: asyncio.Task | None = None
        self._last_snapshot: list[dict] | None = None  # cells of the last replay snapshot
        state.add_listener(self._on_change)

    # -- reading ----------------------------------------------------------------------------

    @property
    def store(self):
        return self.state.session.store

    def clock(self, doc: dict | None = None) -> Clock | None:
        return Clock.from_session(doc if doc is not None else self.state.doc, self.swap_fractions)

    def clock_json(self) -> dict:
        doc = self.state.doc
        clock = self.clock(doc)
        base = {"state": doc["state"] if doc else None, "locked": self.state.locked}
        if clock is None:
            return {**base, "server_time": utcnow().isoformat(), "started_at": None,
                    "remaining_s": None}
        return {**base, **clock.to_json(utcnow())}

    def kernel_notice(self, reason: str, message: str) -> None:
        """Tell both learners why their kernel stopped or cannot start (``kernel`` event)."""
        doc = self.state.doc
        if doc is not None:
            self.events.emit("kernel", doc, data={"reason": reason, "message": message})

    def member_doc(self, username: str) -> tuple[dict, str]:
        doc = self.state.doc
        if doc is None:
            raise PairError(404, "no session is assigned to this server")
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

    # -- events -----------------------------------------------------------------------------

    def _on_change(self, change: Change) -> None:
        doc = change.after
        if doc is None:
            return
        if change.kind in ("roles", "locked", "session"):
            close_read_only_sockets(self.state, self.serverapp.web_app.settings.get(
                "terminal_manager"), self.log)
        if change.kind == "roles":
            self.swap_request = None
            last = next((e for e in reversed(doc.get("events") or []) if e.get("type") == "swap"),
                        {})
            self.events.emit("swap", doc, by=last.get("by"),
                             data={"reason": last.get("reason"), "at": last.get("at")})
        elif change.kind == "state" and doc.get("state") == "active":
            self.events.emit("started", doc, data=self.clock_json())
        elif change.kind == "state" and doc.get("state") in ("ended", "failed"):
            self.state.lock()
        elif change.kind == "locked":
            self.swap_request = None
            self.events.emit("locked", doc, data=self.clock_json())
        elif change.kind == "challenge":
            self.events.emit("challenge", doc, data={"challenge": doc.get("challenge")})

    # -- preparing the notebook -------------------------------------------------------------

    async def prepare(self, doc: dict) -> None:
        """Create the notebook and put the session's challenge in it (idempotent)."""
        await self.notebook.ensure_file()
        doc = await self.ensure_challenge(doc)
        self._prepared_for = doc["_id"]

    async def _try_prepare(self, doc: dict) -> None:
        """Prepare, but never let a missing challenge stop the clock: retry now and then,
        and say why once (the driver can still draw one through the API)."""
        now = time.monotonic()
        if now < self._prepare_after:
            return
        try:
            await self.prepare(doc)
            self._prepare_error = None
        except Exception as e:
            self._prepare_after = now + self.prepare_retry_s
            if str(e) != self._prepare_error:
                self._prepare_error = str(e)
                self.log.warning("peerplatform: the session notebook is not ready (%s); "
                                 "retrying every %.0f s", e, self.prepare_retry_s)

    async def ensure_challenge(self, doc: dict) -> dict:
        sid = doc["_id"]
        if not doc.get("challenge"):
            prefs = doc.get("preferences") or {}
            picked = await self.store.challenges.pick(
                difficulty=prefs.get("difficulty"), track=prefs.get("track"),
                exclude_users=doc["members"],
            )
            if picked is None:
                raise PairError(404, "no challenge in the store matches this session")
            new = await self.state.update(lambda: self.store.sessions.set_challenge(
                sid, challenge_cells.summary(picked), previous=None, reason="session start"))
            if new is not None:
                await self.store.challenges.record_seen(doc["members"], picked, sid)
                doc = new
            else:  # picked concurrently (another replica of us, or a restart): use theirs
                doc = await self.state.refresh()
        slug = doc["challenge"]["slug"]
        nb = await self.notebook.live()
        if challenge_cells.challenge_in(nb) != slug:
            full = await self.session_challenge(doc)
            if full is None:
                raise PairError(404, f"challenge {slug!r} is not in the store")
            challenge_cells.place_challenge(nb, full)
        return doc

    async def session_challenge(self, doc: dict) -> dict | None:
        """The challenge exactly as it was when the session picked it: a pack reloaded
        mid-session (new version) must not change the statement or the hidden tests."""
        picked = doc.get("challenge") or {}
        slug, version = picked.get("slug"), picked.get("version")
        if not slug:
            return None
        if version is not None:
            full = await self.store.challenges.get_version(slug, version)
            if full is not None:
                return full
        return await self.store.challenges.get(slug)

    async def change_challenge(self, username: str, difficulty: str | None = None) -> dict:
        doc = self._require_driver(username)
        if difficulty is not None and difficulty not in DIFFICULTIES:
            raise PairError(400, f"difficulty must be one of {', '.join(DIFFICULTIES)}")
        current = (doc.get("challenge") or {}).get("slug")
        wanted = difficulty or (doc.get("challenge") or {}).get("difficulty")
        picked = None
        for _ in range(3):  # the contract may hand back the current one when all are seen
            candidate = await self.store.challenges.pick(
                difficulty=wanted, track=(doc.get("preferences") or {}).get("track"),
                exclude_users=doc["members"],
            )
            if candidate is None or candidate["slug"] != current:
                picked = candidate
                break
        if picked is None:
            raise PairError(404, "no other challenge matches; try another difficulty")
        new = await self.state.update(lambda: self.store.sessions.set_challenge(
            doc["_id"], challenge_cells.summary(picked), previous=current, by=username,
            reason="changed by the driver"))
        if new is None:
            raise PairError(409, "the challenge was changed meanwhile; reload")
        await self.store.challenges.record_seen(doc["members"], picked, doc["_id"])
        challenge_cells.place_challenge(await self.notebook.live(), picked)
        return challenge_cells.public_challenge(picked)

    async def current_challenge(self, username: str) -> dict | None:
        doc, _ = self.member_doc(username)
        full = await self.session_challenge(doc)
        return challenge_cells.public_challenge(full) if full else None

    # -- role swaps -------------------------------------------------------------------------

    async def swap(self, *, reason: str, by: str | None = None,
                   scheduled: int | None = None) -> dict | None:
        """Swap the roles now (atomic, conditioned on who drives). None if nothing changed."""
        sid = self.state.session_id

        async def write():
            cur = self.state.doc
            return await self.store.sessions.swap_roles(
                sid, driver=cur["driver"], observer=cur["observer"], reason=reason, by=by,
                scheduled=scheduled)

        return await self.state.update(write)

    def _require_running(self, username: str) -> dict:
        doc, _ = self.member_doc(username)
        if doc["state"] != "active" or self.state.locked:
            raise PairError(409, "the session is not running")
        return doc

    async def request_swap(self, username: str) -> dict:
        doc = self._require_running(username)
        pending = self.swap_request
        if pending and pending["by"] != username:  # both asked: that is an agreement
            return await self.answer_swap(username, accept=True)
        if not pending:
            self.swap_request = {"by": username, "at": utcnow()}
            await self.store.sessions.add_event(doc["_id"], {"type": "swap_requested",
                                                             "by": username})
            self.events.emit("swap_requested", doc, by=username,
                             data={"at": self.swap_request["at"]})
        return {"swap_request": self.swap_request, "driver": doc["driver"]}

    async def answer_swap(self, username: str, *, accept: bool) -> dict:
        doc = self._require_running(username)
        pending = self.swap_request
        if not pending:
            raise PairError(409, "there is no swap request to answer")
        if pending["by"] == username:
            raise PairError(409, "your partner has to answer your request")
        if not accept:
            self.swap_request = None
            await self.store.sessions.add_event(doc["_id"], {"type": "swap_declined",
                                                             "by": username})
            self.events.emit("swap_declined", doc, by=username)
            return {"swap_request": None, "driver": doc["driver"]}
        new = await self.swap(reason="requested", by=pending["by"])
        if new is None:
            raise PairError(409, "the roles changed meanwhile")
        return {"swap_request": None, "driver": new["driver"]}

    async def cancel_swap(self, username: str) -> dict:
        doc = self._require_running(username)
        pending = self.swap_request
        if not pending or pending["by"] != username:
            raise PairError(409, "you have no pending swap request")
        self.swap_request = None
        await self.store.sessions.add_event(doc["_id"], {"type": "swap_cancelled",
                                                         "by": username})
        self.events.emit("swap_cancelled", doc, by=username)
        return {"swap_request": None, "driver": doc["driver"]}

    # -- tests ------------------------------------------------------------------------------

    async def _grade_notebook(self, doc: dict) -> dict:
        full = await self.session_challenge(doc)
        if full is None:
            raise PairError(409, "the session has no challenge to test against")
        grader = self.grader_factory()
        try:
            code = grader.code_from_notebook(await self.notebook.content())
            return await grader.grade(full, code)
        except NotImplementedError as e:
            raise PairError(503, "the autograder is not available yet") from e

    async def run_tests(self, username: str) -> dict:
        doc = self._require_driver(username)
        if self._tests_lock.locked():
            raise PairError(409, "a test run is already in progress")
        async with self._tests_lock:
            result = await self._grade_notebook(doc)
        await self.store.sessions.add_event(doc["_id"], {
            "type": "tests", "by": username, "final": False, "result": result})
        self.events.emit("tests", doc, by=username, data={"result": result, "final": False})
        return result

    @staticmethod
    def last_tests(doc: dict) -> dict | None:
        """The latest test run of the session (an event of the session document), if any."""
        for event in reversed(doc.get("events") or []):
            if event.get("type") == "tests":
                return {"by": event.get("by"), "final": bool(event.get("final")),
                        "at": event.get("at"), "result": event.get("result")}
        return None

    # -- the end ----------------------------------------------------------------------------

    async def end(self, reason: str) -> None:
        """Lock, save, final tests, record the outcome, tell both members. Runs once."""
        failed = self._ending is not None and self._ending.done() and (
            self._ending.cancelled() or self._ending.exception() is not None)
        if self._ending is None or failed:  # e.g. the store was down: the next step retries
            self._ending = asyncio.create_task(self._end(reason))
        await asyncio.shield(self._ending)

    def _ended_ok(self) -> bool:
        task = self._ending
        return task is not None and task.done() and not task.cancelled() \
            and task.exception() is None

    async def _end(self, reason: str) -> None:
        self.state.lock()
        doc = self.state.doc
        sid = doc["_id"]
        saved = False
        try:
            saved = await self.notebook.save()
        except Exception:
            self.log.exception("peerplatform: could not save the notebook at the end")
        tests, grader_status = None, "ok"
        try:
            tests = await asyncio.wait_for(self._grade_notebook(doc), self.final_tests_timeout_s)
        except PairError as e:
            grader_status = "unavailable" if e.status == 503 else f"skipped: {e.message}"
        except asyncio.TimeoutError:
            grader_status = "timeout"
        except Exception as e:
            self.log.exception("peerplatform: final tests failed")
            grader_status = f"error: {e}"
        await self.snapshot(doc, final=True)
        notebook = None
        try:  # as JSON text: output mimetypes ("text/plain", dotted names) are not safe keys
            notebook = json.dumps(await self.notebook.content())
            if len(notebook) > MAX_STORED_NOTEBOOK_BYTES:
                notebook = None
        except Exception:
            self.log.exception("peerplatform: could not read the final notebook")
        outcome = {
            "reason": reason,
            "ended_by": "pair-server",
            "at": utcnow(),
            "challenge": (doc.get("challenge") or {}).get("slug"),
            "driver": doc.get("driver"),
            "observer": doc.get("observer"),
            "notebook_saved": saved,
            "notebook_path": self.notebook.path,
            "tests": tests,
            "grader": grader_status,
            "notebook_json": notebook,
        }
        await self._record_attempts(sid, outcome, tests)
        try:
            doc = await self.state.update(lambda: self.store.sessions.transition(
                sid, "ended", reason=reason, outcome=outcome))
        except InvalidTransition:  # the platform ended it first (reaper): keep its state
            await self.store.sessions.record_outcome(sid, outcome)
            doc = await self.state.refresh()
        self.events.emit("ended", doc, data={
            "reason": reason, "notebook_saved": saved, "grader": grader_status,
            "tests": {k: tests.get(k) for k in ("status", "passed", "failed", "total")}
            if tests else None,
        })
        await self.events.to_lobbies(doc["members"], "ended", session=sid, reason=reason)
        if self.shutdown_kernels_at_end:
            await self._stop_code()

    async def _record_attempts(self, sid: str, outcome: dict, tests: dict | None) -> None:
        """Both members' attempt at the challenge: how the final tests went."""
        if not outcome["challenge"]:
            return
        status = tests.get("status") if tests else "skipped"
        try:
            await self.store.challenges.record_outcome(sid, outcome["challenge"], status, tests)
        except Exception:  # history is secondary: the session outcome is the record
            self.log.exception("peerplatform: could not record the attempts' outcome")

    async def _stop_code(self) -> None:
        """No code runs after the end (it could still change files behind the notebook)."""
        try:
            await ensure_async(self.serverapp.kernel_manager.shutdown_all())
            terminals = self.serverapp.web_app.settings.get("terminal_manager")
            if terminals is not None:
                await terminals.terminate_all()
        except Exception:
            self.log.exception("peerplatform: could not stop kernels/terminals at the end")

    # -- replay snapshots (peerplatform.store.snapshots) ---------------------------------------

    async def snapshot(self, doc: dict, final: bool = False) -> None:
        """Store the notebook's cells when they changed since the last snapshot (called every
        tick while active, so the replay has ≤ 2 s granularity). Never fails the session."""
        try:
            from peerplatform.store.snapshots import cells_of

            cells = cells_of(await self.notebook.content())
            if cells == self._last_snapshot and not final:
                return
            started = doc.get("started_at") or doc.get("created_at")
            t = (utcnow() - started).total_seconds() if started else 0.0
            await self.store.snapshots.add(doc["_id"], t=max(t, 0.0), by=doc.get("driver"),
                                           cells=cells, final=final)
            self._last_snapshot = cells
        except Exception:
            self.log.exception("peerplatform: could not store a replay snapshot")

    # -- the loop ---------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass

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
        """One look at the session; returns how long to wait before the next."""
        doc = await self.state.refresh()
        if doc is None:
            return self.tick_s
        if doc["state"] in OPEN_STATES and self._prepared_for != doc["_id"]:
            await self._try_prepare(doc)
            doc = self.state.doc
        if doc["state"] == "ended":
            if not self._ended_ok():  # ended by the platform: lock, save, record if missing
                await self.end(_last_reason(doc) or "ended by the platform")
            return self.tick_s * 5
        if doc["state"] == "failed":
            self.state.lock()
            return self.tick_s * 5
        if doc["state"] != "active":
            # the learners arrive as soon as the platform marks it active: notice it quickly
            return self.tick_s / 4
        await self.snapshot(doc)
        clock = self.clock(doc)
        now = utcnow()
        if clock is None:
            return self.tick_s
        if clock.is_over(now):
            await self.end("time is up")
            return self.tick_s
        done = set(doc.get("scheduled_swaps_done") or [])
        for index in clock.due_swaps(now):
            if index not in done:
                if await self.swap(reason="schedule", scheduled=index) is None:
                    await self.state.refresh()
        phase = clock.phase(now)
        if phase != self._phase:
            if self._phase is not None:
                self.events.emit("phase", self.state.doc, data=self.clock_json())
            self._phase = phase
        nxt = clock.next_deadline(now)
        wait = (nxt - now).total_seconds() if nxt else self.tick_s
        return min(max(wait, 0.01), self.tick_s)


def _last_reason(doc: dict) -> str | None:
    for entry in reversed(doc.get("history") or []):
        if entry.get("state") == doc.get("state"):
            return entry.get("reason")
    return None
