"""Leaderboards on a real Redis, fed from ratings in the real document store."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest

from peerplatform.leaderboard import Leaderboard, Scoring
from peerplatform.leaderboard import keys as lbkeys
from peerplatform.store.sessions import new_session_id


def scores(c, k, p):
    return {"communication": c, "collaboration": k, "problem_solving": p}


async def rate(store, board, ratee, s, cohort=None, rater=None):
    doc = await store.ratings.create(
        session_id=new_session_id(),
        rater=rater or "r-" + new_session_id(),
        ratee=ratee,
        scores=s,
        edit_window_s=60,
    )
    await board.apply(doc, cohort)
    return doc


async def snapshot(board, cohort="north"):
    """Every board, the cohort's boards and the cohort totals, as rows."""
    out = {}
    for b in lbkeys.BOARDS:
        out[b] = [(r["user"], r["score"], r["n"]) for r in await board.top(b)]
        out[f"{cohort}:{b}"] = [(r["user"], r["score"]) for r in await board.top(b, cohort=cohort)]
    out["cohorts"] = [
        (r["cohort"], r["score"], r["members_counted"]) for r in await board.cohorts()
    ]
    return out


async def from_scratch(store, board, redis):
    """What a rebuild on an empty Redis gives (it replaces the boards)."""
    await redis.flushdb()
    await board.rebuild(store.ratings.all(), await store.cohorts.memberships())
    return await snapshot(board)


@pytest.fixture
def board(redis):
    return Leaderboard(
        redis,
        Scoring(prior_mean=3.0, prior_weight=5.0, cohort_min_ratings=3, cohort_prior_weight=3.0),
    )


async def test_bayesian_average_keeps_one_lucky_rating_below_a_long_record(store, board):
    await rate(store, board, "lucky", scores(5, 5, 5))
    for _ in range(20):
        await rate(store, board, "steady", scores(4, 4, 4))
    rows = await board.top("overall")
    assert [r["user"] for r in rows] == ["steady", "lucky"]
    assert rows[0]["score"] == pytest.approx((5 * 3 + 20 * 4) / 25, abs=1e-3)
    assert rows[1]["score"] == pytest.approx((5 * 3 + 5) / 6, abs=1e-3)
    assert (rows[0]["n"], rows[1]["n"]) == (20, 1)
    # per criterion boards too
    await rate(store, board, "talker", scores(5, 1, 1))
    comm = await board.top("communication")
    talker = next(r for r in comm if r["user"] == "talker")
    assert talker["score"] == pytest.approx((15 + 5) / 6, abs=1e-3)
    ps = await board.top("problem_solving")
    assert ps[-1]["user"] == "talker"


async def test_ties_share_a_rank_and_are_flagged(store, board):
    for name in ("bea", "abe"):
        await rate(store, board, name, scores(4, 4, 4))
    await rate(store, board, "cid", scores(5, 5, 5))
    await rate(store, board, "dot", scores(1, 1, 1))
    rows = await board.top("overall")
    assert [(r["user"], r["rank"], r["tied"]) for r in rows] == [
        ("cid", 1, False),
        ("bea", 2, True),
        ("abe", 2, True),
        ("dot", 4, False),
    ]


async def test_edits_move_the_score_by_the_difference(store, board):
    doc = await rate(store, board, "eve", scores(2, 2, 2))
    _, after = await store.ratings.edit(
        doc["session_id"], doc["rater"], scores={"communication": 5}
    )
    change = await board.apply(after, None)
    assert change["n"] == 1
    assert change["scores"]["communication"] == pytest.approx((15 + 5) / 6, abs=1e-3)
    assert change["scores"]["collaboration"] == pytest.approx((15 + 2) / 6, abs=1e-3)
    entry = await board.entry("eve")
    assert entry["n"] == 1 and entry["scores"] == change["scores"]


async def test_cohort_filter_and_a_cohort_of_one_cannot_top_the_totals(store, board):
    # "solo": one learner rated 5 many times; "big": eight learners rated 4.5-ish
    for _ in range(10):
        await rate(store, board, "ace", scores(5, 5, 5), cohort="solo")
    for i in range(8):
        for _ in range(4):
            await rate(store, board, f"m{i}", scores(5, 4, 5), cohort="big")
    # a member rated fewer than 3 times does not count toward the total
    await rate(store, board, "newbie", scores(1, 1, 1), cohort="big")
    rows = await board.cohorts()
    assert [r["cohort"] for r in rows] == ["big", "solo"]
    assert rows[0]["members_counted"] == 8 and rows[1]["members_counted"] == 1
    only_big = await board.top("overall", cohort="big")
    assert {r["user"] for r in only_big} == {f"m{i}" for i in range(8)} | {"newbie"}
    assert "ace" not in {r["user"] for r in only_big}


