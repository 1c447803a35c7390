"""Learner code is hostile: an adversarial matrix run as the driver through the real platform.

Issue 13 ("Confine learner code"). The platform runs as ``make up`` runs it (Hub + proxy +
service + the embedded stores, ``conftest.platform``); two pairs of learners are matched into
sessions A and B; everything below is tried by A's driver, in A's kernel, the way JupyterLab runs
a cell (``driver_kernel.DriverKernel``), or over A's pair server's REST API with the driver's
browser cookies. Each attempt asserts the concrete refusal that the attacking code reports (an
errno, an exception, an HTTP status) and, through the autouse ``unchanged`` fixture, that the
stores (MongoDB, the Redis leaderboard), the Hub DB and session B's work folder are exactly as
they were.

The attacking code is harmless even where it is not confined (as on a platform without the
sandbox): writes it manages are undone at once, "signals" are signal 0, ptrace uses
``PTRACE_SEIZE`` from a child that exits at once (the target is never stopped), every loop is
bounded in count and time, and the only packet meant for a non-loopback address is one TCP
connect to TEST-NET-1 (192.0.2.1, RFC 5737). A DNS lookup is made only where no route leaves the
sandbox (checked first with a UDP ``connect``, which sends nothing).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest
from platformkit import REPO, kernel_host_pids, listening_addresses
from driver_kernel import DriverKernel, KernelDied

pytestmark = [pytest.mark.hub, pytest.mark.timeout(240)]

MiB = 1024 * 1024
#: what a connect from a network namespace of its own gets
NET_REFUSED = {"ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "EACCES", "EPERM", "EADDRNOTAVAIL"}
#: names in the kernel's environment that would hand over the platform
FORBIDDEN_ENV = ("MONGODB_URI", "REDIS_URL", "JUPYTERHUB_API_TOKEN", "JPY_API_TOKEN",
                 "JUPYTERHUB_API_URL", "JUPYTERHUB_SERVICE_URL", "PEERPLATFORM_VOICE_SECRET",
                 "PEERPLATFORM_SERVICE_TOKEN", "PEERPLATFORM_TURN_SECRET", "CONFIGPROXY_AUTH_TOKEN",
                 "JUPYTERHUB_CLIENT_ID", "JUPYTERHUB_OAUTH_CALLBACK_URL", "PEERPLATFORM_DATA_DIR",
                 "PEERPLATFORM_SESSION_DIR", "PEERPLATFORM_MONGODB_DB")
PLATFORM_PROCESSES = ("hub", "proxy", "service", "pair_server_own", "pair_server_other",
                      "redis", "mongodb")
#: fragments of the platform's command lines, which no process visible to learner code may have
PLATFORM_MARKERS = ("jupyterhub", "singleuser", "configurable-http-proxy", "redis-server",
                    "peerplatform service", "-m peerplatform", "secantus", "mongod")


# -- helpers ---------------------------------------------------------------------------------

@pytest.fixture
def kernel(platform) -> DriverKernel:
    """Session A's kernel, answering (a previous attempt may have killed or busied it)."""
    k = platform.a.kernel
    try:
        if k.execute("pass", timeout=10).status == "ok":
            return k
    except (AssertionError, KernelDied, OSError):
        pass
    r = k.visitor.call("POST", f"api/kernels/{k.kernel_id}/restart", timeout=60)
    if r.status_code != 200:
        k.recover()
    else:
        k.connect(timeout=60)
    assert k.execute("pass", timeout=20).status == "ok"
    return k


def attack(kernel: DriverKernel, body: str, timeout: float = 30, **values) -> dict:
    """Run ``body`` (attacking code, ending with ``_report``) with ``V`` = ``values``."""
    return kernel.run(f"V = {values!r}\n" + textwrap.dedent(body), timeout=timeout)


def refused(outcome: dict | None, errnames=None, excs=None, what: str = "") -> None:
    assert outcome is not None, f"{what}: never refused (the attempt ran to its own bound)"
    assert outcome["ok"] is False, f"{what}: the attempt SUCCEEDED: {outcome}"
    if errnames is None and excs is None:
        return
    assert outcome.get("errname") in set(errnames or ()) or outcome.get("exc") in set(excs or ()), \
        f"{what}: refused, but not as expected ({errnames or ''} {excs or ''}): {outcome}"


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def probe_name() -> str:
    return f"pp-security-probe-{os.getpid()}-{time.monotonic_ns()}"


# -- who learner code is ---------------------------------------------------------------------

def test_learner_code_is_not_root_and_holds_no_capability(kernel):
    got = attack(kernel, """
        lines = open("/proc/self/status").read().splitlines()
        status = dict(line.split(":\\t", 1) for line in lines if ":\\t" in line)
        _report({"uid": _os.getuid(), "euid": _os.geteuid(), "gid": _os.getgid(),
                 "groups": _os.getgroups(), "cap_eff": status.get("CapEff"),
                 "cap_prm": status.get("CapPrm"), "no_new_privs": status.get("NoNewPrivs"),
                 "setuid0": _outcome(_os.setuid, 0)})
    """)
    assert got["uid"] != 0 and got["euid"] != 0 and got["gid"] != 0, got
    assert 0 not in got["groups"], got
    assert int(got["cap_eff"], 16) == 0 and int(got["cap_prm"], 16) == 0, got
    # EINVAL: no uid 0 exists in the sandbox's user namespace; EPERM: no right to become it
    refused(got["setuid0"], {"EPERM", "EINVAL"}, what="setuid(0)")


