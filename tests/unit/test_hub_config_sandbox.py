"""The Hub config flags the sandbox opt-out as UNSAFE in the Hub log, and says nothing of it
otherwise; sessions are kept beside the data dir, not in it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOAD = """
import json, sys
from jupyterhub.app import JupyterHub
hub = JupyterHub.instance()
hub.load_config_file(sys.argv[1])
print(json.dumps({"sessions_root": hub.config.PairSpawner.sessions_root}))
"""


def load(tmp_path: Path, **env) -> subprocess.CompletedProcess:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    full = dict(os.environ, PEERPLATFORM_DATA_DIR=str(data_dir), PEERPLATFORM_VOICE_SECRET="x",
                **env)
    for name in ("PEERPLATFORM_UNSAFE_NO_SANDBOX", "PEERPLATFORM_SESSIONS_DIR"):
        if name not in env:
            full.pop(name, None)
    return subprocess.run([sys.executable, "-c", LOAD, str(REPO / "jupyterhub_config.py")],
                          env=full, cwd=data_dir, capture_output=True, text=True, timeout=120)


def test_the_opt_out_is_flagged_unsafe_in_the_hub_log(tmp_path):
    out = load(tmp_path, PEERPLATFORM_UNSAFE_NO_SANDBOX="1")
    assert out.returncode == 0, out.stderr
    assert "UNSAFE: the learner sandbox is OFF" in out.stderr


def test_no_warning_with_the_sandbox_on_and_sessions_beside_the_data_dir(tmp_path):
    out = load(tmp_path)
    assert out.returncode == 0, out.stderr
    assert "UNSAFE" not in out.stderr
    sessions = json.loads(out.stdout.strip().splitlines()[-1])["sessions_root"]
    assert sessions == str(tmp_path / "data-sessions")
