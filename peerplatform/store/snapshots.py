"""Replay snapshots of a session's notebook, written by the pair server.

The pair server's RTC update store (SQLite in the session folder) stays on the pair server's
host, and the platform service may run elsewhere, so the portable record for review is a
series of snapshots in MongoDB: the pair server looks at the live notebook every tick (1 s)
while the session is active and stores the cells' sources whenever they changed (≤ 2 s
granularity), plus one last snapshot at the end. Each snapshot names the driver at the time:
only the driver can edit, so that is whose edit it shows (the replay's "per participant").

``snapshots`` collection::

    {"_id": ObjectId, "session_id": "k3j9x2m4q8ab", "t": 12.4,   # seconds after started_at
     "at": datetime, "by": "alice", "cells": [{"cell_type": "code", "source": "..."}, ...],
     "final": False}
"""

from __future__ import annotations

from pymongo import ASCENDING

from .sessions import utcnow

MAX_SNAPSHOTS = 20_000  # ~5.5 h of changes every second: far past any session


def cells_of(notebook: dict) -> list[dict]:
    out = []
    for cell in notebook.get("cells", []):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        out.append({"cell_type": cell.get("cell_type", "code"), "source": str(source)})
    return out


class SnapshotStore:
    def __init__(self, db):
        # w=1 without journaling: a lost last second of replay is acceptable, a slow tick is not
        self.collection = db.get_collection("snapshots")

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("session_id", ASCENDING), ("t", ASCENDING)])

    async def add(
        self, session_id: str, *, t: float, by: str | None, cells: list[dict], final: bool = False
    ) -> None:
        await self.collection.insert_one(
            {
                "session_id": session_id,
                "t": round(float(t), 2),
                "at": utcnow(),
                "by": by,
                "cells": cells,
                "final": final,
            }
        )

    async def for_session(self, session_id: str) -> list[dict]:
        cursor = self.collection.find({"session_id": session_id}, {"_id": 0}).sort("t", ASCENDING)
        return await cursor.to_list(length=MAX_SNAPSHOTS)
