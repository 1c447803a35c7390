"""Graded code (the driver's) is confined like the session's kernel: the learner sandbox, with
real processes. It runs as the kernel user, sees none of the host's files, no network, no other
process, a minimal environment; ``isolation = "none"`` still grades; and a sandbox that cannot
be set up gives a clear error instead of an unconfined run."""

from __future__ import annotations

import ast
import json
import os
import pwd
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest
from learner_sandbox import SandboxSettings
from learner_sandbox.command import sandbox_env
from learner_sandbox.limits import Limits as KernelLimits
from learner_sandbox.limits import SessionCgroup, cgroup_version

from peerplatform_grader import Limits, grade_sync
from peerplatform_grader.sandbox import RUNNER_INSIDE
from peerplatform_grader.settings import GraderSettings

REPO = Path(__file__).resolve().parents[3]
ADD = {
    "slug": "add-two", "version": 1, "hash": "h1", "time_limit_s": 5,
    "tests": {"cases": [{"name": "small", "code": "assert add(1, 2) == 3"}]},
}
GOOD = "def add(a, b):\n    return a + b\n"
#: ordinary Python code that gets past the runner's audit hook (it reads its blocked prefixes
#: from a global of the runner's module, and judges writes by ``os.path.realpath``): what is
#: left to stop the graded code is the OS sandbox alone
PAST_THE_HOOK = ("import __main__, os, posixpath\n"
                 "__main__.BLOCKED_PREFIXES = ('-no-such-event-',)\n"
                 "posixpath.realpath = lambda *args, **kwargs: os.getcwd()\n")


def grade_and_report(code: str, **kwargs) -> tuple[dict, object]:
    """Grade ``code`` + a correct ``add``; the code prints one Python literal, returned."""
    result = grade_sync(ADD, code + "\n# %%\n" + GOOD, **kwargs)
    assert result["status"] == "passed", result
    assert not result["load_errors"], result["load_errors"]
    last = result["output"].strip().splitlines()[-1]
    return result, ast.literal_eval(last)


def _setter(monkeypatch, settings, name: str):
    """``set(value)``: that trait of the singleton for this test only."""
    return lambda value: monkeypatch.setattr(settings, name, value)


@pytest.fixture
def isolation(monkeypatch):
    return _setter(monkeypatch, GraderSettings.instance(), "isolation")


@pytest.fixture
def kernel_user(monkeypatch):
    return _setter(monkeypatch, SandboxSettings.instance(), "user")


def grade_watched(code: str) -> tuple[dict, object, dict]:
    """:func:`grade_and_report`, and what the host sees of the runner process meanwhile (the
    code must keep it alive a moment): its uid, namespaces and cgroups."""
    seen: dict = {}

    def watch(stop: threading.Event) -> None:
        while not stop.is_set() and not seen:
            for proc in psutil.process_iter(["cmdline", "uids"]):
                # the runner itself, not its launchers (whose command lines name it too)
                if (proc.info["cmdline"] or [])[:3] == [sys.executable, "-I", RUNNER_INSIDE]:
                    try:
                        seen["uid"] = proc.info["uids"].real
                        seen["ns"] = {n: os.readlink(f"/proc/{proc.pid}/ns/{n}")
                                      for n in ("net", "pid", "mnt", "user")}
                        seen["cgroup"] = Path(f"/proc/{proc.pid}/cgroup").read_text()
                    except OSError:
                        seen.clear()
                    break
            time.sleep(0.02)

    stop = threading.Event()
    watcher = threading.Thread(target=watch, args=(stop,))
    watcher.start()
    try:
        result, reported = grade_and_report(code)
    finally:
        stop.set()
        watcher.join()
    assert seen, "the runner was never seen running"
    return result, reported, seen


def test_graded_code_runs_as_the_kernel_user_not_as_the_caller():
    """Seen from the host while it runs: the runner's uid, and its namespaces."""
    result, inside, seen = grade_watched(
        "import os, time\ntime.sleep(1.5)\nprint([os.getuid(), os.getgid()])\n")
    assert inside == [1000, 1000]  # learner code is always "learner" inside
    ours = {n: os.readlink(f"/proc/self/ns/{n}") for n in ("net", "pid", "mnt", "user")}
    assert all(seen["ns"][n] != ours[n] for n in ours), (seen["ns"], ours)
    if os.geteuid() == 0:
        kernel = pwd.getpwnam(SandboxSettings.instance().user)
        assert seen["uid"] == kernel.pw_uid != 0
        assert f"user:{kernel.pw_name}" in result["isolation"]
    elif any(layer.startswith("user:") for layer in result["isolation"]):
        assert seen["uid"] != os.geteuid()


@pytest.mark.skipif(os.geteuid() != 0 or cgroup_version() is None,
                    reason="the spawner (root) makes a session's cgroup")
