"""Limits of a session's sandbox: a cgroup (memory, processes, CPU) and resource limits.

A cgroup per session holds its kernel and terminals, so the limits are the session's whatever
it forks, and the pair server outside it can tell an out-of-memory kill from a crash.
cgroup v1 (``memory``, ``pids``, ``cpu`` hierarchies) and v2 (the unified hierarchy) are both
handled. Creating one needs root: the spawner creates the session's and hands its
``cgroup.procs`` to the pair server's user, who then moves each new sandbox into it
(``enter``). On cgroup v2 that hand-over would also need the pair server itself inside a
delegated subtree, which the local spawner does not do: there, and where no cgroup can be
had, the resource-limit fallback (address space, processes of the kernel user) applies.
"""

from __future__ import annotations

import os
import resource
import time
from dataclasses import asdict, dataclass
from pathlib import Path

CGROUP_FS = Path("/sys/fs/cgroup")
PARENT = "peerplatform"
V1_CONTROLLERS = ("memory", "pids", "cpu")
CPU_PERIOD_US = 100_000
MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    memory_bytes: int
    pids: int
    cpus: float
    file_bytes: int
    open_files: int

    @classmethod
    def from_settings(cls, settings) -> Limits:
        return cls(memory_bytes=settings.memory_mb * MiB, pids=settings.pids,
                   cpus=settings.cpus, file_bytes=settings.file_size_mb * MiB,
                   open_files=settings.open_files)

    def as_dict(self) -> dict:
        return asdict(self)


def cgroup_version(fs: Path = CGROUP_FS) -> int | None:
    if (fs / "cgroup.controllers").exists():
        return 2
    if all((fs / c / "cgroup.procs").exists() for c in V1_CONTROLLERS):
        return 1
    return None


class SessionCgroup:
    """``peerplatform/<name>`` in each hierarchy this machine has."""

    def __init__(self, name: str, fs: Path = CGROUP_FS):
        if not name or "/" in name or name.startswith("."):
            raise ValueError(f"bad cgroup name {name!r}")
        self.name = name
        self.fs = fs
        self.version = cgroup_version(fs)

    @property
    def dirs(self) -> list[Path]:
        if self.version == 1:
            return [self.fs / c / PARENT / self.name for c in V1_CONTROLLERS]
        if self.version == 2:
            return [self.fs / PARENT / self.name]
        return []

    def _memory_dir(self) -> Path | None:
        dirs = self.dirs
        return dirs[0] if dirs else None

    def create(self, limits: Limits, owner_uid: int | None = None) -> None:
        """Create it (idempotent) with ``limits``; ``owner_uid`` may then move processes in.
        Raises ``OSError`` where this process may not (not root, no cgroup fs)."""
        if self.version is None:
            raise OSError(f"no cgroup hierarchy with {', '.join(V1_CONTROLLERS)} under {self.fs}")
        if self.version == 2:
            self._enable_v2_controllers()
        for path in self.dirs:
            path.mkdir(parents=True, exist_ok=True)
            if owner_uid is not None:
                # the owner must pass the common parent to reach its own cgroup.procs
                os.chmod(path.parent, 0o711)
        quota = max(1000, int(limits.cpus * CPU_PERIOD_US))
        if self.version == 1:
            memory, pids, cpu = self.dirs
            _write(memory / "memory.limit_in_bytes", limits.memory_bytes)
            # no escape into swap: memory and swap together stay under the limit
            _write(memory / "memory.memsw.limit_in_bytes", limits.memory_bytes, optional=True)
            _write(pids / "pids.max", limits.pids)
            _write(cpu / "cpu.cfs_period_us", CPU_PERIOD_US)
            _write(cpu / "cpu.cfs_quota_us", quota)
        else:
            (path,) = self.dirs
            _write(path / "memory.max", limits.memory_bytes)
            _write(path / "memory.swap.max", 0, optional=True)
            _write(path / "pids.max", limits.pids)
            _write(path / "cpu.max", f"{quota} {CPU_PERIOD_US}")
        if owner_uid is not None:
            for path in self.dirs:
                for name in ("cgroup.procs", "tasks"):
                    if (path / name).exists():
                        os.chown(path / name, owner_uid, -1)

    def _enable_v2_controllers(self) -> None:
        for path in (self.fs, self.fs / PARENT):
            path.mkdir(exist_ok=True)
            control = path / "cgroup.subtree_control"
            enabled = control.read_text().split()
            missing = [c for c in V1_CONTROLLERS if c not in enabled]
            if missing:
                _write(control, " ".join(f"+{c}" for c in missing))

    def joinable(self) -> bool:
        dirs = self.dirs
        return bool(dirs) and all(os.access(p / "cgroup.procs", os.W_OK) for p in dirs)

    def join(self, pid: int = 0) -> None:
        for path in self.dirs:
            _write(path / "cgroup.procs", pid or os.getpid())

    def oom_kills(self) -> int:
        """How many processes the memory limit has killed in it so far."""
        path = self._memory_dir()
        if path is None:
            return 0
        name = "memory.oom_control" if self.version == 1 else "memory.events"
        try:
            for line in (path / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def remove(self, wait_s: float = 2.0) -> None:
        """Remove it once empty; its last processes may take a moment to be reaped after they
        exit, so try for up to ``wait_s`` seconds, then silently keep it."""
        deadline = time.monotonic() + wait_s
        for path in self.dirs:
            while True:
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        break
                    time.sleep(0.05)


def _write(path: Path, value, optional: bool = False) -> None:
    try:
        path.write_text(f"{value}\n")
    except FileNotFoundError:
        if not optional:
            raise


def set_rlimits(limits: Limits, *, cgroup: bool, separate_uid: bool) -> list[str]:
    """Resource limits of this process (inherited by what it runs); the names applied."""
    applied = []

    def lower(what: int, value: int, name: str) -> None:
        soft, hard = resource.getrlimit(what)
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(what, (value, value))
        applied.append(name)

    lower(resource.RLIMIT_CORE, 0, "core")
    lower(resource.RLIMIT_FSIZE, limits.file_bytes, "fsize")
    lower(resource.RLIMIT_NOFILE, limits.open_files, "nofile")
    if not cgroup:
        # Fallback without a cgroup: address space per process, and (only where learner code
        # has a uid of its own) its processes, counted across every session's kernels.
        lower(resource.RLIMIT_AS, limits.memory_bytes, "as")
        if separate_uid:
            lower(resource.RLIMIT_NPROC, limits.pids, "nproc")
    return applied
