"""Fixtures for the pair-server tests: real ``jupyter server`` subprocesses, each the client of
a real platform service process (its pair API and clock; see pairkit.py)."""

from __future__ import annotations

import secrets

import pytest
from pairkit import PairServer, seed_session

from peerplatform.store import new_session_id


@pytest.fixture(scope="module")
def pair_server_factory(tmp_path_factory, mongodb_uri, redis_url):
    """Start pair servers for this module; all are stopped at its end.

    ``factory(duration_s=..., state=..., swap_schedule_s=..., extra_config=...)`` seeds a
    session in the service's store (challenges + document with its picked challenge, through
    the store contracts), and starts the service's pair API and the pair server (which gets
    only the API's URL and its own token).
    """
    started: list[PairServer] = []

    def factory(*, duration_s: int = 3600, state: str = "active", swap_schedule_s=None,
                extra_config: str = "", start: bool = True, challenges=None) -> PairServer:
        database = "pp_pair_" + secrets.token_hex(4)
        session_id = new_session_id()
        seed_session(mongodb_uri, database, session_id, duration_s=duration_s, state=state,
                     swap_schedule_s=swap_schedule_s,
                     **({} if challenges is None else {"challenges": challenges}))
        server = PairServer(tmp_path_factory.mktemp("pair"), mongodb_uri=mongodb_uri,
                            database=database, session_id=session_id, redis_url=redis_url,
                            extra_config=extra_config)
        started.append(server)
        return server.start() if start else server

    yield factory
    for server in started:
        server.stop()
