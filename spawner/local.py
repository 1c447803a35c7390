"""PairSpawner for a single machine: the pair server is a local process of an unprivileged user."""

from __future__ import annotations

import asyncio
import inspect
import os
import pwd
import shutil
import subprocess
import sys

from jupyterhub.spawner import SimpleLocalProcessSpawner
from learner_sandbox import SandboxSettings, SandboxUnavailable
from learner_sandbox.folders import prepare_session_dir
from learner_sandbox.limits import Limits, SessionCgroup
from traitlets import Unicode, default

from .mixin import PairSpawnerMixin

#: The pair server's stdout/stderr, in its session folder.
SERVER_LOG = "server.log"


class PairSpawner(PairSpawnerMixin, SimpleLocalProcessSpawner):
    """Local pair server: ``python -m jupyterhub.singleuser`` in the session's own directory.

    When the Hub runs as root, the server runs as ``server_user`` (never root) and the
    spawner, as root, prepares what the server itself may not: the session's folders (owned by
    that user, shared with the kernel user's group), its cgroup (memory, processes, CPU of the
    learner sandbox) and a size-capped work folder. A Hub that is not root runs pair servers as
    its own user. Production uses the same mixin on KubeSpawner.
    """

    server_user = Unicode(
        help="""System user pair servers run as when the Hub runs as root
        (``$PEERPLATFORM_SERVER_USER``, default ``pp-server``; ``peerplatform up`` creates it).
        It must not be root, nor the user learner code runs as (``c.SandboxSettings.user``).
        Ignored when the Hub is not root: pair servers then run as the Hub's user.""",
    ).tag(config=True)

    @default("server_user")
    def _default_server_user(self):
        return os.environ.get("PEERPLATFORM_SERVER_USER", "").strip() or "pp-server"

    @default("cmd")
    def _default_cmd(self):
        return [sys.executable, "-m", "jupyterhub.singleuser"]

    @default("disable_user_config")
    def _default_disable_user_config(self):
        return True

    @default("default_url")
    def _default_default_url(self):
        return "/lab"

    @default("apply_user_options")
    def _default_apply_user_options(self):
        # The Hub turns a ValueError from this hook into 400 "Invalid user options".
        return lambda spawner, user_options: spawner.apply_pair_options(user_options)

    def server_account(self) -> pwd.struct_passwd | None:
        """The account the pair server runs as; ``None``: the Hub's own (not root)."""
        if os.geteuid() != 0:
            return None
        try:
            account = pwd.getpwnam(self.server_user)
        except KeyError:
            raise RuntimeError(
                f"pair servers run as the system user {self.server_user!r}, which does not "
                "exist: `peerplatform up` creates it (or set c.PairSpawner.server_user)") from None
        if account.pw_uid == 0:
            raise RuntimeError(f"c.PairSpawner.server_user {self.server_user!r} is root: pair "
                               "servers never run as root")
        if account.pw_name == SandboxSettings.instance(parent=self).user:
            raise RuntimeError("pair servers and learner code must run as different users")
        return account

    def make_preexec_fn(self, name):
        account = self.server_account()
        home = self.home_dir
        groups = os.getgrouplist(account.pw_name, account.pw_gid) if account else None

        def preexec():
            if account is not None:
                os.setgid(account.pw_gid)
                os.setgroups(groups)
                os.setuid(account.pw_uid)
            os.chdir(home)

        return preexec

    def user_env(self, env):
        env = super().user_env(env)
        account = self.server_account()
        if account is not None:
            env["USER"] = env["LOGNAME"] = account.pw_name
        return env

    def get_env(self):
        env = super().get_env()
        env.update(self.pair_env())
        return env

    def get_args(self):
        return [*super().get_args(), *self.pair_args()]

    async def start(self):
        self.check_pair_spawn()
        account = self.server_account()
        settings = SandboxSettings.instance(parent=self)
        uid = account.pw_uid if account else os.geteuid()
        try:
            os.makedirs(self.sessions_root, exist_ok=True)
            if account is not None:
                os.chmod(self.sessions_root, 0o711)  # pass, not list
            prepare_session_dir(self.session_dir, server_uid=uid, kernel_user=settings.user)
        except SandboxUnavailable as e:
            if not settings.unsafe_no_sandbox:
                raise RuntimeError(f"cannot prepare the session folder: {e}") from None
        if os.geteuid() == 0:
            self._prepare_limits(uid, settings)
        self.home_dir = self.notebook_dir = str(self.session_dir)
        output = self._open_server_log(uid)
        self.popen_kwargs = {**self.popen_kwargs, "stdin": subprocess.DEVNULL,
                             "stdout": output, "stderr": output}
        try:
            ip, port = await super().start()
        finally:  # the server has its copy
            if output != subprocess.DEVNULL:
                os.close(output)
        await self._wait_listening(ip, port)
        return ip, port

    def _open_server_log(self, uid: int) -> int:
        """The pair server's stdout/stderr: its own log in the session folder, never the Hub's.

        Whatever a pair server inherits, its kernels may reach (ipykernel keeps copies of fds
        1 and 2); the Hub's output is the whole platform's log. ``<session>/server.log`` is
        0600, the pair server's: the sandboxed kernel (another user) cannot read it.
        """
        path = self.session_dir / SERVER_LOG
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        except OSError as e:
            self.log.warning("peerplatform: no log file for pair server %s (%s): its output "
                             "is discarded", self.session_id, e)
            return subprocess.DEVNULL
        if os.geteuid() == 0:
            os.fchown(fd, uid, -1)
        self.log.info("peerplatform: pair server of session %s logs to %s", self.session_id, path)
        return fd

    def _prepare_limits(self, uid: int, settings) -> None:
        """As root: the session's cgroup for the sandbox, and a size-capped work folder."""
        limits = Limits.from_settings(settings)
        try:
            SessionCgroup(self.session_id).create(limits, owner_uid=uid)
        except (OSError, ValueError) as e:
            self.log.warning("peerplatform: no cgroup for session %s (%s): its sandbox falls "
                             "back to resource limits", self.session_id, e)
        work = self.session_dir / "work"
        if os.path.ismount(work) or not shutil.which("mount"):
            return
        kernel_gid = os.stat(work).st_gid
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o",
             f"size={settings.work_mb}m,mode=2770,uid={uid},gid={kernel_gid},nosuid,nodev",
             f"pp-work-{self.session_id}", str(work)], capture_output=True, text=True)
        if done.returncode != 0:
            self.log.warning("peerplatform: the work folder of session %s is not size-capped "
                             "(%s)", self.session_id, done.stderr.strip())

    async def stop(self, now=False):
        await super().stop(now=now)
        if self.session_id and os.geteuid() == 0:
            # (waits for the sandbox's last processes to be reaped: off the Hub's event loop)
            await asyncio.get_running_loop().run_in_executor(
                None, SessionCgroup(self.session_id).remove)

    async def delete_forever(self):
        """The Hub removes the server for good: release its size-capped work folder."""
        if self.session_id and os.geteuid() == 0:
            work = self.session_dir / "work"
            if os.path.ismount(work):
                subprocess.run(["umount", "--lazy", str(work)], capture_output=True)
        result = super().delete_forever()
        if inspect.isawaitable(result):
            await result

    async def _wait_listening(self, ip: str, port: int) -> None:
        """Return once the server listens; fail at once if its process exits first.

        The Hub only polls the server's URL until ``http_timeout`` (90 s here), so a server
        that crashes on startup would keep both learners waiting that long for nothing.
        """
        host = ip or "127.0.0.1"
        while True:
            status = await self.poll()
            if status is not None:
                raise RuntimeError(f"the pair server exited with code {status} while starting "
                                   f"(its log: {self.session_dir / SERVER_LOG})")
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.close()
            return
