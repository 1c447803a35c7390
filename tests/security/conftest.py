"""The platform the adversarial matrix attacks: one for the module.

``platform`` starts the Hub (with the proxy and the service) exactly as ``make up`` does
(``tests/hubproc.py``), signs up four learners, has them matched into two sessions A and B,
and opens session A's kernel as A's driver (``driver_kernel.DriverKernel``); B's driver opens
B's kernel too and leaves a file in B's work folder, so cross-session attempts have a target.
It also learns, from the host side, what an attacker would be after: the platform's processes
(pids, ports), every secret value in their environments and files, and the host paths of the
data dir, both sessions and the checkout.

``snapshot(platform)`` is what must not change: the MongoDB collections (counts and hashes of
the documents, leaving out the fields that move by themselves), the Redis leaderboard keys, the
Hub DB's users and API tokens, and session B's work folder. The autouse ``unchanged`` fixture
compares it before and after every test.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import socket
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from driver_kernel import DriverKernel, EventWatcher, PairVisitor
from hubproc import HubProcess
from hubuser import HubUser

REPO = Path(__file__).resolve().parents[2]
MONGO_COLLECTIONS = ("challenges", "profiles", "sessions", "ratings", "attempts")
#: fields that change by themselves while a session runs (the clock, the event log, saves)
VOLATILE = {
    # ("rev" counts the session's writes: a kernel notice the pair server sends is one)
    "sessions": ("events", "updated_at", "history", "snapshots", "last_saved_at", "clock",
                 "heartbeat_at", "notebook", "checkpoints", "rev"),
    "profiles": ("last_seen", "last_seen_at", "seen_at"),
}
#: environment names whose values are secrets wherever they appear
SECRET_NAMES = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|_KEY$|^MONGODB_URI$|^REDIS_URL$")


@dataclass
class Side:
    """One session as the host sees it, and its members' browsers."""

    session: dict
    driver: PairVisitor
    observer: PairVisitor
    kernel: DriverKernel | None = None
    server_pid: int = 0
    server_port: int = 0
    session_dir: Path = Path("/nonexistent")  # on the host, from the pair server's environment

    @property
    def id(self) -> str:
        return self.session["id"]


@dataclass
class Platform:
    hub: HubProcess
    a: Side
    b: Side
    data_dir: Path
    pids: dict = field(default_factory=dict)   # name -> host pid
    ports: dict = field(default_factory=dict)  # name -> 127.0.0.1 port
    secrets: dict = field(default_factory=dict)  # label -> value (never printed)
    watchers: dict = field(default_factory=dict)  # member name -> EventWatcher (session A)
    decoy_port: int = 0
    decoy_unix: str = ""

    def session_dir(self, side: Side) -> Path:
        return side.session_dir

    def work_dir(self, side: Side) -> Path:
        return side.session_dir / "work"

    def kernel_host_pids(self, side: Side) -> list[int]:
        """Host pids of the processes running the kernel of ``side`` (below its pair server)."""
        return kernel_host_pids(side.server_pid)


# -- host-side discovery ---------------------------------------------------------------------

def listeners() -> dict[int, int]:
    """Listening TCP port -> pid, for the whole host (we run as root in CI)."""
    out = {}
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.pid:
            out.setdefault(conn.laddr.port, conn.pid)
    return out


def listening_addresses() -> list[tuple[str, int]]:
    out = set()
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr:
            out.add((conn.laddr.ip, conn.laddr.port))
    return sorted(out)


def environ_of(pid: int) -> dict:
    try:
        return psutil.Process(pid).environ()
    except psutil.Error:
        return {}


def pair_server_pid(session_id: str, timeout: float = 30) -> int:
    """The pair server of ``session_id``: ``jupyterhub.singleuser`` with the session's id in its
    environment, listening on a port (not a wrapper, not a kernel)."""
    deadline = time.monotonic() + timeout
    while True:
        ports = listeners()
        for proc in psutil.process_iter(["pid", "cmdline"]):
            cmd = " ".join(proc.info["cmdline"] or [])
            if "singleuser" not in cmd:
                continue
            if environ_of(proc.pid).get("PEERPLATFORM_SESSION_ID") != session_id:
                continue
            if proc.pid in ports.values():
                return proc.pid
        assert time.monotonic() < deadline, f"no pair server process for session {session_id}"
        time.sleep(0.3)


def kernel_host_pids(server_pid: int) -> list[int]:
    try:
        procs = psutil.Process(server_pid).children(recursive=True)
    except psutil.Error:
        return []
    out = []
    for proc in procs:
        try:
            if "ipykernel" in " ".join(proc.cmdline()) and proc.name() != "bwrap":
                out.append(proc.pid)
        except psutil.Error:
            pass
    return out


def port_of(url: str) -> int:
    return urlsplit(url).port


# -- what must not change --------------------------------------------------------------------

def _digest(value) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[:16]


def tree(root: Path) -> dict:
    out = {}
    if not root.exists():
        return {"<missing>": True}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            out[rel] = "link:" + os.readlink(path)
        elif path.is_file():
            out[rel] = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        elif path.is_dir():
            out[rel + "/"] = "dir"
    return out


