"""The learner sandbox package on its own, with real processes: ``sandbox_command`` run by
``subprocess`` in a session folder made by ``prepare_session_dir``, as root (a pair server
started directly) and as ``pp-server`` (the spawner's pair servers), and every way it refuses
to start, each with a message naming the fix.

The adversarial matrix through the whole platform is ``tests/security``; this is the package's
own contract: who the program runs as, what it sees, what limits hold, and what an operator is
told when the sandbox cannot be had.
"""

from __future__ import annotations

import errno
import grp
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest
from learner_sandbox import SandboxSettings, SandboxUnavailable, sandbox_command, seccomp
from learner_sandbox import identity as identity_module
from learner_sandbox.command import probe, sandbox_env
from learner_sandbox.folders import check_reachable, prepare_session_dir
from learner_sandbox.limits import Limits, MiB, SessionCgroup, cgroup_version
from learner_sandbox.settings import ENV
from learner_sandbox.system import check_user_can_run, ensure_system_users
from traitlets import TraitError

pytestmark = pytest.mark.timeout(120)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="runs as root, as CI does")
with_cgroup = pytest.mark.skipif(cgroup_version() is None or os.geteuid() != 0,
                                 reason="needs a cgroup hierarchy writable as root")

KERNEL_USER = "pp-kernel"
SERVER_USER = "pp-server"
#: how the pair server launches the sandbox (kernels.LAUNCH_ENV): nothing of its own environment
LAUNCH_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
#: what the pair server's environment holds, handed to the provisioner as the kernel's env
SERVER_ENV = {"JPY_SESSION_NAME": "session.ipynb", "MONGODB_URI": "mongodb://u:pw@127.0.0.1:1/x",
              "PP_TEST_SECRET_TOKEN": "s3cr3t-" + secrets.token_hex(4),
              "JUPYTERHUB_API_TOKEN": "hub-" + secrets.token_hex(4)}

#: defined before each program: ``_try(fn)`` is the errno name of what it raised, or "ok"
PRELUDE = r'''
import errno as _errno, json as _json, os as _os
def _try(fn, *args):
    try:
        fn(*args)
    except OSError as e:
        return _errno.errorcode.get(e.errno, str(e.errno))
    return "ok"
def _report(obj):
    print("@@" + _json.dumps(obj), flush=True)
'''


def report(done: subprocess.CompletedProcess) -> dict:
    out = done.stdout.decode() if isinstance(done.stdout, bytes) else done.stdout
    err = done.stderr.decode() if isinstance(done.stderr, bytes) else done.stderr
    assert done.returncode == 0, (done.returncode, out, err)
    lines = [line for line in out.splitlines() if line.startswith("@@")]
    assert lines, (out, err)
    return json.loads(lines[-1][2:])


def settings(**overrides) -> SandboxSettings:
    values = dict(user=KERNEL_USER, memory_mb=128, pids=32, cpus=1.0, file_size_mb=2, tmp_mb=1,
                  work_mb=16, open_files=64)
    values.update(overrides)
    return SandboxSettings(**values)


class Box:
    """A session folder (``<base>/session/{work,kernels}``) and its cgroup name."""

    def __init__(self, server_uid: int = 0):
        self.base = Path(tempfile.mkdtemp(prefix="pp-sbx-", dir="/tmp"))
        os.chmod(self.base, 0o711)
        self.session = self.base / "session"
        prepare_session_dir(self.session, server_uid=server_uid, kernel_user=KERNEL_USER)
        self.work = self.session / "work"
        self.cgroup = "sbxtest-" + secrets.token_hex(4)
        self.settings = settings()

    def command(self, code: str, **kwargs) -> list[str]:
        kwargs.setdefault("env", SERVER_ENV)
        return sandbox_command([sys.executable, "-I", "-c", PRELUDE + code],
                               work_dir=str(self.work), settings=kwargs.pop("settings",
                                                                            self.settings),
                               cgroup=self.cgroup, **kwargs)

    def run(self, code: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(code, **kwargs), env=LAUNCH_ENV,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout)

    def cleanup(self) -> None:
        cg = SessionCgroup(self.cgroup)
        deadline = time.monotonic() + 5
        while any(d.exists() for d in cg.dirs) and time.monotonic() < deadline:
            cg.remove()  # its last process may still be on its way out
            if any(d.exists() for d in cg.dirs):
                time.sleep(0.05)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture
