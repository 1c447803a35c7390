"""Pushing session events to both members: jupyter_server's event bus
(``/api/events/subscribe``), schema ``session.yaml``. Both members' JupyterLab subscribe to it.

What the members' lobby pages show (the end of the session) is the platform service's to
tell: it ends the session and records the outcome.
"""

from __future__ import annotations

import json
from pathlib import Path

SCHEMA_PATH = Path(__file__).parent / "session.yaml"
SCHEMA_ID = "https://events.peerplatform.dev/pair-session/v1"


def _jsonable(value):
    return json.loads(json.dumps(value, default=str))


class SessionEvents:
    """``session_id`` names the session in events emitted before the first view arrived
    (e.g. ``connection`` while the service is unreachable at start)."""

    def __init__(self, event_logger, *, session_id: str = "", log=None):
        self.event_logger = event_logger
        self.session_id = session_id
        self.log = log

    def emit(self, type: str, doc: dict | None, *, by: str | None = None,
             data: dict | None = None) -> None:
        """Push an event to everyone subscribed in this server (never raises)."""
        doc = doc or {}
        event = {"type": type, "session": doc.get("id") or self.session_id}
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