def test_kernel_runs_as_a_host_user_neither_root_nor_the_servers(platform, kernel):
    server = psutil.Process(platform.a.server_pid)
    pids = kernel_host_pids(platform.a.server_pid)
    assert pids, "no kernel process below the pair server"
    for pid in pids:
        uids = psutil.Process(pid).uids()
        assert 0 not in (uids.real, uids.effective, uids.saved), (pid, uids)
        assert server.uids().effective not in (uids.real, uids.effective), \
            f"the kernel runs as the pair server's uid {uids}"


def test_pair_server_does_not_run_as_root(platform):
    hub_uid = psutil.Process(platform.hub.proc.pid).uids().effective
    for side in (platform.a, platform.b):
        uids = psutil.Process(side.server_pid).uids()
        assert uids.effective != 0 and uids.real != 0, f"pair server {side.id} runs as root"
        if hub_uid != 0:
            assert uids.effective != hub_uid


# -- secrets ---------------------------------------------------------------------------------

def test_environment_holds_no_secret(platform, kernel):
    got = attack(kernel, """
        env = dict(_os.environ)
        blob = "\\n".join(f"{k}={v}" for k, v in env.items())
        found = [k for k, v in V["secrets"].items() if v in blob]
        _report({"names": sorted(env), "secrets": found})
    """, secrets=platform.secrets)
    assert not [n for n in got["names"] if n in FORBIDDEN_ENV or n.startswith("TWILIO_")], got
    assert got["secrets"] == [], f"secret values in the kernel's environment: {got['secrets']}"


def test_parent_process_environ_holds_no_secret(platform, kernel):
    got = attack(kernel, """
        out = {}
        for pid in sorted({_os.getppid(), 1}):
            def read(pid=pid):
                return open(f"/proc/{pid}/environ", "rb").read().decode("latin-1")
            o = _outcome(read)
            found = [k for k, v in V["secrets"].items() if o["ok"] and v in o["value"]]
            o.pop("value", None)
            out[pid] = {"read": o, "secrets": found}
        _report(out)
    """, secrets=platform.secrets)
    for pid, res in got.items():
        assert res["secrets"] == [], f"/proc/{pid}/environ holds {res['secrets']}"


def test_proc_shows_only_the_sandbox(platform, kernel):
    got = attack(kernel, """
        procs = {}
        for name in _os.listdir("/proc"):
            if name.isdigit():
                o = _outcome(lambda: open(f"/proc/{name}/cmdline", "rb").read()
                             .replace(b"\\0", b" ").decode("latin-1"))
                procs[name] = o.get("value", o.get("exc"))
        _report({"procs": procs, "self": _os.getpid()})
    """)
    procs = got["procs"]
    assert len(procs) <= 8, f"{len(procs)} processes visible: {sorted(procs)[:30]}"
    for pid, cmd in procs.items():
        assert not any(m in str(cmd) for m in PLATFORM_MARKERS), f"/proc/{pid}: {cmd}"
    hosts = {str(platform.pids[n]) for n in PLATFORM_PROCESSES if n in platform.pids}
    assert not (hosts & set(procs)) or all(
        not any(m in str(procs[p]) for m in PLATFORM_MARKERS) for p in hosts & set(procs))


@pytest.mark.parametrize("target", PLATFORM_PROCESSES)
def test_platform_process_proc_files_are_invisible(platform, kernel, target):
    pid = platform.pids[target]
    host_cmd = " ".join(psutil.Process(pid).cmdline())
    got = attack(kernel, """
        out = {}
        for name in ("environ", "cmdline", "status", "maps"):
            def read(name=name):
                return open(f"/proc/{V['pid']}/{name}", "rb").read().decode("latin-1")
            o = _outcome(read)
            if o["ok"]:
                o["same_process"] = V["host_cmd"][:60] in o["value"].replace("\\0", " ")
                o["secrets"] = [k for k, v in V["secrets"].items() if v in o["value"]]
                o["value"] = len(o["value"])
            out[name] = o
        _report(out)
    """, pid=pid, host_cmd=host_cmd, secrets=platform.secrets)
    for name, o in got.items():
        if o["ok"]:  # the number may be a sandbox process's: then it must not be the host's
            assert not o["same_process"] and not o["secrets"], f"/proc/{pid}/{name}: {o}"
        else:
            refused(o, {"ENOENT", "ESRCH", "EACCES", "EPERM"}, what=f"/proc/{pid}/{name}")


def test_no_visible_process_holds_a_secret(platform, kernel):
    got = attack(kernel, """
        found = {}
        for name in _os.listdir("/proc"):
            if not name.isdigit():
                continue
            for f in ("environ", "cmdline"):
                o = _outcome(lambda: open(f"/proc/{name}/{f}", "rb").read().decode("latin-1"))
                hits = [k for k, v in V["secrets"].items() if o["ok"] and v in o["value"]]
                if hits:
                    found[f"{name}/{f}"] = hits
        _report(found)
    """, secrets=platform.secrets)
    assert got == {}, f"secrets readable from /proc: {got}"


# -- the network -----------------------------------------------------------------------------

@pytest.mark.parametrize("target", ["mongodb", "redis", "hub", "proxy", "proxy_api", "service",
                                    "pair_server_own", "pair_server_other", "decoy"])
def test_tcp_connect_to_a_platform_port_fails(platform, kernel, target):
    got = attack(kernel, """
        import socket
        def connect():
            socket.create_connection(("127.0.0.1", V["port"]), timeout=2).close()
        _report(_outcome(connect))
    """, port=platform.ports[target])
    refused(got, NET_REFUSED, what=f"connect to {target} (127.0.0.1:{platform.ports[target]})")


