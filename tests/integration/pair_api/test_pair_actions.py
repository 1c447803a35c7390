"""Challenge, swaps, snapshots and events through the pair API: the service checks the member
and the role itself, bad bodies are refused naming the field, and nothing changes then."""

from __future__ import annotations

import json

import pytest
from apikit import CHALLENGES, DRIVER, MARKER, OBSERVER, SOLVED

from peerplatform_contracts.pair_api import MAX_BODY_BYTES


async def unchanged(svc, doc):
    """The session document as stored (to compare before/after a refused request)."""
    return await svc.store.sessions.get(doc["_id"])


# -- the challenge -----------------------------------------------------------------------------

async def test_the_challenge_is_the_public_view_at_the_pinned_version(svc):
    doc, client = await svc.session()
    # the pack changes mid-session: the session keeps the version it pinned
    changed = dict(next(c for c in CHALLENGES if c["slug"] == "echo-easy"))
    changed["statement"] = "A new statement."
    await svc.store.challenges.upsert(changed)
    async with client:
        r = await client.get("challenge")
    assert r.status_code == 200
    view = r.json()["challenge"]
    assert view["slug"] == "echo-easy" and view["version"] == 1
    assert view["statement"].startswith("Write `solve(x)`") and "statement_html" in view
    assert "tests" not in view and "solution" not in view and MARKER not in r.text


async def test_the_driver_draws_another_challenge_the_pair_has_not_seen(svc):
    doc, client = await svc.session()
    async with client:
        r = await client.post("challenge", json={"by": DRIVER, "difficulty": "medium"})
        assert r.status_code == 200, r.text
        drawn = r.json()["challenge"]
        assert drawn["difficulty"] == "medium" and drawn["slug"] != "echo-easy"
        assert "tests" not in drawn and MARKER not in r.text
        view = (await client.get("state")).json()["session"]
    assert view["challenge"]["slug"] == drawn["slug"]
    attempts = {a["slug"]: a for a in await svc.store.challenges.history.for_session(doc["_id"])}
    assert attempts["echo-easy"]["outcome"] == "abandoned"
    assert attempts[drawn["slug"]]["outcome"] is None


async def test_only_the_driver_of_a_running_session_draws(svc):
    doc, client = await svc.session()
    late, late_client = await svc.session(duration_s=60, ago_s=61)
    async with client, late_client:
        before = await unchanged(svc, doc)
        observer = await client.post("challenge", json={"by": OBSERVER})
        assert observer.status_code == 403
        stranger = await client.post("challenge", json={"by": "mallory"})
        assert stranger.status_code == 403
        assert (await client.post("challenge", json={"by": DRIVER, "difficulty": "legendary"})
                ).status_code == 400
        assert await unchanged(svc, doc) == before
        over = await late_client.post("challenge", json={"by": DRIVER})
        assert over.status_code == 409


async def test_nothing_else_to_draw_is_404(svc):
    doc, client = await svc.session()
    await svc.store.sessions.collection.update_one(
        {"_id": doc["_id"]}, {"$set": {"preferences.track": "sql"}})
    async with client:
        r = await client.post("challenge", json={"by": DRIVER})
    assert r.status_code == 404


# -- swaps ---------------------------------------------------------------------------------------

async def test_a_swap_requested_and_accepted_swaps_the_roles(svc):
    doc, client = await svc.session()
    async with client:
        asked = await client.post("swap", json={"by": OBSERVER, "action": "request"})
        assert asked.status_code == 200
        assert asked.json()["swap_request"]["by"] == OBSERVER
        assert asked.json()["driver"] == DRIVER
        again = await client.post("swap", json={"by": OBSERVER, "action": "request"})
        assert again.json()["swap_request"]["by"] == OBSERVER  # idempotent
        own = await client.post("swap", json={"by": OBSERVER, "action": "accept"})
        assert own.status_code == 409
        done = await client.post("swap", json={"by": DRIVER, "action": "accept"})
        assert done.status_code == 200
        assert done.json() == {"swap_request": None, "driver": OBSERVER}
        view = (await client.get("state")).json()["session"]
    assert (view["driver"], view["observer"]) == (OBSERVER, DRIVER)
    stored = await svc.store.sessions.get(doc["_id"])
    swap = [e for e in stored["events"] if e["type"] == "swap"][-1]
    assert swap["reason"] == "requested" and swap["by"] == OBSERVER


