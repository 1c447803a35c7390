"""The observer is strictly read-only, on every channel; the driver can do all of it.

One real pair server (jupyter-server + jupyter-collaboration + peerplatform_ext) for the
module. Each adversarial attempt asserts the server refused it (a 403, or the frame dropped
as the server log states) AND that the driver's live view, a late joiner's view and every
file under the notebook root are unchanged afterwards.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import nbformat
import pytest
from pairkit import (DRIVER, OBSERVER, STRANGER, EventStream, RtcClient, eventually,
                     tree_fingerprint)
from jupyter_ydoc import YNotebook
from pycrdt import Doc, Encoder, create_awareness_message
from pycrdt._sync import create_sync_step2_message

from peerplatform_ext.events import SCHEMA_ID

pytestmark = pytest.mark.timeout(300)

#: Longer than the test server's save delay (0.3 s): a leaked edit would be on disk by then.
SETTLE = 0.6


@pytest.fixture(scope="module")
def server(pair_server_factory):
    return pair_server_factory(duration_s=3600, swap_schedule_s=[])  # no scheduled swap


@pytest.fixture(scope="module")
def res(server):
    """What the driver has open (kernel, session, terminal, checkpoint, fork) for the
    observer to try to touch."""
    with httpx.Client(base_url=server.base, headers=server.auth(DRIVER), timeout=60) as c:
        for _ in range(100):  # the extension puts the challenge cells in at start
            if server.work.joinpath("session.ipynb").exists() and len(
                    server.notebook_on_disk()["cells"]) == 2:
                break
            time.sleep(0.1)
        r = c.post("/api/sessions", json={"path": "session.ipynb", "type": "notebook",
                                          "name": "session.ipynb", "kernel": {"name": "python3"}})
        assert r.status_code == 201, r.text
        session = r.json()
        r = c.post("/api/contents/session.ipynb/checkpoints")
        assert r.status_code == 201, r.text
        checkpoint = r.json()["id"]
        r = c.post("/api/terminals")
        assert r.status_code == 200, r.text
        terminal = r.json()["name"]
        r = c.put("/api/collaboration/session/session.ipynb",
                  json={"format": "json", "type": "notebook"})
        room = f"json:notebook:{r.json()['fileId']}"
        r = c.put(f"/api/collaboration/fork/{room}",
                  json={"title": "driver's fork", "description": "", "synchronize": True})
        assert r.status_code == 201, r.text
        fork = r.json()["fork_roomid"]
    return {"session": session["id"], "kernel": session["kernel"]["id"], "terminal": terminal,
            "checkpoint": checkpoint, "room": room, "fork": fork}


# -- the adversarial matrix ------------------------------------------------------------------

EMPTY_NB = nbformat.v4.new_notebook()

REST = {
    "contents: save over the notebook": ("PUT", "/api/contents/session.ipynb",
                                         {"type": "notebook", "format": "json",
                                          "content": EMPTY_NB}),
    "contents: upload a file": ("PUT", "/api/contents/upload.txt",
                                {"type": "file", "format": "text", "content": "pwned"}),
    "contents: create a directory": ("PUT", "/api/contents/newdir", {"type": "directory"}),
    "contents: rename": ("PATCH", "/api/contents/session.ipynb", {"path": "renamed.ipynb"}),
    "contents: new untitled": ("POST", "/api/contents", {"type": "notebook"}),
    "contents: copy": ("POST", "/api/contents", {"copy_from": "session.ipynb"}),
    "contents: delete": ("DELETE", "/api/contents/session.ipynb", None),
    "checkpoints: create": ("POST", "/api/contents/session.ipynb/checkpoints", None),
    "checkpoints: restore": ("POST", "/api/contents/session.ipynb/checkpoints/{checkpoint}",
                             None),
    "checkpoints: delete": ("DELETE", "/api/contents/session.ipynb/checkpoints/{checkpoint}",
                            None),
    "sessions: create": ("POST", "/api/sessions", {"path": "x.ipynb", "type": "notebook",
                                                   "name": "x", "kernel": {"name": "python3"}}),
    "sessions: rename": ("PATCH", "/api/sessions/{session}", {"path": "renamed.ipynb"}),
    "sessions: delete": ("DELETE", "/api/sessions/{session}", None),
    "kernels: start": ("POST", "/api/kernels", {"name": "python3"}),
    "kernels: restart": ("POST", "/api/kernels/{kernel}/restart", None),
    "kernels: interrupt": ("POST", "/api/kernels/{kernel}/interrupt", None),
    # no kernel handler matches: the page handler's 404 (an HTML error page) gets the refusal
    "kernels: interrupt by a malformed id": ("POST", "/api/kernels/not-a-kernel/interrupt",
                                             None),
    "kernels: delete": ("DELETE", "/api/kernels/{kernel}", None),
    "terminals: create": ("POST", "/api/terminals", None),
    "terminals: delete": ("DELETE", "/api/terminals/{terminal}", None),
    "config: patch": ("PATCH", "/api/config/notebook", {"pwned": True}),
    "server: shutdown": ("POST", "/api/shutdown", None),
    "lab: settings": ("PUT", "/lab/api/settings/@jupyterlab/apputils-extension:themes",
                      {"raw": '{"theme": "JupyterLab Dark"}'}),
    "lab: save a workspace": ("PUT", "/lab/api/workspaces/pwned",
                              {"data": {}, "metadata": {"id": "pwned"}}),
    "lab: delete a workspace": ("DELETE", "/lab/api/workspaces/default", None),
    "lab: install an extension": ("POST", "/lab/api/extensions",
                                  {"cmd": "install", "extension_name": "jupyterlab-pwned"}),
    "lab: disable a plugin": ("POST", "/lab/api/plugins",
                              {"cmd": "disable",
                               "plugin_name": "@jupyterlab/notebook-extension:tracker"}),
    "identity: PATCH /api/me": ("PATCH", "/api/me", {"color": "#000000"}),
    "events: forge a session event": ("POST", "/api/events",
                                      {"schema_id": SCHEMA_ID, "version": "1",
                                       "data": {"type": "ended", "session": "x"}}),
    "collaboration: fork the notebook": ("PUT", "/api/collaboration/fork/{room}",
                                         {"title": "x", "description": "",
                                          "synchronize": True}),
    "collaboration: merge the driver's fork": ("DELETE",
                                               "/api/collaboration/fork/{fork}?merge=true", None),
    "collaboration: undo": ("PUT", "/api/collaboration/undo_redo/{room}"
                                   "?action=undo&steps=1&forkRoom={fork}", None),
}

SOCKETS = {
    "kernels: channel socket": "/api/kernels/{kernel}/channels",
    "terminals: socket": "/terminals/websocket/{terminal}",
    "lsp: socket": "/lsp/ws/python",
}


async def _dropped(server, mark, frame: str) -> None:
    """The server says it dropped the observer's frame."""
    needle = f"dropped a read-only {frame} frame from {OBSERVER}"
    assert await eventually(lambda: needle in server.log_since(mark), 5), needle


