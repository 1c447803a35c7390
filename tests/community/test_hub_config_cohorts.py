"""The Hub config reads the cohort names kept in ``<data dir>/cohorts.json`` into instructor
roles; a hand-edited file with a bad entry must not keep the Hub from starting."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from peerplatform.cohorts import read_cohort_names

REPO = Path(__file__).resolve().parents[2]
# the config loaded as `jupyterhub -f` loads it, then the roles checked as the Hub checks them
LOAD = """
import json, sys
from jupyterhub.app import JupyterHub
from jupyterhub.roles import _validate_role_name
hub = JupyterHub.instance()
hub.load_config_file(sys.argv[1])
names = [r["name"] for r in hub.load_roles]
for name in names:
    _validate_role_name(name)
print(json.dumps(names))
"""


def load_hub_config(data_dir: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PEERPLATFORM_DATA_DIR=str(data_dir), PEERPLATFORM_VOICE_SECRET="x")
    return subprocess.run(
        [sys.executable, "-c", LOAD, str(REPO / "jupyterhub_config.py")],
        env=env, cwd=data_dir, capture_output=True, text=True, timeout=120,
    )


def instructor_roles(out: subprocess.CompletedProcess) -> list[str]:
    assert out.returncode == 0, out.stderr
    names = json.loads(out.stdout.strip().splitlines()[-1])
    return [n for n in names if n.startswith("pp-instructor-")]


def test_bad_names_are_skipped_with_a_warning_in_the_hub_log(tmp_path):
    bad = ["Bad Name", "trailing-", "ok\n", "x" * 64, 5, None]
    (tmp_path / "cohorts.json").write_text(json.dumps(["north", *bad, "south-2"]))
    out = load_hub_config(tmp_path)
    assert instructor_roles(out) == ["pp-instructor-north", "pp-instructor-south-2"]
    warnings = [line for line in out.stderr.splitlines() if line.startswith("[W ")]
    assert len(warnings) == len(bad), out.stderr
    for entry, line in zip(bad, warnings, strict=True):
        assert "JupyterHub" in line and f"skipping {entry!r}, not a cohort name" in line


@pytest.mark.parametrize(
    "content, says",
    [("[north", "ignoring"), ('{"north": 1}', "JSON list"), ("7", "JSON list")],
)
def test_a_file_that_is_no_list_gives_no_roles_and_a_warning(tmp_path, content, says):
    (tmp_path / "cohorts.json").write_text(content)
    out = load_hub_config(tmp_path)
    assert instructor_roles(out) == []
    assert says in out.stderr and str(tmp_path / "cohorts.json") in out.stderr


def test_no_file_is_no_cohort_yet(tmp_path, caplog):
    assert read_cohort_names(tmp_path) == []
    assert caplog.records == []
