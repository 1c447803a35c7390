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

import os
import secrets
import socket
import tempfile
from pathlib import Path

import pytest
from driver_kernel import DriverKernel, EventWatcher
from hubproc import HubProcess
from platformkit import (
    SECRET_NAMES,
    Platform,
    Side,
    _match,
    _side,
    differences,
    environ_of,
    listeners,
    new_users,
    pair_server_pid,
    port_of,
    release_sessions,
    snapshot,
)


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
