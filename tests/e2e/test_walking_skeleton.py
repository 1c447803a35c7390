"""Two learners, one shared pair server, end to end on the real Hub, proxy and stores."""

from __future__ import annotations

import pytest
from flows import full_flow

pytestmark = pytest.mark.hub


def test_full_flow_on_embedded_defaults(hub):
    full_flow(hub)


@pytest.mark.postgres
def test_full_flow_with_hub_db_on_postgresql(postgres_hub):
    full_flow(postgres_hub)