async def test_incremental_state_equals_a_rebuild_from_mongodb(store, board, redis):
    await store.cohorts.ensure("north")
    await store.cohorts.add_members("north", ["ann", "ben"])
    import random

    rng = random.Random(7)
    for i in range(60):
        ratee = rng.choice(["ann", "ben", "cy", "di"])
        doc = await rate(
            store,
            board,
            ratee,
            scores(*(rng.randint(1, 5) for _ in range(3))),
            cohort=await store.cohorts.cohort_of(ratee),
        )
        if i % 7 == 0:
            _, after = await store.ratings.edit(
                doc["session_id"], doc["rater"], scores={"problem_solving": rng.randint(1, 5)}
            )
            await board.apply(after, await store.cohorts.cohort_of(ratee))

    incremental = await snapshot(board)
    await redis.flushdb()
    assert await board.top("overall") == []
    report = await board.rebuild(store.ratings.all(), await store.cohorts.memberships())
    assert report == {"ratings": 60, "learners": len(incremental["overall"]), "cohorts": 1}
    assert await snapshot(board) == incremental


async def test_concurrent_ratings_are_all_counted(store, board):
    docs = [
        await store.ratings.create(
            session_id=new_session_id(),
            rater=f"r{i}",
            ratee="pop",
            scores=scores(4, 4, 4),
            edit_window_s=60,
        )
        for i in range(40)
    ]
    await asyncio.gather(*(board.apply(d, "crowd") for d in docs))
    entry = await board.entry("pop")
    assert entry["n"] == 40 and entry["scores"]["overall"] == pytest.approx(
        (15 + 160) / 45, abs=1e-3
    )


async def test_every_change_is_published(store, board, redis):
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(lbkeys.UPDATES)
    await rate(store, board, "pub", scores(3, 4, 5), cohort="c1")
    message = None
    for _ in range(50):
        message = await pubsub.get_message(timeout=0.1)
        if message:
            break
    await pubsub.aclose()
    event = json.loads(message["data"])
    assert event["type"] == "leaderboard" and event["user"] == "pub" and event["cohort"] == "c1"
    assert event["n"] == 1 and set(event["scores"]) == set(lbkeys.BOARDS)


async def test_rebuild_command(store, board, redis, redis_url, mongodb_uri, mongodb_database):
    await rate(store, board, "cli", scores(5, 5, 5))
    await redis.flushdb()
    env = dict(
        os.environ,
        REDIS_URL=redis_url,
        MONGODB_URI=mongodb_uri,
        PEERPLATFORM_MONGODB_DB=mongodb_database,
    )
    out = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "peerplatform", "leaderboard", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "1 ratings, 1 learners" in out.stdout
    assert [r["user"] for r in await board.top("overall")] == ["cli"]
    assert await board.is_built()


async def test_a_rating_given_while_a_rebuild_runs_is_kept(store, board, redis):
    await store.cohorts.ensure("north")
    await store.cohorts.add_members("north", ["ann", "ben"])
    early = await rate(store, board, "ann", scores(4, 4, 4), cohort="north")
    for _ in range(3):
        await rate(store, board, "ben", scores(3, 3, 3), cohort="north")
    # stale entries (nothing in MongoDB gives them) go
    await redis.hset(lbkeys.stats("ghost"), mapping={"n": 1, "s:communication": 5})
    await redis.zadd(lbkeys.board("overall"), {"ghost": 4.0})
    late = {}

    async def ratings_then_live_changes():
        async for doc in store.ratings.all():
            yield doc
        # MongoDB has been read; before the rebuild writes Redis, a learner rates ann, a
        # rating is edited, and one the rebuild counts (read just now) lands live too
        late["new"] = await rate(store, board, "ann", scores(2, 2, 2), cohort="north")
        _, after = await store.ratings.edit(
            early["session_id"], early["rater"], scores={"communication": 1}
        )
        await board.apply(after, "north")
        seen = await store.ratings.create(
            session_id=new_session_id(), rater="r-seen", ratee="cy", scores=scores(5, 5, 5),
            edit_window_s=60,
        )
        yield seen
        await board.apply(seen, None)

    report = await board.rebuild(ratings_then_live_changes(), await store.cohorts.memberships())
    assert report["ratings"] == 5
    ann = await board.entry("ann")
    assert ann["n"] == 2 and ann["cohort"] == "north"
    assert ann["scores"]["communication"] == pytest.approx((15 + 1 + 2) / 7, abs=1e-3)
    assert ann["scores"]["collaboration"] == pytest.approx((15 + 4 + 2) / 7, abs=1e-3)
    assert (await board.entry("cy"))["n"] == 1  # counted once, by the rebuild or live
    assert await board.entry("ghost") is None
    assert "ghost" not in {r["user"] for r in await board.top("overall")}
    assert await board.is_built()
    assert await redis.keys("pp:lbnew:*") == [] and await redis.keys("pp:lbrebuild:*") == []
    assert await snapshot(board) == await from_scratch(store, board, redis)


