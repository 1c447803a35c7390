"""PairSpawner for a single machine: the pair server is a local process of the Hub's user."""

from __future__ import annotations

import asyncio
import sys

from jupyterhub.spawner import SimpleLocalProcessSpawner
from traitlets import default

from .mixin import PairSpawnerMixin


class PairSpawner(PairSpawnerMixin, SimpleLocalProcessSpawner):
    """Local pair server: ``python -m jupyterhub.singleuser`` in the session's own directory.

    Every session runs as the Hub's system user (no per-user isolation), which is what a
    single-machine setup offers; production uses the same mixin on KubeSpawner.
    """

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

    def get_env(self):
        env = super().get_env()
        env.update(self.pair_env())
        return env

    def get_args(self):
        return [*super().get_args(), *self.pair_args()]

    async def start(self):
        self.check_pair_spawn()
        self.session_dir.mkdir(parents=True, exist_ok=True)
        self.home_dir = self.notebook_dir = str(self.session_dir)
        ip, port = await super().start()
        await self._wait_listening(ip, port)
        return ip, port

    async def _wait_listening(self, ip: str, port: int) -> None:
        """Return once the server listens; fail at once if its process exits first.

        The Hub only polls the server's URL until ``http_timeout`` (90 s here), so a server
        that crashes on startup would keep both learners waiting that long for nothing.
        """
        host = ip or "127.0.0.1"
        while True:
            status = await self.poll()
            if status is not None:
                raise RuntimeError(f"the pair server exited with code {status} while starting")
            try:
                _, writer = await asyncio.open_connection(host, port)
            except OSError:
                await asyncio.sleep(0.2)
                continue
            writer.close()
            return
