"""A marker planted in the hidden tests and the reference solution of every challenge is found
nowhere in the pair server (issue 14's proof): not in what it serves, its environment, its
files, nor its memory or its kernel's.

One whole session through the real parts (pairkit: a ``jupyter server`` pair server, the
service's pair API as its own process, the real grader): the driver's tests fail, then error,
the driver draws another challenge, passes it, leaves code that errors, and the clock ends the
session with the service's final grading. Every place the marker goes in the hidden tests is
one a grader result would quote if it echoed the tests' source (a comment on the failing
``assert`` line, on the line that calls the erroring code, in a hidden helper, in the setup; a
constant the test assigns but does not assert) - never the asserted expression nor a message
the test raises, which are the learners' to see.

The service's side of the conversation is recorded too, by a proxy the pair server is pointed
at (``PEERPLATFORM_API_URL``): no answer of the pair API carries a hidden field, and neither
does anything the service publishes on Redis.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import psutil
import pytest
from pairkit import DRIVER, OBSERVER, EventStream, RtcClient, eventually, platform_store

pytestmark = pytest.mark.timeout(300)

#: Random per run, so no file of this checkout holds it whole.
MARKER = "PPHIDDEN" + secrets.token_hex(8)
DURATION = 40  # seconds of the session once it starts (the runs take a few)
NAMES = ("echo", "mirror", "parrot")


def challenge(name: str, difficulty: str) -> dict:
    m = f"{MARKER}-{name}-{difficulty}"
    return {
        "slug": f"{name}-{difficulty}",
        "title": f"{name.title()} ({difficulty})",
        "statement": f"Write `solve(x)` for the {name} problem.",
        "difficulty": difficulty,
        "tags": ["arrays", name],
        "track": "python",
        "starter_code": "def solve(x):\n    pass\n",
        "examples": [{"input": "solve(1)", "output": "1"}],
        "tests": {
            "setup": f"# {m}-setup-comment\n_HINT = '{m}-setup-constant'\n",
            "cases": [
                {"name": "one", "code": f"_note = '{m}-constant'  # {m}-comment\n"
                                        f"assert solve(1) == 1  # {m}-failing-line\n"},
                {"name": "word", "code": f"assert solve('a') == 'a'  # {m}-calling-line\n"},
                {"name": "helper", "code": f"def _same(v):  # {m}-helper\n"
                                           f"    return solve(v) == v  # {m}-helper-line\n"
                                           f"assert _same(2)  # {m}-bare-assert\n"},
            ],
        },
        "solution": f"def solve(x):\n    # {m}-solution\n    return x  # {m}-solution-line\n",
        "time_limit_s": 10,
    }


CHALLENGES = [challenge(name, difficulty) for name in NAMES for difficulty in ("easy", "medium")]
FAILING = "def solve(x):\n    return 0\n"
ERRORING = "def solve(x):\n    raise ValueError('not written yet')\n"
PASSING = "def solve(x):\n    return x\n"


# -- what the pair server said and what it holds -------------------------------------------------

class RecordingProxy:
    """Forwards the pair server's calls to the service and keeps both sides of each."""

    def __init__(self, target: str):
        self.target = target.rstrip("/")  # http://127.0.0.1:<service port>
        self.exchanges: list[dict] = []
        lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection",
                                                "accept-encoding", "transfer-encoding")}
                headers["Accept-Encoding"] = "identity"
                try:
                    with httpx.Client(timeout=120) as client:
                        r = client.request(self.command, proxy.target + self.path,
                                           content=body, headers=headers)
                    status, content, out = r.status_code, r.content, r.headers
                except httpx.HTTPError as e:
                    status, content, out = 502, json.dumps({"message": str(e)}).encode(), {}
                with lock:
                    proxy.exchanges.append({"method": self.command, "path": self.path,
                                            "request": body, "status": status,
                                            "response": content})
                self.send_response(status)
                for key, value in out.items():
                    if key.lower() not in ("content-length", "connection", "transfer-encoding",
                                           "content-encoding", "date", "server"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _forward

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def start(self) -> RecordingProxy:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def found_in(data: bytes | str) -> bool:
    if isinstance(data, str):
        return MARKER in data
    return MARKER.encode() in data or MARKER.encode("utf-16-le") in data


def process_tree(pid: int) -> list[int]:
    try:
        return [pid] + [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.Error:
        return [pid]


def memory_hits(pid: int, chunk: int = 8 << 20) -> tuple[list[str], int]:
    """Regions of ``pid``'s memory (``/proc/<pid>/maps`` + ``mem``, as root) holding the
    marker, and how many bytes were read."""
    needles = (MARKER.encode(), MARKER.encode("utf-16-le"))
    overlap = max(len(n) for n in needles)
    hits, read = [], 0
    try:
        maps = Path(f"/proc/{pid}/maps").read_text().splitlines()
        mem = open(f"/proc/{pid}/mem", "rb", buffering=0)
    except (FileNotFoundError, ProcessLookupError):
        return hits, read
    with mem:
        for line in maps:
            fields = line.split()
            span, perms = fields[0], fields[1]
            name = fields[5] if len(fields) > 5 else ""
            if "r" not in perms or name in ("[vvar]", "[vsyscall]", "[vvar_vclock]"):
                continue
            start, end = (int(x, 16) for x in span.split("-"))
            tail = b""
            offset = start
            while offset < end:
                size = min(chunk, end - offset)
                try:
                    mem.seek(offset)
                    data = mem.read(size)
                except (OSError, ValueError, OverflowError):
                    data = b""
                if not data:
                    tail = b""
                    offset += size
                    continue
                read += len(data)
                window = tail + data
                if any(n in window for n in needles):
                    hits.append(f"{span} {perms} {name}")
                    break
                tail = window[-overlap:]
                offset += len(data)
    return hits, read


def dump_processes(pid: int) -> dict:
    """Memory, environment and command line of the pair server and every process under it."""
    out = {"pids": {}, "bytes": 0}
    for p in process_tree(pid):
        try:
            cmdline = Path(f"/proc/{p}/cmdline").read_bytes()
            environ = Path(f"/proc/{p}/environ").read_bytes()
        except (FileNotFoundError, ProcessLookupError):
            continue
        hits, read = memory_hits(p)
        out["bytes"] += read
        out["pids"][p] = {"cmd": cmdline.replace(b"\0", b" ")[:120].decode(errors="replace"),
                          "read": read, "memory": hits, "cmdline": found_in(cmdline),
                          "environ": found_in(environ)}
    return out


def files_with_marker(*roots: Path, skip=lambda p: False) -> tuple[list[str], int]:
    hits, count = [], 0
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and not path.is_symlink() and not skip(path):
                count += 1
                if found_in(path.read_bytes()):
                    hits.append(str(path))
    return hits, count


def keys_of(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(keys_of(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(keys_of(v) for v in value)) if value else set()
    return set()


# -- the session ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def proxied(pair_server_factory):
    srv = pair_server_factory(duration_s=DURATION, state="spawning", swap_schedule_s=[],
                              challenges=CHALLENGES, start=False)
    proxy = RecordingProxy(srv.service.url.split("/services/")[0]).start()
    srv.env["PEERPLATFORM_API_URL"] = proxy.url + "/services/peerplatform/api/pair/"
    srv.start()
    assert asyncio.run(eventually(lambda: (srv.work / "session.ipynb").exists()
                                  and len(srv.notebook_on_disk()["cells"]) == 2, 20))
    yield srv, proxy
    proxy.stop()


async def test_the_hidden_marker_reaches_nothing_of_the_pair_server(proxied, redis_url):
    from redis.asyncio import Redis

    server, proxy = proxied
    served: list[tuple[str, str, int, bytes]] = []  # what the pair server answered its clients

    async def call(user, method, path, body=None):
        r = await server.request(user, method, path, body)
        served.append((user, f"{method} {path}", r.status_code, r.content))
        return r

    async def write(client, code):
        src = client.nb.ycells[1]["source"]
        del src[0:len(src)]
        src.insert(0, code)
        await asyncio.sleep(0.3)

    async def run_tests():
        r = await call(DRIVER, "POST", "/peerplatform/api/tests")
        assert r.status_code == 200, r.text
        return r.json()["result"]

    def read_everything():
        for user in (DRIVER, OBSERVER):
            for path in ("/peerplatform/api/session", "/peerplatform/api/clock",
                         "/peerplatform/api/challenge", "/api/contents/session.ipynb",
                         "/api/contents", "/api/me", "/api/kernels", "/api/sessions"):
                yield user, path

    redis = Redis.from_url(redis_url)
    published = redis.pubsub()
    await published.psubscribe("*")
    messages: list[bytes] = []

    async def listen():
        async for message in published.listen():
            if message.get("type") == "pmessage":
                messages.append(message["data"])

    listener = asyncio.create_task(listen())
    try:
        async with EventStream(server, DRIVER) as alice_events, \
                EventStream(server, OBSERVER) as bob_events, \
                RtcClient(server, DRIVER) as alice, RtcClient(server, OBSERVER) as bob:
            async with platform_store(server) as store:
                await store.sessions.transition(server.session_id, "active")
            await alice_events.wait_for("started", 10)
            r = await call(DRIVER, "POST", "/api/kernels", {"name": "python3"})
            assert r.status_code == 201, r.text
            first = server.session()["challenge"]["slug"]

            # -- a failing run, an erroring run --------------------------------------------
            await write(alice, FAILING)
            failing = await run_tests()
            assert failing["status"] == "failed" and failing["failed"] == 3, failing
            assert "solve(1) == 1\n  got:      0\n  expected: 1" in [
                t["message"] for t in failing["tests"]]  # what learners are meant to see
            await write(alice, ERRORING)
            erroring = await run_tests()
            assert erroring["errors"] == 3, erroring
            assert all("ValueError: not written yet" in t["message"] and "<cell" in t["message"]
                       for t in erroring["tests"]), erroring

            # -- another challenge, passed ---------------------------------------------------
            r = await call(DRIVER, "POST", "/peerplatform/api/challenge", {})
            assert r.status_code == 200, r.text
            assert r.json()["challenge"]["slug"] != first
            assert await eventually(lambda: "pass" in alice.sources()[1]
                                    and "raise" not in alice.sources()[1], 5)
            await write(alice, PASSING)
            passing = await run_tests()
            assert passing["status"] == "passed" and passing["passed"] == 3, passing
            for user, path in read_everything():
                await call(user, "GET", path)
            # the code left at time-up errors: the final grading's result is per test too
            await write(alice, ERRORING)
            assert await eventually(lambda: "not written yet" in "".join(
                server.notebook_on_disk()["cells"][1]["source"]), 5)

            # while the kernel runs: the pair server and its kernel's processes
            during = await asyncio.to_thread(dump_processes, server.proc.pid)
            assert len(during["pids"]) >= 2, during  # the server and (at least) its kernel

            # -- time is up: the service grades the final snapshot -----------------------------
            await alice_events.wait_for("ended", DURATION + 30)
            await bob_events.wait_for("ended", 10)
            assert await eventually(
                lambda: (server.session().get("outcome") or {}).get("grader") == "ok", 15)
            for user, path in read_everything():
                await call(user, "GET", path)
            final = [r for u, what, s, r in served if what == "GET /peerplatform/api/session"][-1]
            final_tests = json.loads(final)["final_tests"]
            assert final_tests["grader"] == "ok", final_tests
            assert final_tests["result"]["errors"] == 3, final_tests
            documents = {user: (json.dumps(c.nb.get()), c.doc.get_update(),
                                b"".join(c.channel.raw + c.channel.awareness))
                         for user, c in (("alice", alice), ("bob", bob))}
            streams = {"alice": alice_events.received, "bob": bob_events.received}
        after = await asyncio.to_thread(dump_processes, server.proc.pid)
    finally:
        listener.cancel()
        await published.aclose()
        await redis.aclose()

    assert server.session()["state"] == "ended"
    tests_events = [e for e in streams["bob"] if e.get("type") == "tests"]
    assert len(tests_events) >= 3  # the observer was told of every run

    # -- nothing it served -----------------------------------------------------------------------
    assert [what for user, what, status, body in served if found_in(body)] == []
    assert [user for user, events in streams.items() if found_in(json.dumps(events))] == []
    for user, (content, update, frames) in documents.items():
        assert not found_in(content) and not found_in(update) and not found_in(frames), user
    # -- nor what it runs with, keeps on disk or in memory ----------------------------------------
    for label, dump in (("during the session", during), ("after the end", after)):
        assert dump["bytes"] > 10 << 20, dump  # the dump did read the processes' memory
        leaks = {pid: p for pid, p in dump["pids"].items()
                 if p["memory"] or p["cmdline"] or p["environ"]}
        assert leaks == {}, f"the marker is in the pair server's processes ({label}): {leaks}"
    own_logs = {server.service.log_path.name, server.service.tokens_file.name}
    hits, count = files_with_marker(server.session_dir, server.tmp,
                                    skip=lambda p: p.name in own_logs)
    assert count >= 5 and hits == [], hits
    assert (server.session_dir / "work" / "session.ipynb").is_file()

    # -- the service sent no hidden field to the pair server, nor published one -------------------
    assert len(proxy.exchanges) >= 10
    assert [f"{x['method']} {x['path']}" for x in proxy.exchanges
            if found_in(x["response"]) or found_in(x["request"])] == []
    answers = [json.loads(x["response"]) for x in proxy.exchanges if x["response"]]
    assert "solution" not in set().union(*(keys_of(a) for a in answers))
    for x in proxy.exchanges:
        if x["path"].endswith("/challenge") and x["status"] == 200:
            view = json.loads(x["response"])["challenge"]
            assert "tests" not in view and "solution" not in view, view
    assert messages and [m for m in messages if found_in(m)] == []
    # the marker was there to be found: the service's store holds it
    async with platform_store(server) as store:
        stored = await store.challenges.get(first)
    assert MARKER in json.dumps(stored, default=str)
