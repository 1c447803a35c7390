"""Pushing session events to both members.

* In the pair server: jupyter_server's event bus (``/api/events/subscribe``), schema
  ``session.yaml``. Both members' JupyterLab subscribe to it.
* To their lobbies: the platform's ``EventBus`` (Redis ``pp:events:<user>``), for what a
  lobby page shows (the end of the session).
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_PATH = Path(__file__).parent / "session.yaml"
SCHEMA_ID = "https://events.peerplatform.dev/pair-session/v1"


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


class SessionEvents:
    def __init__(self, event_logger, *, redis_url: str = "", log=None):
        self.event_logger = event_logger
        self.redis_url = redis_url
        self.log = log
        self._bus = None

    def emit(self, type: str, doc: dict, *, by: str | None = None, data: dict | None = None):
        """Push an event to everyone subscribed in this server (never raises)."""
        event = {"type": type, "session": doc["_id"]}
        if doc.get("driver"):
            event["driver"] = doc["driver"]
        if doc.get("observer"):
            event["observer"] = doc["observer"]
        if by:
            event["by"] = by
        if data is not None:
            event["data"] = _jsonable(data)
        try:
            self.event_logger.emit(schema_id=SCHEMA_ID, data=event)
        except Exception:
            if self.log:
                self.log.exception("peerplatform: could not emit %s event", type)

    async def to_lobbies(self, members, type: str, **data) -> bool:
        """Publish to the members' lobby pages; False when there is no Redis or it failed."""
        if not self.redis_url:
            return False
        try:
            if self._bus is None:
                from redis.asyncio import Redis

                from peerplatform.events import EventBus

                self._bus = EventBus(Redis.from_url(self.redis_url, decode_responses=True))
            await self._bus.publish_all(members, type, **_jsonable(data))
            return True
        except Exception:
            if self.log:
                self.log.exception("peerplatform: could not publish %s to the lobbies", type)
            return False

    async def close(self) -> None:
        if self._bus is not None:
            await self._bus.redis.aclose()
