"""Start a HubProcess for a test module (used by tests/e2e)."""

from __future__ import annotations

import secrets

from hubproc import HubProcess


def start_hub(tmp_path_factory, redis_url, mongodb_uri, **kwargs) -> HubProcess:
    hub = HubProcess(
        tmp_path_factory.mktemp("hub"), redis_url=redis_url, mongodb_uri=mongodb_uri,
        mongodb_database="pp_e2e_" + secrets.token_hex(4), **kwargs,
    )
    try:
        hub.start()
    except Exception:
        hub.stop()
        raise
    return hub
