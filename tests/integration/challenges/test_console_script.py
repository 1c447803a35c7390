"""The installed console script (``[project.scripts] challenges-loader``) runs, with the exit
status and the error text the CLI promises."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKS = Path(__file__).resolve().parents[2] / "fixtures" / "packs"


@pytest.fixture(scope="module")
def script():
    # the environment running the tests is the one the package is installed in
    found = shutil.which("challenges-loader", path=str(Path(sys.executable).parent))
    assert found, f"challenges-loader is not installed next to {sys.executable}"
    return found


def run(script, *args):
    return subprocess.run([script, *args], capture_output=True, text=True, timeout=120)


def test_validate_a_good_pack(script):
    done = run(script, "validate", str(PACKS / "ok-minimal"))
    assert done.returncode == 0, done.stderr
    assert "2 challenge(s) valid" in done.stdout and done.stderr == ""


def test_validate_a_bad_pack_names_file_challenge_and_field(script):
    bad = PACKS / "mixed-one-bad" / "b-bad.yaml"
    done = run(script, "validate", str(bad))
    assert done.returncode == 1 and done.stdout == ""
    (error,) = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert str(bad) in error
    assert "challenge 'broken-one'" in error and "field difficulty" in error
    assert "'impossible'" in error
    assert "1 error(s); nothing was written" in done.stderr


def test_usage_error_is_status_two(script):
    done = run(script, "frobnicate")
    assert done.returncode == 2 and "usage: challenges-loader" in done.stderr