def test_in_a_pair_server_it_joins_the_session_s_cgroup_and_keeps_its_limits(monkeypatch):
    session = "grd" + secrets.token_hex(5)[:9]
    cgroup = SessionCgroup(session)
    kernel_limits = KernelLimits.from_settings(SandboxSettings.instance())
    cgroup.create(kernel_limits)  # as the spawner does for the session's kernel
    files = [d / ("memory.limit_in_bytes" if cgroup.version == 1 else "memory.max")
             for d in cgroup.dirs[:1]] + [d / "pids.max" for d in cgroup.dirs if
                                          (d / "pids.max").exists()]
    before = [f.read_text() for f in files]
    monkeypatch.setenv("PEERPLATFORM_SESSION_ID", session)
    try:
        result, _, seen = grade_watched("import time\ntime.sleep(1.5)\nprint(1)\n")
        assert f"/peerplatform/{session}" in seen["cgroup"], seen["cgroup"]
        assert f"cgroup:{session}" in result["isolation"]
        assert [f.read_text() for f in files] == before  # the kernel's limits, unchanged
    finally:
        cgroup.remove()


def test_the_host_s_files_are_out_of_sight(tmp_path):
    secret = "pp-host-secret-" + secrets.token_hex(6)
    in_tmp = tempfile.NamedTemporaryFile("w", prefix="pp-host-", dir="/tmp", delete=False)
    in_tmp.write(secret)
    in_tmp.close()
    os.chmod(in_tmp.name, 0o644)  # readable by anyone on the host: only the sandbox hides it
    in_pytest_tmp = tmp_path / "secret.txt"
    in_pytest_tmp.write_text(secret)
    paths = [in_tmp.name, str(in_pytest_tmp), str(REPO / "README.md"), __file__,
             str(REPO / "jupyterhub_config.py"), "/root", "/etc/shadow", "/etc/passwd",
             str(REPO.parent / "shared"), str(REPO / "peerplatform_ext"), "/var/lib"]
    code = (
        "import os\n"
        "seen = {}\n"
        f"for path in {paths!r}:\n"
        "    try:\n"
        "        if os.path.isdir(path):\n"
        "            seen[path] = 'listed ' + ','.join(os.listdir(path))\n"
        "        else:\n"
        "            seen[path] = 'read ' + open(path).read(40)\n"
        "    except OSError as e:\n"
        "        seen[path] = type(e).__name__\n"
        "print(seen)\n"
    )
    try:
        _, seen = grade_and_report(code)
    finally:
        os.unlink(in_tmp.name)
    for path in paths:
        assert seen[path] in ("FileNotFoundError", "PermissionError"), (path, seen[path])


def test_no_network_even_past_the_audit_hook():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.setblocking(False)
        port = server.getsockname()[1]
        code = PAST_THE_HOOK + (
            "import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2).close()\n"
            "    outcome = 'connected'\n"
            "except OSError as e:\n"
            "    outcome = (type(e).__name__, e.errno)\n"
            "print(repr(outcome))\n"
        )
        _, outcome = grade_and_report(code)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody ever came
    assert outcome != "connected"
    # no network namespace route to 127.0.0.1 (its loopback is down), not the audit hook's
    # PermissionError: the OS refused
    assert outcome[0] != "PermissionError" and outcome[1] is not None, outcome


def test_writes_past_the_audit_hook_stay_in_the_sandbox():
    target = Path(tempfile.gettempdir()) / f"pp-escape-{secrets.token_hex(6)}"
    code = PAST_THE_HOOK + (
        "out = {}\n"
        f"for path in ({str(target)!r}, '/usr/pp-escape', '/home/learner/../pp-escape'):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        out[path] = 'written'\n"
        "    except OSError as e:\n"
        "        out[path] = type(e).__name__\n"
        "print(out)\n"
    )
    _, out = grade_and_report(code)
    assert not target.exists()  # the sandbox's /tmp is its own
    assert out["/usr/pp-escape"] in ("PermissionError", "OSError")  # read-only /usr
    assert not Path("/usr/pp-escape").exists() and not Path("/home/pp-escape").exists()


def test_only_its_own_processes_are_visible():
    code = ("import os\n"
            "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()) + [os.getpid()])\n")
    _, pids = grade_and_report(code)
    *visible, own = pids
    # bubblewrap's init (1) and the runner (2): nothing of the host, the pair server or pytest
    assert visible == [1, 2] and own == 2


