"""Challenge cell, role swap on request, test runs: one running pair session, its pair server a
client of the platform service's pair API (which picks, grades and records)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
from pathlib import Path

import pytest
from pairkit import DRIVER, OBSERVER, EventStream, RtcClient, eventually

pytestmark = pytest.mark.timeout(240)

SETTLE = 0.6
PERMS = json.dumps({"contents": ["write"], "kernels": ["execute"]})


@pytest.fixture(scope="module")
def server(pair_server_factory):
    srv = pair_server_factory(duration_s=3600, swap_schedule_s=[])  # no scheduled swap
    assert asyncio.run(eventually(lambda: (srv.work / "session.ipynb").exists()
                                  and len(srv.notebook_on_disk()["cells"]) == 2, 20))
    return srv


def tag(cell: dict) -> dict:
    return cell["metadata"].get("peerplatform") or {}


def statement_slugs(cells) -> list[str]:
    return [tag(c)["challenge"] for c in cells if tag(c).get("cell") == "statement"]


async def role_of(server, user) -> str:
    r = await server.request(user, "GET", "/peerplatform/api/session")
    return r.json()["role"]


async def can_write_contents(server, user) -> bool:
    r = await server.request(user, "GET", f"/api/me?permissions={PERMS}")
    return r.json()["permissions"]["contents"] == ["write"]


# -- the challenge cell ----------------------------------------------------------------------

async def test_the_session_challenge_is_in_the_notebook_at_start(server):
    doc = server.session()
    slug = doc["challenge"]["slug"]
    assert doc["challenge"]["difficulty"] == "easy"  # the members' preference
    cells = server.notebook_on_disk()["cells"]
    assert [c["cell_type"] for c in cells] == ["markdown", "code"]
    assert [tag(c)["cell"] for c in cells] == ["statement", "starter"]
    assert statement_slugs(cells) == [slug]
    statement = "".join(cells[0]["source"])
    assert doc["challenge"]["title"] in statement and "**Difficulty:** easy" in statement
    assert "solve(1)" in statement  # the examples
    assert cells[0]["metadata"]["editable"] is False
    assert "def solve(x):" in "".join(cells[1]["source"])
    async with RtcClient(server, OBSERVER) as late:
        assert statement_slugs(late.cells()) == [slug]


def test_the_pair_server_holds_its_session_credential_and_no_platform_key(server):
    """What it was started with: the pair API's URL and its own token, no store, no Redis."""
    env = dict(item.split("=", 1) for item in (
        Path(f"/proc/{server.proc.pid}/environ").read_bytes().decode().split("\0")) if "=" in item)
    assert env["PEERPLATFORM_API_URL"] == server.service.api_url
    assert env["JUPYTERHUB_API_TOKEN"] == server.token
    for key in ("MONGODB_URI", "PEERPLATFORM_MONGODB_DB", "REDIS_URL"):
        assert key not in env
    assert server.mongodb_uri not in "\n".join(env.values())


async def test_driver_changes_the_challenge_both_see_it_live_on_disk_and_late(server):
    before = server.session()["challenge"]["slug"]
    async with RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob, \
            EventStream(server, OBSERVER) as bob_events:
        r = await server.request(DRIVER, "POST", "/peerplatform/api/challenge",
                                 {"difficulty": "medium"})
        assert r.status_code == 200, r.text
        new = r.json()["challenge"]
        assert new["difficulty"] == "medium" and new["slug"] != before
        assert "tests" not in new and "solution" not in new and new["statement_html"]
        for client in (alice, bob):
            assert await eventually(lambda c=client: statement_slugs(c.cells()) == [new["slug"]], 5)
            assert tag(client.cells()[1]) == {"challenge": new["slug"], "cell": "starter"}
        assert await eventually(
            lambda: statement_slugs(server.notebook_on_disk()["cells"]) == [new["slug"]], 5)
        event = await bob_events.wait_for("challenge")
        assert event["data"]["challenge"]["slug"] == new["slug"]
    async with RtcClient(server, OBSERVER) as late:
        assert statement_slugs(late.cells()) == [new["slug"]]
    doc = server.session()
    assert doc["challenge"]["slug"] == new["slug"]
    assert [e["slug"] for e in doc["events"] if e["type"] == "challenge"][-1] == new["slug"]
    # drawn again: neither member has seen the next one
    r = await server.request(DRIVER, "POST", "/peerplatform/api/challenge", {})
    assert r.status_code == 200
    assert r.json()["challenge"]["slug"] not in (before, new["slug"])


