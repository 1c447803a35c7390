"""The session clock is arithmetic on the stored document and the server's time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from peerplatform_contracts.clock import Clock, swap_schedule

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def at(s: float) -> datetime:
    return T0 + timedelta(seconds=s)


def doc(**kw):
    return {"started_at": T0, "duration_s": 600, **kw}


def test_no_clock_before_the_start():
    assert Clock.from_session({"duration_s": 600}) is None
    assert Clock.from_session(None) is None


def test_default_schedule_is_half_time_and_custom_ones_are_kept_inside_the_session():
    assert swap_schedule(doc()) == (300.0,)
    assert swap_schedule(doc(swap_schedule_s=[500, 100, 700, 0, "x", True])) == (100.0, 500.0)
    assert swap_schedule(doc(swap_schedule_s=[])) == ()
    assert swap_schedule(doc(), default_fractions=()) == ()


def test_remaining_phase_due_swaps_and_next_deadline():
    clock = Clock.from_session(doc(swap_schedule_s=[200, 400]))
    assert clock.ends_at == at(600)
    assert clock.remaining_s(at(-5)) == 600 + 5 and clock.elapsed_s(at(-5)) == 0
    assert (clock.phase(at(10)), clock.due_swaps(at(10)), clock.next_deadline(at(10))) == (
        0, [], at(200))
    assert (clock.phase(at(250)), clock.due_swaps(at(250)), clock.next_deadline(at(250))) == (
        1, [0], at(400))
    assert clock.due_swaps(at(450)) == [0, 1] and clock.next_deadline(at(450)) == at(600)
    assert clock.is_over(at(600)) and clock.remaining_s(at(700)) == 0
    assert clock.phase(at(600)) == 3 and clock.due_swaps(at(600)) == []
    assert clock.next_deadline(at(600)) is None


def test_a_naive_stored_start_is_utc():
    naive = Clock.from_session({"started_at": datetime(2026, 1, 1, 12, 0), "duration_s": 60})
    assert naive.started_at == T0


def test_json_view():
    view = Clock.from_session(doc()).to_json(at(100))
    assert view["remaining_s"] == 500 and view["elapsed_s"] == 100 and view["phase"] == 0
    assert view["next_swap_at"] == at(300).isoformat() and view["over"] is False


def test_the_services_ends_at_is_the_end_in_force():
    """The view's ``ends_at`` (the service's clock of record) wins over started_at + duration."""
    clock = Clock.from_session(doc(ends_at=at(590)))
    assert clock.ends_at == at(590) and clock.is_over(at(590)) and not clock.is_over(at(589))
