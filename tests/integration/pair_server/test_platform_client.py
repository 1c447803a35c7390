"""The pair server's API client over real HTTP, against a loopback server that answers as the
service's pair API does (and fails on demand): credential, paths, datetimes, long poll,
retries with backoff on transient faults, a clear error for 4xx, and snapshots and notices
retried without duplicates."""

from __future__ import annotations

import asyncio
import json
import socket
from datetime import datetime, timezone

import pytest
from tornado import web
from tornado.httpserver import HTTPServer

from peerplatform_ext.outbox import Outbox
from peerplatform_ext.platform_client import PlatformClient, PlatformRefused, PlatformUnavailable

TOKEN = "pair-server-token"
SID = "abcdefgh2345"


class Stub:
    """State of the loopback pair API; ``faults`` are statuses answered before the real one."""

    def __init__(self):
        self.rev = 3
        self.view = {"id": SID, "state": "active", "driver": "alice", "observer": "bob",
                     "started_at": "2026-12-02T10:00:00Z", "ends_at": "2026-12-02T10:30:00+00:00",
                     "server_time": "2026-12-02T10:05:00.123456+00:00",
                     "swap_request": {"by": "bob", "at": "2026-12-02T10:04:00Z"},
                     "last_tests": None, "outcome": None}
        self.faults: list[int] = []
        self.requests: list[tuple[str, str, dict]] = []
        self.snapshots: dict[int, dict] = {}
        self.events: dict[str, dict] = {}
        self.changed = asyncio.Event()


class PairAPI(web.RequestHandler):
    def initialize(self, stub: Stub):
        self.stub = stub

    def check_xsrf_cookie(self):
        pass

    def reply(self, status, data):
        self.set_status(status)
        self.finish(json.dumps(data))

    async def handle(self, session, endpoint):
        stub = self.stub
        body = json.loads(self.request.body) if self.request.body else None
        stub.requests.append((self.request.method, endpoint, {
            "auth": self.request.headers.get("Authorization"), "query": self.request.arguments,
            "body": body}))
        if self.request.headers.get("Authorization") != f"token {TOKEN}":
            return self.reply(401, {"message": "no valid credential"})
        if session != SID:
            return self.reply(403, {"message": "not your session"})
        if stub.faults:
            status = stub.faults.pop(0)
            if status == 429:
                self.set_header("Retry-After", "0.05")
            return self.reply(status, {"message": f"fault {status}"})
        if endpoint == "state":
            since = self.get_query_argument("since", None)
            if since is not None and int(since) == stub.rev:
                stub.changed.clear()
                try:
                    await asyncio.wait_for(stub.changed.wait(),
                                           float(self.get_query_argument("wait", "0")))
                except asyncio.TimeoutError:
                    pass
            return self.reply(200, {"rev": stub.rev, "session": stub.view})
        if endpoint == "snapshots":
            new = [s for s in body["snapshots"] if s["seq"] not in stub.snapshots]
            stub.snapshots.update({s["seq"]: s for s in new})
            return self.reply(200, {"stored": len(new),
                                    "duplicates": len(body["snapshots"]) - len(new)})
        if endpoint == "events":
            stub.events.update({e["id"]: e for e in body["events"]})
            return self.reply(200, {"stored": len(body["events"])})
        if endpoint == "swap":
            if body["by"] != "alice":
                return self.reply(409, {"message": "there is no swap request to answer"})
            return self.reply(200, {"swap_request": None, "driver": "bob"})
        return self.reply(404, {"message": "no such endpoint"})

    async def get(self, session, endpoint):
        await self.handle(session, endpoint)

    async def post(self, session, endpoint):
        await self.handle(session, endpoint)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def stub():
    s = Stub()
    app = web.Application([(r"/services/pp/api/pair/([^/]+)/([a-z]+)", PairAPI, {"stub": s})])
    server = HTTPServer(app)
    s.port = free_port()
    server.listen(s.port, "127.0.0.1")
    yield s
    server.stop()


def client(stub, **kw) -> PlatformClient:
    kw = {"token": TOKEN, "session_id": SID, "backoff_s": 0.01, **kw}
    return PlatformClient(api_url=f"http://127.0.0.1:{stub.port}/services/pp/", **kw)