async def test_observer_cannot_change_the_challenge(server):
    before = server.session()["challenge"]
    assert await eventually(  # the last change is saved
        lambda: statement_slugs(server.notebook_on_disk()["cells"]) == [before["slug"]], 5)
    disk = server.notebook_on_disk()["cells"]
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/challenge",
                             {"difficulty": "medium"})
    assert r.status_code == 403
    await asyncio.sleep(SETTLE)
    assert server.session()["challenge"] == before
    assert server.notebook_on_disk()["cells"] == disk


@pytest.mark.parametrize("body,status", [
    ({"difficulty": "impossible"}, 400),
    ({"difficulty": 3}, 400),
    ({"level": "easy"}, 400),
    ("not json", 400),
    ({"difficulty": "hard"}, 404),  # no hard challenge in this store
])
async def test_bad_challenge_requests_change_nothing(server, body, status):
    before = server.session()["challenge"]
    r = await server.request(DRIVER, "POST", "/peerplatform/api/challenge", body)
    assert r.status_code == status, r.text
    assert "message" in r.json()
    assert server.session()["challenge"] == before


async def test_members_read_the_challenge_without_its_hidden_parts(server):
    for user in (DRIVER, OBSERVER):
        r = await server.request(user, "GET", "/peerplatform/api/challenge")
        assert r.status_code == 200
        ch = r.json()["challenge"]
        assert ch["slug"] == server.session()["challenge"]["slug"]
        assert "tests" not in ch and "solution" not in ch


# -- role swap on request ----------------------------------------------------------------------

async def test_a_swap_requested_and_accepted_reverses_rights_without_reconnecting(server):
    async with RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob, \
            EventStream(server, DRIVER) as alice_events:
        kernel = (await server.request(DRIVER, "POST", "/api/kernels", {"name": "python3"})).json()
        import websockets

        alice_kernel = await websockets.connect(
            server.ws_url(f"/api/kernels/{kernel['id']}/channels"),
            additional_headers=server.auth(DRIVER))
        try:
            r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap",
                                     {"action": "request"})
            assert r.status_code == 200 and r.json()["swap_request"]["by"] == OBSERVER
            requested = await alice_events.wait_for("swap_requested")
            assert requested["by"] == OBSERVER
            assert await role_of(server, DRIVER) == "driver"  # nothing until accepted
            r = await server.request(DRIVER, "POST", "/peerplatform/api/swap",
                                     {"action": "accept"})
            assert r.status_code == 200 and r.json()["driver"] == OBSERVER
            swapped = await alice_events.wait_for("swap")
            assert (swapped["driver"], swapped["observer"]) == (OBSERVER, DRIVER)

            # recorded with a timestamp
            doc = server.session()
            assert (doc["driver"], doc["observer"]) == (OBSERVER, DRIVER)
            swap = [e for e in doc["events"] if e["type"] == "swap"][-1]
            assert swap["reason"] == "requested" and swap["by"] == OBSERVER and swap["at"]

            # the same sockets, reversed rights: bob's edit goes through, alice's is dropped
            src = bob.nb.ycells[1]["source"]
            src.insert(len(src), "\n# bob drives now")
            assert await eventually(lambda: "# bob drives now" in alice.sources()[1], 5)
            # (from a second socket of alice's: a client whose edits were dropped keeps them
            # locally and must reload before it can write again - the UI stops such edits)
            mark = server.log_mark()
            async with RtcClient(server, DRIVER) as alice_tab2:
                a = alice_tab2.nb.ycells[1]["source"]
                a.insert(0, "# alice is observing\n")
                assert await eventually(
                    lambda: f"dropped a read-only sync-update frame from {DRIVER}"
                    in server.log_since(mark), 5)
                await asyncio.sleep(SETTLE)
            assert "# alice is observing" not in alice.sources()[1]
            on_disk = "".join(server.notebook_on_disk()["cells"][1]["source"])
            assert "# bob drives now" in on_disk and "# alice is observing" not in on_disk
            assert "# alice is observing" not in bob.sources()[1]

            # REST, kernels, /api/me: exactly reversed
            assert await can_write_contents(server, OBSERVER)
            assert not await can_write_contents(server, DRIVER)
            r = await server.request(DRIVER, "PUT", "/api/contents/by-alice.txt",
                                     {"type": "file", "format": "text", "content": "x"})
            assert r.status_code == 403
            r = await server.request(OBSERVER, "PUT", "/api/contents/by-bob.txt",
                                     {"type": "file", "format": "text", "content": "x"})
            assert r.status_code == 201
            # alice's kernel socket, opened while she drove, is closed by the server
            await asyncio.wait_for(alice_kernel.wait_closed(), 5)
            assert await server.ws_status(DRIVER, f"/api/kernels/{kernel['id']}/channels") == 403
            assert await server.ws_status(OBSERVER, f"/api/kernels/{kernel['id']}/channels") == 101
        finally:
            await alice_kernel.close()

        # and back, the other way round (alice asks, bob accepts)
        await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "request"})
        r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "accept"})
        assert r.json()["driver"] == DRIVER
        a = alice.nb.ycells[1]["source"]
        a.insert(len(a), "\n# alice again")
        assert await eventually(lambda: "# alice again" in bob.sources()[1], 5)
        assert await can_write_contents(server, DRIVER)
        assert not await can_write_contents(server, OBSERVER)
        await server.request(DRIVER, "DELETE", f"/api/kernels/{kernel['id']}")


