"""``GET state``: the pair view (never a hidden field), the long poll, and who may ask."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime

from apikit import DRIVER, MARKER, OBSERVER

from peerplatform_contracts.pair_api import CHALLENGE_SUMMARY_FIELDS, DATETIME_FIELDS

VIEW_FIELDS = {"id", "state", "members", "driver", "observer", "duration_s", "started_at",
               "ends_at", "swap_schedule_s", "scheduled_swaps_done", "swap_request",
               "challenge", "last_tests", "outcome", "server_time"}


async def test_the_view_is_the_contracts_and_nothing_more(svc):
    doc, client = await svc.session(duration_s=600)
    async with client:
        r = await client.get("state")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["rev"] == doc["rev"]
    view = body["session"]
    assert set(view) == VIEW_FIELDS
    assert view["id"] == doc["_id"] and view["state"] == "active"
    assert (view["driver"], view["observer"]) == (DRIVER, OBSERVER)
    assert set(view["challenge"]) == set(CHALLENGE_SUMMARY_FIELDS)
    assert view["challenge"]["slug"] == "echo-easy" and view["challenge"]["version"] == 1
    assert view["swap_schedule_s"] == [300.0]  # default: half time
    assert view["swap_request"] is None and view["last_tests"] is None
    for field in DATETIME_FIELDS:
        assert datetime.fromisoformat(view[field]).utcoffset().total_seconds() == 0
    ends = datetime.fromisoformat(view["ends_at"]) - datetime.fromisoformat(view["started_at"])
    assert ends.total_seconds() == 600
    assert MARKER not in r.text and "solution" not in r.text


async def test_the_long_poll_waits_for_a_change_and_answers_at_once_when_there_is_one(svc):
    doc, client = await svc.session()
    async with client:
        rev = (await client.get("state")).json()["rev"]
        started = time.monotonic()
        same = await client.get("state", params={"since": rev, "wait": 0.4})
        assert same.json()["rev"] == rev and time.monotonic() - started >= 0.35

        poll = asyncio.create_task(client.get("state", params={"since": rev, "wait": 20}))
        await asyncio.sleep(0.3)
        assert not poll.done()
        started = time.monotonic()
        answer = await client.post("swap", json={"by": OBSERVER, "action": "request"})
        assert answer.status_code == 200, answer.text
        changed = await asyncio.wait_for(poll, 5)
        assert time.monotonic() - started < 2
        assert changed.json()["rev"] > rev
        assert changed.json()["session"]["swap_request"]["by"] == OBSERVER
        # a stale revision answers at once
        assert (await client.get("state", params={"since": rev, "wait": 20})).json()[
            "rev"] == changed.json()["rev"]


async def test_a_change_by_another_replica_reaches_the_poll_through_the_store(svc):
    doc, client = await svc.session()
    async with client:
        rev = (await client.get("state")).json()["rev"]
        poll = asyncio.create_task(client.get("state", params={"since": rev, "wait": 20}))
        await asyncio.sleep(0.2)
        # written straight to the store, as another replica would: no local wake-up
        await svc.store.sessions.request_swap(doc["_id"], DRIVER)
        changed = await asyncio.wait_for(poll, 5)
    assert changed.json()["session"]["swap_request"]["by"] == DRIVER


async def test_bad_poll_arguments_are_refused(svc):
    _, client = await svc.session()
    async with client:
        for params in ({"since": "x"}, {"wait": "soon"}, {"wait": "-1"}, {"wait": "nan"}):
            r = await client.get("state", params=params)
            assert r.status_code == 400, params
            assert r.json()["message"].split(":")[0] in params


async def test_credentials_no_token_unknown_foreign_missing_and_ended(svc):
    mine, client = await svc.session()
    other, other_client = await svc.session()
    over, over_client = await svc.session(state="ended")
    async with client, other_client, over_client:
        no_token = await svc.client(mine["_id"], None).get("state")
        assert no_token.status_code == 401
        assert no_token.json()["message"].startswith("a token is required")
        assert (await svc.client(mine["_id"], "forged").get("state")).status_code == 401
        # the other session's token on mine: 403; mine on a session that does not exist: 403
        foreign = await svc.client(mine["_id"], f"tok-{other['_id']}").get("state")
        assert foreign.status_code == 403
        assert (await svc.client("zzzzzzzzzzzz", f"tok-{mine['_id']}").get("state")
                ).status_code == 403
        ended = await over_client.get("state")
        assert ended.status_code == 403 and ended.json()["message"] == "the session has ended"
        # every endpoint checks it, and a refused write changes nothing
        before = await svc.store.sessions.get(mine["_id"])
        for method, path, body in (("GET", "challenge", None),
                                   ("POST", "swap", {"by": DRIVER, "action": "request"}),
                                   ("POST", "tests", {"by": DRIVER, "cells": []}),
                                   ("POST", "events", {"events": [{"id": "1", "type": "kernel"}]})):
            r = await svc.client(mine["_id"], f"tok-{other['_id']}").request(
                method, path, json=body)
            assert r.status_code == 403, path
        assert await svc.store.sessions.get(mine["_id"]) == before


async def test_a_pending_session_can_be_read_before_it_starts(svc):
    doc, client = await svc.session(state="pending")
    async with client:
        r = await client.get("state")
    assert r.status_code == 200 and r.json()["session"]["started_at"] is None
    assert r.json()["session"]["ends_at"] is None
