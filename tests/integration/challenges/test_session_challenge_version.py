"""A session keeps the challenge version it picked: reloading a pack mid-session (a fixed
test, a reworded statement) changes neither what the pair reads nor what grades them."""

from types import SimpleNamespace

from peerplatform_ext import challenge as challenge_cells
from peerplatform_ext.controller import PairController


def make(tests_code: str, statement: str) -> dict:
    return {
        "slug": "echo-easy", "title": "Echo", "statement": statement, "difficulty": "easy",
        "tags": ["strings"], "track": "python", "starter_code": "def solve(x):\n    pass\n",
        "tests": {"cases": [{"name": "one", "code": tests_code}]},
        "solution": "def solve(x):\n    return x\n",
    }


async def test_a_reloaded_challenge_does_not_change_a_running_session(store):
    await store.challenges.upsert(make("assert solve(1) == 1", "Return x."))
    picked = await store.challenges.get("echo-easy")
    session = {"_id": "s1", "challenge": challenge_cells.summary(picked)}
    assert session["challenge"]["version"] == 1

    await store.challenges.upsert(make("assert solve(1) == 2", "Return x, or else."))
    assert (await store.challenges.get("echo-easy"))["version"] == 2

    owner = SimpleNamespace(store=store)
    kept = await PairController.session_challenge(owner, session)
    assert kept["version"] == 1
    assert kept["statement"] == "Return x."
    assert kept["tests"]["cases"][0]["code"] == "assert solve(1) == 1"

    # a session from before versions were recorded reads the current one
    legacy = {"_id": "s0", "challenge": {"slug": "echo-easy"}}
    assert (await PairController.session_challenge(owner, legacy))["version"] == 2
    assert await PairController.session_challenge(owner, {"_id": "s2", "challenge": None}) is None