async def test_both_asking_is_an_agreement(svc):
    doc, client = await svc.session()
    async with client:
        await client.post("swap", json={"by": DRIVER, "action": "request"})
        r = await client.post("swap", json={"by": OBSERVER, "action": "request"})
    assert r.json() == {"swap_request": None, "driver": OBSERVER}


async def test_decline_cancel_and_nothing_to_answer(svc):
    doc, client = await svc.session()
    async with client:
        assert (await client.post("swap", json={"by": DRIVER, "action": "accept"})
                ).status_code == 409
        await client.post("swap", json={"by": DRIVER, "action": "request"})
        assert (await client.post("swap", json={"by": DRIVER, "action": "decline"})
                ).status_code == 409
        declined = await client.post("swap", json={"by": OBSERVER, "action": "decline"})
        assert declined.json() == {"swap_request": None, "driver": DRIVER}
        await client.post("swap", json={"by": OBSERVER, "action": "request"})
        assert (await client.post("swap", json={"by": DRIVER, "action": "cancel"})
                ).status_code == 409
        cancelled = await client.post("swap", json={"by": OBSERVER, "action": "cancel"})
        assert cancelled.json() == {"swap_request": None, "driver": DRIVER}
    kinds = [e["type"] for e in (await svc.store.sessions.get(doc["_id"]))["events"]]
    assert kinds[-4:] == ["swap_requested", "swap_declined", "swap_requested", "swap_cancelled"]


@pytest.mark.parametrize("body, field", [
    ({"by": DRIVER}, "action"),
    ({"by": DRIVER, "action": "steal"}, "action"),
    ({"by": 3, "action": "request"}, "by"),
    ({"by": DRIVER, "action": "request", "driver": "mallory"}, "driver"),
    ([], ""),
])
async def test_bad_swap_bodies_name_the_field_and_change_nothing(svc, body, field):
    doc, client = await svc.session()
    before = await unchanged(svc, doc)
    async with client:
        r = await client.post("swap", json=body)
    assert r.status_code == 400
    assert r.json()["message"].startswith(field)
    assert await unchanged(svc, doc) == before


async def test_no_swap_once_the_time_is_up(svc):
    doc, client = await svc.session(duration_s=60, ago_s=61)
    async with client:
        r = await client.post("swap", json={"by": OBSERVER, "action": "request"})
    assert r.status_code == 409


# -- snapshots -----------------------------------------------------------------------------------

def snap(seq, *, by=DRIVER, final=False, cells=SOLVED, **extra):
    return {"seq": seq, "t": seq * 2.0, "by": by, "cells": cells, "final": final, **extra}


async def test_snapshots_are_stored_once_per_seq(svc):
    doc, client = await svc.session()
    async with client:
        first = await client.post("snapshots", json={"snapshots": [snap(1), snap(2)]})
        assert first.json() == {"stored": 2, "duplicates": 0}
        retried = await client.post("snapshots", json={"snapshots": [snap(2), snap(3)]})
        assert retried.json() == {"stored": 1, "duplicates": 1}
    stored = await svc.store.snapshots.for_session(doc["_id"])
    assert [s["seq"] for s in stored] == [1, 2, 3]
    assert stored[0]["cells"] == [{"cell_type": "code", "source": SOLVED[0]["source"],
                                   "metadata": {}}]