async def test_after_a_swap_the_former_drivers_own_socket_is_read_only(server):
    """The socket alice opened and wrote through while driving, not a new one: rights are
    read per frame, so the swap takes effect on the open connection."""
    async with RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob:
        src = alice.nb.ycells[1]["source"]
        src.insert(len(src), "\n# alice drives")
        assert await eventually(lambda: "# alice drives" in bob.sources()[1], 5)
        assert await eventually(lambda: "# alice drives" in "".join(
            server.notebook_on_disk()["cells"][1]["source"]), 5)
        await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "request"})
        r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "accept"})
        assert r.status_code == 200 and r.json()["driver"] == OBSERVER
        view, disk = bob.cells(), server.notebook_on_disk()

        mark = server.log_mark()
        src.insert(0, "# alice after the swap\n")  # the same socket as her edit above
        alice.nb.append_cell({"cell_type": "code", "source": "# alice's new cell",
                              "metadata": {}})
        assert await eventually(lambda: f"dropped a read-only sync-update frame from {DRIVER}"
                                in server.log_since(mark), 5)
        await asyncio.sleep(SETTLE)
        assert bob.cells() == view, "the new driver's view changed"
        assert server.notebook_on_disk() == disk, "the notebook file changed"
        async with RtcClient(server, OBSERVER) as late:
            assert late.cells() == view

        # roles back as they were, for the tests after this one
        await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "request"})
        r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "accept"})
        assert r.json()["driver"] == DRIVER


async def test_a_declined_or_cancelled_swap_changes_no_role(server):
    swaps = len([e for e in server.session()["events"] if e["type"] == "swap"])
    r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "request"})
    assert r.status_code == 200
    r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "accept"})
    assert r.status_code == 409  # one cannot accept one's own request
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "decline"})
    assert r.status_code == 200 and r.json()["swap_request"] is None
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "accept"})
    assert r.status_code == 409  # nothing to accept any more
    await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "request"})
    r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "cancel"})
    assert r.status_code == 409  # not alice's request
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "cancel"})
    assert r.status_code == 200
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "swap"})
    assert r.status_code == 400
    doc = server.session()
    assert doc["driver"] == DRIVER
    assert len([e for e in doc["events"] if e["type"] == "swap"]) == swaps
    kinds = [e["type"] for e in doc["events"]]
    assert "swap_declined" in kinds and "swap_cancelled" in kinds


