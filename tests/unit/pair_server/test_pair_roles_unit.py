"""The live role state: who may write, now."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from peerplatform_ext.guard import ReadOnlyGuardMixin, guarded
from peerplatform_ext.roles import PairState


class FakeSession:
    def __init__(self, doc):
        self.doc = doc

    async def get(self, fresh=False):
        return self.doc


def session(**kw):
    now = datetime.now(timezone.utc)
    return {"_id": "s1", "driver": "alice", "observer": "bob", "state": "active",
            "started_at": now, "duration_s": 600, "challenge": {"slug": "a"}, **kw}


async def test_only_the_driver_of_an_active_running_session_writes():
    state = PairState(FakeSession(session()))
    assert not state.can_write("alice")  # nothing known yet: nobody
    await state.refresh()
    assert state.can_write("alice") and not state.can_write("bob")
    assert not state.can_write(None) and not state.can_write("carol")
    for other in ("pending", "spawning", "ended", "failed"):
        await state.update(lambda o=other: _async(session(state=o)))
        assert not state.can_write("alice"), other


async def test_time_up_stops_writes_even_before_the_loop_notices():
    past = datetime.now(timezone.utc) - timedelta(seconds=700)
    state = PairState(FakeSession(session(started_at=past)))
    await state.refresh()
    assert not state.can_write("alice")


async def test_changes_are_reported_and_lock_is_final():
    seen = []
    state = PairState(FakeSession(session()))
    state.add_listener(lambda change: seen.append(change.kind))
    await state.refresh()
    await state.update(lambda: _async(session(driver="bob", observer="alice")))
    assert state.can_write("bob") and not state.can_write("alice")
    await state.update(lambda: _async(session(driver="bob", observer="alice",
                                              challenge={"slug": "b"})))
    state.lock()
    assert not state.can_write("bob")
    await state.refresh()
    assert not state.can_write("bob") and not state.can_write("alice")
    assert seen[:4] == ["session", "roles", "challenge", "locked"]


async def test_a_failing_listener_does_not_break_enforcement():
    state = PairState(FakeSession(session()))
    state.add_listener(lambda change: 1 / 0)
    await state.refresh()
    assert state.can_write("alice")


def test_guarding_an_identity_provider_class_is_idempotent():
    from jupyter_server.auth.identity import IdentityProvider

    cls = guarded(IdentityProvider)
    assert issubclass(cls, ReadOnlyGuardMixin) and issubclass(cls, IdentityProvider)
    assert guarded(cls) is cls


async def _async(value):
    return value
