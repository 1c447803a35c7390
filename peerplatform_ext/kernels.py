"""Kernels of a pair server: each starts in the learner sandbox, one per session.

* :class:`SandboxedProvisioner` is a jupyter_client kernel provisioner (entry point
  ``peerplatform-sandbox``, made the default by ``wiring.install``): it keeps
  ``LocalProvisioner``'s launch, and wraps the command in :func:`learner_sandbox.sandbox_command`
  with the ZMQ sockets as ``ipc`` files in a folder of the session that both sides see (the
  sandbox has no network at all). If the sandbox cannot be set up, no kernel starts: the
  request fails with the reason, and both learners are told (fail closed).
* :class:`PairKernelManager` refuses a second kernel, refuses a kernel not started by the
  sandboxed provisioner, and tells both learners when the memory limit killed their kernel.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
from pathlib import Path

import psutil
from jupyter_client.provisioning import LocalProvisioner
from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager
from learner_sandbox import SandboxSettings, SandboxUnavailable, sandbox_command
from learner_sandbox.command import probe
from learner_sandbox.limits import SessionCgroup
from tornado import web
from traitlets import Integer, Unicode

PROVISIONER = "peerplatform-sandbox"
# the launching process's own environment: nothing of the pair server's
LAUNCH_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
#: The kernel's stdout/stderr, in its own folder of the session (``kernels/<id>/``).
KERNEL_LOG = "kernel.log"


def session_cgroup_name() -> str:
    """The session's cgroup (the spawner creates it as ``peerplatform/<session id>``)."""
    return os.environ.get("PEERPLATFORM_SESSION_ID") or f"server-{os.getpid()}"


def kernels_dir() -> Path:
    session_dir = os.environ.get("PEERPLATFORM_SESSION_DIR", "")
    if not session_dir:
        raise SandboxUnavailable("no session folder ($PEERPLATFORM_SESSION_DIR) for the kernel's "
                                 "sockets")
    return Path(session_dir) / "kernels"


def terminal_command(work_dir: str, settings) -> list[str]:
    """A terminal's command: a login shell in the session's sandbox. ``env -i`` first: the
    terminal manager starts it with the pair server's whole environment."""
    if settings.unsafe_no_sandbox:
        return ["/bin/bash", "-l"]
    return ["/usr/bin/env", "-i", *(f"{k}={v}" for k, v in LAUNCH_ENV.items()),
            "TERM=xterm-256color", *sandbox_command(
                ["/bin/bash", "-l"], work_dir=os.path.realpath(work_dir), settings=settings,
                cgroup=session_cgroup_name(), env={"TERM": "xterm-256color"},
                session_leader=False)]