async def rtc_edit_text(server, res, driver, mark):
    async with RtcClient(server, OBSERVER) as bob:
        src = bob.nb.ycells[1]["source"]
        src.insert(len(src), "\nimport os; os.remove('session.ipynb')")
        await _dropped(server, mark, "sync-update")


async def rtc_append_cell(server, res, driver, mark):
    async with RtcClient(server, OBSERVER) as bob:
        bob.nb.append_cell({"cell_type": "code", "source": "print('pwned')", "metadata": {}})
        await _dropped(server, mark, "sync-update")


async def rtc_delete_cells(server, res, driver, mark):
    async with RtcClient(server, OBSERVER) as bob:
        with bob.doc.transaction():
            del bob.nb.ycells[0]
            del bob.nb.ycells[0]
        await _dropped(server, mark, "sync-update")


async def rtc_sync_step2(server, res, driver, mark):
    async with RtcClient(server, OBSERVER) as bob:
        state = bob.doc.get_state()
        forged = Doc()  # built aside, so that only the forged frame carries it
        forged.apply_update(bob.doc.get_update())
        YNotebook(forged).append_cell({"cell_type": "markdown", "source": "forged",
                                       "metadata": {}})
        await bob.send(create_sync_step2_message(forged.get_update(state)))
        await _dropped(server, mark, "sync-step2")