def test_tcp_connect_to_every_host_listener_fails(platform, kernel):
    targets = [(ip, port) for ip, port in listening_addresses()
               if ip in ("127.0.0.1", "0.0.0.0", "::", "::1") or ip.startswith("127.")][:300]
    assert targets
    got = attack(kernel, """
        import socket
        reached = []
        for ip, port in V["targets"]:
            host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(ip, ip)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            def connect():
                with socket.socket(family, socket.SOCK_STREAM) as s:
                    s.settimeout(1)
                    s.connect((host, port))
            o = _outcome(connect)
            if o["ok"] or o["errname"] not in V["refused"]:
                reached.append([host, port, o])
        _report({"tried": len(V["targets"]), "reached": reached})
    """, targets=targets, refused=sorted(NET_REFUSED), timeout=120)
    assert got["reached"] == [], f"reachable from the kernel: {got['reached'][:10]}"


def test_abstract_unix_socket_of_the_host_is_unreachable(platform, kernel):
    got = attack(kernel, """
        import socket
        def connect():
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(2)
                s.connect("\\0" + V["name"])
        _report(_outcome(connect))
    """, name=platform.decoy_unix)
    refused(got, {"ECONNREFUSED", "ENOENT", "EACCES", "EPERM"}, what="abstract unix socket")


@pytest.mark.parametrize("operation", ["read_hidden_tests", "set_rating_2999",
                                       "insert_fake_peer_rating", "mark_session_passed"])
def test_mongodb_is_out_of_reach(platform, kernel, operation):
    got = attack(kernel, """
        import pymongo, datetime
        client = pymongo.MongoClient(V["uri"], serverSelectionTimeoutMS=2000, connectTimeoutMS=2000)
        db = client[V["db"]]
        ops = {
            "read_hidden_tests": lambda: len([d for d in db.challenges.find({}, {"tests": 1,
                                                  "solution": 1}).limit(50)]),
            "set_rating_2999": lambda: db.profiles.update_one(
                {"_id": V["me"]}, {"$set": {"rating": 2999}}, upsert=True).modified_count,
            "insert_fake_peer_rating": lambda: str(db.ratings.insert_one({
                "session": V["session"], "from": V["peer"], "to": V["me"], "communication": 5,
                "collaboration": 5, "problem_solving": 5}).inserted_id),
            "mark_session_passed": lambda: db.sessions.update_one(
                {"_id": V["session"]}, {"$set": {"outcome": {"passed": True, "solved": True}}}
            ).modified_count,
        }
        _report(_outcome(ops[V["op"]]))
        client.close()
    """, uri=platform.hub.mongodb_uri, db=platform.hub.mongodb_database, op=operation,
        me=platform.a.driver.name, peer=platform.a.observer.name, session=platform.a.id)
    refused(got, excs={"ServerSelectionTimeoutError", "AutoReconnect", "ConnectionFailure",
                       "NetworkTimeout", "OperationFailure"}, what=f"MongoDB {operation}")


def test_redis_leaderboard_is_out_of_reach(platform, kernel):
    got = attack(kernel, """
        import redis
        r = redis.Redis.from_url(V["url"], socket_connect_timeout=2, socket_timeout=2)
        _report(_outcome(lambda: r.zadd("pp:lb:board:overall", {V["me"]: 1e9})))
    """, url=platform.hub.env["REDIS_URL"], me=platform.a.driver.name)
    refused(got, excs={"ConnectionError", "TimeoutError", "AuthenticationError"},
            what="ZADD on the leaderboard")


def test_hub_api_with_the_services_token_is_out_of_reach(platform, kernel):
    got = attack(kernel, """
        import urllib.request
        req = urllib.request.Request(f"http://127.0.0.1:{V['port']}/hub/api/users",
                                     headers={"Authorization": "token " + V["token"]})
        _report(_outcome(lambda: urllib.request.urlopen(req, timeout=2).status))
    """, port=platform.ports["hub"], token=platform.hub.service_token)
    refused(got, excs={"URLError", "ConnectionRefusedError", "OSError"}, what="Hub API")
    assert "refused" in got["msg"].lower() or "unreachable" in got["msg"].lower(), got


def test_dns_resolution_fails(kernel):
    got = attack(kernel, """
        import socket
        def route():  # UDP connect: picks a route, sends nothing
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.connect(("192.0.2.1", 53))
        out = {"route": _outcome(route), "resolv_conf": _outcome(lambda: len(open(
            "/etc/resolv.conf").read()))}
        if not out["route"]["ok"]:  # no way out: the lookup cannot send anything either
            out["lookup"] = _outcome(lambda: socket.getaddrinfo("example.com", 443))
        _report(out)
    """)
    refused(got["route"], {"ENETUNREACH", "EHOSTUNREACH", "EACCES", "EPERM"},
            what="a route out (UDP connect to 192.0.2.1:53)")
    refused(got["lookup"], excs={"gaierror"}, what="getaddrinfo('example.com')")


def test_egress_to_a_public_address_fails(kernel):
    got = attack(kernel, """
        import socket
        def connect():  # TEST-NET-1 (RFC 5737): documentation only, nobody answers there
            socket.create_connection(("192.0.2.1", 80), timeout=2).close()
        _report({"connect": _outcome(connect), "interfaces": [n for _, n in socket.if_nameindex()]})
    """)
    # a timeout would mean the packet left: the sandbox has no route at all
    refused(got["connect"], {"ENETUNREACH", "EHOSTUNREACH", "EACCES", "EPERM"},
            what="connect to 192.0.2.1:80")
    assert got["interfaces"] == ["lo"], got["interfaces"]


