"""The session this pair server serves, read from the store and cached briefly.

The server is identified by its Hub owner and name (``JUPYTERHUB_USER`` /
``JUPYTERHUB_SERVER_NAME``); the session is the newest one whose ``server`` field names it.
So a session can be assigned to an already running (warm-pool) server by writing that field.
"""

from __future__ import annotations

import asyncio
import time

from peerplatform.store import Store

ROLES = ("driver", "observer")


def role_of(doc: dict | None, username: str | None) -> str | None:
    """``"driver"``, ``"observer"`` or None (not a member) for ``username`` in ``doc``."""
    if not doc or not username:
        return None
    if username == doc.get("driver"):
        return "driver"
    if username == doc.get("observer"):
        return "observer"
    return None


class PairSession:
    """Looks up and caches this server's session document (``ttl`` seconds)."""

    def __init__(self, *, mongodb_uri: str, database: str, owner: str, server_name: str,
                 session_id: str = "", ttl: float = 1.0, log=None):
        self.mongodb_uri = mongodb_uri
        self.database = database
        self.owner = owner
        self.server_name = server_name
        self.session_id = session_id
        self.ttl = ttl
        self.log = log
        self._store: Store | None = None
        self._doc: dict | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    @property
    def store(self) -> Store:
        # created on first use, inside the server's event loop
        if self._store is None:
            self._store = Store(self.mongodb_uri, self.database)
        return self._store

    async def get(self, fresh: bool = False) -> dict | None:
        if not fresh and self._doc is not None and time.monotonic() - self._loaded_at < self.ttl:
            return self._doc
        async with self._lock:
            if not fresh and self._doc is not None and time.monotonic() - self._loaded_at < self.ttl:
                return self._doc
            doc = None
            if self.session_id:
                doc = await self.store.sessions.get(self.session_id)
                server = (doc or {}).get("server") or {}
                if server.get("owner") != self.owner or server.get("name") != self.server_name:
                    doc = None  # the hint does not belong to this server: ignore it
            if doc is None:
                doc = await self.store.sessions.for_server(self.owner, self.server_name)
            self._doc, self._loaded_at = doc, time.monotonic()
            return doc

    async def close(self) -> None:
        if self._store is not None:
            await self._store.close()
