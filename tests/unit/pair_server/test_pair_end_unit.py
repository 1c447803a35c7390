"""The pair server's part of a session, with the platform service's pair API stood in by an
object that keeps what it is sent (deduplicating as the service does) and can be "down".

Covered here: the end at ``ends_at`` (lock, save, final snapshot with the notebook, sent
again after an outage without duplicates), the ``ended`` event from the service's view,
revocation, events derived from view changes, notices, tests and challenge requests.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from jupyter_ydoc import YNotebook
from pycrdt import Doc

from peerplatform_ext.controller import PairController, PairError
from peerplatform_ext.platform_client import PlatformRefused, PlatformUnavailable
from peerplatform_ext.roles import PairState

CHALLENGE = {"slug": "echo", "version": 2, "title": "Echo", "difficulty": "easy",
             "tags": ["x"], "statement": "Echo it.", "starter_code": "def solve(x):\n    pass\n",
             "examples": []}


def now():
    return datetime.now(timezone.utc)


def view(**kw):
    started = now()
    return {"id": "s1", "driver": "alice", "observer": "bob", "members": ["alice", "bob"],
            "state": "active", "started_at": started, "duration_s": 600,
            "ends_at": started + timedelta(seconds=600), "swap_schedule_s": [300],
            "scheduled_swaps_done": [], "swap_request": None,
            "challenge": {k: CHALLENGE[k] for k in ("slug", "version", "title", "difficulty")},
            "last_tests": None, "outcome": None, "server_time": started, **kw}


class Service:
    """The pair API as the pair server sees it (see ``peerplatform_contracts.pair_api``)."""

    def __init__(self, doc):
        self.rev, self.doc = 1, doc
        self.down = False
        self.refuse: int | None = None
        self.stored_snapshots: dict[int, dict] = {}
        self.stored_events: dict[str, dict] = {}
        self.graded: list = []
        self.swaps: list = []
        self.challenge_fetches = 0

    def set(self, **kw):
        self.rev += 1
        self.doc = {**self.doc, **kw}

    def _gate(self):
        if self.down:
            raise PlatformUnavailable(None, "connection refused")
        if self.refuse:
            raise PlatformRefused(self.refuse, "refused")

    async def state(self, since=None, wait=0.0, attempts=None):
        self._gate()
        return self.rev, self.doc

    async def challenge(self):
        self._gate()
        self.challenge_fetches += 1
        return dict(CHALLENGE)

    async def change_challenge(self, by, difficulty=None):
        self._gate()
        new = {**CHALLENGE, "slug": "mirror", "version": 1}
        self.set(challenge={"slug": "mirror", "version": 1})
        return new

    async def run_tests(self, by, cells):
        self._gate()
        self.graded.append((by, cells))
        return {"status": "passed", "passed": 1, "failed": 0, "total": 1}

    async def swap(self, by, action):
        self._gate()
        self.swaps.append((by, action))
        if action == "request":
            self.set(swap_request={"by": by, "at": now()})
        elif action == "accept":
            d = self.doc
            self.set(driver=d["observer"], observer=d["driver"], swap_request=None)
        else:
            self.set(swap_request=None)
        return {"swap_request": self.doc["swap_request"], "driver": self.doc["driver"]}

    async def snapshots(self, batch, attempts=None):
        self._gate()
        new = [s for s in batch if s["seq"] not in self.stored_snapshots]
        self.stored_snapshots.update({s["seq"]: s for s in new})
        return {"stored": len(new), "duplicates": len(batch) - len(new)}

    async def events(self, batch, attempts=None):
        self._gate()
        self.stored_events.update({e["id"]: e for e in batch})
        return {"stored": len(batch)}

    async def close(self):
        pass


class Notebook:
    """The session notebook: a real YNotebook, as the live room would hold it."""

    path = "session.ipynb"

    def __init__(self):
        self.nb = YNotebook(Doc())
        self.nb.set({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
        self.saves = 0

    async def ensure_file(self):
        return False

    async def live(self, create=True):
        return self.nb

    async def save(self):
        self.saves += 1
        return True

    async def content(self):
        return self.nb.get()

    def type(self, text):
        src = self.nb.ycells[1]["source"]
        src.insert(len(src), text)


class Events:
    def __init__(self):
        self.emitted: list[tuple[str, dict]] = []

    def emit(self, type, doc, *, by=None, data=None):
        self.emitted.append((type, {"by": by, "data": data}))

    def of(self, type):
        return [e for t, e in self.emitted if t == type]


class Kernels:
    def __init__(self):
        self.stopped = 0

    def shutdown_all(self):
        self.stopped += 1


async def tick(ctl):
    """One step of the clock loop, and the flush it started (in the background) done."""
    await ctl.step()
    await ctl.outbox.flush()


@pytest.fixture
def service():
    return Service(view())


@pytest.fixture
async def ctl(service):
    state = PairState(service.state, log=logging.getLogger("t"))
    serverapp = SimpleNamespace(web_app=SimpleNamespace(settings={}), kernel_manager=Kernels())
    c = PairController(state=state, client=service, notebook=Notebook(), events=Events(),
                       serverapp=serverapp, tick_s=0.05, log=logging.getLogger("t"))
    await state.refresh()
    await tick(c)  # prepares the notebook with the challenge
    return c


async def test_the_challenge_is_placed_from_its_public_view_once_per_version(ctl, service):
    assert ctl.notebook.nb.get()["cells"][0]["metadata"]["peerplatform"] == {
        "challenge": "echo", "cell": "statement"}
    await tick(ctl)
    shown = await ctl.current_challenge("bob")
    assert shown == {**CHALLENGE, "statement_html": "<p>Echo it.</p>\n"}
    assert service.challenge_fetches == 1  # cached by (slug, version)


async def test_at_ends_at_the_notebook_is_locked_saved_and_the_final_snapshot_sent_once(
        ctl, service):
    ctl.notebook.type("\n# last words")
    await tick(ctl)
    assert [s["final"] for s in service.stored_snapshots.values()] == [False, False]
    # time is up, and the service cannot be reached at that very moment
    service.set(ends_at=now() - timedelta(milliseconds=1))
    await ctl.state.refresh()
    service.down = True
    assert not ctl.state.can_write("alice")
    await tick(ctl)
    assert ctl.state.locked and ctl.events.of("locked")
    assert ctl.notebook.saves == 1 and ctl.serverapp.kernel_manager.stopped == 1
    assert ctl.outbox.pending == 1  # the final snapshot waits for the service
    service.down = False
    await tick(ctl)
    await tick(ctl)
    finals = [s for s in service.stored_snapshots.values() if s["final"]]
    assert len(finals) == 1 and ctl.outbox.pending == 0
    final = finals[0]
    assert final["by"] == "alice" and "# last words" in final["cells"][1]["source"]
    assert final["notebook"]["cells"][1]["source"].endswith("# last words")
    assert ctl.notebook.saves == 1  # the end ran once
    assert not ctl.events.of("ended")  # the service has not ended it yet

    service.set(state="ended", outcome={"reason": "time is up", "grader": "ok",
                                        "tests": {"status": "failed", "passed": 0,
                                                  "failed": 1, "total": 1, "tests": []}})
    await ctl.state.refresh()
    await tick(ctl)
    await tick(ctl)
    [ended] = ctl.events.of("ended")
    assert ended["data"] == {"reason": "time is up", "notebook_saved": True, "grader": "ok",
                             "tests": {"status": "failed", "passed": 0, "failed": 1,
                                       "total": 1}}


async def test_a_session_the_platform_ends_early_is_locked_without_a_final_snapshot(
        ctl, service):
    service.set(state="ended", outcome={"reason": "ended by admin", "grader": "ok",
                                        "tests": None})
    await ctl.state.refresh()
    assert ctl.state.locked and not ctl.state.can_write("alice")
    await tick(ctl)
    assert ctl.notebook.saves == 1
    assert not [s for s in service.stored_snapshots.values() if s["final"]]
    assert ctl.events.of("ended")[0]["data"]["reason"] == "ended by admin"


async def test_a_revoked_credential_locks_the_session(ctl, service):
    service.refuse = 403
    await ctl.feed.refresh()
    assert ctl.state.locked and not ctl.state.can_write("alice")
    await tick(ctl)
    assert ctl.notebook.saves == 1
    assert ctl.events.of("ended")


async def test_an_unreachable_service_keeps_the_last_view_and_tells_both_members(ctl, service):
    service.down = True
    await ctl.feed.refresh()
    assert ctl.state.can_write("alice") and not ctl.connected
    service.down = False
    await ctl.feed.refresh()
    assert [e["data"] for e in ctl.events.of("connection")] == [{"ok": False}, {"ok": True}]


async def test_swap_events_follow_the_views(ctl, service):
    await ctl.swap("bob", "request")
    assert ctl.events.of("swap_requested")[0]["by"] == "bob"
    assert ctl.swap_request["by"] == "bob"
    result = await ctl.swap("alice", "accept")
    assert result["driver"] == "bob" and ctl.state.can_write("bob")  # at once
    [swap] = ctl.events.of("swap")
    assert swap["by"] == "bob" and swap["data"]["reason"] == "requested"
    # a scheduled swap, decided by the service, arrives with the next view
    service.set(driver="alice", observer="bob", scheduled_swaps_done=[0])
    await ctl.state.refresh()
    assert ctl.events.of("swap")[-1]["data"]["reason"] == "schedule"
    assert ctl.state.can_write("alice")
    await ctl.swap("alice", "request")
    await ctl.swap("alice", "cancel")
    assert ctl.events.of("swap_cancelled")[0]["by"] == "alice"


async def test_requests_the_service_refuses_or_cannot_take(ctl, service):
    with pytest.raises(PairError) as e:
        await ctl.change_challenge("alice", "impossible")
    assert e.value.status == 400
    with pytest.raises(PairError) as e:
        await ctl.run_tests("bob")
    assert e.value.status == 403 and not service.graded
    service.refuse = 409
    with pytest.raises(PairError) as e:
        await ctl.swap("alice", "accept")
    assert e.value.status == 409
    service.refuse, service.down = None, True
    with pytest.raises(PairError) as e:
        await ctl.run_tests("alice")
    assert e.value.status == 503


async def test_tests_send_the_cells_and_both_members_see_the_result(ctl, service):
    result = await ctl.run_tests("alice")
    assert result["status"] == "passed"
    by, cells = service.graded[0]
    assert by == "alice"
    assert [set(c) for c in cells] == [{"cell_type", "source", "metadata"}] * 2
    assert cells[0]["metadata"]["peerplatform"]["cell"] == "statement"
    [event] = ctl.events.of("tests")
    assert event["by"] == "alice" and event["data"] == {"result": result, "final": False}


async def test_another_challenge_replaces_the_cells_at_once(ctl, service):
    new = await ctl.change_challenge("alice", "medium")
    assert new["slug"] == "mirror" and "statement_html" in new
    cells = ctl.notebook.nb.get()["cells"]
    assert cells[0]["metadata"]["peerplatform"]["challenge"] == "mirror"
    assert ctl.events.of("challenge")[-1]["data"]["challenge"]["slug"] == "mirror"
    assert service.challenge_fetches == 1  # the POST's answer is the cached view


async def test_kernel_notices_are_shown_and_kept_with_the_session(ctl, service):
    service.down = True
    ctl.kernel_notice("oom", "The kernel used too much memory.")
    assert ctl.events.of("kernel")[0]["data"]["reason"] == "oom"
    await ctl.outbox.flush()
    assert not service.stored_events
    service.down = False
    await ctl.outbox.flush()
    await ctl.outbox.flush()
    [event] = service.stored_events.values()
    assert event["type"] == "kernel" and event["data"]["message"].startswith("The kernel")