async def rtc_raw_save(server, res, driver, mark):
    async with RtcClient(server, OBSERVER) as bob:
        enc = Encoder()
        enc.write_var_uint(2)
        enc.write_var_string("save")
        enc.write_var_uint(7)
        await bob.send(enc.to_bytes())
        await _dropped(server, mark, "raw")
        await asyncio.sleep(0.3)
        assert bob.channel.raw == []  # no save reply: nothing was saved for bob


async def rtc_text_file_room(server, res, driver, mark):
    # the same .ipynb opened as plain text: an edit here would overwrite the notebook file
    async with RtcClient(server, OBSERVER, file_format="text", file_type="file") as bob:
        bob.nb.set("not a notebook any more")
        await _dropped(server, mark, "sync-update")


async def rtc_timeline_room(server, res, driver, mark):
    r = await server.request(OBSERVER, "GET", "/api/collaboration/timeline/session.ipynb"
                                              "?format=json&type=notebook")
    assert r.status_code == 200, r.text  # reading the history is allowed
    async with RtcClient(server, OBSERVER, room=r.json()["forkRoom"]) as bob:
        bob.nb.append_cell({"cell_type": "code", "source": "pwned", "metadata": {}})
        await _dropped(server, mark, "sync-update")


async def rtc_fork_room(server, res, driver, mark):
    # the driver's synchronised fork: the driver may merge it into the notebook later
    async with RtcClient(server, DRIVER, room=res["fork"]) as alice_fork:
        before = alice_fork.cells()
        async with RtcClient(server, OBSERVER, room=res["fork"]) as bob:
            bob.nb.append_cell({"cell_type": "code", "source": "merge me", "metadata": {}})
            await _dropped(server, mark, "sync-update")
        await asyncio.sleep(0.2)
        assert alice_fork.cells() == before


async def rtc_awareness_spoof(server, res, driver, mark):
    # speak for the driver's client id: fake cursor, or turn the room's autosave off
    async with RtcClient(server, OBSERVER) as bob:
        enc = Encoder()
        enc.write_var_uint(1)
        enc.write_var_uint(bob.doc.client_id)
        enc.write_var_uint(1)
        enc.write_var_string(json.dumps({"user": {"name": "bob"}}))
        await bob.send(create_awareness_message(enc.to_bytes()))  # bob's own: relayed
        enc = Encoder()
        enc.write_var_uint(1)
        enc.write_var_uint(driver.doc.client_id)
        enc.write_var_uint(99)
        enc.write_var_string(json.dumps({"user": {"name": "alice"}, "autosave": False}))
        await bob.send(create_awareness_message(enc.to_bytes()))
        await _dropped(server, mark, "awareness")


RTC = {
    "rtc: edit a cell (SYNC_UPDATE)": rtc_edit_text,
    "rtc: append a cell": rtc_append_cell,
    "rtc: delete the challenge cells": rtc_delete_cells,
    "rtc: forged SYNC_STEP2": rtc_sync_step2,
    "rtc: RAW save frame": rtc_raw_save,
    "rtc: text:file room on the notebook": rtc_text_file_room,
    "rtc: timeline fork room": rtc_timeline_room,
    "rtc: the driver's fork room": rtc_fork_room,
    "rtc: awareness as the driver": rtc_awareness_spoof,
}

ATTEMPTS = [*REST, *SOCKETS, *RTC]


def test_the_matrix_has_at_least_30_attempts():
    assert len(ATTEMPTS) >= 30