async def test_a_late_or_repeated_change_counts_once(store, board):
    # stored, and read by a rebuild, before its live update arrives (a slow request)
    doc = await store.ratings.create(
        session_id=new_session_id(), rater="r-slow", ratee="dee", scores=scores(5, 1, 1),
        edit_window_s=60,
    )
    await board.rebuild(store.ratings.all(), {})
    await board.apply(doc, None)
    await board.apply(doc, None)
    entry = await board.entry("dee")
    assert entry["n"] == 1
    assert entry["scores"]["communication"] == pytest.approx((15 + 5) / 6, abs=1e-3)
    # two edits whose updates arrive in the wrong order: the newer one stays
    first = doc["updated_at"] + timedelta(seconds=1)
    second = doc["updated_at"] + timedelta(seconds=2)
    _, v1 = await store.ratings.edit(
        doc["session_id"], "r-slow", scores={"communication": 2}, now=first
    )
    _, v2 = await store.ratings.edit(
        doc["session_id"], "r-slow", scores={"communication": 4}, now=second
    )
    await board.apply(v2, None)
    await board.apply(v1, None)
    entry = await board.entry("dee")
    assert entry["n"] == 1
    assert entry["scores"]["communication"] == pytest.approx((15 + 4) / 6, abs=1e-3)


async def test_ratings_racing_rebuilds_end_as_a_rebuild_from_scratch(store, board, redis):
    await store.cohorts.ensure("north")
    await store.cohorts.add_members("north", ["u0", "u1"])
    for i in range(12):
        cohort = "north" if i % 4 < 2 else None
        await rate(store, board, f"u{i % 4}", scores(3, 4, 5), cohort=cohort)

    async def slow_read():
        async for doc in store.ratings.all():
            await asyncio.sleep(0.005)  # live ratings get in between
            yield doc

    async def live():
        for i in range(30):
            user = f"u{i % 5}"
            cohort = await store.cohorts.cohort_of(user)
            await rate(store, board, user, scores(1 + i % 5, 5 - i % 5, 3), cohort=cohort)
            await asyncio.sleep(0.002)

    memberships = await store.cohorts.memberships()
    # two rebuilds at once run one after the other
    await asyncio.gather(
        board.rebuild(slow_read(), memberships), board.rebuild(slow_read(), memberships), live()
    )
    assert (await board.entry("u0"))["n"] == 3 + 6
    assert await snapshot(board) == await from_scratch(store, board, redis)


async def test_what_was_counted_is_remembered_while_the_rating_can_change(store, board, redis):
    from peerplatform.store.sessions import utcnow

    old = await store.ratings.create(
        session_id=new_session_id(), rater="r-old", ratee="eli", scores=scores(2, 2, 2),
        edit_window_s=60, now=utcnow() - timedelta(days=1),
    )
    new = await rate(store, board, "eli", scores(4, 4, 4))
    await board.rebuild(store.ratings.all(), {})
    assert (await board.entry("eli"))["n"] == 2
    # nothing can change the old rating any more: nothing to remember
    assert not await redis.exists(lbkeys.rated(old["_id"]))
    # the new one is remembered until an hour after its window, then forgotten
    assert 0 < await redis.pttl(lbkeys.rated(new["_id"])) <= 3_660_000
    assert await redis.ttl(lbkeys.board("overall")) == -1  # the boards themselves stay
