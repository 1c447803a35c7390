"""One real platform (Hub + proxy + service) shared by the community tests (ratings,
leaderboards, profiles, dashboards, review), and helpers that seed its store directly.

The Hub is shared by every module of this folder and stopped as soon as the last of them is
done (its service's matcher must not linger on the Redis later tests use)."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from hubproc import HubProcess
from seed import ADMIN, COHORTS

HERE = Path(__file__).resolve().parent
_started: list[HubProcess] = []


@pytest.fixture(scope="session")
def hub(tmp_path_factory, redis_url, mongodb_uri):
    data = tmp_path_factory.mktemp("hub")
    (data / "cohorts.json").write_text(json.dumps(COHORTS))
    h = HubProcess(
        data,
        redis_url=redis_url,
        mongodb_uri=mongodb_uri,
        mongodb_database="pp_comm_" + secrets.token_hex(4),
        env={"PEERPLATFORM_ADMINS": ADMIN},
    )
    _started.append(h)
    try:
        h.start()
    except Exception:
        h.stop()
        raise
    yield h
    h.stop()


def pytest_runtest_teardown(item, nextitem):
    if _started and (nextitem is None or HERE not in Path(nextitem.path).parents):
        while _started:
            _started.pop().stop()
