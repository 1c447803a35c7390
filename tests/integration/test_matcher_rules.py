"""The match rule (lua/pick.lua) on a real Redis: windows, cohorts, preferences, last partner."""

from __future__ import annotations

import math

import pytest

from peerplatform.matching import MatchRules, WaitingRoom, Window, keys
from peerplatform.matching.waiting_room import now_ms


def make_room(redis, **rules):
    rules.setdefault("auto_accept", True)
    return WaitingRoom(redis, presence_ttl=30, rules=MatchRules(**rules))


async def join(room, user, rating, *, waited_s=0.0, cohort="", **prefs):
    await room.join(user, prefs, rating=rating, cohort=cohort)
    if waited_s:  # as if they had joined earlier (the matcher reads only these two places)
        joined = now_ms() - int(waited_s * 1000)
        await room.redis.hset(keys.user_state(user), "joined", joined)
        await room.redis.zadd(keys.WAITING, {user: joined})


def test_window_schedule():
    w = Window(start=25, growth_per_s=5, cap=400, anyone_after_s=120)
    assert [w.at(t) for t in (0, 10, 75, 100)] == [25, 75, 400, 400]
    assert w.at(120) == math.inf
    assert Window(anyone_after_s=0).at(10_000) == 400


async def test_the_gap_must_fit_both_windows(redis):
    room = make_room(redis)
    await join(room, "old", 1500, waited_s=30)   # window 175
    await join(room, "new", 1600)                # window 25
    assert await room.pick("m1") is None         # fits old's window, not new's
    # 16 s later new's window is 105: both fit
    match = await room.pick("m1", at_ms=now_ms() + 16_000)
    assert match.members == ("old", "new") and match.gap == 100
    assert match.windows[1] >= 100 and match.windows[0] >= 100


async def test_nearest_rating_wins_and_the_anchor_is_the_longest_waiting(redis):
    room = make_room(redis)
    await join(room, "anchor", 1500, waited_s=50)
    await join(room, "far", 1700, waited_s=40)
    await join(room, "near", 1530, waited_s=10)
    await join(room, "nearest", 1490)
    match = await room.pick("m1", at_ms=now_ms() + 60_000)
    assert match.members == ("anchor", "nearest")


async def test_after_the_configured_wait_anyone_fits(redis):
    room = make_room(redis, window=Window(anyone_after_s=60))
    await join(room, "low", 900, waited_s=61)
    await join(room, "high", 2400, waited_s=61)
    match = await room.pick("m1")
    assert set(match.members) == {"low", "high"} and match.windows == (math.inf, math.inf)
    room_never = make_room(redis, window=Window(anyone_after_s=0))
    await join(room_never, "low2", 900, waited_s=500)
    await join(room_never, "high2", 2400, waited_s=500)
    assert await room_never.pick("m2") is None


@pytest.mark.parametrize("mode, expected", [("prefer", "same"), ("anyone", "other"),
                                            ("only", "same")])
async def test_cohort_modes(redis, mode, expected):
    room = make_room(redis, cohort_mode=mode)
    await join(room, "anchor", 1500, waited_s=20, cohort="c1")
    await join(room, "other", 1501, cohort="c2")
    await join(room, "same", 1520, cohort="c1")
    match = await room.pick("m1")
    assert match.members == ("anchor", expected)


async def test_cohort_only_never_crosses_cohorts(redis):
    room = make_room(redis, cohort_mode="only")
    await join(room, "a", 1500, waited_s=500, cohort="c1")
    await join(room, "b", 1500, waited_s=500, cohort="c2")
    assert await room.pick("m1") is None
    await join(room, "c", 1500, cohort="c2")
    assert set((await room.pick("m1")).members) == {"b", "c"}


async def test_last_partner_only_when_nobody_else_fits(redis):
    room = make_room(redis)
    await redis.set(keys.last_partner("a"), "b")
    await join(room, "a", 1500, waited_s=20)
    await join(room, "b", 1500)
    await join(room, "c", 1510)
    assert (await room.pick("m1")).members == ("a", "c")
    await room.release("m1", ["a", "c"])
    await redis.set(keys.last_partner("a"), "b")
    await join(room, "a", 1500, waited_s=20)
    assert (await room.pick("m2")).members == ("a", "b")
    # the match is remembered for next time
    assert await redis.get(keys.last_partner("b")) == "a"


@pytest.mark.parametrize("pa, pb, fits", [
    ({"track": "sql"}, {"track": "algorithms"}, False),
    ({"track": "sql"}, {}, True),
    ({"duration_minutes": 30}, {"duration_minutes": 45}, False),
    ({"duration_minutes": 30}, {}, True),
    ({"difficulty": "easy"}, {"difficulty": "hard"}, False),
    ({"difficulty": "easy"}, {"difficulty": "any"}, True),
    ({"difficulty": "hard", "track": "regex"}, {"difficulty": "hard", "track": "regex"}, True),
])
async def test_preferences_must_be_compatible(redis, pa, pb, fits):
    room = make_room(redis)
    await join(room, "a", 1500, waited_s=5, **pa)
    await join(room, "b", 1500, **pb)
    assert (await room.pick("m1") is not None) is fits


async def test_ghosts_are_never_matched_and_are_cleaned_up(redis):
    room = make_room(redis)
    await join(room, "ghost", 1500, waited_s=30)
    await join(room, "a", 1500, waited_s=10)
    await redis.delete(keys.presence("ghost"))  # the heartbeat stopped and the TTL ran out
    await join(room, "b", 1500)
    assert (await room.pick("m1")).members == ("a", "b")
    assert await redis.zscore(keys.RATING, "ghost") is None
    assert await room.state("ghost") == {}


async def test_rejoining_keeps_the_original_wait(redis):
    room = make_room(redis)
    await join(room, "a", 1500, waited_s=30)
    joined = await redis.zscore(keys.WAITING, "a")
    await room.join("a", {"difficulty": "easy"}, rating=1500)
    assert await redis.zscore(keys.WAITING, "a") == joined


async def test_a_learner_who_just_joined_is_tried_first(redis):
    room = make_room(redis)
    for i in range(10):  # the head of the room: nobody fits them (other tracks, 1 each)
        await join(room, f"head{i}", 1000 + 100 * i, waited_s=60 - i, track=f"t{i}")
    await join(room, "older", 1500, waited_s=5, track="regex")
    await join(room, "newcomer", 1510, track="regex")
    assert await room.pick("m1") is None  # the 8 longest-waiting find nobody
    match = await room.pick("m1", anchor="newcomer")
    assert set(match.members) == {"newcomer", "older"}


async def test_the_sweep_reaches_past_an_unmatchable_head(redis):
    from peerplatform.events import EventBus
    from peerplatform.matching.matcher import Matcher

    room = make_room(redis)
    for i in range(20):
        await join(room, f"head{i}", 1500, waited_s=60 - i, track=f"t{i}")
    await join(room, "a", 1500, waited_s=10, track="regex")
    await join(room, "b", 1500, waited_s=9, track="regex")
    matcher = Matcher(room, EventBus(redis))
    made = [await matcher.sweep() for _ in range(3)]
    assert sum(made) == 1
    assert (await room.state("a"))["session"] == (await room.state("b"))["session"]
