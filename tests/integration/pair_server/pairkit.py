"""Test kit for the pair server: a real ``jupyter server`` subprocess with jupyter-collaboration
and our extension, the platform service's pair API it is a client of (a real subprocess:
``tests/integration/pair_api/serviceproc.py``, with the service's clock sweep and grading), a
session seeded in the service's store, and Python RTC clients (pycrdt ``Provider`` +
jupyter_ydoc ``YNotebook`` over ``websockets``, as in notes/rtc.md §4).

The pair server gets what the spawner gives it in production and nothing else: the pair
API's URL (``PEERPLATFORM_API_URL``) and its own token (``JUPYTERHUB_API_TOKEN``, here a
static token the service maps to this one session). No store URL, no Redis URL. The store
stays the test's way to seed and to look: it is the service's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import websockets
from jupyter_ydoc import YFile, YNotebook
from learner_sandbox import SandboxSettings
from learner_sandbox.folders import prepare_session_dir
from pycrdt import Doc, Provider

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "pair_api"))

from serviceproc import ServiceProcess  # noqa: E402

OWNER = "pp-pairs"
DRIVER, OBSERVER = "alice", "bob"
STRANGER = "eve"  # no access to this server at all
OUTSIDER = "carol"  # allowed in by the Hub (e.g. an instructor), not a member
TOKENS = {DRIVER: "tok-alice", OBSERVER: "tok-bob", STRANGER: "tok-eve", OUTSIDER: "tok-carol"}

CHALLENGES = [
    {
        "slug": f"{name}-{difficulty}",
        "title": f"{name.title()} ({difficulty})",
        "statement": f"Write `solve(x)` for the {name} problem.",
        "difficulty": difficulty,
        "tags": ["arrays", name],
        "track": "python",
        "starter_code": f"def solve(x):\n    # {name}\n    pass\n",
        "examples": [{"input": "solve(1)", "output": "1"}],
        "tests": {"cases": [{"name": "one", "code": "assert solve(1) == 1"},
                            {"name": "word", "code": "assert solve('a') == 'a'"}]},
        "solution": "def solve(x):\n    return x\n",
        "time_limit_s": 10,
    }
    for name in ("echo", "mirror", "parrot")
    for difficulty in ("easy", "medium")
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seed_session(mongodb_uri: str, database: str, session_id: str, *, duration_s: int,
                 state: str = "active", swap_schedule_s=None, challenges=CHALLENGES,
                 difficulty: str = "easy") -> None:
    """Write the challenges and the session document through the store's contracts, as the
    service does when it creates a session: the challenge is picked (one neither member has
    seen, of the members' preferred difficulty) and named in the document before the spawn."""
    from peerplatform.pair.picking import pick_for, summary
    from peerplatform.store import connect

    async def go():
        store = await connect(mongodb_uri, database)
        try:
            for ch in challenges:
                await store.challenges.upsert(dict(ch))
            members = [DRIVER, OBSERVER]
            picked = await pick_for(store, members, difficulty=difficulty)
            await store.sessions.create(
                session_id=session_id, members=members, driver=DRIVER,
                observer=OBSERVER, server_owner=OWNER, duration_s=duration_s,
                challenge=summary(picked) if picked else None,
                preferences={"difficulty": difficulty}, swap_schedule_s=swap_schedule_s,
            )
            if picked:
                await store.challenges.record_seen(members, picked, session_id)
            for step in ("spawning", "active"):
                if state == "pending":
                    break
                await store.sessions.transition(session_id, step)
                if step == state:
                    break
        finally:
            await store.close()

    asyncio.run(go())


def session_doc(mongodb_uri: str, database: str, session_id: str) -> dict:
    from pymongo import MongoClient

    client = MongoClient(mongodb_uri, tz_aware=True)
    try:
        return client[database]["sessions"].find_one({"_id": session_id})
    finally:
        client.close()


def tree_fingerprint(root: Path) -> dict:
    """Every file under ``root`` (hidden ones too) with a hash of its bytes."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
        elif path.is_dir():
            out[str(path.relative_to(root)) + "/"] = "dir"
    return out


class PairServer:
    """``jupyter server`` for one session, configured as the spawner does (env), with a
    test-only IdentityProvider mapping tokens to users (``pp_test_identity.py``)."""

    #: The service's settings for tests: a quick clock, a short wait for the final snapshot.
    SERVICE_SETTINGS = {"clock_interval": 0.2, "state_poll_interval": 0.1,
                        "final_snapshot_wait": 5}

    def __init__(self, tmp: Path, *, mongodb_uri: str, database: str, session_id: str,
                 redis_url: str = "", extra_config: str = "",
                 service_settings: dict | None = None):
        self.tmp = tmp
        self.session_id = session_id
        self.mongodb_uri = mongodb_uri
        self.database = database
        # the platform service's pair API: its own process, on the session's store
        self.token = f"tok-pair-server-{session_id}"
        self.service = ServiceProcess(
            mongodb_uri, database, redis_url=redis_url, tokens={self.token: session_id},
            settings={**self.SERVICE_SETTINGS, **(service_settings or {})}, log_dir=tmp)
        # outside pytest's 0700 temp folder: the kernel's sandbox user must reach it
        self.session_dir = Path(tempfile.mkdtemp(prefix=f"pp-session-{session_id}-"))
        os.chmod(self.session_dir.parent, os.stat(self.session_dir.parent).st_mode | 0o111)
        prepare_session_dir(self.session_dir, server_uid=os.geteuid(),
                            kernel_user=SandboxSettings.instance().user)
        self.work = self.session_dir / "work"
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = tmp / "server.log"
        self.proc: subprocess.Popen | None = None
        scope = f"access:servers!server={OWNER}/s-{session_id}"
        users = {
            TOKENS[DRIVER]: {"name": DRIVER, "scopes": [scope]},
            TOKENS[OBSERVER]: {"name": OBSERVER, "scopes": [scope]},
            TOKENS[STRANGER]: {"name": STRANGER, "scopes": ["access:servers!server=x/y"]},
            TOKENS[OUTSIDER]: {"name": OUTSIDER, "scopes": [scope]},
        }
        self.config_path = tmp / "jupyter_server_config.py"
        self.config_path.write_text(
            "c = get_config()  # noqa\n"
            "c.ServerApp.identity_provider_class = 'pp_test_identity.TokenUsersIdentityProvider'\n"
            "c.IdentityProvider.token = 'server-token-not-used-by-anyone'\n"
            f"c.TokenUsersIdentityProvider.users = {users!r}\n"
            f"c.TokenUsersIdentityProvider.access_scopes = [{scope!r}]\n"
            f"c.ServerApp.root_dir = {str(self.work)!r}\n"
            "c.ServerApp.ip = '127.0.0.1'\n"
            f"c.ServerApp.port = {self.port}\n"
            "c.ServerApp.port_retries = 0\n"
            "c.ServerApp.open_browser = False\n"
            "c.ServerApp.allow_root = True\n"
            "c.YDocExtension.document_save_delay = 0.3\n"
            "c.PeerPlatformExtension.tick_interval = 0.25\n"
            + extra_config
        )
        self.env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
            "JUPYTER_CONFIG_DIR": str(tmp / "jcfg"),
            "JUPYTER_DATA_DIR": str(tmp / "jdata"),
            "JUPYTER_RUNTIME_DIR": str(tmp / "jrun"),
            "JUPYTER_PLATFORM_DIRS": "1",
            "HOME": str(self.session_dir),
            "JUPYTERHUB_USER": OWNER,
            "JUPYTERHUB_SERVER_NAME": f"s-{session_id}",
            "JUPYTERHUB_API_TOKEN": self.token,
            "PEERPLATFORM_API_URL": self.service.api_url,
            "PEERPLATFORM_SESSION_ID": session_id,
            "PEERPLATFORM_SESSION_DIR": str(self.session_dir),
        }
        # what the pair server must never hold (the platform's stores, the service's token)
        for key in ("MONGODB_URI", "PEERPLATFORM_MONGODB_DB", "REDIS_URL",
                    "JUPYTERHUB_SERVICE_URL", "JUPYTERHUB_API_URL"):
            self.env.pop(key, None)

    # -- process ---------------------------------------------------------------------------

    def start(self, timeout: float = 90) -> PairServer:
        """Start the service (unless it runs) and the pair server; returns once the pair
        server has the session from the service."""
        self.start_service()
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={self.config_path}"],
            cwd=self.session_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"pair server exited {self.proc.returncode}:\n{self.log()}")
            try:
                r = httpx.get(self.url("/peerplatform/api/clock"), headers=self.auth(DRIVER),
                              timeout=2)
                if r.status_code in (200, 404):  # 404: no pair server here (inert)
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"pair server did not answer in {timeout} s:\n{self.log()}")

    def start_service(self) -> None:
        if self.service.proc is None or self.service.proc.poll() is not None:
            self.service.start()

    def run_until_exit(self, timeout: float = 60) -> int:
        """Start, expecting the server to refuse to run; returns its exit code."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter_server", f"--config={self.config_path}"],
            cwd=self.session_dir, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.stop()
            raise AssertionError(f"the server kept running:\n{self.log()}") from None

    def stop(self, service: bool = True) -> None:
        """Stop the pair server, and the service too unless ``service`` is False (a pair
        server restarting while the platform goes on)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if service:
            self.service.stop()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:]

    def service_log(self) -> str:
        return self.service.log_tail(6000)

    def log_mark(self) -> int:
        return self.log_path.stat().st_size

    def log_since(self, mark: int) -> str:
        with open(self.log_path, "rb") as f:
            f.seek(mark)
            return f.read().decode(errors="replace")

    def session(self) -> dict:
        """The session document in the (service's) store, now."""
        return session_doc(self.mongodb_uri, self.database, self.session_id)

    # -- HTTP ------------------------------------------------------------------------------

    def url(self, path: str) -> str:
        return self.base + path

    def ws_url(self, path: str) -> str:
        return "ws://127.0.0.1:%d%s" % (self.port, path)

    @staticmethod
    def auth(user: str) -> dict:
        return {"Authorization": f"token {TOKENS[user]}"}

    async def request(self, user: str, method: str, path: str, body=None, **kw) -> httpx.Response:
        async with httpx.AsyncClient(timeout=30) as client:
            content = None if body is None else (
                body if isinstance(body, (bytes, str)) or hasattr(body, "__aiter__")
                else json.dumps(body))
            return await client.request(method, self.url(path), headers=self.auth(user),
                                        content=content, **kw)

    async def ws_status(self, user: str, path: str) -> int:
        """HTTP status of a websocket upgrade (101 when accepted)."""
        try:
            async with websockets.connect(self.ws_url(path), additional_headers=self.auth(user),
                                          open_timeout=10):
                return 101
        except websockets.InvalidStatus as e:
            return e.response.status_code

    def notebook_on_disk(self, name: str = "session.ipynb") -> dict:
        for _ in range(50):  # a save may be half-way through
            try:
                return json.loads((self.work / name).read_text())
            except ValueError:
                time.sleep(0.02)
        return json.loads((self.work / name).read_text())


@contextlib.asynccontextmanager
async def platform_store(server: PairServer):
    """The service's store (to start or end the session as the platform would, or to look
    at what the service recorded)."""
    from peerplatform.store import Store

    store = Store(server.mongodb_uri, server.database)
    try:
        yield store
    finally:
        await store.close()


class EventStream:
    """A member's subscription to the pair server's event bus (``/api/events/subscribe``):
    the pair-session events in ``events``, every event (any schema) in ``received``."""

    def __init__(self, server: PairServer, user: str):
        self.server = server
        self.user = user
        self.events: list[dict] = []
        self.received: list[dict] = []
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> EventStream:
        from peerplatform_ext.events import SCHEMA_ID

        ws = await self._stack.enter_async_context(websockets.connect(
            self.server.ws_url("/api/events/subscribe"),
            additional_headers=self.server.auth(self.user)))

        async def read():
            async for raw in ws:
                event = json.loads(raw)
                self.received.append(event)
                if event.get("schema_id") == SCHEMA_ID:
                    self.events.append(event)

        task = asyncio.create_task(read())
        self._stack.callback(task.cancel)
        return self

    async def __aexit__(self, *exc):
        await self._stack.aclose()

    def of(self, type: str) -> list[dict]:
        return [e for e in self.events if e["type"] == type]

    async def wait_for(self, type: str, timeout: float = 10) -> dict:
        assert await eventually(lambda: self.of(type), timeout), (
            f"no {type!r} event for {self.user}; got {[e['type'] for e in self.events]}")
        return self.of(type)[-1]


class _Channel:
    """pycrdt ``Channel`` over a ``websockets`` connection; keeps non-SYNC frames aside."""

    def __init__(self, ws, path: str):
        self.ws = ws
        self._path = path
        self.raw: list[bytes] = []
        self.awareness: list[bytes] = []

    @property
    def path(self) -> str:
        return self._path

    def __aiter__(self):
        return self

    async def __anext__(self) -> bytes:
        while True:
            try:
                msg = await self.ws.recv()
            except websockets.ConnectionClosed:
                raise StopAsyncIteration from None
            if isinstance(msg, str):
                msg = msg.encode()
            if msg and msg[0] == 0:
                return msg
            (self.raw if msg and msg[0] == 2 else self.awareness).append(msg)

    async def recv(self) -> bytes:
        return await self.__anext__()

    async def send(self, message: bytes) -> None:
        await self.ws.send(message)


class RtcClient:
    """One user's live copy of a shared document."""

    def __init__(self, server: PairServer, user: str, path: str = "session.ipynb", *,
                 file_format: str = "json", file_type: str = "notebook", room: str | None = None):
        self.server = server
        self.user = user
        self.path = path
        self.file_format = file_format
        self.file_type = file_type
        self.room = room
        self.doc = Doc()
        self.nb = YNotebook(self.doc) if file_type == "notebook" else YFile(self.doc)
        self._stack = contextlib.AsyncExitStack()
        self.channel: _Channel | None = None

    async def __aenter__(self) -> RtcClient:
        session_id = ""
        if self.room is None:
            r = await self.server.request(self.user, "PUT",
                                          f"/api/collaboration/session/{self.path}",
                                          {"format": self.file_format, "type": self.file_type})
            assert r.status_code in (200, 201), (r.status_code, r.text)
            sess = r.json()
            self.room = f"{sess['format']}:{sess['type']}:{sess['fileId']}"
            session_id = sess["sessionId"]
        ws = await self._stack.enter_async_context(websockets.connect(
            self.server.ws_url(f"/api/collaboration/room/{self.room}?sessionId={session_id}"),
            additional_headers=self.server.auth(self.user), max_size=None))
        self.channel = _Channel(ws, self.room)
        provider = Provider(self.doc, self.channel)
        await self._stack.enter_async_context(provider)
        await asyncio.wait_for(provider.synced.wait(), 15)
        return self

    async def __aexit__(self, *exc):
        await self._stack.aclose()

    async def send(self, frame: bytes) -> None:
        await self.channel.send(frame)

    def cells(self) -> list[dict]:
        return self.nb.get()["cells"]

    def sources(self) -> list[str]:
        return [c["source"] for c in self.cells()]


async def eventually(predicate, timeout: float = 10.0, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return True
        await asyncio.sleep(interval)
    return False
