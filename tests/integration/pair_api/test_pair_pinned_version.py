"""A session keeps the challenge version it picked: reloading a pack mid-session (a fixed
test, a reworded statement) changes neither what the pair reads nor what grades them.
(Moved from tests/integration/challenges/test_session_challenge_version.py with the grading.)"""

from __future__ import annotations

from apikit import DRIVER

from peerplatform.pair.grading import Grading
from peerplatform.pair.picking import summary


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
    session = {"_id": "s1", "challenge": summary(picked)}
    assert session["challenge"]["version"] == 1

    await store.challenges.upsert(make("assert solve(1) == 2", "Return x, or else."))
    assert (await store.challenges.get("echo-easy"))["version"] == 2

    grading = Grading(store)
    kept = await grading.challenge_of(session)
    assert kept["version"] == 1
    assert kept["statement"] == "Return x."
    assert kept["tests"]["cases"][0]["code"] == "assert solve(1) == 1"

    # a session from before versions were recorded reads the current one
    legacy = {"_id": "s0", "challenge": {"slug": "echo-easy"}}
    assert (await grading.challenge_of(legacy))["version"] == 2
    assert await grading.challenge_of({"_id": "s2", "challenge": None}) is None


async def test_the_drivers_run_is_graded_against_the_pinned_tests(svc):
    doc, client = await svc.session()  # echo-easy, version 1: solve(1) == 1
    changed = {**(await svc.store.challenges.get("echo-easy")),
               "tests": {"cases": [{"name": "one", "code": "assert solve(1) == 2"}]}}
    await svc.store.challenges.upsert({k: v for k, v in changed.items()
                                       if k not in ("version", "hash")})
    async with client:
        r = await client.post("tests", json={"by": DRIVER, "cells": [
            {"cell_type": "code", "source": "def solve(x):\n    return x\n"}]})
    result = r.json()["result"]
    assert result["status"] == "passed" and result["challenge"]["version"] == 1
