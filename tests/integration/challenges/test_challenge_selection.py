"""Selection: never repeats until exhausted, then least recently seen; uniform; filters."""

import random
from collections import Counter

import pytest

from peerplatform.store.challenges import ChallengeStore


def make(slug, difficulty="easy", track="algorithms", tags=("arrays",), rating=None):
    doc = {"slug": slug, "title": slug, "statement": "s", "difficulty": difficulty,
           "tags": list(tags), "track": track, "solution": "x = 1",
           "tests": {"cases": [{"name": "a", "code": "assert True"}]}}
    if rating is not None:
        doc["rating"] = rating
    return doc


@pytest.fixture
def seeded(store):
    store.challenges.rng = random.Random(1234)
    return store


async def test_never_repeats_until_exhausted_then_least_recently_seen(seeded):
    store = seeded
    await store.challenges.apply([make(f"e{i}") for i in range(8)] + [make("m0", "medium")])
    order = []
    for n in range(8):
        picked = await store.challenges.pick(difficulty="easy", exclude_users=["ann", "bob"])
        order.append(picked["slug"])
        await store.challenges.record_seen(["ann", "bob"], picked, f"s{n}")
    assert sorted(order) == [f"e{i}" for i in range(8)]  # no repeat, all seen
    again = await store.challenges.pick(difficulty="easy", exclude_users=["ann", "bob"])
    assert again["slug"] == order[0]  # exhausted: the least recently seen
    await store.challenges.record_seen(["ann", "bob"], again, "s9")
    third = await store.challenges.pick(difficulty="easy", exclude_users=["ann", "bob"])
    assert third["slug"] == order[1]


async def test_seen_by_either_member_is_excluded(seeded):
    store = seeded
    await store.challenges.apply([make("a1"), make("a2"), make("a3")])
    await store.challenges.record_seen(["ann"], await store.challenges.get("a1"), "s1")
    await store.challenges.record_seen(["bob"], await store.challenges.get("a2"), "s2")
    for _ in range(10):
        picked = await store.challenges.pick(difficulty="easy", exclude_users=["ann", "bob"])
        assert picked["slug"] == "a3"
    # someone else has seen nothing
    assert (await store.challenges.pick(exclude_users=["cy"]))["slug"] in {"a1", "a2", "a3"}


async def test_pick_is_uniform_over_the_eligible_set(seeded):
    store = seeded
    eligible = [f"u{i}" for i in range(6)]
    docs = [make(s) for s in eligible] + [make(f"seen{i}") for i in range(6)] + [
        make(f"other{i}", "hard") for i in range(4)]
    await store.challenges.apply(docs)
    for i in range(6):
        await store.challenges.record_seen(["ann"], await store.challenges.get(f"seen{i}"), "s")
    draws = 600
    counts = Counter()
    for _ in range(draws):
        counts[(await store.challenges.pick(difficulty="easy", exclude_users=["ann", "bob"]))
               ["slug"]] += 1
    assert set(counts) == set(eligible)
    expected = draws / len(eligible)
    chi2 = sum((counts[s] - expected) ** 2 / expected for s in eligible)
    assert chi2 < 20.52, (chi2, counts)  # 5 degrees of freedom, p = 0.001


async def test_holes_left_by_a_changed_difficulty_keep_it_uniform(seeded):
    store = seeded
    await store.challenges.apply([make(f"h{i}") for i in range(4)])
    await store.challenges.apply([make("h0", "hard")])  # h0 leaves the easy bucket
    counts = Counter()
    for _ in range(300):
        counts[(await store.challenges.pick(difficulty="easy"))["slug"]] += 1
    assert set(counts) == {"h1", "h2", "h3"}
    chi2 = sum((c - 100) ** 2 / 100 for c in counts.values())
    assert chi2 < 13.82  # 2 degrees of freedom, p = 0.001
    assert (await store.challenges.pick(difficulty="hard"))["slug"] == "h0"


async def test_filters_track_tags_and_rating(seeded):
    store = seeded
    await store.challenges.apply([
        make("sql-a", "easy", "sql", ("sql-joins",)),
        make("re-a", "easy", "regex", ("regex-basics",)),
        make("alg-a", "medium", "algorithms", ("graphs", "trees"), rating=1550),
        make("alg-b", "medium", "algorithms", ("arrays",), rating=1900),
    ])
    assert (await store.challenges.pick(track="sql"))["slug"] == "sql-a"
    assert (await store.challenges.pick(track="regex", difficulty="easy"))["slug"] == "re-a"
    assert (await store.challenges.pick(tags=["trees", "nothing"]))["slug"] == "alg-a"
    assert (await store.challenges.pick(rating=1500))["slug"] == "alg-a"
    assert (await store.challenges.pick(rating=1950, rating_window=100))["slug"] == "alg-b"
    assert await store.challenges.pick(track="pandas") is None
    assert await store.challenges.pick(track="sql", difficulty="hard") is None
    assert await store.challenges.pick(tags=["nope"]) is None
    with pytest.raises(ValueError, match="unknown difficulty"):
        await store.challenges.pick(difficulty="legendary")


async def test_history_records_outcome(seeded):
    store = seeded
    await store.challenges.apply([make("o1")])
    doc = await store.challenges.get("o1")
    await store.challenges.record_seen(["ann", "bob"], doc, "sess")
    result = {"status": "passed", "passed": 1, "failed": 0, "errors": 0, "total": 1,
              "tests": ["big"]}
    assert await store.challenges.record_outcome("sess", "o1", "passed", result) == 2
    (entry,) = await store.challenges.history_of("bob")
    assert entry["outcome"] == "passed" and entry["session"] == "sess"
    assert entry["result"] == {"status": "passed", "passed": 1, "failed": 0, "errors": 0,
                               "total": 1}
    with pytest.raises(ValueError, match="unknown outcome"):
        await store.challenges.record_outcome("sess", "o1", "great")


async def test_seen_sets_can_be_rebuilt_from_history(seeded):
    store = seeded
    await store.challenges.apply([make("r1"), make("r2")])
    await store.challenges.record_seen(["ann"], await store.challenges.get("r1"), "s")
    await store.challenges.history.seen.delete_many({})
    assert await store.challenges.history.seen_map(["ann"]) == {}
    await store.challenges.history.rebuild_seen("ann")
    assert set(await store.challenges.history.seen_map(["ann"])) == {"r1"}


def test_store_contract_signatures_are_kept():
    import inspect

    params = inspect.signature(ChallengeStore.pick).parameters
    assert {"difficulty", "tags", "track", "exclude_users"} <= set(params)
    assert list(inspect.signature(ChallengeStore.record_seen).parameters) == [
        "self", "users", "challenge", "session_id"]
