import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # replicas.py, churn.py


@pytest.fixture
def matching_redis_url(redis_url):
    """The test Redis, in a database of its own: a platform service some other test left
    running (they share ``redis_url``) must not take part in these runs."""
    return redis_url.rsplit("/", 1)[0] + "/9"