def box():
    b = Box()
    yield b
    b.cleanup()


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert proc.poll() is None, (proc.returncode, proc.stderr.read() if proc.stderr else "")
        assert time.monotonic() < deadline, f"{path} did not appear"
        time.sleep(0.02)


def sandboxed(proc: subprocess.Popen) -> list[psutil.Process]:
    """The processes inside the sandbox launched as ``proc`` (bubblewrap's are outside it)."""
    return [p for p in psutil.Process(proc.pid).children(recursive=True) if p.name() != "bwrap"]


def cgroup_paths(pid: int) -> dict:
    """controller -> cgroup path of ``pid``, from ``/proc/<pid>/cgroup`` (v2: key '')."""
    out = {}
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for controller in controllers.split(",") if controllers else [""]:
            out[controller] = path
    return out


def kernel_account() -> pwd.struct_passwd:
    return pwd.getpwnam(KERNEL_USER)


# -- who, and with what environment -----------------------------------------------------------


@as_root
def test_runs_as_the_kernel_user_on_the_host_and_as_1000_inside(box):
    done = box.run("open('mine.txt', 'w').write('x')\n"
                   "_report({'uid': _os.getuid(), 'gid': _os.getgid(), 'euid': _os.geteuid(),"
                   " 'groups': _os.getgroups(), 'home': _os.getcwd()})")
    seen = report(done)
    assert seen == {"uid": 1000, "gid": 1000, "euid": 1000, "groups": [],  # no supplementary group
                    "home": "/home/learner"}
    st = os.stat(box.work / "mine.txt")
    account = kernel_account()
    assert (st.st_uid, st.st_gid) == (account.pw_uid, account.pw_gid)
    assert account.pw_uid != 0
    # umask 007: the pair server (the kernel user's group) edits it, nobody else reads it
    assert stat.S_IMODE(st.st_mode) == 0o660


@as_root
def test_environment_is_exactly_the_allowlist(box):
    done = box.run("_report(dict(_os.environ))")
    env = report(done)
    expected = {**sandbox_env(SERVER_ENV), "PWD": "/home/learner"}  # PWD: bubblewrap's chdir
    assert env == expected
    assert env["JPY_SESSION_NAME"] == "session.ipynb"
    for key in ("MONGODB_URI", "PP_TEST_SECRET_TOKEN", "JUPYTERHUB_API_TOKEN"):
        assert key not in env
        assert not any(SERVER_ENV[key] in value for value in env.values())