async def test_a_request_from_each_side_is_an_agreement(server):
    await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "request"})
    r = await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "request"})
    assert r.status_code == 200 and r.json()["driver"] == OBSERVER
    await server.request(OBSERVER, "POST", "/peerplatform/api/swap", {"action": "request"})
    r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", {"action": "accept"})
    assert r.json()["driver"] == DRIVER


# -- where the RTC state is kept --------------------------------------------------------------

async def test_the_rtc_stores_are_in_the_session_data_dir_only(server):
    """The update store (the edit replay) and jupyter-collaboration's session file are in
    ``<session dir>/data`` (``PeerPlatformExtension.data_dir``'s default), never at their
    defaults: ``.jupyter_ystore.db`` in the server's CWD, ``.jupyter/`` in the root."""
    data_dir = server.session_dir / "data"
    ystore = data_dir / "ystore.db"

    def updates() -> int:
        if not ystore.is_file():
            return 0
        with contextlib.closing(sqlite3.connect(f"file:{ystore}?mode=ro", uri=True,
                                                timeout=5)) as db:
            return db.execute("SELECT count(*) FROM yupdates").fetchone()[0]

    before = updates()
    async with RtcClient(server, DRIVER) as alice:
        src = alice.nb.ycells[1]["source"]
        src.insert(len(src), "\n# kept in the session's store")
        assert await eventually(lambda: "# kept in the session's store" in "".join(
            server.notebook_on_disk()["cells"][1]["source"]), 5)
        assert await eventually(lambda: updates() > before, 5), "the edit is not in ystore.db"
    assert (data_dir / "collaboration_sessions.json").is_file()
    assert json.loads((data_dir / "collaboration_sessions.json").read_text())
    # the server runs in the session dir (its CWD); the notebook root is session dir/work
    assert not (server.session_dir / ".jupyter_ystore.db").exists()
    assert sorted(p.name for p in server.session_dir.glob("*.db")) == []
    assert [str(p) for p in server.work.rglob("*.db")] == []
    assert not (server.work / ".jupyter").exists()


# -- tests ---------------------------------------------------------------------------------------

async def test_driver_runs_the_tests_result_stored_and_pushed_observer_refused(server):
    async with RtcClient(server, DRIVER) as alice, EventStream(server, OBSERVER) as bob_events:
        r = await server.request(OBSERVER, "POST", "/peerplatform/api/tests")
        assert r.status_code == 403
        r = await server.request(DRIVER, "POST", "/peerplatform/api/tests")
        assert r.status_code == 200, r.text
        first = r.json()["result"]
        assert first["status"] == "failed" and first["total"] == 2  # the starter code
        # the driver writes the solution in the starter cell
        src = alice.nb.ycells[1]["source"]
        del src[0:len(src)]
        src.insert(0, "def solve(x):\n    return x\n")
        await asyncio.sleep(0.2)
        r = await server.request(DRIVER, "POST", "/peerplatform/api/tests")
        result = r.json()["result"]
        assert result["status"] == "passed" and result["passed"] == 2, result
        assert await eventually(lambda: [e["data"]["result"]["status"]
                                         for e in bob_events.of("tests")] == ["failed", "passed"], 5)
        assert all(e["by"] == DRIVER for e in bob_events.of("tests"))
    runs = [e for e in server.session()["events"] if e["type"] == "tests"]
    assert [e["result"]["status"] for e in runs][-2:] == ["failed", "passed"]

    async def last_tests():  # a page loaded now shows the latest run, per test
        r = await server.request(OBSERVER, "GET", "/peerplatform/api/session")
        return r.json()["last_tests"]

    async def shows_last_run():
        last = await last_tests()
        return bool(last) and last["result"]["status"] == "passed"

    assert await eventually(shows_last_run, 5)
    last = await last_tests()
    assert last["by"] == DRIVER and last["final"] is False
    assert [t["status"] for t in last["result"]["tests"]] == ["pass", "pass"]
    assert (await server.request(OBSERVER, "GET", "/peerplatform/api/session")).json()[
        "final_tests"] is None
    assert all(e["by"] == DRIVER and e["at"] for e in runs)