def snapshot(p: Platform) -> dict:
    from pymongo import MongoClient
    from redis import Redis

    snap: dict = {}
    client = MongoClient(p.hub.mongodb_uri, serverSelectionTimeoutMS=10_000)
    try:
        db = client[p.hub.mongodb_database]
        for name in MONGO_COLLECTIONS:
            docs = {}
            for doc in db[name].find({}):
                for key in VOLATILE.get(name, ()):
                    doc.pop(key, None)
                docs[str(doc["_id"])] = _digest(doc)
            snap[f"mongo {name} count"] = len(docs)
            snap[f"mongo {name}"] = docs
    finally:
        client.close()

    redis = Redis.from_url(p.hub.env["REDIS_URL"], decode_responses=True, socket_timeout=10)
    try:
        board = {}
        for key in sorted(redis.scan_iter("pp:lb:*", count=1000)):
            kind = redis.type(key)
            if kind == "zset":
                board[key] = redis.zrange(key, 0, -1, withscores=True)
            elif kind == "hash":
                board[key] = redis.hgetall(key)
            elif kind == "string":
                board[key] = redis.get(key)
            elif kind == "list":
                board[key] = redis.lrange(key, 0, -1)
            else:
                board[key] = kind
        snap["redis leaderboard"] = board
    finally:
        redis.close()

    db_path = p.data_dir / "jupyterhub.sqlite"
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        snap["hub users"] = [tuple(r) for r in conn.execute(
            "SELECT id, name, admin, cookie_id FROM users ORDER BY id")]
        cols = {r[1] for r in conn.execute("PRAGMA table_info(api_tokens)")}
        wanted = [c for c in ("id", "hashed", "prefix", "user_id", "service_id", "scopes",
                              "expires_at", "session_id") if c in cols]
        snap["hub api_tokens"] = [tuple(r) for r in conn.execute(
            f"SELECT {', '.join(wanted)} FROM api_tokens ORDER BY id")]
    finally:
        conn.close()

    snap["session B work folder"] = tree(p.work_dir(p.b))
    snap["hub data dir top"] = {
        f.name: (hashlib.sha256(f.read_bytes()).hexdigest()[:16] if f.is_file() else "dir")
        for f in sorted(p.data_dir.iterdir())
        if f.name in ("jupyterhub_cookie_secret", "voice_secret", "jupyterhub_config.py",
                      "cohorts.json")}
    return snap


def differences(before: dict, after: dict) -> list[str]:
    out = []
    for key in sorted(set(before) | set(after)):
        b, a = before.get(key), after.get(key)
        if b == a:
            continue
        if isinstance(b, dict) and isinstance(a, dict):
            changed = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
            out.append(f"{key}: {changed[:10]}")
        else:
            out.append(f"{key}: {str(b)[:300]} -> {str(a)[:300]}")
    return out


# -- fixtures ----------------------------------------------------------------------------------

def new_users(hub, *names) -> list[HubUser]:
    """Sign up and log in, as tests/e2e/flows.py does; each lands in the lobby."""
    tag = secrets.token_hex(3)
    users = [HubUser(hub.url, f"{n}-{tag}") for n in names]
    for user in users:
        assert user.signup().status_code == 200
        resp = user.login()
        assert resp.status_code == 200 and resp.url.endswith("/services/peerplatform/"), resp.url
        assert user.open_lobby().status_code == 200 and user.service_xsrf
    return users


def release_sessions(sessions_dir: Path) -> None:
    """Unmount what the spawner mounted there (size-capped work folders), then remove it."""
    root = str(sessions_dir.resolve()) + "/"
    for line in reversed(Path("/proc/self/mounts").read_text().splitlines()):
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(root):
            subprocess.run(["umount", "-l", point], capture_output=True)
    shutil.rmtree(sessions_dir, ignore_errors=True)


def _match(hub, first, second) -> None:
    for user in (first, second):
        r = user.api("POST", "waiting-room", {})
        assert r.status_code == 200, r.text
    assert first.accept() == second.accept()


def _side(users, session) -> Side:
    by_name = {u.name: u for u in users}
    driver = PairVisitor(by_name[session["driver"]], session)
    observer = PairVisitor(by_name[session["observer"]], session)
    return Side(session=session, driver=driver, observer=observer)


