"""``peerplatform up``'s last resort: a Hub that ignores SIGTERM is killed with all it started.

The stand-in Hub starts its children as JupyterHub starts the proxy and the service (each in a
session of its own), so a kill of the Hub or of its process group alone would leave them running.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import psutil

from procs import survivors

from peerplatform.cli import stop_hub

# ignores SIGTERM, as a wedged Hub would; starts one child that ignores SIGTERM too and one that
# has a child of its own (as a pair server has its kernels)
STUBBORN_HUB = r"""
import signal, subprocess, sys, time
stubborn = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
parent = ("import subprocess, sys, time; "
          "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)")
for code in (stubborn, parent):
    subprocess.Popen([sys.executable, "-c", code], start_new_session=True)
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # after the children: they would inherit it
time.sleep(600)
"""


def test_a_hub_deaf_to_sigterm_is_killed_with_the_processes_it_started():
    hub = subprocess.Popen([sys.executable, "-c", STUBBORN_HUB], start_new_session=True)
    tree: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while len(tree) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
            tree = [p.pid for p in psutil.Process(hub.pid).children(recursive=True)]
        assert len(tree) == 3, "the stand-in Hub did not start its children"
        # its children lead sessions of their own: out of reach of a signal to its group
        children = [p.pid for p in psutil.Process(hub.pid).children()]
        assert len(children) == 2 and all(os.getsid(pid) == pid for pid in children)

        stop_hub(hub, timeout=1, grace=1)

        assert hub.returncode is not None
        assert survivors(tree) == []
    finally:
        for pid in [hub.pid, *tree]:
            try:
                psutil.Process(pid).kill()
            except psutil.NoSuchProcess:
                pass