async def test_api_refuses_non_members_and_bad_input(server):
    from pairkit import OUTSIDER, STRANGER

    for user in (STRANGER, OUTSIDER):  # no hub access / hub access but not a member
        for path in ("/peerplatform/api/session", "/peerplatform/api/clock"):
            assert (await server.request(user, "GET", path)).status_code == 403
        r = await server.request(user, "POST", "/peerplatform/api/swap", {"action": "request"})
        assert r.status_code == 403
    # a non-member the Hub lets in (e.g. an instructor) reads, never writes
    r = await server.request(OUTSIDER, "GET", "/api/contents/session.ipynb")
    assert r.status_code == 200 and r.json()["writable"] is False
    r = await server.request(OUTSIDER, "PUT", "/api/contents/x.txt",
                             {"type": "file", "format": "text", "content": "x"})
    assert r.status_code == 403
    r = await server.request(DRIVER, "POST", "/peerplatform/api/swap", "[1, 2]")
    assert r.status_code == 400
    r = await server.request(DRIVER, "POST", "/peerplatform/api/tests", {"extra": 1})
    assert r.status_code == 400


async def test_oversized_bodies_are_413_and_change_nothing(server):
    from peerplatform_ext.handlers import DRAIN_BODY_BYTES, MAX_BODY_BYTES

    def padded(body: dict, size: int) -> bytes:
        raw = json.dumps(body).encode()
        return raw[:-1] + b', "pad": "' + b"x" * (size - len(raw) - 10) + b'"}'

    async def chunked(raw: bytes):
        for start in range(0, len(raw), 4096):
            yield raw[start:start + 4096]

    doc = server.session()
    notebook = server.notebook_on_disk()
    swap = padded({"action": "request"}, MAX_BODY_BYTES + 1)
    challenge = padded({"difficulty": "medium"}, MAX_BODY_BYTES + 1)
    attempts = [
        ("/peerplatform/api/swap", swap),
        ("/peerplatform/api/challenge", challenge),
        ("/peerplatform/api/tests", padded({}, MAX_BODY_BYTES + 1)),
        # no Content-Length (chunked): counted as it comes
        ("/peerplatform/api/challenge", chunked(challenge)),
    ]
    for path, body in attempts:
        r = await server.request(DRIVER, "POST", path, body)
        assert r.status_code == 413, (path, r.status_code, r.text)
        assert r.json()["message"] == f"the body is larger than {MAX_BODY_BYTES} bytes"
    # announced far past the cap: answered at once, without waiting for (or reading) the body
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    try:
        writer.write(f"POST /peerplatform/api/swap HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     f"Authorization: {server.auth(DRIVER)['Authorization']}\r\n"
                     f"Content-Type: application/json\r\n"
                     f"Content-Length: {DRAIN_BODY_BYTES + 1}\r\n\r\n".encode())
        await writer.drain()
        head, _, rest = (await asyncio.wait_for(reader.read(), 10)).partition(b"\r\n\r\n")
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 413 "), head
    assert json.loads(rest)["message"] == f"the body is larger than {MAX_BODY_BYTES} bytes"

    after = server.session()
    assert after["events"] == doc["events"] and after["challenge"] == doc["challenge"]
    assert server.notebook_on_disk() == notebook
    r = await server.request(OBSERVER, "GET", "/peerplatform/api/session")
    assert r.json()["swap_request"] is None
    # the cap is on the size, not the content: a big but allowed body is read as usual
    r = await server.request(DRIVER, "POST", "/peerplatform/api/swap",
                             b'{"action": "bogus"' + b" " * (MAX_BODY_BYTES - 20) + b"}")
    assert r.status_code == 400 and "action must be" in r.json()["message"]
