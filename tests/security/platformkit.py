"""What the adversarial matrix shares: the platform's processes, its secrets, the snapshot of
what must not change, and the sessions' sides. Fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psutil
from driver_kernel import DriverKernel, PairVisitor
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
