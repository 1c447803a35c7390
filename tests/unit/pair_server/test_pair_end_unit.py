"""The end of a session survives a store outage and a platform that ended it first."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from types import SimpleNamespace

from peerplatform.store.sessions import InvalidTransition
from peerplatform_ext.controller import PairController
from peerplatform_ext.roles import PairState


def doc(**kw):
    return {"_id": "s1", "driver": "alice", "observer": "bob", "state": "active",
            "members": ["alice", "bob"], "started_at": datetime.now(timezone.utc),
            "duration_s": 600, "challenge": {"slug": "echo"}, "history": [], **kw}


class FakeSessions:
    def __init__(self, fail_times=0, already_ended=False):
        self.doc = doc()
        self.fail_times = fail_times
        self.already_ended = already_ended
        self.outcomes = []

    async def get(self, _):
        return self.doc

    async def for_server(self, *_):
        return self.doc

    async def transition(self, sid, state, reason=None, **fields):
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("store unreachable")
        if self.already_ended:
            raise InvalidTransition("already ended")
        self.doc = {**self.doc, "state": state, **fields}
        return self.doc

    async def record_outcome(self, sid, outcome):
        self.outcomes.append(outcome)
        self.doc = {**self.doc, "state": "ended", "outcome": outcome}
        return True


class FakeChallenges:
    async def get(self, slug):
        return {"slug": slug, "tests": {"cases": []}}

    async def record_outcome(self, *a, **k):
        return 2


class FakeSession:
    def __init__(self, sessions):
        self.store = SimpleNamespace(sessions=sessions, challenges=FakeChallenges())

    async def get(self, fresh=False):
        return await self.store.sessions.get("s1")


class FakeNotebook:
    path = "session.ipynb"

    async def save(self):
        return True

    async def content(self):
        return {"cells": [{"cell_type": "code", "source": "def solve(x): return x"}]}


class FakeEvents:
    def __init__(self):
        self.emitted, self.lobbies = [], []

    def emit(self, type, doc, **kw):
        self.emitted.append(type)

    async def to_lobbies(self, members, type, **data):
        self.lobbies.append((tuple(members), type))
        return True


def unavailable_grader():
    def code_from_notebook(nb):
        raise NotImplementedError

    return SimpleNamespace(code_from_notebook=code_from_notebook)


def controller(sessions):
    state = PairState(FakeSession(sessions))
    serverapp = SimpleNamespace(web_app=SimpleNamespace(settings={}))
    return PairController(state=state, notebook=FakeNotebook(), events=FakeEvents(),
                          serverapp=serverapp, shutdown_kernels_at_end=False,
                          grader_factory=unavailable_grader, log=logging.getLogger("t"))


async def test_an_end_that_failed_on_the_store_is_retried_by_the_next_step():
    sessions = FakeSessions(fail_times=1)
    ctl = controller(sessions)
    await ctl.state.refresh()
    try:
        await ctl.end("time is up")
    except ConnectionError:
        pass
    assert ctl.state.locked and sessions.doc["state"] == "active"
    await ctl.end("time is up")
    assert sessions.doc["state"] == "ended"
    outcome = sessions.doc["outcome"]
    assert outcome["grader"] == "unavailable" and outcome["notebook_saved"] is True
    assert ctl.events.lobbies == [(("alice", "bob"), "ended")]
    assert ctl.events.emitted.count("ended") == 1
    await ctl.end("time is up")  # done: nothing runs twice
    assert ctl.events.emitted.count("ended") == 1


async def test_when_the_platform_ended_it_first_the_outcome_is_still_recorded():
    sessions = FakeSessions(already_ended=True)
    ctl = controller(sessions)
    await ctl.state.refresh()
    await ctl.end("time is up")
    assert len(sessions.outcomes) == 1 and sessions.outcomes[0]["reason"] == "time is up"
    assert not ctl.state.can_write("alice")
