"""The pair API in this test's event loop: a real tornado server on a free port, the real
store (tests/conftest.py), the real grader, and test-only credentials (:mod:`statictokens`:
token -> session, the scope and session checks are the production ones).

The clock sweep does not run by itself here: a test calls ``svc.api.clock.sweep()`` (or starts
``run``) so it decides when the clock looks.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from tornado import web
from tornado.httpserver import HTTPServer

from peerplatform.apihandlers.pair import default_handlers
from peerplatform.embedded import free_port
from peerplatform_contracts.pair_api import MAX_BODY_BYTES

sys.path.insert(0, str(Path(__file__).resolve().parent))

from apikit import CHALLENGES, PREFIX, PairService, make_api  # noqa: E402


@pytest.fixture
async def challenges(store):
    for challenge in CHALLENGES:
        await store.challenges.upsert(dict(challenge))
    return CHALLENGES


@pytest.fixture
def service_settings():
    """Overrides of ``c.PeerPlatform`` for the ``svc`` fixture (a test may parametrize it)."""
    return {}


@pytest.fixture
async def svc(store, redis, challenges, service_settings):
    api, credentials = make_api(store, redis, **service_settings)
    app = web.Application(default_handlers(PREFIX), pair_api=api)
    server = HTTPServer(app, max_body_size=2 * MAX_BODY_BYTES)
    port = free_port()
    server.listen(port, "127.0.0.1")
    service = PairService(api, credentials, f"http://127.0.0.1:{port}{PREFIX}")
    yield service
    server.stop()
    await api.clock.close()
