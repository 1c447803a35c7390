"""``POST tests``: the driver's cells graded on the trusted side (real grader, real sandbox),
seen by both learners, a few at a time per replica and one at a time per session."""

from __future__ import annotations

import asyncio

import pytest
from apikit import DRIVER, MARKER, OBSERVER, SOLVED, WRONG

#: Grading this takes a couple of seconds (its cells run before the tests).
SLOW = [{"cell_type": "code", "source": "import time\ntime.sleep(2.5)\n\ndef solve(x):\n"
         "    return x\n", "metadata": {}}]


async def test_the_drivers_cells_are_graded_and_both_see_the_result(svc):
    doc, client = await svc.session()
    async with client:
        rev = (await client.get("state")).json()["rev"]
        poll = asyncio.create_task(next_tests(client, rev))
        r = await client.post("tests", json={"by": DRIVER, "cells": SOLVED})
        assert r.status_code == 200, r.text
        result = r.json()["result"]
        assert result["status"] == "passed" and result["passed"] == result["total"] == 2
        assert result["challenge"]["slug"] == "echo-easy"
        # the other learner's pair server hears of it through its long poll
        seen = await asyncio.wait_for(poll, 10)
        assert seen["by"] == DRIVER and seen["final"] is False
        assert seen["result"]["status"] == "passed"
        failed = await client.post("tests", json={"by": DRIVER, "cells": WRONG})
        assert failed.json()["result"]["status"] == "failed"
        assert MARKER not in r.text and MARKER not in failed.text
    assert (await svc.store.sessions.get(doc["_id"])).get("tests_run") is None


async def test_the_grading_rule_is_applied_to_the_cells(svc):
    doc, client = await svc.session()
    cells = [
        {"cell_type": "markdown", "source": "def solve(x): return 0", "metadata": {}},
        {"cell_type": "code", "source": ["def solve(x):\n", "    return x\n"], "metadata": {}},
        {"cell_type": "code", "source": "def solve(x):\n    return 0\n",
         "metadata": {"tags": ["skip-grading"]}},
        {"cell_type": "code", "source": "solve = None",
         "metadata": {"peerplatform": {"grade": False}}},
    ]
    async with client:
        r = await client.post("tests", json={"by": DRIVER, "cells": cells})
    assert r.json()["result"]["status"] == "passed", r.json()["result"]


async def test_only_the_driver_of_a_running_session_runs_tests(svc):
    doc, client = await svc.session()
    late, late_client = await svc.session(duration_s=60, ago_s=61)
    bare, bare_client = await svc.session(challenge=None)
    async with client, late_client, bare_client:
        before = await svc.store.sessions.get(doc["_id"])
        assert (await client.post("tests", json={"by": OBSERVER, "cells": SOLVED})
                ).status_code == 403
        assert (await client.post("tests", json={"by": "mallory", "cells": SOLVED})
                ).status_code == 403
        bad = await client.post("tests", json={"by": DRIVER, "cells": [{"source": "x"}]})
        assert bad.status_code == 400 and bad.json()["message"].startswith("cells[0].cell_type")
        assert (await client.post("tests", json={"by": DRIVER})).status_code == 400
        assert await svc.store.sessions.get(doc["_id"]) == before
        assert (await late_client.post("tests", json={"by": DRIVER, "cells": SOLVED})
                ).status_code == 409
        assert (await bare_client.post("tests", json={"by": DRIVER, "cells": SOLVED})
                ).status_code == 409


async def test_one_run_at_a_time_per_session(svc):
    doc, client = await svc.session()
    async with client:
        first = asyncio.create_task(client.post("tests", json={"by": DRIVER, "cells": SLOW}))
        await wait_for_run(svc, doc["_id"])
        second = await client.post("tests", json={"by": DRIVER, "cells": SOLVED})
        assert second.status_code == 409 and "in progress" in second.json()["message"]
        assert (await first).status_code == 200
        # and once it is over, the next one runs
        assert (await client.post("tests", json={"by": DRIVER, "cells": SOLVED})
                ).status_code == 200


@pytest.mark.parametrize("service_settings", [{"grading_concurrency": 1}])
async def test_a_replica_at_its_limit_answers_429_then_grades_again(svc):
    a, client_a = await svc.session()
    b, client_b = await svc.session()
    async with client_a, client_b:
        first = asyncio.create_task(client_a.post("tests", json={"by": DRIVER, "cells": SLOW}))
        await wait_for_run(svc, a["_id"])
        while svc.api.grading.busy == 0:
            await asyncio.sleep(0.02)
        busy = await client_b.post("tests", json={"by": DRIVER, "cells": SOLVED})
        assert busy.status_code == 429 and busy.headers["Retry-After"] == "1"
        # refused before anything was marked: b can run as soon as a slot is free
        assert (await svc.store.sessions.get(b["_id"])).get("tests_run") is None
        assert (await first).status_code == 200
        assert (await client_b.post("tests", json={"by": DRIVER, "cells": SOLVED})
                ).status_code == 200


async def next_tests(client, rev: int) -> dict:
    """Long-poll as a pair server does until the view shows a test run."""
    while True:
        answer = (await client.get("state", params={"since": rev, "wait": 30})).json()
        if answer["session"]["last_tests"]:
            return answer["session"]["last_tests"]
        rev = answer["rev"]


async def wait_for_run(svc, sid: str) -> None:
    for _ in range(500):
        if (await svc.store.sessions.get(sid)).get("tests_run"):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the test run never started")