@pytest.mark.parametrize("name", ATTEMPTS)
async def test_observer_attempt_is_refused_and_changes_nothing(server, res, name):
    async with RtcClient(server, DRIVER) as driver:
        view = driver.cells()
        disk = tree_fingerprint(server.work)
        mark = server.log_mark()
        if name in REST:
            method, path, body = REST[name]
            r = await server.request(OBSERVER, method, path.format(**res), body)
            assert r.status_code == 403, (r.status_code, r.text)
            # a refusal says why, as JSON, and the server handled it cleanly
            assert r.headers.get("content-type", "").startswith("application/json"), r.headers
            assert r.json().get("message"), r.text
            assert "Uncaught exception" not in server.log_since(mark)
        elif name in SOCKETS:
            assert await server.ws_status(OBSERVER, SOCKETS[name].format(**res)) == 403
        else:
            await RTC[name](server, res, driver, mark)
        await asyncio.sleep(SETTLE)
        assert driver.cells() == view, "the driver's view changed"
        assert tree_fingerprint(server.work) == disk, "files under the notebook root changed"
    async with RtcClient(server, OBSERVER) as late:
        assert late.cells() == view, "a client joining later sees a change"
    assert (await server.request(DRIVER, "GET", "/api/status")).status_code == 200


# -- what the driver may not do either -------------------------------------------------------

#: In every forged event, so that a leak is found whatever the schema.
FORGED = "forged-by-the-driver"

#: Only the server emits events: both members' JupyterLab take a ``pair-session`` event for
#: the platform's word (a passing test run, the end of the session), and jupyter_server's own
#: schemas for what the server did.
DRIVER_REST = {
    "events: forge a passing test run": ("POST", "/api/events", {
        "schema_id": SCHEMA_ID, "version": "1",
        "data": {"type": "tests", "session": "{session_id}", "by": DRIVER,
                 "data": {"final": True, "note": FORGED,
                          "result": {"status": "passed", "passed": 2, "total": 2}}}}),
    "events: forge the end of the session": ("POST", "/api/events", {
        "schema_id": SCHEMA_ID, "version": "1",
        "data": {"type": "ended", "session": "{session_id}", "data": {"note": FORGED}}}),
    "events: forge a jupyter_server contents event": ("POST", "/api/events", {
        "schema_id": "https://events.jupyter.org/jupyter_server/contents_service/v1",
        "version": "1", "data": {"action": "delete", "path": f"{FORGED}.ipynb"}}),
}


def _fill(value, **fields):
    """``value`` with ``{field}`` in its strings filled in."""
    if isinstance(value, str):
        return value.format(**fields)
    if isinstance(value, dict):
        return {k: _fill(v, **fields) for k, v in value.items()}
    return value


@pytest.mark.parametrize("name", DRIVER_REST)
async def test_driver_attempt_is_refused_and_changes_nothing(server, res, name):
    async with RtcClient(server, DRIVER) as driver, EventStream(server, OBSERVER) as partner:
        view = driver.cells()
        disk = tree_fingerprint(server.work)
        method, path, body = DRIVER_REST[name]
        r = await server.request(DRIVER, method, path.format(**res),
                                 _fill(body, session_id=server.session_id))
        assert r.status_code == 403, (r.status_code, r.text)
        # the partner's stream is live: an event the server emits after the attempt arrives
        # (events arrive in order, so a forged one would be there already)
        r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "request"})
        assert r.status_code == 200, r.text
        await partner.wait_for("swap_requested")
        r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "cancel"})
        assert r.status_code == 200, r.text
        assert [e for e in partner.received if FORGED in json.dumps(e)] == [], \
            "the partner received the forged event"
        await asyncio.sleep(SETTLE)
        assert driver.cells() == view, "the driver's view changed"
        assert tree_fingerprint(server.work) == disk, "files under the notebook root changed"


# -- what the observer can do -----------------------------------------------------------------

