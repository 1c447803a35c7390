"""One real platform (Hub + proxy + service) shared by the community tests (ratings,
leaderboards, profiles, dashboards, review), and helpers that seed its store directly."""

from __future__ import annotations

import pytest

from e2e_hub import start_hub


@pytest.fixture(scope="session")
def hub(tmp_path_factory, redis_url, mongodb_uri):
    h = start_hub(tmp_path_factory, redis_url, mongodb_uri)
    yield h
    h.stop()
