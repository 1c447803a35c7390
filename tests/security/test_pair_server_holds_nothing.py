"""A running pair server holds no platform key (issue 14's proof), looked at from the host.

The platform runs as ``make up`` runs it (``conftest.platform``: a real Hub spawning real pair
servers with the production ``PairSpawner``, the service, the embedded stores with their
passwords), with the Hub's environment holding Twilio keys, a voice secret and a TURN secret.
As root, the test reads what each pair server was given and keeps: ``/proc/<pid>/environ`` and
``/proc/<pid>/cmdline`` of the server and of every process under it (its sandboxed kernel), every
file under its session folder, its home, its working folder, the Jupyter folders its
environment names, the config files on its command line and every file it holds open. None of
those holds a store URL or password, the service's Hub token, a Twilio key, the voice or TURN
secret, the proxy's or the other session's token. The one credential there is the server's own
``$JUPYTERHUB_API_TOKEN``, and the Hub scopes it to this one session's pair API.

(``tests/integration/pair_api/test_pair_credentials_hub.py`` checks the same token's refusals -
another session 403, an ended one 403, a stopped server's 401 - on the environment the spawner
records; here it is the real process.)
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlsplit

import psutil
import pytest
import requests
from platformkit import Side

pytestmark = [pytest.mark.hub, pytest.mark.timeout(240)]

OWNER = "pp-pairs"
#: Names a pair server's environment never has (their values are checked wherever they are).
FORBIDDEN_NAMES = ("REDIS_URL", "MONGODB_URI", "PEERPLATFORM_MONGODB_DB",
                   "PEERPLATFORM_SERVICE_TOKEN", "PEERPLATFORM_VOICE_SECRET",
                   "PEERPLATFORM_TURN_SECRET", "CONFIGPROXY_AUTH_TOKEN",
                   "PEERPLATFORM_COOKIE_SECRET", "JUPYTERHUB_CRYPT_KEY")
#: A value that could be a credential: long, no spaces, no path.
TOKEN_LIKE = re.compile(r"^[A-Za-z0-9_\-.~]{20,200}$")
#: Files read whole at most this size (a notebook, a store, a log); larger ones in part.
READ_LIMIT = 64 << 20


def side_of(platform, which: str) -> tuple[str, Side]:
    """Session ``which`` ("a" or "b") and the label of its server in ``platform.secrets``."""
    return {"a": ("pair_server_own", platform.a), "b": ("pair_server_other", platform.b)}[which]


def in_data_dir(platform, path: Path) -> bool:
    return platform.data_dir in (path, *path.parents)


def secrets_for(platform, label: str) -> dict:
    """Every platform secret by label, without the server's own credential; with the stores'
    passwords alone (a URL may be split, the password is what matters)."""
    values = {k: v for k, v in platform.secrets.items() if not k.startswith(label + ":")}
    for name in ("REDIS_URL", "MONGODB_URI"):
        password = urlsplit(platform.hub.env[name]).password
        if password:
            values[f"{name} password"] = unquote(password)
    assert {"TWILIO_API_KEY_SECRET", "TWILIO_AUTH_TOKEN", "PEERPLATFORM_VOICE_SECRET",
            "PEERPLATFORM_TURN_SECRET", "PEERPLATFORM_SERVICE_TOKEN", "REDIS_URL password",
            "MONGODB_URI password", "service:JUPYTERHUB_API_TOKEN"} <= set(values), sorted(values)
    return values


def found(data: bytes, values: dict) -> list[str]:
    return sorted(label for label, value in values.items() if value.encode() in data)


def process_tree(pid: int) -> list[psutil.Process]:
    server = psutil.Process(pid)
    return [server, *server.children(recursive=True)]


def raw(pid: int, name: str) -> bytes:
    return Path(f"/proc/{pid}/{name}").read_bytes()


def environ(pid: int) -> dict:
    pairs = (item.split(b"=", 1) for item in raw(pid, "environ").split(b"\0") if b"=" in item)
    return {k.decode(): v.decode(errors="replace") for k, v in pairs}


def given_paths(pid: int) -> set[Path]:
    """The folders and files a pair server was told of or works in: its session folder, home,
    working folder, Jupyter folders, config files on its command line, files it holds open."""
    env = environ(pid)
    paths = {Path(env["PEERPLATFORM_SESSION_DIR"]), Path(os.readlink(f"/proc/{pid}/cwd"))}
    for key, value in env.items():
        if key == "HOME" or (key.startswith("JUPYTER") and key.endswith(("_DIR", "_PATH"))):
            paths.update(Path(p) for p in value.split(os.pathsep) if p.startswith("/"))
    # where Jupyter looks for its config, data and runtime files with that environment
    where = subprocess.run(
        [sys.executable, "-c", "import json; from jupyter_core import paths as p; print(json."
         "dumps([*p.jupyter_config_path(), p.jupyter_data_dir(), p.jupyter_runtime_dir()]))"],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    paths.update(Path(p) for p in json.loads(where.stdout))
    for arg in raw(pid, "cmdline").decode(errors="replace").split("\0"):
        value = arg.split("=", 1)[-1]
        if value.startswith("/") and os.path.isfile(value):
            paths.add(Path(value))
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue
        if target.is_absolute() and target.is_file():
            paths.add(target)
    return {p for p in paths if p.exists() and str(p) not in ("/", "/tmp", "/root")}


def files_under(paths: set[Path]) -> list[Path]:
    out = set()
    for path in paths:
        if path.is_file():
            out.add(path)
        elif path.is_dir():
            out.update(p for p in path.rglob("*") if p.is_file() and not p.is_symlink())
    return sorted(out)


def read_head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(READ_LIMIT)


# -- the processes ------------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["a", "b"])
def test_pair_server_processes_hold_no_platform_secret(platform, which):
    label, side = side_of(platform, which)
    values = secrets_for(platform, label)
    tree = process_tree(side.server_pid)
    assert side.kernel is not None and len(tree) >= 2  # the server and its sandboxed kernel
    assert set(platform.kernel_host_pids(side)) <= {p.pid for p in tree}
    for proc in tree:
        for name in ("environ", "cmdline"):
            data = raw(proc.pid, name)
            assert data or name == "environ", (proc.pid, name)
            assert found(data, values) == [], \
                f"/proc/{proc.pid}/{name} ({' '.join(proc.cmdline())[:80]}) holds a secret"
        env = environ(proc.pid)
        assert [k for k in env if k in FORBIDDEN_NAMES or k.startswith("TWILIO_")] == []
    # (the values were there to be found: the Hub's own environment has them)
    hub_env = raw(platform.hub.proc.pid, "environ")
    assert {"TWILIO_API_KEY_SECRET", "PEERPLATFORM_VOICE_SECRET", "PEERPLATFORM_TURN_SECRET",
            "REDIS_URL password", "MONGODB_URI password"} <= set(found(hub_env, values))


@pytest.mark.parametrize("which", ["a", "b"])
def test_pair_server_files_hold_no_platform_secret(platform, which):
    label, side = side_of(platform, which)
    values = secrets_for(platform, label)
    paths = given_paths(side.server_pid)
    files = files_under(paths)
    session_dir = side.session_dir
    assert session_dir in paths
    # what a running session keeps there: the notebook, the RTC stores
    names = {f.name for f in files}
    assert "session.ipynb" in names and "ystore.db" in names, sorted(names)
    leaks = {str(f): found(read_head(f), values) for f in files}
    assert {f: hit for f, hit in leaks.items() if hit} == {}


@pytest.mark.parametrize("which", ["a", "b"])
def test_no_process_of_the_pair_server_holds_a_file_of_the_platform(platform, which):
    """Nothing it was given or holds open is in the platform's data dir (Hub DB, secrets,
    stores, logs). An open file counts even when write-only: its owner can reopen it for
    reading through ``/proc/self/fd/<n>``, which skips the data dir's 0700 (and the kernel's
    sandbox: the file is the same inode)."""
    _, side = side_of(platform, which)
    held = {}
    for proc in process_tree(side.server_pid):
        for fd in Path(f"/proc/{proc.pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("/") and in_data_dir(platform, Path(target)):
                held[f"{proc.pid} ({proc.name()}) fd {fd.name}"] = target
    paths = given_paths(side.server_pid)
    assert held == {} and not [p for p in paths if in_data_dir(platform, p)]


# -- its one credential -------------------------------------------------------------------------

@pytest.mark.parametrize("which", ["a", "b"])
def test_its_only_credential_is_its_own_token_scoped_to_its_session(platform, which):
    _, side = side_of(platform, which)
    hub = platform.hub
    env = environ(side.server_pid)
    token = env["JUPYTERHUB_API_TOKEN"]
    assert env["PEERPLATFORM_SESSION_ID"] == side.id
    assert env["PEERPLATFORM_API_URL"].endswith("/services/peerplatform/api/pair/")

    me = requests.get(hub.api_url + "/user", headers={"Authorization": f"token {token}"},
                      timeout=30)
    assert me.status_code == 200, me.text
    me = me.json()
    assert me["name"] == OWNER and me["kind"] == "user"
    scopes = set(me["scopes"])
    mine = f"custom:peerplatform:pair!server={OWNER}/s-{side.id}"
    assert mine in scopes
    # no broader pair scope (unfiltered, the owner's, another server's) ...
    assert {s for s in scopes if s.startswith("custom:peerplatform:pair")} == {mine}
    # ... and nothing unfiltered at all: every scope is for this server or its owner's name
    assert [s for s in scopes if "!" not in s] == [], sorted(scopes)
    allowed = (f"!server={OWNER}/s-{side.id}", f"!user={OWNER}")
    assert [s for s in scopes if not s.endswith(allowed)] == [], sorted(scopes)

    # any other value in its processes' environment or command line that looks like a token
    # is none the Hub knows
    candidates = set()
    for proc in process_tree(side.server_pid):
        for item in (raw(proc.pid, "environ") + b"\0" + raw(proc.pid, "cmdline")).split(b"\0"):
            value = item.split(b"=", 1)[-1].decode(errors="replace")
            if TOKEN_LIKE.match(value) and value != token:
                candidates.add(value)
    known = [v[:4] + "..." for v in candidates
             if requests.get(hub.api_url + "/user", timeout=30,
                             headers={"Authorization": f"token {v}"}).status_code == 200]
    assert known == []
