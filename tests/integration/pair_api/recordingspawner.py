"""Test-only pair spawner: the real ``PairSpawner`` (user options, owner check, session folder,
server user, environment, the Hub's token with its scopes), running a stand-in process instead
of the pair server, and recording the environment it was given (``<record_dir>/<server>.json``).

So a test sees exactly the credential and environment a pair server gets, without depending on
the pair server's code.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

from traitlets import Unicode, default

from spawner import PairSpawner


class RecordingPairSpawner(PairSpawner):
    record_dir = Unicode(help="Where the environment of each server is written").tag(config=True)

    @default("cmd")
    def _default_cmd(self):
        # any HTTP answer below 500 makes the Hub deem the server up
        return [sys.executable, "-m", "http.server", "--bind", "127.0.0.1"]

    def get_args(self):
        return [str(self.port)]

    async def start(self):
        self.check_pair_spawn()
        folder = Path(self.record_dir)
        folder.mkdir(parents=True, exist_ok=True)
        record = folder / f"{self.name}.json"
        record.write_text(json.dumps({"env": self.get_env(), "args": self.get_args()}))
        os.chmod(record, 0o600)
        return await super().start()