# -- files -----------------------------------------------------------------------------------

def _host_paths(p) -> dict:
    return {
        "hub_cookie_secret": p.data_dir / "jupyterhub_cookie_secret",
        "hub_sqlite": p.data_dir / "jupyterhub.sqlite",
        "service_cookie_secret": p.data_dir / "service_cookie_secret",
        "hub_log": p.data_dir / "jupyterhub.log",
        "data_dir": p.data_dir,
        "other_session_notebook": p.work_dir(p.b) / "session.ipynb",
        "other_session_file": p.work_dir(p.b) / "b_private.txt",
        "other_session_folder": p.session_dir(p.b),
        "own_session_folder": p.session_dir(p.a),
        "checkout_config": REPO / "jupyterhub_config.py",
        "checkout": REPO / "peerplatform",
    }


@pytest.mark.parametrize("target", ["hub_cookie_secret", "hub_sqlite", "service_cookie_secret",
                                    "hub_log", "data_dir", "other_session_notebook",
                                    "other_session_file", "other_session_folder",
                                    "own_session_folder",
                                    "checkout_config", "checkout"])
def test_host_file_is_invisible(platform, kernel, target):
    path = _host_paths(platform)[target]
    assert path.exists(), f"{path} should exist on the host"
    got = attack(kernel, """
        def read():
            if _os.path.isdir(V["path"]):
                names = _os.listdir(V["path"])
                # the kernel's own sockets folder may be bound at its host path: nothing else
                return sorted(n for n in names if n != "kernels")
            return len(open(V["path"], "rb").read())
        _report(_outcome(read))
    """, path=str(path))
    if target == "own_session_folder" and got["ok"]:
        # bubblewrap makes the folders above the kernel's ipc folder: empty but for that
        assert got["value"] == [], f"{path} shows {got['value']}"
        return
    refused(got, {"ENOENT"}, what=f"read {path}")


@pytest.mark.parametrize("path", ["/etc/shadow", "/etc/gshadow", "/root", "/var/log"])
def test_system_secret_is_unreadable(kernel, path):
    assert os.path.exists(path)
    got = attack(kernel, """
        def read():
            if _os.path.isdir(V["path"]):
                return len(_os.listdir(V["path"]))
            return len(open(V["path"], "rb").read())
        _report(_outcome(read))
    """, path=path)
    refused(got, {"ENOENT", "EACCES", "EPERM"}, what=f"read {path}")


def test_other_sessions_notebook_cannot_be_written(platform, kernel):
    nb = platform.work_dir(platform.b) / "session.ipynb"
    planted = platform.work_dir(platform.b) / (probe_name() + ".py")
    got = attack(kernel, """
        def append():  # opened for writing, nothing written
            _os.close(_os.open(V["nb"], _os.O_WRONLY | _os.O_APPEND))
        def plant():
            fd = _os.open(V["planted"], _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o644)
            _os.close(fd)
            _os.unlink(V["planted"])  # leave nothing behind if it worked
        _report({"append": _outcome(append), "plant": _outcome(plant)})
    """, nb=str(nb), planted=str(planted))
    refused(got["append"], {"ENOENT"}, what=f"open {nb} for writing")
    refused(got["plant"], {"ENOENT"}, what=f"create {planted}")
    assert not planted.exists()


WRITE_TARGETS = {
    "checkout_config": lambda p: (str(REPO / "jupyterhub_config.py"), "append"),
    "venv_site_packages": lambda p: (str(Path(psutil.__file__).parent.parent / "PROBE"),
                                     "create"),
    "venv_bin": lambda p: (str(Path(sys.prefix) / "bin" / "PROBE"), "create"),
    "usr": lambda p: ("/usr/PROBE", "create"),
    "usr_local_bin": lambda p: ("/usr/local/bin/PROBE", "create"),
    "root_fs": lambda p: ("/PROBE", "create"),
    "home": lambda p: ("/home/PROBE", "create"),
    "etc": lambda p: ("/etc/PROBE", "create"),
}


@pytest.mark.parametrize("target", sorted(WRITE_TARGETS))
def test_write_outside_the_work_folder_fails(platform, kernel, target):
    path, how = WRITE_TARGETS[target](platform)
    path = path.replace("PROBE", probe_name())
    before = Path(path).read_bytes() if how == "append" else None
    got = attack(kernel, """
        def write():
            if V["how"] == "append":  # opened for writing, nothing written
                _os.close(_os.open(V["path"], _os.O_WRONLY | _os.O_APPEND))
            else:
                fd = _os.open(V["path"], _os.O_WRONLY | _os.O_CREAT | _os.O_EXCL, 0o644)
                _os.close(fd)
                _os.unlink(V["path"])  # leave nothing behind if it worked
        _report(_outcome(write))
    """, path=path, how=how)
    if how == "append":
        assert Path(path).read_bytes() == before
    else:
        assert not Path(path).exists(), f"{path} was created on the host"
    refused(got, {"EROFS", "EACCES", "EPERM", "ENOENT"}, what=f"write {path}")