async def test_observer_reads_and_is_told_it_is_read_only(server, res):
    r = await server.request(OBSERVER, "GET", "/api/contents/session.ipynb")
    assert r.status_code == 200 and r.json()["writable"] is False
    listing = (await server.request(OBSERVER, "GET", "/api/contents")).json()
    assert listing["writable"] is False and all(not c["writable"] for c in listing["content"])
    r = await server.request(DRIVER, "GET", "/api/contents/session.ipynb")
    assert r.json()["writable"] is True
    perms = json.dumps({"contents": ["read", "write"], "kernels": ["read", "execute"],
                        "terminals": ["execute"]})
    me = (await server.request(OBSERVER, "GET", f"/api/me?permissions={perms}")).json()
    assert me["identity"]["username"] == OBSERVER
    wanted = ("contents", "kernels", "terminals")
    assert {k: me["permissions"][k] for k in wanted} == {
        "contents": ["read"], "kernels": ["read"], "terminals": []}
    me = (await server.request(DRIVER, "GET", f"/api/me?permissions={perms}")).json()
    assert {k: me["permissions"][k] for k in wanted} == {
        "contents": ["read", "write"], "kernels": ["read", "execute"], "terminals": ["execute"]}
    # it can open documents (the session PUT only indexes) and subscribe to the event stream
    r = await server.request(OBSERVER, "PUT", "/api/collaboration/session/session.ipynb",
                             {"format": "json", "type": "notebook"})
    assert r.status_code == 200
    assert await server.ws_status(OBSERVER, "/api/events/subscribe") == 101


async def test_driver_edits_reach_the_observer_and_the_disk(server, res):
    async with RtcClient(server, OBSERVER) as bob, RtcClient(server, DRIVER) as alice:
        src = alice.nb.ycells[1]["source"]
        src.insert(len(src), "\n# driver was here")
        assert await eventually(lambda: "# driver was here" in bob.sources()[1], 5)
        assert await eventually(
            lambda: "# driver was here" in "".join(server.notebook_on_disk()["cells"][1]["source"]),
            5)
        enc = Encoder()
        enc.write_var_uint(2)
        enc.write_var_string("save")
        enc.write_var_uint(11)
        await alice.send(enc.to_bytes())
        assert await eventually(lambda: alice.channel.raw, 5)  # the driver's save is answered


async def test_the_driver_can_do_all_of_it(server, res):
    """Everything refused to the observer works for the driver (on scratch objects), except
    stopping the server, emitting events and a second kernel, which no learner may do."""
    d = DRIVER

    async def ok(method, path, body=None, expect=(200, 201, 204)):
        r = await server.request(d, method, path, body)
        assert r.status_code in expect, (method, path, r.status_code, r.text)
        return r

    await ok("PUT", "/api/contents/scratch.txt", {"type": "file", "format": "text",
                                                  "content": "hello"})
    await ok("PUT", "/api/contents/scratchdir", {"type": "directory"})
    await ok("PATCH", "/api/contents/scratch.txt", {"path": "scratch2.txt"})
    await ok("POST", "/api/contents", {"copy_from": "scratch2.txt"})
    await ok("POST", "/api/contents/scratch2.txt/checkpoints")
    cp = (await ok("GET", "/api/contents/scratch2.txt/checkpoints")).json()[0]["id"]
    await ok("POST", f"/api/contents/scratch2.txt/checkpoints/{cp}")
    await ok("DELETE", f"/api/contents/scratch2.txt/checkpoints/{cp}")
    await ok("DELETE", "/api/contents/scratch2.txt")
    # one kernel per session, the driver's too: another is refused, the session's is shared
    r = await server.request(d, "POST", "/api/kernels", {"name": "python3"})
    assert r.status_code == 409 and "one kernel per session" in r.json()["message"], r.text
    sess = (await ok("POST", "/api/sessions", {"path": "scratch.ipynb", "type": "notebook",
                                               "name": "scratch",
                                               "kernel": {"id": res["kernel"]}})).json()
    await ok("PATCH", f"/api/sessions/{sess['id']}", {"path": "scratch3.ipynb"})
    kernel = sess["kernel"]["id"]
    assert kernel == res["kernel"]
    await ok("POST", f"/api/kernels/{kernel}/interrupt")
    assert await server.ws_status(d, f"/api/kernels/{kernel}/channels") == 101
    await ok("POST", f"/api/kernels/{kernel}/restart")
    await ok("DELETE", f"/api/sessions/{sess['id']}")
    term = (await ok("POST", "/api/terminals")).json()["name"]
    assert await server.ws_status(d, f"/terminals/websocket/{term}") == 101
    await ok("DELETE", f"/api/terminals/{term}")
    await ok("PATCH", "/api/config/scratch", {"x": 1})
    await ok("PUT", "/lab/api/settings/@jupyterlab/apputils-extension:themes",
             {"raw": '{"theme": "JupyterLab Light"}'})
    await ok("PUT", "/lab/api/workspaces/scratch", {"data": {}, "metadata": {"id": "scratch"}})
    await ok("DELETE", "/lab/api/workspaces/scratch")
    # reaches the handler (the test IdentityProvider, like JupyterHub's, updates nothing)
    r = await server.request(d, "PATCH", "/api/me", {"color": "#aa0000"})
    assert r.status_code != 403, r.text
    fork = (await ok("PUT", f"/api/collaboration/fork/{res['room']}",
                     {"title": "t", "description": "", "synchronize": False})).json()
    await ok("DELETE", f"/api/collaboration/fork/{fork['fork_roomid']}?merge=false")
    assert await server.ws_status(d, "/api/events/subscribe") == 101
    # nobody may stop the pair server: the platform removes it after the session
    r = await server.request(d, "POST", "/api/shutdown")
    assert r.status_code == 403
    # the extension manager is read-only for everybody (no pip install from the browser)
    r = await server.request(d, "POST", "/lab/api/extensions",
                             {"cmd": "install", "extension_name": "jupyterlab-pwned"})
    assert r.status_code != 200 or r.json().get("status") != "ok"