@pytest.fixture(scope="module")
def platform(tmp_path_factory, redis_url, mongodb_uri):
    # known secret values (Twilio, TURN, voice) so that the matrix can look for them anywhere
    planted = {
        "TWILIO_ACCOUNT_SID": "AC" + secrets.token_hex(16),
        "TWILIO_API_KEY_SID": "SK" + secrets.token_hex(16),
        "TWILIO_API_KEY_SECRET": secrets.token_hex(16),
        "TWILIO_TWIML_APP_SID": "AP" + secrets.token_hex(16),
        "TWILIO_AUTH_TOKEN": secrets.token_hex(16),
        "PEERPLATFORM_TURN_SECRET": secrets.token_hex(16),
        "PEERPLATFORM_VOICE_SECRET": secrets.token_hex(24),
    }
    hub = HubProcess(tmp_path_factory.mktemp("hub"), redis_url=redis_url,
                     mongodb_uri=mongodb_uri, mongodb_database="pp_sec_" + secrets.token_hex(4),
                     env=planted)
    if "PEERPLATFORM_SESSIONS_DIR" not in hub.env:
        # pair servers (pp-server) and kernels (pp-kernel) cannot pass pytest's 0700 temp folder
        made = tempfile.mkdtemp(prefix="pp-security-sessions-")
        os.chmod(made, 0o711)
        hub.env["PEERPLATFORM_SESSIONS_DIR"] = made
    sessions_dir = Path(hub.env["PEERPLATFORM_SESSIONS_DIR"])
    decoy = socket.socket()
    decoy.bind(("127.0.0.1", 0))
    decoy.listen(8)
    decoy_unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    decoy_unix_name = "pp-security-decoy-" + secrets.token_hex(4)
    decoy_unix.bind("\0" + decoy_unix_name)
    decoy_unix.listen(8)
    watchers: dict = {}
    sides: list[Side] = []
    try:
        hub.start()
        users = new_users(hub, "a1", "a2", "b1", "b2")
        _match(hub, users[0], users[1])
        _match(hub, users[2], users[3])
        s_a = users[0].wait_for_session(timeout=150)
        s_b = users[2].wait_for_session(timeout=150)
        assert s_a["id"] != s_b["id"]
        a, b = _side(users[:2], s_a), _side(users[2:], s_b)
        sides = [a, b]
        p = Platform(hub=hub, a=a, b=b, data_dir=hub.data_dir.resolve(),
                     decoy_port=decoy.getsockname()[1], decoy_unix=decoy_unix_name)
        for side in sides:
            side.driver.wait_can_write()
            side.server_pid = pair_server_pid(side.id)
            side.session_dir = Path(environ_of(side.server_pid)["PEERPLATFORM_SESSION_DIR"])
            own = [port for port, pid in listeners().items() if pid == side.server_pid]
            side.server_port = own[0]
            try:
                side.kernel = DriverKernel(side.driver).open()
            except Exception as e:
                raise AssertionError(f"the driver of session {side.id} got no kernel ({e}); "
                                     f"the platform's log ends:\n{hub.log_tail(6000)}") from e
        # B's driver leaves something of B's in B's work folder (and B's kernel keeps running)
        done = b.kernel.execute("open('b_private.txt', 'w').write('work of session B\\n')")
        assert done.status == "ok", (done.error, done.stderr)
        for member in (a.driver, a.observer):
            watchers[member.name] = EventWatcher(member)
        p.watchers = watchers

        env = hub.env
        listen = listeners()
        p.ports = {
            "hub": int(env["PEERPLATFORM_HUB_PORT"]),
            "proxy": hub.port,
            "proxy_api": int(env["PEERPLATFORM_PROXY_API_PORT"]),
            "service": int(env["PEERPLATFORM_SERVICE_PORT"]),
            "redis": port_of(env["REDIS_URL"]),
            "mongodb": port_of(env["MONGODB_URI"]),
            "pair_server_own": a.server_port,
            "pair_server_other": b.server_port,
            "decoy": p.decoy_port,
        }
        p.pids = {name: listen[port] for name, port in p.ports.items()
                  if name != "decoy" and port in listen}
        p.pids["hub"] = hub.proc.pid if p.pids.get("hub") is None else p.pids["hub"]

        # every secret an attacker could be after, by label
        found = dict(planted)
        found["PEERPLATFORM_SERVICE_TOKEN"] = hub.service_token
        found["REDIS_URL"] = env["REDIS_URL"]
        found["MONGODB_URI"] = env["MONGODB_URI"]
        for name, pid in p.pids.items():
            for key, value in environ_of(pid).items():
                if SECRET_NAMES.search(key) and len(value) >= 8:
                    found[f"{name}:{key}"] = value
        for name in ("jupyterhub_cookie_secret", "service_cookie_secret", "voice_secret"):
            path = p.data_dir / name
            if path.is_file():
                found[f"file:{name}"] = path.read_bytes().strip().decode("latin-1")
        # values that are not secret however they are named (empty, booleans, paths)
        p.secrets = {k: v for k, v in found.items() if v and len(v) >= 8 and "/" not in v[:1]}
        yield p
    finally:
        for w in watchers.values():
            w.close()
        for side in sides:
            if side.kernel is not None:
                try:
                    side.kernel.shutdown()
                except Exception:
                    pass
        hub.stop()
        release_sessions(sessions_dir)
        decoy.close()
        decoy_unix.close()


@pytest.fixture(autouse=True)
def unchanged(request):
    """Every attempt leaves the stores, the Hub DB and the other session as they were."""
    if "platform" not in request.fixturenames:
        yield
        return
    p = request.getfixturevalue("platform")
    before = snapshot(p)
    yield
    after = snapshot(p)
    diff = differences(before, after)
    assert not diff, "the attempt changed what it must not:\n" + "\n".join(diff)
