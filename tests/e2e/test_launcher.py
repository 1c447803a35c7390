"""``peerplatform up`` (what ``make up`` runs): the whole platform from one command, and Ctrl-C
stops every process it started, stores included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest
import requests

from procs import survivors

from peerplatform.embedded import free_port

pytestmark = pytest.mark.hub

REPO = Path(__file__).resolve().parents[2]

# what each process `up` starts (directly or through the Hub) runs, told by its command line
ROLES = {
    # redis-server rewrites its title to "<path> <address>"
    "redis-server": lambda cmd: Path(cmd[0].split()[0]).name == "redis-server",
    "SecantusDB": lambda cmd: any(Path(a).name == "secantusd-py" for a in cmd),
    "jupyterhub": lambda cmd: cmd[1:3] == ["-m", "jupyterhub"],
    "configurable-http-proxy": lambda cmd: any("configurable-http-proxy" in a for a in cmd),
    "the platform service": lambda cmd: cmd[1:4] == ["-m", "peerplatform", "service"],
}


class Launcher:
    """``peerplatform up`` in a temporary data dir on free ports, its own stores embedded."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{free_port()}"
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("PEERPLATFORM_") and k not in ("REDIS_URL", "MONGODB_URI")}
        env.update(
            PEERPLATFORM_BIND_URL=self.url,
            PEERPLATFORM_HUB_PORT=str(free_port()),
            PEERPLATFORM_PROXY_API_PORT=str(free_port()),
            PEERPLATFORM_SERVICE_PORT=str(free_port()),
            PATH=os.pathsep.join([str(Path(sys.executable).parent),
                                  str(REPO / "node_modules" / ".bin"), os.environ["PATH"]]),
        )
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "peerplatform", "up", "--config",
             str(REPO / "jupyterhub_config.py"), "--data-dir", str(data_dir)],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, start_new_session=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        try:
            log = (self.data_dir / "jupyterhub.log").read_text(errors="replace")[-3000:]
        except FileNotFoundError:
            log = ""
        return "\n".join(self.lines) + "\n--- jupyterhub.log ---\n" + log

    def wait_until(self, ready, what: str, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"up exited ({self.proc.returncode}):\n{self.output()}"
            try:
                if ready():
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        raise AssertionError(f"{what} within {timeout} s:\n{self.output()}")

    def tree(self) -> dict[int, list[str]]:
        found = {}
        for p in psutil.Process(self.proc.pid).children(recursive=True):
            try:
                found[p.pid] = p.cmdline()
            except psutil.NoSuchProcess:
                pass
        return found

    def kill(self):
        pids = [self.proc.pid, *self.tree()] if self.proc.poll() is None else []
        for pid in pids:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
        self.proc.wait()


@pytest.fixture
def launcher(tmp_path):
    up = Launcher(tmp_path / "state")
    yield up
    up.kill()


def test_up_serves_the_hub_and_ctrl_c_stops_all_it_started(launcher):
    running = f"peerplatform is running: {launcher.url}/"
    launcher.wait_until(lambda: running in launcher.lines, "no URL printed")
    assert requests.get(launcher.url + "/hub/api/", timeout=10).status_code == 200
    # the service (started by the Hub) answers an anonymous API call with 403 once it is up
    launcher.wait_until(lambda: requests.get(launcher.url + "/services/peerplatform/api/me",
                                             timeout=5).status_code == 403,
                        "the platform service did not answer")
    tree = launcher.tree()
    roles = {role: [pid for pid, cmd in tree.items() if cmd and is_it(cmd)]
             for role, is_it in ROLES.items()}
    assert all(roles.values()), f"not started: {[r for r, p in roles.items() if not p]}; {tree}"

    os.kill(launcher.proc.pid, signal.SIGINT)  # what Ctrl-C in the terminal sends
    try:
        code = launcher.proc.wait(90)
    except subprocess.TimeoutExpired:
        pytest.fail(f"up did not exit within 90 s of Ctrl-C:\n{launcher.output()}")
    launcher._reader.join(10)

    assert code == 0, launcher.output()
    assert launcher.lines[-1] == "stopped."
    left = survivors(tree)
    assert left == [], {role: [p for p in pids if p in left] for role, pids in roles.items()}