def test_the_environment_is_minimal(monkeypatch):
    for name, value in (("MONGODB_URI", "mongodb://secret-host/"), ("REDIS_URL", "redis://x"),
                        ("JUPYTERHUB_API_TOKEN", "t0ken"), ("PEERPLATFORM_VOICE_SECRET", "s")):
        monkeypatch.setenv(name, value)
    _, env = grade_and_report("import os\nprint(dict(os.environ))\n")
    allowed = set(sandbox_env()) | {"LC_ALL", "LC_CTYPE", "PWD"}  # PWD: bubblewrap's --chdir
    assert set(env) <= allowed, set(env) - allowed
    assert env["HOME"] == "/home/learner"
    assert not any(v in "".join(env.values()) for v in ("secret-host", "t0ken", "redis://"))


def test_isolation_none_still_grades_with_rlimits_and_the_audit_hook(isolation):
    isolation("none")
    result = grade_sync(ADD, "import os\nprint(os.getuid())\n# %%\n" + GOOD)
    assert result["status"] == "passed"
    assert result["isolation"] == ["rlimits", "audit-hook"]
    assert int(result["output"].split()[0]) == os.geteuid()
    refused = grade_sync(ADD, "import socket\nsocket.socket()\n# %%\n" + GOOD)
    assert "not allowed in the grading sandbox: socket" in refused["load_errors"][0]["message"]


@pytest.mark.skipif(os.geteuid() != 0, reason="a missing kernel user only matters to root")
def test_a_missing_kernel_user_fails_closed(kernel_user):
    kernel_user("pp-no-such-user")
    result = grade_sync(ADD, "print('RAN-UNCONFINED')\n" + GOOD)
    assert result["status"] == "error"
    assert "sandbox" in result["message"] and "pp-no-such-user" in result["message"]
    assert "Nothing was run" in result["message"]
    assert "RAN-UNCONFINED" not in result["output"] and result["isolation"] == []
    assert all(t["status"] == "error" for t in result["tests"]) and result["passed"] == 0


def test_a_sandbox_that_does_not_start_fails_closed():
    limits = Limits(wall_s=5, per_test_s=5, python="/nonexistent/bin/python3")
    result = grade_sync(ADD, GOOD, limits=limits)
    assert result["status"] == "error"
    assert "sandbox did not start" in result["message"], result["message"]
    assert "/nonexistent/bin/python3" in result["message"]
    assert result["passed"] == 0 and result["isolation"] == []


def test_the_grader_works_again_after_a_failed_setup(kernel_user):
    configured = SandboxSettings.instance().user
    if os.geteuid() == 0:
        kernel_user("pp-no-such-user")
        assert grade_sync(ADD, GOOD)["status"] == "error"
    assert grade_sync(ADD, GOOD, limits=Limits(python="/nonexistent/python"))["status"] == "error"
    kernel_user(configured)
    assert grade_sync(ADD, GOOD)["status"] == "passed"


def pair_server_user_can_run_the_grader() -> bool:
    if os.geteuid() != 0:
        return False
    try:
        pwd.getpwnam("pp-server")
    except KeyError:
        return False
    done = subprocess.run(["setpriv", "--reuid=pp-server", "--regid=pp-server", "--init-groups",
                           sys.executable, "-c", "import peerplatform_grader"],
                          cwd="/", env={"PATH": "/usr/bin:/bin"}, capture_output=True)
    return done.returncode == 0


@pytest.mark.skipif(not pair_server_user_can_run_the_grader(),
                    reason="as root, with pp-server able to read this checkout")
def test_as_the_pair_servers_user_it_runs_as_the_kernel_user_with_a_clean_output():
    """As a pair server grades (pp-server, not root): the kernel user through the mapped user
    namespace; a cgroup it may not join (the grader's, made by root) is reported neither as a
    layer nor in the learners' output."""
    from peerplatform_grader.sandbox import GRADER_CGROUP, box_settings

    cgroup = SessionCgroup(GRADER_CGROUP)
    if cgroup.version is not None:
        cgroup.create(KernelLimits.from_settings(box_settings(Limits(), GRADER_CGROUP)))
    script = (
        "import json\n"
        "from peerplatform_grader import grade_sync\n"
        f"challenge = {ADD!r}\n"
        "code = 'import os\\nprint(sorted(os.environ))\\n# %%\\n' + " + repr(GOOD) + "\n"
        "print(json.dumps(grade_sync(challenge, code)))\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "PEERPLATFORM_KERNEL_USER":
           SandboxSettings.instance().user}
    done = subprocess.run(["setpriv", "--reuid=pp-server", "--regid=pp-server", "--init-groups",
                           sys.executable, "-c", script], cwd="/", env=env,
                          capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert result["status"] == "passed", result
    assert f"user:{SandboxSettings.instance().user}" in result["isolation"]
    assert not any(layer.startswith("cgroup:") for layer in result["isolation"])
    assert result["output"].startswith("['HOME'"), result["output"]
    assert "learner_sandbox" not in result["output"]
