"""The harness for pair-server tests (serviceproc.py) starts, answers, and ends sessions."""

from __future__ import annotations

import httpx
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from serviceproc import ServiceProcess

SID = "harness00001"


async def test_the_harness_serves_the_pair_api(store, mongodb_uri, mongodb_database, redis_url,
                                               tmp_path):
    await store.sessions.create(session_id=SID, members=["alice", "bob"], driver="alice",
                                observer="bob", server_owner="pp-pairs", duration_s=600)
    await store.sessions.transition(SID, "spawning")
    await store.sessions.transition(SID, "active")
    with ServiceProcess(mongodb_uri, mongodb_database, redis_url=redis_url,
                        tokens={"tok": SID}, log_dir=tmp_path) as svc:
        async with httpx.AsyncClient(base_url=svc.api_url + SID + "/") as client:
            ok = await client.get("state", headers={"Authorization": "token tok"})
            assert ok.status_code == 200, ok.text
            assert ok.json()["session"]["driver"] == "alice"
            assert (await client.get("state")).status_code == 401
            svc.add_token("late", SID)
            assert (await client.get("state", headers={"Authorization": "token late"})
                    ).status_code == 200