@as_root
def test_the_launching_processs_environment_does_not_reach_the_sandbox(box):
    secret = SERVER_ENV["PP_TEST_SECRET_TOKEN"]
    done = subprocess.run(box.command(
        "import glob\n"
        "found = []\n"
        "for path in glob.glob('/proc/[0-9]*/environ'):\n"
        "    try:\n"
        f"        if {secret!r}.encode() in open(path, 'rb').read(): found.append(path)\n"
        "    except OSError:\n"
        "        pass\n"
        "_report(found)"), env={**LAUNCH_ENV, "PP_TEST_SECRET_TOKEN": secret},
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert report(done) == []


# -- network, files, system calls ---------------------------------------------------------------


@as_root
def test_tcp_to_a_host_listener_fails(box):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        listener.setblocking(False)
        port = listener.getsockname()[1]
        done = box.run(
            "import socket\n"
            "def connect():\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=3).close()\n"
            "_report({'connect': _try(connect),"
            " 'interfaces': sorted(n for _, n in socket.if_nameindex())})")
        seen = report(done)
        assert seen == {"connect": "ECONNREFUSED", "interfaces": ["lo"]}
        with pytest.raises(BlockingIOError):
            listener.accept()  # nothing arrived


@as_root
def test_root_is_read_only_tmp_is_capped_and_files_are_size_limited(box):
    s = settings(tmp_mb=1, file_size_mb=2)
    done = box.run(
        "import signal\n"
        "def fill(path, mib):\n"
        "    with open(path, 'wb') as f:\n"
        "        for _ in range(mib * 4):\n"
        "            f.write(b'x' * (256 * 1024))\n"
        "out = {'root': _try(open, '/planted', 'w'), 'usr': _try(open, '/usr/planted', 'w'),\n"
        "       'etc': _try(open, '/etc/planted', 'w'),\n"
        "       'tmp_small': _try(fill, '/tmp/small', 0)}\n"
        "out['tmp_full'] = _try(fill, '/tmp/big', 3)\n"
        "out['tmp_size'] = _os.path.getsize('/tmp/big')\n"
        "out['work_big'] = _try(fill, 'big.bin', 4)\n"
        "out['work_size'] = _os.path.getsize('big.bin')\n"
        "out['sigxfsz_ignored'] = signal.getsignal(signal.SIGXFSZ) == signal.SIG_IGN\n"
        "_report(out)", settings=s)
    seen = report(done)
    assert seen["root"] == seen["usr"] == seen["etc"] == "EROFS"
    assert seen["tmp_small"] == "ok"
    assert seen["tmp_full"] == "ENOSPC" and seen["tmp_size"] <= 1 * MiB
    # Python ignores SIGXFSZ, so the write fails with EFBIG and the program lives on
    assert seen["sigxfsz_ignored"] is True
    assert seen["work_big"] == "EFBIG" and seen["work_size"] == 2 * MiB
    assert os.path.getsize(box.work / "big.bin") == 2 * MiB
    assert not Path("/planted").exists()


@as_root
def test_ptrace_is_refused_by_the_seccomp_filter(box):
    done = box.run(
        "import ctypes\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "rc = libc.ptrace(0, 0, None, None)  # PTRACE_TRACEME\n"
        "status = dict(line.split(':\\t', 1) for line in open('/proc/self/status')"
        ".read().splitlines() if ':\\t' in line)\n"
        "_report({'rc': rc, 'errno': _errno.errorcode.get(ctypes.get_errno()),"
        " 'seccomp': status['Seccomp'].strip(), 'nnp': status['NoNewPrivs'].strip()})")
    assert report(done) == {"rc": -1, "errno": "EPERM", "seccomp": "2", "nnp": "1"}


# -- the session's cgroup ---------------------------------------------------------------------


@with_cgroup
def test_the_program_is_in_the_sessions_cgroup_with_its_limits(box):
    ready = box.work / "ready"
    proc = subprocess.Popen(box.command("import time\nopen('ready', 'w').close()\n"
                                        "time.sleep(30)"), env=LAUNCH_ENV,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        wait_for(ready, proc)
        inside = sandboxed(proc)
        assert inside, "no process in the sandbox"
        cg = SessionCgroup(box.cgroup)
        want = f"/peerplatform/{box.cgroup}"
        for p in [psutil.Process(proc.pid), *inside]:
            paths = cgroup_paths(p.pid)
            if cg.version == 1:
                assert {c: paths.get(c) for c in ("memory", "pids", "cpu")} == {
                    "memory": want, "pids": want, "cpu": want}, paths
            else:
                assert paths[""] == want, paths
            assert p.uids().real == kernel_account().pw_uid
        memory, pids = cg.dirs[0], cg.dirs[1 if cg.version == 1 else 0]
        limit_file = "memory.limit_in_bytes" if cg.version == 1 else "memory.max"
        assert int((memory / limit_file).read_text()) == 128 * MiB
        assert int((pids / "pids.max").read_text()) == 32
        procs = {int(x) for x in (memory / "cgroup.procs").read_text().split()}
        assert {p.pid for p in inside} <= procs
    finally:
        proc.kill()
        proc.wait(10)


@with_cgroup
def test_a_memory_balloon_is_killed_and_counted(box):
    cg = SessionCgroup(box.cgroup)
    box.run("pass")  # creates the cgroup
    before = cg.oom_kills()
    done = box.run("b = b'x' * (3 * 128 * 1024 * 1024)\n_report('survived')")
    assert done.returncode in (137, -signal.SIGKILL), (done.returncode, done.stdout, done.stderr)
    assert b"survived" not in done.stdout
    assert cg.oom_kills() > before
    # the next program in the session starts as usual
    assert report(box.run("_report('fresh')")) == "fresh"


@with_cgroup
def test_a_fork_bomb_stops_at_the_pids_limit(box):
    done = box.run(
        "import time\n"
        "kids, err = [], None\n"
        "for _ in range(200):\n"
        "    try:\n"
        "        pid = _os.fork()\n"
        "    except OSError as e:\n"
        "        err = _errno.errorcode.get(e.errno); break\n"
        "    if pid == 0:\n"
        "        time.sleep(10); _os._exit(0)\n"
        "    kids.append(pid)\n"
        "for k in kids:\n"
        "    _os.kill(k, 9); _os.waitpid(k, 0)\n"
        "_report({'forked': len(kids), 'err': err})", timeout=60)
    seen = report(done)
    assert seen["err"] == "EAGAIN"
    assert 0 < seen["forked"] < 32


# -- as pp-server: the spawner's pair servers ------------------------------------------------

AS_SERVER = r'''
import json, os, signal, subprocess, sys, time
import psutil
from learner_sandbox import SandboxSettings, sandbox_command
work, cgroup = sys.argv[1], sys.argv[2]
s = SandboxSettings(user="pp-kernel", memory_mb=128, pids=32, cpus=1.0, file_size_mb=2,
                    tmp_mb=1, open_files=64)
code = """
import os, signal, time
def on_int(*_):
    open('interrupted', 'w').close()
    os._exit(7)
signal.signal(signal.SIGINT, on_int)
open('written-inside', 'w').write(str(os.getuid()))
open('ready', 'w').close()
time.sleep(30)
"""
cmd = sandbox_command([sys.executable, "-I", "-c", code], work_dir=work, settings=s,
                      cgroup=cgroup)
proc = subprocess.Popen(cmd, env={"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"},
                        stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
deadline = time.monotonic() + 20
while not os.path.exists(os.path.join(work, "ready")):
    if proc.poll() is not None or time.monotonic() > deadline:
        print(json.dumps({"failed": proc.poll(), "stderr": proc.stderr.read().decode()
                          if proc.poll() is not None else ""}))
        sys.exit(0)
    time.sleep(0.02)
inside = [p for p in psutil.Process(proc.pid).children(recursive=True) if p.name() != "bwrap"]
out = {"me": os.getuid(), "prefix": cmd[6:9], "host_uids": sorted({p.uids().real for p in inside}),
       "cgroup": open(f"/proc/{inside[0].pid}/cgroup").read() if inside else ""}
for p in inside:
    os.kill(p.pid, signal.SIGINT)  # as the pair server's interrupt does
out["exit"] = proc.wait(20)
out["read"] = open(os.path.join(work, "written-inside")).read()
out["interrupted"] = os.path.exists(os.path.join(work, "interrupted"))
print(json.dumps(out))
'''


def as_server(script: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    setpriv = shutil.which("setpriv", path=identity_module.SYSTEM_PATH)
    return subprocess.run([setpriv, "--reuid", SERVER_USER, "--regid", SERVER_USER,
                           "--init-groups", sys.executable, "-c", script, *args],
                          capture_output=True, text=True, timeout=timeout, cwd="/",
                          env=LAUNCH_ENV)


def server_can_map_the_kernel_user() -> bool:
    """(At run time: the session fixture ``sandbox_users`` makes the users.)"""
    try:
        server, kernel = pwd.getpwnam(SERVER_USER), kernel_account()
    except KeyError:
        return False
    return (shutil.which("newuidmap", path=identity_module.SYSTEM_PATH) is not None
            and identity_module._subordinate("/etc/subuid", SERVER_USER, server.pw_uid,
                                             kernel.pw_uid))


@pytest.fixture
def server_box():
    if not server_can_map_the_kernel_user():
        pytest.skip("needs pp-server with pp-kernel as its subordinate id, and newuidmap")
    server = pwd.getpwnam(SERVER_USER)
    b = Box(server_uid=server.pw_uid)
    cg = SessionCgroup(b.cgroup)
    if cg.version is not None:
        cg.create(Limits.from_settings(b.settings), owner_uid=server.pw_uid)  # as the spawner
    yield b
    b.cleanup()


@as_root
def test_as_the_pair_servers_user_the_kernel_is_the_kernel_user(server_box):
    done = as_server(AS_SERVER, str(server_box.work), server_box.cgroup)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert "failed" not in seen, seen
    server, kernel = pwd.getpwnam(SERVER_USER), kernel_account()
    assert seen["me"] == server.pw_uid
    assert seen["prefix"][0].endswith("/unshare"), seen["prefix"]  # through newuidmap
    assert seen["host_uids"] == [kernel.pw_uid]
    # the pair server owns the sandbox's user namespace: its interrupt arrives
    assert seen["interrupted"] is True and seen["exit"] == 7
    # and it reads what learner code wrote (the kernel user's group, umask 007)
    assert seen["read"] == "1000"
    st = os.stat(server_box.work / "written-inside")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (
        kernel.pw_uid, kernel.pw_gid, 0o660)
    if SessionCgroup(server_box.cgroup).version is not None:
        assert f"/peerplatform/{server_box.cgroup}" in seen["cgroup"], seen["cgroup"]


@as_root
def test_as_the_pair_servers_user_without_newuidmap_names_the_package(server_box):
    tools = Path(tempfile.mkdtemp(prefix="pp-tools-", dir="/tmp"))
    try:
        os.chmod(tools, 0o755)
        for name in ("unshare", "bwrap", "setpriv"):
            os.symlink(shutil.which(name, path=identity_module.SYSTEM_PATH), tools / name)
        done = as_server(
            "import sys\n"
            "from learner_sandbox import SandboxSettings, SandboxUnavailable, sandbox_command\n"
            "from learner_sandbox import identity\n"
            f"identity.SYSTEM_PATH = {str(tools)!r}\n"
            "try:\n"
            "    sandbox_command(['true'], work_dir=sys.argv[1], cgroup='x',\n"
            "                    settings=SandboxSettings(user='pp-kernel'))\n"
            "except SandboxUnavailable as e:\n"
            "    print('refused:', e)\n", str(server_box.work))
    finally:
        shutil.rmtree(tools)
    assert done.returncode == 0, done.stderr
    assert "refused: newuidmap is not installed (Debian: apt-get install uidmap)" in done.stdout


# -- refusals, each naming the fix ----------------------------------------------------------------


@as_root
def test_a_missing_kernel_user_as_root_is_refused(box):
    with pytest.raises(SandboxUnavailable) as refused:
        box.command("pass", settings=settings(user="pp-no-such-user"))
    message = str(refused.value)
    assert "'pp-no-such-user' does not exist" in message
    assert "useradd --system --user-group --no-create-home pp-no-such-user" in message


@as_root
def test_root_as_the_kernel_user_is_refused(box):
    with pytest.raises(SandboxUnavailable, match="the kernel user 'root' is root"):
        box.command("pass", settings=settings(user="root"))


@as_root
@pytest.mark.parametrize("missing, package", [("bwrap", "bubblewrap"),
                                              ("setpriv", "util-linux")])
def test_a_missing_tool_is_refused_naming_its_package(box, monkeypatch, missing, package):
    tools = Path(tempfile.mkdtemp(prefix="pp-tools-", dir="/tmp"))
    try:
        for name in ("setpriv", "unshare", "newuidmap", "bwrap"):
            if name != missing:
                os.symlink(shutil.which(name, path=identity_module.SYSTEM_PATH), tools / name)
        monkeypatch.setattr(identity_module, "SYSTEM_PATH", str(tools))
        with pytest.raises(SandboxUnavailable) as refused:
            box.command("pass")
    finally:
        shutil.rmtree(tools)
    assert str(refused.value) == f"{missing} is not installed (Debian: apt-get install {package})"


@as_root
def test_no_tool_at_all_is_refused(box, monkeypatch):
    empty = tempfile.mkdtemp(prefix="pp-tools-", dir="/tmp")
    try:
        monkeypatch.setattr(identity_module, "SYSTEM_PATH", empty)
        with pytest.raises(SandboxUnavailable, match=r"is not installed \(Debian: apt-get install"):
            box.command("pass")
    finally:
        os.rmdir(empty)


@as_root
def test_a_session_folder_under_a_private_folder_is_refused_naming_it():
    base = Path(tempfile.mkdtemp(prefix="pp-private-", dir="/tmp"))
    try:
        os.chmod(base, 0o700)
        with pytest.raises(SandboxUnavailable) as refused:
            prepare_session_dir(base / "sessions" / "s1", server_uid=0, kernel_user=KERNEL_USER)
        message = str(refused.value)
        assert message.startswith(f"{base} (mode 0700) keeps the sandbox's user out of "
                                  f"{base / 'sessions' / 's1' / 'work'}")
        assert "c.PairSpawner.sessions_root / $PEERPLATFORM_SESSIONS_DIR" in message
        # the same check, directly, for the kernel user; a passable parent is accepted
        account = kernel_account()
        with pytest.raises(SandboxUnavailable, match=f"^{base} "):
            check_reachable(base / "sessions", account.pw_uid, account.pw_gid)
        os.chmod(base, 0o711)
        check_reachable(base / "sessions" / "s1" / "work", account.pw_uid, account.pw_gid)
    finally:
        shutil.rmtree(base)


@as_root
def test_probe_starts_a_sandbox_and_refuses_with_the_reason(box):
    identity = probe(box.settings, str(box.work))
    assert (identity.uid, identity.name) == (kernel_account().pw_uid, KERNEL_USER)
    assert identity.separate
    with pytest.raises(SandboxUnavailable, match="'pp-no-such-user' does not exist"):
        probe(settings(user="pp-no-such-user"), str(box.work))
    # a work folder the kernel user cannot enter: the sandbox does not start, and says why
    private = box.session / "private-work"
    private.mkdir(mode=0o700)
    with pytest.raises(SandboxUnavailable) as refused:
        probe(box.settings, str(private))
    assert str(refused.value).startswith(f"the sandbox did not start for {private} (exit ")
    assert "Permission denied" in str(refused.value)


@as_root
def test_one_user_for_servers_and_kernels_is_refused():
    name = "pp-same-" + secrets.token_hex(3)
    with pytest.raises(SandboxUnavailable,
                       match="the pair servers' user and the kernels' user must differ"):
        ensure_system_users(name, name)
    with pytest.raises(KeyError):
        pwd.getpwnam(name)  # nothing created on the way


@as_root
def test_ensure_system_users_is_idempotent_for_the_platforms_users():
    assert ensure_system_users(SERVER_USER, KERNEL_USER) == []
    kernel_group = grp.getgrgid(kernel_account().pw_gid)
    assert SERVER_USER in kernel_group.gr_mem


@as_root
def test_a_python_the_server_user_cannot_reach_is_refused_naming_the_user():
    check_user_can_run(SERVER_USER, sys.executable)  # this install is reachable
    private = Path(tempfile.mkdtemp(prefix="pp-private-", dir="/tmp"))
    try:
        os.chmod(private, 0o700)
        # a venv inside a private folder (as under /root)
        os.symlink(sys.prefix, private / "venv")
        python = private / "venv" / "bin" / "python"
        with pytest.raises(SandboxUnavailable) as refused:
            check_user_can_run(SERVER_USER, str(python))
    finally:
        shutil.rmtree(private)
    message = str(refused.value)
    assert message.startswith(f"the system user {SERVER_USER} cannot run {python} "
                              f"(pair servers run as {SERVER_USER})")
    assert "not under /root" in message


# -- the seccomp filter -------------------------------------------------------------------------


def run_filter(program: bytes, arch: int, nr: int) -> int:
    """Evaluate the classic BPF ``program`` (the instructions it uses) on a system call."""
    insns = [struct.unpack("=HBBI", program[i:i + 8]) for i in range(0, len(program), 8)]
    data = struct.pack("=iI", nr, arch)
    acc, pc = 0, 0
    for _ in range(len(insns)):
        code, jt, jf, k = insns[pc]
        if code == 0x20:  # LD|W|ABS
            acc = struct.unpack_from("=I", data, k)[0]
            pc += 1
        elif code in (0x15, 0x35):  # JEQ, JGE
            taken = acc == k if code == 0x15 else acc >= k
            pc += 1 + (jt if taken else jf)
        elif code == 0x06:  # RET
            return k
        else:
            raise AssertionError(f"unexpected instruction {code:#x}")
        assert 0 <= pc < len(insns), "a jump leaves the program"
    raise AssertionError("no return")


ALLOW, DENY_EPERM = 0x7FFF0000, 0x00050000 | errno.EPERM


@pytest.mark.parametrize("machine", sorted(seccomp._ARCH))
def test_seccomp_program_is_a_valid_filter(machine):
    program = seccomp.program(machine)
    assert program and len(program) % 8 == 0 and len(program) // 8 <= 4096
    arch, numbers = seccomp._ARCH[machine]
    for name, nr in numbers.items():
        assert run_filter(program, arch, nr) == DENY_EPERM, name
    denied = set(numbers.values())
    for nr in range(0, 450):
        if nr not in denied:
            assert run_filter(program, arch, nr) == ALLOW, nr
    assert run_filter(program, 0x40000003, 101) == ALLOW  # another architecture: left alone
    if machine == "x86_64":
        # the x32 ABI's numbers would get past the list: all refused
        assert run_filter(program, arch, 0x40000000 | 101) == DENY_EPERM
        assert run_filter(program, arch, 0x40000000) == DENY_EPERM


def test_seccomp_program_for_an_unknown_machine_is_none():
    assert seccomp.program("pdp11") is None


@as_root
def test_enter_drops_the_seccomp_option_where_no_filter_exists(box):
    cmd = box.command("status = open('/proc/self/status').read()\n"
                      "_report([l.split()[1] for l in status.splitlines()"
                      " if l.startswith('Seccomp:')])")
    assert cmd[1:4] == ["-I", "-m", "learner_sandbox.enter"]
    # enter, on a machine the filter does not know
    wrapper = ("import platform, runpy, sys\n"
               "platform.machine = lambda: 'pdp11'\n"
               "sys.argv = ['enter', *sys.argv[1:]]\n"
               "runpy.run_module('learner_sandbox.enter', run_name='__main__')\n")
    done = subprocess.run([cmd[0], "-I", "-c", wrapper, *cmd[4:]], env=LAUNCH_ENV,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert report(done) == ["0"]  # ran, unfiltered, rather than not at all
    assert report(box.run("_report(1)")) == 1


# -- settings -------------------------------------------------------------------------------------

VALUES = {"user": ("pp-someone", "pp-someone"), "memory_mb": ("300", 300), "pids": ("77", 77),
          "cpus": ("0.5", 0.5), "file_size_mb": ("3", 3), "tmp_mb": ("5", 5),
          "work_mb": ("9", 9), "open_files": ("99", 99), "unsafe_no_sandbox": ("1", True)}


@pytest.fixture
def clean_env(monkeypatch):
    for variable in ENV.values():
        monkeypatch.delenv(variable, raising=False)
    return monkeypatch


def test_settings_cover_every_variable():
    assert set(VALUES) == set(ENV)


@pytest.mark.parametrize("trait", sorted(VALUES))
def test_each_environment_variable_sets_its_trait(clean_env, trait):
    raw, value = VALUES[trait]
    default = getattr(SandboxSettings(), trait)
    assert default != value
    clean_env.setenv(ENV[trait], raw)
    assert getattr(SandboxSettings(), trait) == value


def test_defaults_without_the_environment(clean_env):
    s = SandboxSettings()
    assert (s.user, s.memory_mb, s.pids, s.cpus, s.file_size_mb, s.tmp_mb, s.work_mb,
            s.open_files, s.unsafe_no_sandbox) == ("pp-kernel", 1024, 256, 1.0, 64, 128, 256,
                                                    256, False)


@pytest.mark.parametrize("raw, value", [("true", True), ("YES", True), ("0", False),
                                        ("", False), ("no", False)])
def test_unsafe_opt_out_needs_an_explicit_yes(clean_env, raw, value):
    clean_env.setenv(ENV["unsafe_no_sandbox"], raw)
    assert SandboxSettings().unsafe_no_sandbox is value


@pytest.mark.parametrize("trait", sorted(t for t in VALUES if t not in ("user",
                                                                        "unsafe_no_sandbox")))
def test_a_non_number_names_the_variable(clean_env, trait):
    clean_env.setenv(ENV[trait], "lots")
    with pytest.raises(TraitError, match=f"^{ENV[trait]} must be a number, not 'lots'$"):
        getattr(SandboxSettings(), trait)


def test_a_value_below_the_minimum_is_refused(clean_env):
    clean_env.setenv(ENV["memory_mb"], "10")
    with pytest.raises(TraitError, match="memory_mb"):
        SandboxSettings().memory_mb


def test_forwarded_env_round_trips(clean_env):
    s = SandboxSettings(user="pp-x", memory_mb=200, pids=40, cpus=0.25, file_size_mb=7,
                        tmp_mb=3, work_mb=11, open_files=33, unsafe_no_sandbox=True)
    forwarded = s.forwarded_env()
    assert set(forwarded) == set(ENV.values())
    for variable, raw in forwarded.items():
        clean_env.setenv(variable, raw)
    again = SandboxSettings()
    assert {t: getattr(again, t) for t in ENV} == {t: getattr(s, t) for t in ENV}
    assert SandboxSettings(unsafe_no_sandbox=False).forwarded_env()[
        ENV["unsafe_no_sandbox"]] == ""