@pytest.mark.parametrize("target", ["etc_passwd", "hub_cookie_secret", "other_session_notebook"])
def test_symlink_in_the_work_folder_does_not_escape(platform, kernel, target):
    host = {"etc_passwd": Path("/etc/passwd"),
            "hub_cookie_secret": platform.data_dir / "jupyterhub_cookie_secret",
            "other_session_notebook": platform.work_dir(platform.b) / "session.ipynb"}[target]
    link = probe_name()
    got = attack(kernel, """
        import hashlib
        _os.symlink(V["target"], V["link"])
        try:
            o = _outcome(lambda: hashlib.sha256(open(V["link"], "rb").read()).hexdigest())
        finally:
            _os.unlink(V["link"])
        _report(o)
    """, target=str(host), link=link)
    if got["ok"]:  # the sandbox's own file of that name, never the host's
        assert target == "etc_passwd" and got["value"] != sha(host.read_bytes()), \
            f"read the host's {host} through a symlink"
    else:
        refused(got, {"ENOENT", "EACCES"}, what=f"read {host} through a symlink")


def test_dotdot_escapes_end_at_the_sandbox_root(platform, kernel):
    got = attack(kernel, """
        _os.symlink("../../../../../../../..", V["link"])
        try:
            out = {
                "cwd": _os.getcwd(),
                "root": sorted(_os.listdir("/")),
                "via_link": sorted(_os.listdir(V["link"])),
                "via_dotdot": sorted(_os.listdir("../../../../../../..")),
                "sqlite": _outcome(lambda: len(open(V["link"] + V["sqlite"], "rb").read())),
                "config": _outcome(lambda: len(open("../../../../../../.." + V["config"],
                                                    "rb").read())),
                "shadow": _outcome(lambda: len(open(V["link"] + "/etc/shadow", "rb").read())),
            }
        finally:
            _os.unlink(V["link"])
        _report(out)
    """, link=probe_name(), sqlite=str(platform.data_dir / "jupyterhub.sqlite"),
        config=str(REPO / "jupyterhub_config.py"))
    assert got["via_link"] == got["root"] == got["via_dotdot"], got
    host_root = sorted(os.listdir("/"))
    assert got["root"] != host_root, f"the kernel sees the host's / : {got['root']}"
    refused(got["sqlite"], {"ENOENT"}, what="jupyterhub.sqlite through ..")
    refused(got["config"], {"ENOENT", "EACCES"}, what="jupyterhub_config.py through ..")
    refused(got["shadow"], {"ENOENT", "EACCES"}, what="/etc/shadow through ..")


SERVER_LINKS = {
    # what the pair server (its user, its process) can read and the kernel cannot
    "etc_passwd": lambda p: "/etc/passwd",
    "server_environ": lambda p: "/proc/self/environ",
    "server_cmdline": lambda p: "/proc/self/cmdline",
    "own_rtc_store": lambda p: str(p.session_dir(p.a) / "data"),
    "other_session_notebook": lambda p: str(p.work_dir(p.b) / "session.ipynb"),
    "other_session_file": lambda p: str(p.work_dir(p.b) / "b_private.txt"),
    "hub_cookie_secret": lambda p: str(p.data_dir / "jupyterhub_cookie_secret"),
    "dotdot": lambda p: "../../../../../../..",
}


@pytest.mark.parametrize("target", sorted(SERVER_LINKS))
def test_symlinks_do_not_lead_the_pair_server_out_of_the_work_folder(platform, kernel, target):
    """The kernel plants a link in the work folder; the driver asks the pair server (which runs
    outside the sandbox, as pp-server) for it over the contents and files APIs."""
    link = probe_name()
    made = attack(kernel, """
        _os.symlink(V["target"], V["link"])
        _report(sorted(_os.listdir(".")))
    """, target=SERVER_LINKS[target](platform), link=link)
    assert link in made
    drv = platform.a.driver
    served = {}
    try:
        for path in (f"api/contents/{link}?content=1", f"files/{link}",
                     f"api/contents/{link}/etc/passwd?content=1", f"files/{link}/etc/passwd"):
            r = drv.call("GET", path)
            served["GET " + path] = (r.status_code, r.text[:120])
        if target.startswith("other_session"):  # and writing through it (test data only)
            r = drv.call("PUT", f"api/contents/{link}",
                         {"type": "file", "format": "text", "content": "written by session A"})
            served["PUT api/contents/" + link] = (r.status_code, r.text[:120])
    finally:
        attack(kernel, """
            _os.unlink(V["link"])
            _report({})
        """, link=link)
    leaked = {path: got for path, got in served.items() if got[0] not in (400, 403, 404)}
    assert not leaked, f"the pair server followed the link to {target}: {leaked}"


@pytest.mark.parametrize("path", ["api/contents/..%2Fdata", "files/..%2Fdata%2F",
                                  "api/contents/..%2Fkernels",
                                  "api/contents/..%2F..%2F{b}%2Fwork%2Fb_private.txt?content=1",
                                  "files/..%2F..%2F{b}%2Fwork%2Fb_private.txt"])
def test_dotdot_does_not_lead_the_pair_server_out_of_the_work_folder(platform, path):
    path = path.format(b=platform.b.id)
    r = platform.a.driver.call("GET", path)
    assert r.status_code in (400, 403, 404), (path, r.status_code, r.text[:200])


@pytest.mark.parametrize("page", ["lab", "tree", "files/no-such-file", "api/no-such-api",
                                  "lab/tree/session.ipynb"])
def test_no_page_hands_a_member_a_platform_secret(platform, page):
    """The pair server's own Hub token included: it is the server's credential to the platform
    service's session endpoints, not the learners'."""
    for member in (platform.a.driver, platform.a.observer):
        r = member.call("GET", page)
        found = [k for k, v in platform.secrets.items() if v in r.text]
        assert not found, f"GET {page} ({r.status_code}) as {member.name} holds {found}"


