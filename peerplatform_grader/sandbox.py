"""Run :mod:`.runner` on a job in the learner sandbox, and collect what it reports.

Graded code is the driver's code: it is confined exactly like the session's kernel, by the
same code (:mod:`learner_sandbox`), plus the grader's own, tighter per-run layers.

* **the learner sandbox** (``c.GraderSettings.isolation = "auto"``, the default):
  :func:`learner_sandbox.sandbox_command` runs the runner as the kernel user
  (``c.SandboxSettings.user``; as root via ``setpriv``, in a pair server via a mapped user
  namespace), inside bubblewrap: its own user, mount, PID, network, IPC and UTS namespaces (no
  network at all, no other process visible, only ``/usr``, a few ``/etc`` files and the Python
  environment, read-only), an allowlisted environment, and the session's cgroup (in a pair
  server, ``$PEERPLATFORM_SESSION_ID``: the kernel's own memory, process and CPU budget;
  elsewhere ``peerplatform/grader``). The runner is bound read-only at
  ``/opt/peerplatform/runner.py``; the run's temp folder (under ``/tmp``, group of the kernel
  user, 2770, as the session folders of :mod:`learner_sandbox.folders`) is ``/home/learner``
  and its working directory. Results come back over a pipe inherited through the sandbox
  (``pass_fds``). **Fail closed**: if the sandbox cannot be set up, nothing runs and the
  result is an error naming what is missing. Checked once per process by a probe run.
* ``isolation = "none"`` (UNSAFE; hosts without bubblewrap): the runner runs as this process's
  user with only the layers below; it can read whatever this user can.
* **resource limits** (always), set by the runner on itself before the graded code runs:
  CPU seconds, address space, file size, open files, no core files, and ``RLIMIT_NPROC=0``
  (no new processes or threads);
* **audit hook** (always): the runner refuses sockets, processes, ctypes and writes outside
  its folder to ordinary Python code (not a security boundary on its own: the sandbox is);
* **wall clock** (always): the parent kills the run at its time limit (the sandbox dies with
  its launcher);
* **output cap** (always): stdout+stderr are read by the parent, the first ``output_keep``
  bytes kept; past ``output_limit`` bytes the run is killed (status ``output``);
* **a temp folder** (always) as working directory and ``$HOME``, removed afterwards; a minimal
  environment (no ``MONGODB_URI``, no tokens).

``isolation`` in each result names the layers in effect (the launcher's own messages, e.g. that
no cgroup could be joined, go to this module's log, not into the learners' output). The
reference solution is never part of the job, so it is never in the sandbox.
"""

from __future__ import annotations

import json
import logging
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import SimpleNamespace

from learner_sandbox import SandboxSettings, SandboxUnavailable, sandbox_command
from learner_sandbox.identity import kernel_identity
from learner_sandbox.limits import SessionCgroup

from .settings import GraderSettings

RUNNER = Path(__file__).with_name("runner.py")
#: where the runner appears inside the sandbox
RUNNER_INSIDE = "/opt/peerplatform/runner.py"
#: the cgroup of gradings outside a pair server (``challenges-loader verify``, tests, benches)
GRADER_CGROUP = "grader"
#: the sandbox's private /tmp, in MiB (the audit hook refuses writes there anyway)
TMP_MB = 1
#: where run folders are made in the sandbox case: every user may pass /tmp
WORK_PARENT = "/tmp"
MiB = 1024 * 1024
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Limits:
    """Per-run limits. ``wall_s`` is the whole run's budget, tests included."""

    wall_s: float = 10.0
    startup_grace_s: float = 3.0       # interpreter start-up, not charged to the tests
    per_test_s: float = 10.0
    memory_bytes: int = 512 * MiB      # RLIMIT_AS
    file_bytes: int = 1 * MiB          # RLIMIT_FSIZE: files the code writes in its folder
    open_files: int = 64               # RLIMIT_NOFILE
    output_keep: int = 32 * 1024       # bytes of stdout/stderr kept in the result
    output_limit: int = 1 * MiB        # past this the run is killed
    python: str = field(default_factory=lambda: sys.executable)

    def rlimits(self) -> dict:
        cpu = int(self.wall_s + 1)
        return {"cpu": [cpu, cpu + 1], "as": self.memory_bytes, "fsize": self.file_bytes,
                "nofile": self.open_files, "nproc": 0, "core": 0}


@dataclass
class SandboxRun:
    """What one run produced, before any interpretation (that is :mod:`.steps`' job)."""

    events: list = field(default_factory=list)
    output: bytes = b""
    output_bytes: int = 0
    killed: str | None = None          # "time" | "output" | None
    returncode: int | None = None
    duration_ms: float = 0.0
    isolation: list = field(default_factory=list)


# -- how the runner is started -----------------------------------------------------------------

#: the launching process's environment (bubblewrap clears it and sets the sandbox's own)
LAUNCH_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
#: the runner's environment without the sandbox (plus HOME and TMPDIR: its folder)
SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
UNCONFINED_LAYERS = ("rlimits", "audit-hook")