async def test_a_stranger_with_no_hub_access_reads_nothing(server, res):
    r = await server.request(STRANGER, "GET", "/api/contents/session.ipynb")
    assert r.status_code == 403
    assert await server.ws_status(STRANGER, f"/api/collaboration/room/{res['room']}") == 403
    r = await server.request(STRANGER, "GET", "/peerplatform/api/session")
    assert r.status_code == 403


# -- the jupyverse trap: rights are per connection, never per room ------------------------------

async def test_two_observers_connected_after_the_driver_do_not_make_it_read_only(server, res):
    async with RtcClient(server, DRIVER) as alice:
        async with RtcClient(server, OBSERVER) as bob1, RtcClient(server, OBSERVER) as bob2:
            # the last sockets to join the room are read-only ones
            src = alice.nb.ycells[1]["source"]
            src.insert(len(src), "\n# still driving")
            assert await eventually(lambda: "# still driving" in bob1.sources()[1], 5)
            assert await eventually(lambda: "# still driving" in bob2.sources()[1], 5)
            assert await eventually(lambda: "# still driving" in "".join(
                server.notebook_on_disk()["cells"][1]["source"]), 5)
            # and theirs stay read-only although the driver joined first
            mark = server.log_mark()
            s1 = bob1.nb.ycells[1]["source"]
            s1.insert(0, "# bob1\n")
            await _dropped(server, mark, "sync-update")
            await asyncio.sleep(SETTLE)
            assert "# bob1" not in alice.sources()[1]
            assert "# bob1" not in bob2.sources()[1]


async def test_observers_connected_before_the_driver_stay_read_only(server, res):
    async with RtcClient(server, OBSERVER) as bob1, RtcClient(server, OBSERVER) as bob2:
        async with RtcClient(server, DRIVER) as alice:
            mark = server.log_mark()
            bob2.nb.append_cell({"cell_type": "code", "source": "# bob2", "metadata": {}})
            await _dropped(server, mark, "sync-update")
            src = alice.nb.ycells[1]["source"]
            src.insert(len(src), "\n# driver after observers")
            assert await eventually(
                lambda: "# driver after observers" in bob1.sources()[1], 5)
            await asyncio.sleep(SETTLE)
            assert all(s != "# bob2" for s in alice.sources())