# -- other processes -------------------------------------------------------------------------

@pytest.mark.parametrize("target", PLATFORM_PROCESSES)
def test_platform_process_cannot_be_signalled(platform, kernel, target):
    pid = platform.pids[target]
    got = attack(kernel, """
        _report(_outcome(_os.kill, V["pid"], 0))  # signal 0: the check a real signal makes
    """, pid=pid)
    refused(got, {"ESRCH"}, excs={"ProcessLookupError"}, what=f"kill({pid}) ({target})")


def test_only_sandbox_processes_can_be_signalled(kernel):
    got = attack(kernel, """
        import time
        alive, t0 = [], time.monotonic()
        for pid in range(1, 70000):
            try:
                _os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            alive.append(pid)
            if len(alive) > 200 or time.monotonic() - t0 > 20:
                break
        def tgid(pid):  # a thread's id is signalable too: count its process
            for line in open(f"/proc/{pid}/status"):
                if line.startswith("Tgid:"):
                    return int(line.split()[1])
        processes = sorted({tgid(pid) or pid for pid in alive})
        listed = sorted(int(n) for n in _os.listdir("/proc") if n.isdigit())
        _report({"alive": alive, "processes": processes, "listed": listed})
    """)
    procs = got["processes"]
    assert len(procs) <= 8, f"{len(procs)} processes signalable: {procs[:20]}"
    assert set(procs) <= set(got["listed"]), got


@pytest.mark.parametrize("target", ["sandbox_pid_1", "pair_server"])
def test_ptrace_fails(platform, kernel, target):
    pid = 1 if target == "sandbox_pid_1" else platform.a.server_pid
    got = attack(kernel, """
        import ctypes, struct
        PTRACE_SEIZE = 0x4206  # like PTRACE_ATTACH for permissions, but never stops the target
        r, w = _os.pipe()
        child = _os.fork()
        if child == 0:  # the tracer exits at once: the kernel detaches whatever it seized
            libc = ctypes.CDLL(None, use_errno=True)
            rc = libc.ptrace(PTRACE_SEIZE, V["pid"], None, None)
            _os.write(w, struct.pack("ii", rc, ctypes.get_errno()))
            _os._exit(0)
        _os.close(w)
        rc, no = struct.unpack("ii", _os.read(r, 8))
        _os.waitpid(child, 0)
        _report({"ok": rc == 0, "errno": no or None,
                 "errname": _errno.errorcode.get(no) if rc else None})
    """, pid=pid)
    expected = {"EPERM"} if target == "sandbox_pid_1" else {"ESRCH", "EPERM"}
    refused(got, expected, what=f"ptrace({pid}) ({target})")


@pytest.mark.parametrize("operation", ["new_user_namespace", "mount"])
def test_namespace_and_mount_tricks_fail(kernel, operation):
    got = attack(kernel, """
        import ctypes, struct
        CLONE_NEWUSER, CLONE_NEWNS = 0x10000000, 0x00020000
        _os.mkdir(V["dir"])  # in the work folder
        r, w = _os.pipe()
        child = _os.fork()
        if child == 0:  # in a child: the kernel itself keeps its namespaces whatever happens
            libc = ctypes.CDLL(None, use_errno=True)
            if V["op"] == "new_user_namespace":
                rc = libc.unshare(CLONE_NEWUSER)
                no = ctypes.get_errno()
            else:
                # a private mount namespace first (only possible with CAP_SYS_ADMIN), made
                # private all through so nothing propagates out, then a tmpfs on a folder
                MS_REC, MS_PRIVATE = 0x4000, 0x40000
                rc = libc.unshare(CLONE_NEWNS)
                no = ctypes.get_errno()
                if rc == 0:
                    rc = libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
                    no = ctypes.get_errno()
                if rc == 0:
                    rc = libc.mount(b"none", V["dir"].encode(), b"tmpfs", 0, None)
                    no = ctypes.get_errno()
            _os.write(w, struct.pack("ii", rc, no))
            _os._exit(0)
        _os.close(w)
        rc, no = struct.unpack("ii", _os.read(r, 8))
        _os.waitpid(child, 0)
        _os.rmdir(V["dir"])
        _report({"ok": rc == 0, "errno": no or None,
                 "errname": _errno.errorcode.get(no) if rc else None})
    """, op=operation, dir=probe_name())
    refused(got, {"EPERM", "ENOSPC", "EINVAL", "EACCES"}, what=operation)


# -- the driver's REST API: kernels, terminals, the observer, the other session --------------

@pytest.mark.parametrize("how", ["api_kernels", "api_sessions_other_notebook"])
def test_a_second_kernel_is_refused(platform, kernel, how):
    drv = platform.a.driver
    if how == "api_kernels":
        r = drv.call("POST", "api/kernels", {"name": "python3"}, timeout=60)
        if r.status_code in (200, 201):
            drv.call("DELETE", f"api/kernels/{r.json()['id']}")
    else:
        r = drv.call("POST", "api/sessions", {"path": probe_name() + ".ipynb", "type": "notebook",
                                              "name": "x.ipynb", "kernel": {"name": "python3"}},
                     timeout=60)
        if r.status_code in (200, 201):
            drv.call("DELETE", f"api/sessions/{r.json()['id']}")
        # jupyter-server's sessions handler reports any failure of the kernel's start as 500;
        # the refusal is the kernel manager's 409/403 inside it
        if r.status_code == 500 and any(f"HTTP {code}" in r.text for code in (403, 409)):
            r.status_code = 409
    assert r.status_code in (403, 409), f"a second kernel: {r.status_code} {r.text[:300]}"
    kernels = drv.call("GET", "api/kernels").json()
    assert [k["id"] for k in kernels] == [kernel.kernel_id], kernels


