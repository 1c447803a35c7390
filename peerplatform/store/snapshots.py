"""Replay snapshots of a session's notebook, sent by the pair server through the service.

The pair server's RTC update store (SQLite in the session folder) stays on the pair server's
host, and the platform service may run elsewhere, so the portable record for review is a
series of snapshots in MongoDB: the pair server looks at the live notebook every tick while the
session is active and sends the cells whenever they changed (≤ 2 s granularity), batched, plus
one last (``final``) snapshot at time-up, which the service grades for the outcome. Each
snapshot names the driver at the time: only the driver can edit, so that is whose edit it shows
(the replay's "per participant").

``snapshots`` collection::

    {"_id": "k3j9x2m4q8ab:17",          # <session>:<seq>: a retried batch stores nothing twice
     "session_id": "k3j9x2m4q8ab", "seq": 17, "t": 12.4,   # seconds after started_at
     "at": datetime, "by": "alice",
     "cells": [{"cell_type": "code", "source": "...", "metadata": {"tags": [...]}}, ...],
     "final": False,
     "notebook_json": "<nbformat JSON text>"}   # the final one only, when sent and small enough

(Snapshots written before the pair API have an ObjectId ``_id`` and no ``seq``.) Cell metadata
is kept only as far as grading reads it (``tags`` and ``peerplatform.grade``).
"""

from __future__ import annotations

from pymongo import ASCENDING, DESCENDING, UpdateOne

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
        await self.collection.create_index([("session_id", ASCENDING), ("final", ASCENDING),
                                            ("seq", DESCENDING)])

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

    async def add_batch(self, session_id: str, snapshots: list[dict]) -> tuple[int, int]:
        """Store the pair server's snapshots (each with its ``seq``, ``t``, ``by``, ``cells``,
        ``final`` and, optionally, ``notebook_json``), each at most once per (session, seq):
        returns ``(stored, duplicates)``. One round trip whatever the batch size."""
        if not snapshots:
            return 0, 0
        now = utcnow()
        writes = []
        for snap in snapshots:
            doc = {"session_id": session_id, "seq": int(snap["seq"]),
                   "t": round(float(snap["t"]), 2), "at": now, "by": snap.get("by"),
                   "cells": snap["cells"], "final": bool(snap.get("final"))}
            if snap.get("notebook_json") is not None:
                doc["notebook_json"] = snap["notebook_json"]
            writes.append(UpdateOne({"_id": f"{session_id}:{doc['seq']}"},
                                    {"$setOnInsert": doc}, upsert=True))
        result = await self.collection.bulk_write(writes, ordered=False)
        stored = result.upserted_count
        return stored, len(snapshots) - stored

    async def final_for(self, session_id: str) -> dict | None:
        """The session's final snapshot (the newest, should there be several)."""
        return await self.collection.find_one({"session_id": session_id, "final": True},
                                              sort=[("seq", DESCENDING), ("t", DESCENDING)])

    async def latest_for(self, session_id: str) -> dict | None:
        """The session's newest snapshot, final or not."""
        return await self.collection.find_one({"session_id": session_id},
                                              sort=[("t", DESCENDING), ("seq", DESCENDING)])

    async def for_session(self, session_id: str) -> list[dict]:
        cursor = self.collection.find({"session_id": session_id},
                                      {"_id": 0, "notebook_json": 0}).sort("t", ASCENDING)
        return await cursor.to_list(length=MAX_SNAPSHOTS)
