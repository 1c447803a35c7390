"""``python -m peerplatform.cli``: every subcommand is defined before the entry point runs."""

from __future__ import annotations

import os
import subprocess
import sys


def test_cohort_via_module_answers_with_its_own_error():
    env = {k: v for k, v in os.environ.items() if k != "JUPYTERHUB_API_TOKEN"}
    done = subprocess.run([sys.executable, "-m", "peerplatform.cli", "cohort", "acme-2026"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "JUPYTERHUB_API_TOKEN" in done.stderr
    assert "NameError" not in done.stderr
