"""What the grader needs of :func:`learner_sandbox.sandbox_command`, with real processes: a
pipe passed with ``Popen(pass_fds=…)`` reaches the sandboxed program through ``enter``, the
identity switch and bubblewrap (at its number, even past the open-files limit), and
``ro_binds`` shows a host file read-only where it is asked to."""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest
from learner_sandbox import SandboxSettings, sandbox_command
from learner_sandbox.identity import kernel_identity
from learner_sandbox.limits import SessionCgroup

LAUNCH_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture
def box():
    """Settings and a work folder the kernel user can use (as the session folders are made)."""
    settings = SimpleNamespace(user=SandboxSettings.instance().user, memory_mb=512, pids=64,
                               cpus=1.0, file_size_mb=1, open_files=64, tmp_mb=1)
    identity = kernel_identity(settings.user)
    work = tempfile.mkdtemp(prefix="pp-sbx-test-", dir="/tmp")
    if identity.separate:
        os.chown(work, -1, identity.gid)
        os.chmod(work, 0o2770)
    yield settings, work
    shutil.rmtree(work, ignore_errors=True)
    SessionCgroup("grader-test").remove()


def run_boxed(settings, work, code, **kwargs):
    cmd = sandbox_command([sys.executable, "-I", "-c", code], work_dir=work, settings=settings,
                          cgroup="grader-test", **kwargs.pop("command", {}))
    return subprocess.run(cmd, cwd=work, env=LAUNCH_ENV, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=60, **kwargs)


@pytest.mark.parametrize("number", [None, 200])  # as it comes, and past RLIMIT_NOFILE (64)
def test_a_passed_pipe_reaches_the_sandboxed_program(box, number):
    settings, work = box
    read_fd, write_fd = os.pipe()
    if number is not None:
        os.dup2(write_fd, number)
        os.close(write_fd)
        write_fd = number
    try:
        code = (f"import os; os.write({write_fd}, b'hello from ' + str(os.getpid()).encode()); "
                f"os.close({write_fd})")
        done = run_boxed(settings, work, code, pass_fds=(write_fd,))
        os.close(write_fd)
        write_fd = -1
        data = b""
        while chunk := os.read(read_fd, 4096):  # EOF: every copy of the write end is closed
            data += chunk
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
    assert done.returncode == 0, done.stderr
    # the sandbox's own PID namespace: bubblewrap is 1, the program 2
    assert data == b"hello from 2"


def test_ro_binds_show_a_host_file_read_only_where_asked(box, tmp_path):
    settings, work = box
    host = Path(tempfile.mkdtemp(prefix="pp-sbx-bind-", dir="/tmp"))
    try:
        (host / "runner.py").write_text("the runner\n")
        os.chmod(host, 0o755)
        os.chmod(host / "runner.py", 0o644)
        code = ("import os\n"
                "print(open('/opt/peerplatform/runner.py').read().strip())\n"
                "try:\n    open('/opt/peerplatform/runner.py', 'a')\n"
                "except OSError as e:\n    print('refused', e.errno)\n"
                f"print('host path visible:', os.path.exists({str(host)!r}))\n")
        done = run_boxed(settings, work, code,
                         command={"ro_binds": ((str(host / "runner.py"),
                                                "/opt/peerplatform/runner.py"),)})
    finally:
        shutil.rmtree(host, ignore_errors=True)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.decode().splitlines()
    assert lines[0] == "the runner"
    assert lines[1] in ("refused 30", "refused 13")  # EROFS (or EACCES: not its file)
    assert lines[2] == "host path visible: False"


def test_without_ro_binds_the_command_is_unchanged(box):
    """Kernels call it without the new parameter: their command line stays what it was."""
    settings, work = box
    argv = [sys.executable, "-I", "-c", "pass"]
    plain = sandbox_command(argv, work_dir=work, settings=settings, cgroup="grader-test")
    assert plain == sandbox_command(argv, work_dir=work, settings=settings, cgroup="grader-test",
                                    ro_binds=())
    assert "/opt/peerplatform/runner.py" not in plain
    if os.geteuid() == 0:
        assert f"--reuid={pwd.getpwnam(settings.user).pw_uid}" in plain
