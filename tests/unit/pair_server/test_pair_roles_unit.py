"""The live role state: who may write, now, from the service's latest view."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from peerplatform_ext.guard import ReadOnlyGuardMixin, guarded
from peerplatform_ext.roles import PairState


def view(**kw):
    now = datetime.now(timezone.utc)
    return {"id": "s1", "driver": "alice", "observer": "bob", "members": ["alice", "bob"],
            "state": "active", "started_at": now, "ends_at": now + timedelta(seconds=600),
            "duration_s": 600, "challenge": {"slug": "a", "version": 1},
            "swap_request": None, "outcome": None, **kw}


class Service:
    """What ``PairState.fetch`` reads: the service's current view and its revision."""

    def __init__(self, doc):
        self.rev, self.doc = 1, doc

    def set(self, **kw):
        self.rev += 1
        self.doc = {**self.doc, **kw}

    async def fetch(self):
        return self.rev, self.doc


async def test_only_the_driver_of_an_active_running_session_writes():
    service = Service(view())
    state = PairState(service.fetch)
    assert not state.can_write("alice")  # nothing known yet: nobody
    await state.refresh()
    assert state.can_write("alice") and not state.can_write("bob")
    assert not state.can_write(None) and not state.can_write("carol")
    assert state.session_id == "s1" and state.role_of("bob") == "observer"
    for other in ("pending", "spawning", "ended", "failed"):
        service.set(state=other)
        await state.refresh()
        assert not state.can_write("alice"), other


async def test_time_up_stops_writes_at_ends_at_without_a_new_view():
    """The service may be unreachable at the end: the last view's ``ends_at`` still locks."""
    past = datetime.now(timezone.utc) - timedelta(seconds=1)
    state = PairState()
    await state.apply(1, view(ends_at=past))
    assert not state.can_write("alice")
    # a view without ends_at: started_at + duration_s
    state = PairState()
    await state.apply(1, view(ends_at=None, started_at=past - timedelta(seconds=600)))
    assert not state.can_write("alice")


async def test_an_older_view_never_undoes_a_newer_one():
    """A long poll answered before a swap but applied after it is ignored (its rev is older)."""
    state = PairState()
    assert await state.apply(5, view(driver="bob", observer="alice"))
    assert not await state.apply(4, view())
    assert state.can_write("bob") and not state.can_write("alice") and state.rev == 5
    assert await state.apply(5, view(driver="bob", observer="alice"))  # same rev: harmless


async def test_a_write_applies_the_view_it_produced_at_once():
    service = Service(view())
    state = PairState(service.fetch)
    await state.refresh()

    async def swap():
        service.set(driver="bob", observer="alice")
        return {"driver": "bob"}

    assert await state.update(swap) == {"driver": "bob"}
    assert state.can_write("bob") and not state.can_write("alice")


async def test_a_write_whose_view_cannot_be_read_keeps_the_last_view():
    service = Service(view())
    state = PairState(service.fetch)
    await state.refresh()

    async def unreachable():
        raise ConnectionError("down")

    async def write():
        return "done"

    state.fetch = unreachable
    assert await state.update(write) == "done"
    assert state.can_write("alice")


async def test_changes_are_reported_and_lock_is_final():
    seen = []
    service = Service(view())
    state = PairState(service.fetch)
    state.add_listener(lambda change: seen.append(change.kind))
    await state.refresh()
    service.set(driver="bob", observer="alice")
    await state.refresh()
    assert state.can_write("bob") and not state.can_write("alice")
    service.set(challenge={"slug": "b", "version": 1})
    await state.refresh()
    service.set(swap_request={"by": "alice", "at": datetime.now(timezone.utc)})
    await state.refresh()
    state.lock()
    assert not state.can_write("bob")
    service.set(state="active")
    await state.refresh()
    assert not state.can_write("bob") and not state.can_write("alice")
    assert seen == ["session", "roles", "challenge", "swap_request", "locked"]


async def test_a_failing_listener_does_not_break_enforcement():
    state = PairState()
    state.add_listener(lambda change: 1 / 0)
    await state.apply(1, view())
    assert state.can_write("alice")


def test_guarding_an_identity_provider_class_is_idempotent():
    from jupyter_server.auth.identity import IdentityProvider

    cls = guarded(IdentityProvider)
    assert issubclass(cls, ReadOnlyGuardMixin) and issubclass(cls, IdentityProvider)
    assert guarded(cls) is cls
