"""Start a HubProcess for a test module (used by tests/e2e), and look at its pair servers.

Every Hub started here gives its pair servers WRONG store addresses
(:data:`UNREACHABLE_STORES`: ports nothing listens on): a pair server is a client of the
service's pair API only, so every session of the e2e suite runs with its pair server unable
to reach Redis and MongoDB. Were anything in it still using the stores, that test fails.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from hubproc import HubProcess

#: The store addresses every e2e pair server gets (``c.PairSpawner.environment``): port 9
#: (discard) on the loopback, where nothing listens. The platform service keeps the real ones.
UNREACHABLE_STORES = {
    "MONGODB_URI": "mongodb://127.0.0.1:9/",
    "REDIS_URL": "redis://127.0.0.1:9/0",
}


def start_hub(tmp_path_factory, redis_url, mongodb_uri, *, extra_config: str = "",
              **kwargs) -> HubProcess:
    # After the test's own config: .update() adds to whatever environment it set (a
    # JUPYTER_PATH, say) instead of replacing it.
    extra_config += f"\nc.PairSpawner.environment.update({UNREACHABLE_STORES!r})\n"
    hub = HubProcess(
        tmp_path_factory.mktemp("hub"), redis_url=redis_url, mongodb_uri=mongodb_uri,
        mongodb_database="pp_e2e_" + secrets.token_hex(4), extra_config=extra_config,
        **kwargs,
    )
    try:
        hub.start()
    except Exception:
        hub.stop()
        raise
    return hub


def pair_server_pid(hub: HubProcess, session_id: str) -> int:
    """The process id of the session's running pair server (``jupyterhub.singleuser`` with
    ``JUPYTERHUB_SERVER_NAME=s-<session>``), one of the Hub's descendants."""
    ours = set(_descendants(hub.proc.pid))
    found = []
    for pid in sorted(ours):
        try:
            cmdline = process_cmdline(pid)
            env = process_environ(pid)
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # gone meanwhile
        if env.get("JUPYTERHUB_SERVER_NAME") == f"s-{session_id}" and \
                any(part.endswith("jupyterhub.singleuser") for part in cmdline):
            found.append(pid)
    assert len(found) == 1, f"pair server processes of {session_id}: {found}"
    return found[0]


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])  # the name may hold spaces
        children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def process_environ(pid: int) -> dict[str, str]:
    """A process's environment as the kernel has it (``/proc/<pid>/environ``; needs root or
    the same user: the tests run as root)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0")
                if "=" in item)


def process_cmdline(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")


def assert_pair_server_cannot_reach_the_stores(hub: HubProcess, session_id: str) -> dict:
    """The session's pair server holds the wrong store addresses and nothing of the real
    ones (so a whole session passing proves it needs no store); returns its environment."""
    env = process_environ(pair_server_pid(hub, session_id))
    assert env.get("PEERPLATFORM_SESSION_ID") == session_id, env.get("PEERPLATFORM_SESSION_ID")
    for name, wrong in UNREACHABLE_STORES.items():
        assert env.get(name) == wrong, (name, env.get(name))
    real = [hub.env["MONGODB_URI"], hub.env["REDIS_URL"]]
    for value in env.values():
        assert not any(r.rstrip("/") in value for r in real), value
    return env
