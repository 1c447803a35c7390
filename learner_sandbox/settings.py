"""Sandbox settings (``c.SandboxSettings.*``): who runs learner code, and its limits.

Pair servers do not read ``jupyterhub_config.py``: each trait defaults to an environment
variable (:data:`ENV`) that the spawner forwards to pair servers, so set them where the Hub
runs (or in ``jupyterhub_config.py``'s environment section).
"""

from __future__ import annotations

import os

from traitlets import Bool, Float, Integer, TraitError, Unicode, default
from traitlets.config import SingletonConfigurable

#: trait name -> the environment variable it defaults to
ENV = {
    "user": "PEERPLATFORM_KERNEL_USER",
    "memory_mb": "PEERPLATFORM_KERNEL_MEMORY_MB",
    "pids": "PEERPLATFORM_KERNEL_PIDS",
    "cpus": "PEERPLATFORM_KERNEL_CPUS",
    "file_size_mb": "PEERPLATFORM_KERNEL_FILE_SIZE_MB",
    "tmp_mb": "PEERPLATFORM_KERNEL_TMP_MB",
    "work_mb": "PEERPLATFORM_KERNEL_WORK_MB",
    "open_files": "PEERPLATFORM_KERNEL_OPEN_FILES",
    "unsafe_no_sandbox": "PEERPLATFORM_UNSAFE_NO_SANDBOX",
}


def _env(name: str) -> str:
    return os.environ.get(ENV[name], "").strip()


def _env_number(name: str, cast, fallback):
    raw = _env(name)
    if not raw:
        return fallback
    try:
        return cast(raw)
    except ValueError:
        raise TraitError(f"{ENV[name]} must be a number, not {raw!r}") from None


class SandboxSettings(SingletonConfigurable):
    """One per process: the kernel provisioner, the spawner and the launcher read
    :meth:`instance`."""

    user = Unicode(
        help="""System user that learner code runs as (``$PEERPLATFORM_KERNEL_USER``).

        When the pair server runs as root (tests that start one directly) it switches to this
        user; when it runs as an unprivileged user (the spawner's ``server_user``), that user
        needs this one as its subordinate id in ``/etc/subuid`` and ``/etc/subgid`` (which
        ``peerplatform up`` writes) and ``newuidmap`` (Debian: ``uidmap``). An unprivileged
        pair server without such a mapping runs kernels as its own uid in a user namespace.
        Default: ``pp-kernel``.""",
    ).tag(config=True)

    @default("user")
    def _default_user(self):
        return _env("user") or "pp-kernel"

    memory_mb = Integer(
        min=64,
        help="""Memory of a session's kernel (and terminals), in MiB
        (``$PEERPLATFORM_KERNEL_MEMORY_MB``, default 1024). Past it the kernel is killed and
        both learners are told why; the session goes on with a fresh kernel.""",
    ).tag(config=True)

    @default("memory_mb")
    def _default_memory_mb(self):
        return _env_number("memory_mb", int, 1024)

    pids = Integer(
        min=16,
        help="""Processes and threads a session's sandbox may hold at once
        (``$PEERPLATFORM_KERNEL_PIDS``, default 256): a fork bomb stops there.""",
    ).tag(config=True)

    @default("pids")
    def _default_pids(self):
        return _env_number("pids", int, 256)

    cpus = Float(
        min=0.1,
        help="""CPU cores a session's sandbox may use at most (``$PEERPLATFORM_KERNEL_CPUS``,
        default 1.0): a busy loop cannot starve the other sessions or the servers.""",
    ).tag(config=True)

    @default("cpus")
    def _default_cpus(self):
        return _env_number("cpus", float, 1.0)

    file_size_mb = Integer(
        min=1,
        help="""Largest file learner code may write, in MiB
        (``$PEERPLATFORM_KERNEL_FILE_SIZE_MB``, default 64; ``RLIMIT_FSIZE``).""",
    ).tag(config=True)

    @default("file_size_mb")
    def _default_file_size_mb(self):
        return _env_number("file_size_mb", int, 64)

    tmp_mb = Integer(
        min=1,
        help="""Size of the sandbox's private ``/tmp`` (a tmpfs), in MiB
        (``$PEERPLATFORM_KERNEL_TMP_MB``, default 128).""",
    ).tag(config=True)

    @default("tmp_mb")
    def _default_tmp_mb(self):
        return _env_number("tmp_mb", int, 128)

    work_mb = Integer(
        min=1,
        help="""Disk space of a session's work folder, in MiB (``$PEERPLATFORM_KERNEL_WORK_MB``,
        default 256). Where the spawner runs as root the work folder is a tmpfs of this size
        (the notebook is saved to the store at checkpoints and at the end); elsewhere only
        the file size limit applies.""",
    ).tag(config=True)

    @default("work_mb")
    def _default_work_mb(self):
        return _env_number("work_mb", int, 256)

    open_files = Integer(
        min=16,
        help="""Open files per process in the sandbox (``$PEERPLATFORM_KERNEL_OPEN_FILES``,
        default 256; ``RLIMIT_NOFILE``).""",
    ).tag(config=True)

    @default("open_files")
    def _default_open_files(self):
        return _env_number("open_files", int, 256)

    unsafe_no_sandbox = Bool(
        help="""UNSAFE: run kernels without the sandbox (``$PEERPLATFORM_UNSAFE_NO_SANDBOX=1``).

        Learner code then runs as the pair server's user with its environment, files and
        network: it can read the session's credentials and reach the stores. Only for a
        machine where nobody untrusted ever logs in. The Hub and every pair server log a
        warning at start while it is set.""",
    ).tag(config=True)

    @default("unsafe_no_sandbox")
    def _default_unsafe(self):
        return _env("unsafe_no_sandbox").lower() in ("1", "true", "yes")

    def forwarded_env(self) -> dict:
        """The settings as the environment a pair server reads them from."""
        return {ENV[name]: ("1" if value is True else "" if value is False else str(value))
                for name, value in ((n, getattr(self, n)) for n in ENV)}