@dataclass
class Launch:
    """One run's command, where it starts, its environment and the layers it applies."""

    cmd: list
    workdir: str
    env: dict
    layers: list
    cgroup: SessionCgroup | None = None


def cgroup_name() -> str:
    """The session's cgroup in a pair server (the kernel's limits), else the grader's own."""
    return os.environ.get("PEERPLATFORM_SESSION_ID", "").strip() or GRADER_CGROUP


def box_settings(limits: Limits, cgroup: str, sandbox=None) -> SimpleNamespace:
    """The :class:`learner_sandbox.SandboxSettings` of a grading run.

    Who runs it is the learner sandbox's choice (``SandboxSettings.user``). The per-process
    limits the launcher sets are the grader's (file size, open files); the memory, process
    and CPU budget is the cgroup's, shared by everything in it, so it stays the session's (the
    kernel's limits: a root grader re-applying them to the session's cgroup changes nothing);
    each run's own memory is the runner's ``RLIMIT_AS`` (``Limits.memory_bytes``). The
    grader's own cgroup gets a CPU per concurrent grading.
    """
    sandbox = sandbox or SandboxSettings.instance()
    cpus = sandbox.cpus
    if cgroup == GRADER_CGROUP:
        cpus = max(cpus, float(GraderSettings.instance().slots))
    return SimpleNamespace(
        user=sandbox.user, memory_mb=sandbox.memory_mb, pids=sandbox.pids, cpus=cpus,
        file_size_mb=max(1, -(-limits.file_bytes // MiB)), open_files=limits.open_files,
        tmp_mb=TMP_MB)


def _unconfined(argv_tail: list, limits: Limits) -> Launch:
    workdir = tempfile.mkdtemp(prefix="pp-grade-")
    os.chmod(workdir, 0o700)
    return Launch([limits.python, "-I", str(RUNNER), *argv_tail], workdir,
                  {**SANDBOX_ENV, "HOME": workdir, "TMPDIR": workdir}, list(UNCONFINED_LAYERS))


def _sandbox_workdir(settings) -> str:
    """A run folder the kernel user can use: ours, its group's, 2770 (or 0700 when the
    sandbox keeps our own uid)."""
    identity = kernel_identity(settings.user)
    workdir = tempfile.mkdtemp(prefix="pp-grade-", dir=WORK_PARENT)
    try:
        if identity.separate:
            try:
                os.chown(workdir, -1, identity.gid)  # root: any group; else one we are in
            except PermissionError:
                raise SandboxUnavailable(
                    f"this process may not give its grading folder to the group of "
                    f"{identity.name!r} (gid {identity.gid}): the pair servers' user must be a "
                    f"member of that group (`peerplatform up` does it)") from None
            os.chmod(workdir, 0o2770)
        else:
            os.chmod(workdir, 0o700)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return workdir


def confined(argv: list, limits: Limits | None = None) -> Launch:
    """``argv`` (a program in the sandbox, which sees the runner at :data:`RUNNER_INSIDE`)
    launched in the learner sandbox with a fresh run folder. Raises
    :class:`SandboxUnavailable`; the caller removes ``workdir``."""
    limits = limits or Limits()
    name = cgroup_name()
    settings = box_settings(limits, name)
    identity = kernel_identity(settings.user)
    workdir = _sandbox_workdir(settings)
    try:
        cmd = sandbox_command(argv, work_dir=workdir, settings=settings, cgroup=name,
                              env={"LC_ALL": "C.UTF-8"}, ro_binds=((str(RUNNER), RUNNER_INSIDE),))
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    layers = [*UNCONFINED_LAYERS, "no-network", "pid-namespace", "mount-namespace",
              "user-namespace"]
    if identity.separate:
        layers.append(f"user:{identity.name}")
    return Launch(cmd, workdir, dict(LAUNCH_ENV), layers, SessionCgroup(name))


_probed: set = set()
_probe_lock = threading.Lock()


def check_sandbox(limits: Limits | None = None) -> None:
    """Start the sandbox once per process (per kernel user and interpreter) with a program that
    only looks at the runner; raise :class:`SandboxUnavailable` with the reason if it does not
    start. Success is remembered, failure is not (the next grading checks again)."""
    limits = limits or Limits()
    key = (SandboxSettings.instance().user, limits.python, cgroup_name())
    if key in _probed:
        return
    with _probe_lock:
        if key in _probed:
            return
        check = f"import os; os.stat({RUNNER_INSIDE!r}); os.listdir('.')"
        launch = confined([limits.python, "-I", "-c", check], limits)
        try:
            done = subprocess.run(launch.cmd, stdin=subprocess.DEVNULL, capture_output=True,
                                  timeout=30, cwd=launch.workdir, env=launch.env)
        except (OSError, subprocess.SubprocessError) as e:
            raise SandboxUnavailable(f"the sandbox did not start: {e}") from None
        finally:
            shutil.rmtree(launch.workdir, ignore_errors=True)
        if done.returncode != 0:
            detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-400:]
            raise SandboxUnavailable(f"the sandbox did not start (exit {done.returncode}): "
                                     f"{detail}")
        _probed.add(key)


def launch_runner(fd: int, limits: Limits) -> Launch:
    """How this run starts, by ``c.GraderSettings.isolation``. Raises
    :class:`SandboxUnavailable` (mode ``auto`` only)."""
    if GraderSettings.instance().isolation == "none":
        return _unconfined([str(fd)], limits)
    check_sandbox(limits)
    return confined([limits.python, "-I", RUNNER_INSIDE, str(fd)], limits)


def unavailable(reason: str) -> str:
    return (f"Grading is unavailable: the sandbox for graded code cannot be set up ({reason}). "
            "Nothing was run. An operator may install what is missing, or set "
            "PEERPLATFORM_GRADER_ISOLATION=none (unsafe: graded code then runs unconfined).")


# -- one run -----------------------------------------------------------------------------------

def run(job: dict, limits: Limits | None = None) -> SandboxRun:
    """Run one grading job to completion (blocking; call it from a worker thread)."""
    limits = limits or Limits()
    job = {**job, "limits": limits.rlimits()}
    payload = json.dumps(job).encode("utf-8")
    result = SandboxRun()
    started = time.perf_counter()
    read_fd, write_fd = os.pipe()
    launch = None
    try:
        try:
            launch = launch_runner(write_fd, limits)
        except SandboxUnavailable as e:
            # fail closed: a clear error, and the graded code never ran
            result.events.append({"event": "fatal", "message": unavailable(str(e))})
            return result
        result.isolation = list(launch.layers)
        proc = subprocess.Popen(
            launch.cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, cwd=launch.workdir, env=launch.env,
            pass_fds=(write_fd,), start_new_session=True,
        )
        os.close(write_fd)
        write_fd = -1
        try:
            proc.stdin.write(payload)
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass  # it died before reading: its exit status tells
        _collect(proc, read_fd, limits, result)
        result.returncode = proc.returncode
        notes = _launcher_notes(result)
        if launch.cgroup is not None and launch.cgroup.joinable() and not notes:
            result.isolation.append(f"cgroup:{launch.cgroup.name}")
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
        if launch is not None:
            shutil.rmtree(launch.workdir, ignore_errors=True)
        result.duration_ms = (time.perf_counter() - started) * 1000
    return result


LAUNCHER_NOTE = b"learner_sandbox: "


def _launcher_notes(result: SandboxRun) -> list[str]:
    """Take the sandbox launcher's own messages (``enter``: no cgroup…) out of the output the
    learners see, and log them. They come first: the launcher runs before the runner."""
    notes = []
    while result.output.startswith(LAUNCHER_NOTE) and b"\n" in result.output:
        line, result.output = result.output.split(b"\n", 1)
        result.output_bytes -= len(line) + 1
        notes.append(line.decode("utf-8", "replace"))
        log.warning("grader: %s", notes[-1])
    return notes


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _collect(proc: subprocess.Popen, read_fd: int, limits: Limits, result: SandboxRun) -> None:
    """Read output and events until both streams close or a limit is hit."""
    deadline = time.monotonic() + limits.wall_s + limits.startup_grace_s
    kept = bytearray()
    pending = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ, "out")
    sel.register(read_fd, selectors.EVENT_READ, "events")
    open_streams = 2
    out_fd = proc.stdout.fileno()
    try:
        while open_streams:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                result.killed = "time"
                _kill(proc)
                break
            for key, _ in sel.select(timeout=min(remaining, 0.5)):
                fd = out_fd if key.data == "out" else read_fd
                chunk = os.read(fd, 65536)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                if key.data == "out":
                    result.output_bytes += len(chunk)
                    room = limits.output_keep - len(kept)
                    if room > 0:
                        kept += chunk[:room]
                    if result.output_bytes > limits.output_limit:
                        result.killed = "output"
                        _kill(proc)
                        open_streams = 0
                        break
                else:
                    pending += chunk
                    *lines, pending = pending.split(b"\n")
                    result.events.extend(_parse(line) for line in lines if line.strip())
    finally:
        sel.close()
        proc.stdout.close()
    if result.killed:
        # whatever complete events were already written still count
        _drain(read_fd, result, pending)
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        _kill(proc)
        proc.wait()
    result.output = bytes(kept)


def _drain(read_fd: int, result: SandboxRun, data: bytes) -> None:
    os.set_blocking(read_fd, False)
    try:
        while True:
            chunk = os.read(read_fd, 65536)
            if not chunk:
                break
            data += chunk
    except BlockingIOError:
        pass
    result.events.extend(_parse(line) for line in data.split(b"\n")[:-1] if line.strip())


def _parse(line: bytes) -> dict:
    try:
        event = json.loads(line)
    except ValueError:
        return {"event": "garbled", "message": line[:200].decode("utf-8", "replace")}
    return event if isinstance(event, dict) else {"event": "garbled", "message": repr(event)[:200]}


def describe(limits: Limits) -> dict:
    """The limits as reported in a grade result."""
    data = asdict(limits)
    data.pop("python", None)
    return data
