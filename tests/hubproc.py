"""Run the real platform for a test: ``jupyterhub -f <config>`` with configurable-http-proxy.

The Hub is started exactly as ``peerplatform up`` starts it (same config file), on free
127.0.0.1 ports, with its state in a temporary folder and the stores given by the test.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from peerplatform.embedded import free_port

REPO = Path(__file__).resolve().parent.parent


class HubProcess:
    def __init__(self, data_dir: Path, *, redis_url: str, mongodb_uri: str,
                 mongodb_database: str, db_url: str | None = None, extra_config: str = "",
                 env: dict | None = None):
        self.data_dir = Path(data_dir)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.api_url = self.url + "hub/api"
        self.service_token = secrets.token_hex(16)
        self.mongodb_uri = mongodb_uri
        self.mongodb_database = mongodb_database
        config = REPO / "jupyterhub_config.py"
        if extra_config:
            # traitlets' load_subconfig: the real config first, then the test's overrides
            config = self.data_dir / "test_config.py"
            config.write_text(
                f"c = get_config()\nload_subconfig({str(REPO / 'jupyterhub_config.py')!r})\n"
                + extra_config
            )
        self.config = config
        # pair servers (pp-server) and kernels (pp-kernel) cannot pass pytest's 0700 temp folder
        self.sessions_dir = Path(tempfile.mkdtemp(prefix="pp-sessions-"))
        os.chmod(self.sessions_dir, 0o711)
        self.env = dict(
            os.environ,
            PEERPLATFORM_DATA_DIR=str(self.data_dir),
            PEERPLATFORM_SESSIONS_DIR=str(self.sessions_dir),
            PEERPLATFORM_BIND_URL=self.url.rstrip("/"),
            PEERPLATFORM_HUB_PORT=str(free_port()),
            PEERPLATFORM_PROXY_API_PORT=str(free_port()),
            PEERPLATFORM_SERVICE_PORT=str(free_port()),
            PEERPLATFORM_SERVICE_TOKEN=self.service_token,
            PEERPLATFORM_MONGODB_DB=mongodb_database,
            REDIS_URL=redis_url,
            MONGODB_URI=mongodb_uri,
            PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                  str(REPO / "node_modules" / ".bin"), os.environ["PATH"]]),
            **(env or {}),
        )
        if db_url:
            self.env["PEERPLATFORM_HUB_DB_URL"] = db_url
        if extra_config:  # the service reads the overrides too (c.PeerPlatform.*)
            self.env["PEERPLATFORM_SERVICE_CONFIG"] = str(config)
        self.proc: subprocess.Popen | None = None
        self.log_path = self.data_dir / "jupyterhub.log"

    def start(self, timeout: float = 60) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyterhub", "-f", str(self.config)],
            env=self.env, cwd=self.data_dir, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyterhub exited ({self.proc.returncode}):\n{self.log_tail()}")
            try:
                hub = requests.get(self.api_url, timeout=2)
                svc = requests.get(self.url + "services/peerplatform/api/me", timeout=2)
                # the service answers 403 JSON to an anonymous API call once it is up
                if hub.status_code == 200 and svc.status_code == 403:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"the platform did not come up within {timeout} s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(45)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # anything the Hub started in its own session (proxy, service) and left behind
        if self.proc:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.remove_sessions()

    def remove_sessions(self) -> None:
        """The sessions' folders (and the size-capped work folders the spawner mounted)."""
        for mount in _mounts_under(self.sessions_dir):
            subprocess.run(["umount", "--lazy", mount], capture_output=True)
        shutil.rmtree(self.sessions_dir, ignore_errors=True)

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def hub_api(self, method: str, path: str, body=None, token: str | None = None):
        return requests.request(
            method, self.api_url + path, json=body, timeout=30,
            headers={"Authorization": f"token {token or self.service_token}"},
        )


def _mounts_under(folder: Path) -> list[str]:
    prefix = str(folder).rstrip("/") + "/"
    with open("/proc/self/mounts", encoding="utf-8") as f:
        return [line.split()[1] for line in f if line.split()[1].startswith(prefix)]
