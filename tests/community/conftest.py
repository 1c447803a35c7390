"""One real platform (Hub + proxy + service) shared by the community tests (ratings,
leaderboards, profiles, dashboards, review), and helpers that seed its store directly."""

from __future__ import annotations

import json
import secrets

import pytest
from hubproc import HubProcess

from seed import ADMIN, COHORTS


@pytest.fixture(scope="session")
def hub(tmp_path_factory, redis_url, mongodb_uri):
    data = tmp_path_factory.mktemp("hub")
    (data / "cohorts.json").write_text(json.dumps(COHORTS))
    h = HubProcess(data, redis_url=redis_url, mongodb_uri=mongodb_uri,
                   mongodb_database="pp_comm_" + secrets.token_hex(4),
                   env={"PEERPLATFORM_ADMINS": ADMIN})
    try:
        h.start()
    except Exception:
        h.stop()
        raise
    yield h
    h.stop()