def test_a_terminal_is_refused(platform):
    drv = platform.a.driver
    r = drv.call("POST", "api/terminals")
    if r.status_code == 200:
        drv.call("DELETE", f"api/terminals/{r.json()['name']}")
    assert r.status_code == 404, f"POST api/terminals: {r.status_code} {r.text[:200]}"
    assert drv.ws_status("terminals/websocket/1") in (403, 404)


def test_observer_cannot_open_the_notebooks_kernel(platform, kernel):
    r = platform.a.observer.call("POST", "api/sessions", {
        "path": "session.ipynb", "type": "notebook", "name": "session.ipynb",
        "kernel": {"name": "python3"}})
    assert r.status_code == 403, (r.status_code, r.text[:200])


def test_observer_gets_no_kernel_channel(platform, kernel):
    status = platform.a.observer.ws_status(f"api/kernels/{kernel.kernel_id}/channels")
    assert status == 403, status


def test_observer_cannot_interrupt_or_restart_the_kernel(platform, kernel):
    for action in ("interrupt", "restart"):
        r = platform.a.observer.call("POST", f"api/kernels/{kernel.kernel_id}/{action}")
        assert r.status_code == 403, (action, r.status_code, r.text[:200])


def test_driver_cannot_reach_the_other_sessions_server(platform, kernel):
    user = platform.a.driver.user
    base_b = platform.b.driver.base
    r = user.http.get(user.url(base_b + "api/contents/b_private.txt?content=1"), timeout=30)
    assert r.status_code in (403, 404), (r.status_code, r.url)
    r = user.http.get(user.url(base_b + f"api/kernels/{platform.b.kernel.kernel_id}"), timeout=30)
    assert r.status_code in (403, 404), (r.status_code, r.url)


# -- resources -------------------------------------------------------------------------------

def test_open_files_are_bounded(kernel):
    got = attack(kernel, """
        import resource, time
        fds, err, t0 = [], None, time.monotonic()
        try:
            while len(fds) < 20000 and time.monotonic() - t0 < 10:
                fds.append(_os.open("/dev/null", _os.O_RDONLY))
        except OSError as e:
            err = {"ok": False, "errno": e.errno, "errname": _errno.errorcode.get(e.errno),
                   "exc": type(e).__name__}
        finally:
            for fd in fds:
                _os.close(fd)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        raise_it = _outcome(resource.setrlimit, resource.RLIMIT_NOFILE, (hard + 1, hard + 1))
        _report({"opened": len(fds), "refused": err, "hard": hard, "raise": raise_it})
    """)
    refused(got["refused"], {"EMFILE"}, what=f"open files ({got['opened']} opened)")
    refused(got["raise"], {"EPERM"}, excs={"ValueError"}, what="raise RLIMIT_NOFILE")


def test_fork_bomb_is_bounded_and_the_session_survives(platform, kernel):
    got = attack(kernel, """
        import time
        r, w = _os.pipe()
        kids, err, t0 = [], None, time.monotonic()
        try:
            while len(kids) < 1024 and time.monotonic() - t0 < 20:
                try:
                    pid = _os.fork()
                except OSError as e:
                    err = {"ok": False, "errno": e.errno, "errname": _errno.errorcode.get(e.errno),
                           "exc": type(e).__name__}
                    break
                if pid == 0:  # hold a process slot until the parent lets go, then leave
                    try:
                        _os.close(w)
                        _os.read(r, 1)
                    finally:
                        _os._exit(0)
                kids.append(pid)
        finally:
            _os.close(w)
            _os.close(r)
            for pid in kids:
                try:
                    _os.waitpid(pid, 0)
                except ChildProcessError:
                    pass
        _report({"forked": len(kids), "refused": err})
    """, timeout=90)
    refused(got["refused"], {"EAGAIN"}, excs={"BlockingIOError"},
            what=f"fork bomb ({got['forked']} forks)")
    assert kernel.execute("1 + 1", timeout=20).results == [{"text/plain": "2"}]
    assert platform.a.driver.call("GET", "api/status").status_code == 200
    assert platform.b.driver.call("GET", "api/status").status_code == 200


def test_busy_loop_is_interrupted_by_the_driver(platform, kernel):
    msg_id = kernel.submit("import time\nt0 = time.monotonic()\n"
                           "while time.monotonic() - t0 < 60:\n    pass\n")
    time.sleep(1.5)
    r = kernel.interrupt()
    assert r.status_code == 204, (r.status_code, r.text)
    done = kernel.collect(msg_id, timeout=20)
    assert done.status == "error" and done.error["ename"] == "KeyboardInterrupt", \
        (done.status, done.error)


