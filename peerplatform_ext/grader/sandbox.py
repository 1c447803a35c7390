"""Run :mod:`.runner` on a job in a subprocess with OS limits, and collect what it reports.

Layers, each used where this machine allows it (:func:`isolation` probes once and caches):

* **resource limits** (always), set by the runner on itself before the graded code runs:
  CPU seconds, address space, file size, open files, no core files, and ``RLIMIT_NPROC=0``
  (no new processes or threads for non-root users);
* **wall clock** (always): the parent kills the whole process group at the run's time limit;
* **output cap** (always): stdout+stderr are read by the parent, the first ``output_keep``
  bytes kept; past ``output_limit`` bytes the run is killed (status ``output``);
* **a temp folder** (always) as working directory and ``$HOME``, removed afterwards; the
  environment is replaced by a minimal one (no ``MONGODB_URI``, no tokens);
* **namespaces** via ``unshare``: as root ``--net --pid --mount-proc`` (no network at all, and
  no other process visible, so not the pair server's environment either); as a normal user the
  same inside a user namespace when the kernel allows unprivileged ones. Fallback where neither
  works: the runner's audit hook still refuses sockets and processes, which stops ordinary
  Python code but not native code - ``isolation`` in each result says which layers applied;
* **another user** (opt-in, ``c.GraderSettings.user``): when running as root, the runner
  is started as that user via ``setpriv``, provided that user can run this same interpreter.

The reference solution is never part of the job, so it is never in the sandbox.
"""

from __future__ import annotations

import functools
import json
import os
import pwd
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .settings import GraderSettings

RUNNER = Path(__file__).with_name("runner.py")
MiB = 1024 * 1024


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


# -- isolation probe ---------------------------------------------------------------------------

def _runs(cmd: list[str]) -> bool:
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=10,
                              env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def isolation(python: str = sys.executable, user: str | None = None) -> tuple[tuple, tuple]:
    """``(command prefix, layer names)`` for the strongest isolation available here."""
    return _isolation(python, user, GraderSettings.instance().isolation)


@functools.lru_cache(maxsize=4)
def _isolation(python: str, user: str | None, mode: str) -> tuple[tuple, tuple]:
    # probing starts processes: once per (interpreter, user, mode) and process
    if mode == "none":
        return (), ("rlimits", "audit-hook")
    unshare = shutil.which("unshare", path="/usr/bin:/bin:/usr/sbin:/sbin")
    prefix: tuple = ()
    layers = ["rlimits", "audit-hook"]
    if unshare:
        ns = (unshare, "--net", "--pid", "--fork", "--mount-proc", "--kill-child")
        candidates = [ns] if os.geteuid() == 0 else [
            (unshare, "--user", "--map-root-user", *ns[1:])]
        for candidate in candidates:
            if _runs([*candidate, "--", python, "-I", "-c", "pass"]):
                prefix = candidate + ("--",)
                layers += ["no-network", "pid-namespace"]
                break
    if user and os.geteuid() == 0:
        setpriv = shutil.which("setpriv", path="/usr/bin:/bin")
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            entry = None
        if setpriv and entry:
            drop = (setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
                    "--clear-groups", "--")
            probe = [*prefix, *drop, python, "-I", "-c",
                     f"import sys; sys.exit(sys.version != {sys.version!r})"]
            if _runs(probe):
                prefix = prefix + drop
                layers.append(f"user:{user}")
    return prefix, tuple(layers)


# -- one run -----------------------------------------------------------------------------------

SANDBOX_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}


def run(job: dict, limits: Limits | None = None, *, user: str | None = None) -> SandboxRun:
    """Run one grading job to completion (blocking; call it from a worker thread)."""
    limits = limits or Limits()
    user = user if user is not None else GraderSettings.instance().user or None
    prefix, layers = isolation(limits.python, user)
    job = {**job, "limits": limits.rlimits()}
    payload = json.dumps(job).encode("utf-8")
    result = SandboxRun(isolation=list(layers))
    workdir = tempfile.mkdtemp(prefix="pp-grade-")
    read_fd, write_fd = os.pipe()
    started = time.perf_counter()
    try:
        if any(layer.startswith("user:") for layer in layers):
            entry = pwd.getpwnam(user)
            os.chown(workdir, entry.pw_uid, entry.pw_gid)
        os.chmod(workdir, 0o700)
        env = {**SANDBOX_ENV, "HOME": workdir, "TMPDIR": workdir}
        cmd = [*prefix, limits.python, "-I", str(RUNNER), str(write_fd)]
        proc = subprocess.Popen(
            cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            cwd=workdir, env=env, pass_fds=(write_fd,), start_new_session=True,
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
    finally:
        if write_fd >= 0:
            os.close(write_fd)
        os.close(read_fd)
        shutil.rmtree(workdir, ignore_errors=True)
        result.duration_ms = (time.perf_counter() - started) * 1000
    return result


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
