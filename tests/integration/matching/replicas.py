"""Matcher replicas as separate processes (``python -m peerplatform matcher``) for tests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]


class Replicas:
    def __init__(self, tmp: Path, redis_url: str, n: int, *, duration: float, interval: float,
                 options: dict):
        self.tmp = Path(tmp)
        self.redis_url = redis_url
        self.n = n
        self.duration = duration
        self.interval = interval
        self.options = options
        self.procs: list[subprocess.Popen] = []

    def record_path(self, i: int) -> Path:
        return self.tmp / f"replica{i}.jsonl"

    def start(self) -> None:
        env = dict(os.environ, REDIS_URL=self.redis_url, PEERPLATFORM_AUTO_ACCEPT="0",
                   PEERPLATFORM_DATA_DIR=str(self.tmp),
                   PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
        for i in range(self.n):
            cmd = [sys.executable, "-m", "peerplatform", "matcher",
                   "--config", str(REPO / "jupyterhub_config.py"),
                   "--duration", str(self.duration), "--interval", str(self.interval),
                   "--record", str(self.record_path(i))]
            for name, value in self.options.items():
                cmd += ["--set", f"{name}={json.dumps(value)}"]
            log = open(self.tmp / f"replica{i}.log", "wb")
            self.procs.append(subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT,
                                               cwd=self.tmp))
            log.close()

    def kill9(self, i: int) -> None:
        self.procs[i].send_signal(signal.SIGKILL)
        self.procs[i].wait()

    def wait(self, timeout: float) -> list[int]:
        codes = []
        for p in self.procs:
            try:
                codes.append(p.wait(timeout))
            except subprocess.TimeoutExpired:
                p.kill()
                codes.append(p.wait())
        return codes

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def log(self, i: int) -> str:
        return (self.tmp / f"replica{i}.log").read_text(errors="replace")

    def matches(self) -> list[dict]:
        out = []
        for i in range(self.n):
            path = self.record_path(i)
            if path.exists():
                for line in path.read_text().splitlines():
                    if line.strip():
                        out.append({**json.loads(line), "replica": i})
        return out