async def test_the_view_comes_with_the_servers_credential_and_aware_datetimes(stub):
    c = client(stub)
    rev, view = await c.state()
    assert rev == 3 and view["id"] == SID
    assert view["started_at"] == datetime(2026, 12, 2, 10, 0, tzinfo=timezone.utc)
    assert view["ends_at"].tzinfo is not None and view["server_time"].microsecond == 123456
    assert view["swap_request"]["at"] == datetime(2026, 12, 2, 10, 4, tzinfo=timezone.utc)
    method, endpoint, seen = stub.requests[-1]
    assert (method, endpoint, seen["auth"]) == ("GET", "state", f"token {TOKEN}")
    assert TOKEN not in repr(c)
    await c.close()


async def test_the_long_poll_answers_as_soon_as_the_view_changes(stub):
    c = client(stub)
    poll = asyncio.create_task(c.state(since=3, wait=20))
    await asyncio.sleep(0.2)
    assert not poll.done()
    stub.rev, stub.view = 4, {**stub.view, "driver": "bob", "observer": "alice"}
    stub.changed.set()
    rev, view = await asyncio.wait_for(poll, 5)
    assert rev == 4 and view["driver"] == "bob"
    assert stub.requests[-1][2]["query"] == {"since": [b"3"], "wait": [b"20"]}
    await c.close()


async def test_transient_faults_are_retried_with_backoff(stub):
    c = client(stub, attempts=4)
    stub.faults = [503, 429, 502]
    rev, _ = await c.state()
    assert rev == 3 and len(stub.requests) == 4
    stub.faults = [500, 500, 500, 500]
    with pytest.raises(PlatformUnavailable) as e:
        await c.state()
    assert e.value.status == 500 and stub.faults == []
    await c.close()


async def test_an_unreachable_service_is_unavailable_not_refused(stub):
    c = PlatformClient(api_url=f"http://127.0.0.1:{free_port()}/services/pp/", token=TOKEN,
                       session_id=SID, attempts=2, backoff_s=0.01)
    with pytest.raises(PlatformUnavailable) as e:
        await c.state()
    assert e.value.status is None and "unreachable" in e.value.message
    await c.close()


async def test_refusals_carry_their_status_and_message_and_are_not_retried(stub):
    c = client(stub)
    with pytest.raises(PlatformRefused) as e:
        await c.swap("bob", "accept")
    assert e.value.status == 409 and e.value.message == "there is no swap request to answer"
    assert not e.value.revoked and len(stub.requests) == 1
    for bad in (client(stub, token="stale"), client(stub, session_id="otherxsession")):
        with pytest.raises(PlatformRefused) as e:
            await bad.state()
        assert e.value.revoked and e.value.status in (401, 403)
        await bad.close()
    assert await c.swap("alice", "accept") == {"swap_request": None, "driver": "bob"}
    await c.close()


async def test_snapshots_and_notices_are_retried_without_duplicates(stub):
    c = client(stub, attempts=1)
    outbox = Outbox(c, max_batch=2)
    seqs = [outbox.add_snapshot(t=i, by="alice", cells=[{"cell_type": "code",
                                                         "source": f"# {i}"}]) for i in range(3)]
    assert seqs == sorted(set(seqs))
    outbox.add_event("kernel", {"reason": "oom"})
    stub.faults = [503]  # the first batch fails: nothing is lost
    assert await outbox.flush() is False and len(outbox.snapshots) == 3
    assert await outbox.flush() is True and outbox.pending == 0
    assert sorted(stub.snapshots) == seqs and len(stub.events) == 1
    # a batch the service stored but whose answer was lost is sent again: stored once
    posted = [r for r in stub.requests if r[1] == "snapshots"]
    await c.snapshots(posted[-1][2]["body"]["snapshots"])
    assert sorted(stub.snapshots) == seqs
    # a later server process numbers its snapshots above this one's
    later = Outbox(c)
    assert later.add_snapshot(t=9, by="bob", cells=[]) > seqs[-1]
    await c.close()