def _cpu_quota_cores(pid: int) -> float | None:
    """Cores the cgroup of ``pid`` may use (v1 cpu.cfs_quota_us or v2 cpu.max), None: no limit."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if "cpu" in controllers.split(",") and controllers:
            base = Path("/sys/fs/cgroup") / controllers / path.lstrip("/")
            if not base.exists():
                base = Path("/sys/fs/cgroup/cpu") / path.lstrip("/")
            quota = int((base / "cpu.cfs_quota_us").read_text())
            period = int((base / "cpu.cfs_period_us").read_text())
            return None if quota < 0 else quota / period
        if controllers == "":
            cpu_max = Path("/sys/fs/cgroup") / path.lstrip("/") / "cpu.max"
            if cpu_max.exists():
                quota, period = cpu_max.read_text().split()
                return None if quota == "max" else int(quota) / int(period)
    return None


def test_a_cpu_hog_is_held_to_its_share(platform, kernel):
    workers = max(2, min(4, os.cpu_count() or 2))
    got = attack(kernel, """
        import time
        t0, c0, kids = time.monotonic(), _os.times(), []
        for _ in range(V["workers"]):
            pid = _os.fork()
            if pid == 0:
                end = time.monotonic() + 3
                while time.monotonic() < end:
                    pass
                _os._exit(0)
            kids.append(pid)
        for pid in kids:
            _os.waitpid(pid, 0)
        c1, wall = _os.times(), time.monotonic() - t0
        cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
        _report({"cores_used": cpu / wall})
    """, workers=workers, timeout=60)
    pids = kernel_host_pids(platform.a.server_pid)
    assert pids
    quota = [_cpu_quota_cores(pid) for pid in pids]
    if (os.cpu_count() or 1) >= 2:
        assert got["cores_used"] <= 1.3, \
            f"{workers} busy processes used {got['cores_used']:.2f} cores (quota {quota})"
    assert all(c is not None and c <= 1.0 for c in quota), f"the kernel's CPU quota: {quota} cores"


FILL = {
    # where, one file or many, the most the attempt writes (MiB)
    # (relative: the kernel starts in the work folder, /home/learner in the sandbox)
    "work_folder_one_file": ("{probe}", "one", 256),
    "work_folder_many_files": ("{probe}", "many", 640),
    "tmp_many_files": ("/tmp/{probe}", "many", 512),
}


@pytest.mark.parametrize("target", sorted(FILL))
def test_filling_the_disk_stops_at_a_bound(platform, kernel, target):
    where, mode, bound_mb = FILL[target]
    folder = where.format(probe=probe_name())
    host_before = shutil.disk_usage(platform.data_dir).free
    got = attack(kernel, """
        import time
        CHUNK, PER_FILE = 4 * 1024 * 1024, 32 * 1024 * 1024
        chunk = b"\\1" * CHUNK
        _os.makedirs(V["folder"], exist_ok=True)
        written, err, t0, n, fd, in_file = 0, None, time.monotonic(), 0, None, 0
        try:
            while written < V["bound"] and time.monotonic() - t0 < 30:
                if fd is None or (V["mode"] == "many" and in_file >= PER_FILE):
                    if fd is not None:
                        _os.close(fd)
                    fd = _os.open(f"{V['folder']}/fill-{n}", _os.O_WRONLY | _os.O_CREAT, 0o600)
                    n, in_file = n + 1, 0
                done = _os.write(fd, chunk)
                written += done
                in_file += done
        except OSError as e:
            err = {"ok": False, "errno": e.errno, "errname": _errno.errorcode.get(e.errno),
                   "exc": type(e).__name__}
        finally:
            if fd is not None:
                _os.close(fd)
        _report({"written": written, "refused": err})
    """, folder=folder, mode=mode, bound=bound_mb * MiB, timeout=90)
    host_after = shutil.disk_usage(platform.data_dir).free
    attack(kernel, """
        import shutil
        shutil.rmtree(V["folder"], ignore_errors=True)
        _report({})
    """, folder=folder)
    refused(got["refused"], {"EFBIG", "ENOSPC", "EDQUOT"},
            what=f"{target}: {got['written'] // MiB} MiB written")
    assert got["written"] < bound_mb * MiB
    if mode == "many" and got["written"] >= 64 * MiB:
        # a tmpfs of the sandbox's, not the host's disk
        assert host_before - host_after < got["written"] / 2, \
            f"the host disk lost {(host_before - host_after) // MiB} MiB"


def test_memory_balloon_kills_the_kernel_and_the_session_survives(platform, kernel):
    watchers = platform.watchers
    since = {name: len(w.events) for name, w in watchers.items()}
    msg_id = kernel.submit(textwrap.dedent("""
        import time
        chunks, t0 = [], time.monotonic()
        try:
            while len(chunks) < 48 and time.monotonic() - t0 < 60:  # 48 x 64 MiB = 3 GiB
                b = bytearray(64 * 1024 * 1024)
                b[::4096] = b"\\1" * (len(b) // 4096)  # touch every page
                chunks.append(b)
            print("@@PP-RESULT@@" + '{"allocated_mib": %d}' % (64 * len(chunks)), flush=True)
        finally:
            del chunks
    """))
    killed, outcome = None, None
    try:
        outcome = kernel.collect(msg_id, timeout=90)
    except KernelDied as e:
        killed = e.state
    assert killed, ("the 3 GiB allocation was not stopped: "
                    f"{outcome.report() if outcome and outcome.status == 'ok' else outcome}")
    # both learners are told why
    for name, watcher in watchers.items():
        event = watcher.wait_for("kernel", since=since[name], timeout=30)
        assert event is not None, f"{name} got no 'kernel' event: {watcher.events[since[name]:]}"
        assert "memory" in json.dumps(event.get("data", {})).lower(), event
    # the session goes on: a kernel answers again, both servers answer, the session is active
    how = kernel.recover(timeout=90)
    assert kernel.execute_after_restart("1 + 1").results == [{"text/plain": "2"}], how
    for side in (platform.a, platform.b):
        assert side.driver.call("GET", "api/status").status_code == 200
    state = platform.a.driver.call("GET", "peerplatform/api/session").json()
    assert state["role"] == "driver" and state["can_write"], state
