"""Test-only credentials for the pair API: a static token -> session map instead of the Hub.

Only :meth:`PairCredentials.identify` differs: a known token is answered with the model the Hub
gives a pair server's token (user ``pp-pairs``, the pair scope filtered to ``s-<session>``), so
the scope and session checks that follow are the production ones. The map is
``c.StaticTokens.tokens`` plus, re-read on every request, the JSON object in
``c.StaticTokens.tokens_file`` (so a test can add sessions while the service runs).
"""

from __future__ import annotations

import json
from pathlib import Path

from traitlets import Dict, Unicode

from peerplatform.pair.credentials import PairCredentials, required_scope


class StaticTokens(PairCredentials):
    tokens = Dict(help="token -> session id").tag(config=True)
    tokens_file = Unicode("", help="JSON file of more token -> session id").tag(config=True)

    def mapping(self) -> dict:
        mapping = dict(self.tokens)
        if self.tokens_file and Path(self.tokens_file).exists():
            mapping.update(json.loads(Path(self.tokens_file).read_text() or "{}"))
        return mapping

    async def identify(self, token: str) -> dict | None:
        session_id = self.mapping().get(token)
        if session_id is None:
            return None
        return {"kind": "user", "name": self.owner,
                "scopes": [required_scope(self.owner, session_id),
                           f"users:activity!user={self.owner}"]}