class SandboxedProvisioner(LocalProvisioner):
    """``LocalProvisioner`` whose kernels run in the learner sandbox (module doc)."""

    conn_dir: Path | None = None
    _output_fd: int | None = None

    async def pre_launch(self, **kwargs):
        km = self.parent
        settings = SandboxSettings.instance()
        if settings.unsafe_no_sandbox:
            self.log.warning("peerplatform: UNSAFE: kernel %s runs WITHOUT the sandbox "
                             "(SandboxSettings.unsafe_no_sandbox)", km.kernel_id)
            return await super().pre_launch(**kwargs)
        # (the mapping kernel manager is falsy while it has no kernel: it has a __len__)
        work_dir = os.path.realpath(km.parent.root_dir if km.parent is not None else os.getcwd())
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(None, probe, settings, work_dir)
            self.conn_dir = kernels_dir() / km.kernel_id
            self.conn_dir.mkdir(parents=True, exist_ok=True)
        except (SandboxUnavailable, OSError) as e:
            message = f"The kernel cannot start: its sandbox is unavailable ({e})."
            self.log.critical("peerplatform: %s", message)
            hook = getattr(km.parent, "on_sandbox_failure", None)
            if hook is not None:
                hook(message)
            raise web.HTTPError(503, message) from None
        os.chmod(self.conn_dir, 0o2770)
        km.transport = "ipc"
        km.ip = str(self.conn_dir / "ipc")
        km.cache_ports = False
        km.connection_file = str(self.conn_dir / "kernel.json")
        kwargs = await super().pre_launch(**kwargs)
        os.chmod(km.connection_file, 0o640)  # the kernel (group) reads it; nobody else
        kwargs["cmd"] = sandbox_command(
            kwargs["cmd"], work_dir=work_dir, settings=settings, cgroup=session_cgroup_name(),
            env=kwargs.get("env"), cwd=kwargs.get("cwd"), shared_dirs=(str(self.conn_dir),))
        kwargs["env"] = dict(LAUNCH_ENV)
        kwargs["cwd"] = str(self.conn_dir)
        # The kernel's own stdout/stderr: never the pair server's, which may be a log of the
        # whole platform (ipykernel keeps duplicates of fds 1 and 2 that learner code can
        # read through /proc/self/fd). Learners see output over ZMQ; this file is for debugging.
        self._output_fd = os.open(self.conn_dir / KERNEL_LOG,
                                  os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        kwargs["stdin"] = subprocess.DEVNULL
        kwargs["stdout"] = self._output_fd
        kwargs["stderr"] = self._output_fd
        return kwargs

    async def launch_kernel(self, cmd, **kwargs):
        try:
            return await super().launch_kernel(cmd, **kwargs)
        finally:  # the kernel has its copy; the pair server keeps none
            fd, self._output_fd = self._output_fd, None
            if fd is not None:
                os.close(fd)

    async def send_signal(self, signum: int) -> None:
        # The kernel is a grandchild in its own session and PID namespace: a signal to the
        # launched process (bubblewrap) or its group would not reach it. Interrupts go to the
        # processes in the sandbox; the pair server owns their user namespace, so it may.
        if self.process is None or signum in (signal.SIGKILL, signal.SIGTERM):
            return await super().send_signal(signum)
        try:
            inside = [p for p in psutil.Process(self.process.pid).children(recursive=True)
                      if p.name() != "bwrap"]
        except psutil.Error:
            inside = []
        for proc in inside:
            try:
                proc.send_signal(signum)
            except psutil.Error:
                pass
        if not inside:
            await super().send_signal(signum)

    async def cleanup(self, restart: bool = False) -> None:
        await super().cleanup(restart=restart)
        if not restart and self.conn_dir is not None:
            shutil.rmtree(self.conn_dir, ignore_errors=True)


class PairKernelManager(AsyncMappingKernelManager):
    """The pair server's kernels: sandboxed, at most ``max_kernels`` (module doc)."""

    max_kernels = Integer(
        1,
        min=1,
        help="""Kernels a pair server runs at once. One per session: the shared notebook's.
        A request for another gets 409 until the running one is shut down.""",
    ).tag(config=True)

    provisioner_name = Unicode(
        PROVISIONER,
        help="Kernel provisioner every kernel must be started by (the learner sandbox).",
    ).tag(config=True)

    #: set by the extension: ``callable(kind, message)`` telling both learners
    on_kernel_notice = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._oom_seen = 0
        self._cgroup = SessionCgroup(session_cgroup_name())

    def on_sandbox_failure(self, message: str) -> None:
        self._notice("sandbox", message)

    def _notice(self, kind: str, message: str) -> None:
        if self.on_kernel_notice is not None:
            try:
                self.on_kernel_notice(kind, message)
            except Exception:
                self.log.exception("peerplatform: could not tell the learners about the kernel")

    async def start_kernel(self, *, kernel_id=None, path=None, **kwargs):
        if kernel_id is None or kernel_id not in self:
            if len(self.list_kernel_ids()) >= self.max_kernels:
                raise web.HTTPError(
                    409, "one kernel per session: the session's kernel is already running "
                    "(restart it, or shut it down first)")
            self._check_provisioner(kwargs.get("kernel_name") or self.default_kernel_name)
        kernel_id = await super().start_kernel(kernel_id=kernel_id, path=path, **kwargs)
        km = self.get_kernel(kernel_id)
        if not isinstance(km.provisioner, SandboxedProvisioner):  # belt and braces
            await self.shutdown_kernel(kernel_id, now=True)
            raise web.HTTPError(403, "kernels of this server run in the learner sandbox only")
        self._oom_seen = self._cgroup.oom_kills()
        km.add_restart_callback(lambda: self._kernel_restarted(kernel_id), "restart")
        km.add_restart_callback(lambda: self._kernel_restarted(kernel_id), "dead")
        return kernel_id

    def _check_provisioner(self, kernel_name: str) -> None:
        """Refuse, before anything starts, a kernel spec that names another provisioner."""
        try:
            spec = self.kernel_spec_manager.get_kernel_spec(kernel_name)
        except Exception:
            return  # the start itself reports an unknown kernel
        named = (spec.metadata or {}).get("kernel_provisioner", {}).get("provisioner_name")
        if named and named != self.provisioner_name:
            raise web.HTTPError(403, f"kernel {kernel_name!r} asks for the {named!r} provisioner; "
                                "kernels of this server run in the learner sandbox only")

    def _kernel_restarted(self, kernel_id: str) -> None:
        kills = self._cgroup.oom_kills()
        if kills > self._oom_seen:
            self._oom_seen = kills
            limit = SandboxSettings.instance().memory_mb
            self._notice("memory", f"The kernel was stopped: the code used more than {limit} MiB "
                         "of memory. It restarts empty: run the cells again.")
        else:
            self._notice("died", "The kernel stopped unexpectedly and restarts empty: run the "
                         "cells again.")