async def test_the_final_snapshot_keeps_the_notebook(svc):
    doc, client = await svc.session()
    notebook = {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                "cells": [{"cell_type": "code", "source": "x", "metadata": {},
                           "outputs": [{"output_type": "stream", "name": "stdout",
                                        "text": "1"}], "execution_count": 1}]}
    async with client:
        r = await client.post("snapshots", json={"snapshots": [
            snap(9, final=True, notebook=notebook)]})
        assert r.status_code == 200, r.text
        early = await client.post("snapshots", json={"snapshots": [snap(10, notebook=notebook)]})
        assert early.status_code == 400 and early.json()["message"].startswith(
            "snapshots[0].notebook")
    final = await svc.store.snapshots.final_for(doc["_id"])
    assert json.loads(final["notebook_json"]) == notebook


@pytest.mark.parametrize("snapshots, field", [
    ([snap(1), snap(1)], "snapshots[1].seq"),
    ([snap(1), snap(-1)], "snapshots[1].seq"),
    ([snap(1), {**snap(2), "t": "soon"}], "snapshots[1].t"),
    ([snap(1), snap(2, cells=[{"cell_type": "code"}])], "snapshots[1].cells[0].source"),
    ([snap(1), snap(2, cells=[{"cell_type": "widget", "source": ""}])],
     "snapshots[1].cells[0].cell_type"),
    ([snap(1), snap(2, by="mallory")], "snapshots[1].by"),
    ([], "snapshots"),
])
async def test_a_bad_snapshot_stores_none_of_the_batch(svc, snapshots, field):
    doc, client = await svc.session()
    async with client:
        r = await client.post("snapshots", json={"snapshots": snapshots})
    assert r.status_code == 400
    assert r.json()["message"].startswith(field)
    assert await svc.store.snapshots.for_session(doc["_id"]) == []


async def test_a_body_past_the_cap_is_413_and_changes_nothing(svc):
    doc, client = await svc.session()
    before = await unchanged(svc, doc)
    big = "x" * (MAX_BODY_BYTES + 10)
    async with client:
        r = await client.post("snapshots", content=json.dumps(
            {"snapshots": [snap(1, cells=[{"cell_type": "code", "source": big}])]}),
            headers={"Content-Type": "application/json"})
        assert r.status_code == 413
        bad_json = await client.post("snapshots", content=b"{not json",
                                     headers={"Content-Type": "application/json"})
        assert bad_json.status_code == 400
    assert await svc.store.snapshots.for_session(doc["_id"]) == []
    assert await unchanged(svc, doc) == before


# -- events --------------------------------------------------------------------------------------

async def test_events_are_kept_once_per_id(svc):
    doc, client = await svc.session()
    event = {"id": "k-1", "type": "kernel", "data": {"reason": "memory", "message": "killed"}}
    async with client:
        assert (await client.post("events", json={"events": [event]})).json() == {"stored": 1}
        assert (await client.post("events", json={"events": [
            event, {**event, "id": "k-2"}]})).json() == {"stored": 1}
    kept = [e for e in (await svc.store.sessions.get(doc["_id"]))["events"]
            if e.get("source") == "pair-server"]
    assert [e["id"] for e in kept] == ["k-1", "k-2"]
    assert kept[0]["type"] == "kernel" and kept[0]["data"]["reason"] == "memory"


@pytest.mark.parametrize("events, field", [
    ([{"id": "1", "type": "tests", "data": {"result": {"status": "passed"}}}], "events[0].type"),
    ([{"id": "1", "type": "swap"}], "events[0].type"),
    ([{"id": "1", "type": "kernel"}, {"id": "1", "type": "kernel"}], "events[1].id"),
    ([{"id": "", "type": "kernel"}], "events[0].id"),
    ([{"id": "1", "type": "kernel", "data": {"a.b": 1}}], "events[0].data"),
    ([{"id": "1", "type": "kernel", "data": {"$set": 1}}], "events[0].data"),
    ([{"id": "1", "type": "kernel", "extra": 1}], "events[0].extra"),
])
async def test_bad_events_are_refused_and_none_kept(svc, events, field):
    doc, client = await svc.session()
    before = await unchanged(svc, doc)
    async with client:
        r = await client.post("events", json={"events": events})
    assert r.status_code == 400
    assert r.json()["message"].startswith(field)
    assert await unchanged(svc, doc) == before
