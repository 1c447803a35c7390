"""Connection and collection wiring for the platform's MongoDB database."""

from __future__ import annotations

from pymongo import AsyncMongoClient

from .challenges import ChallengeStore
from .cohorts import CohortStore
from .profiles import ProfileStore
from .ratings import RatingStore
from .snapshots import SnapshotStore
from .sessions import SessionStore


class Store:
    """The platform's collections, each behind its repository.

    One instance per process (it owns the connection pool); pass it to whoever needs it.
    """

    def __init__(self, uri: str, database: str = "peerplatform", **client_kwargs):
        if not uri:
            raise ValueError("a MongoDB URI is required (set MONGODB_URI)")
        client_kwargs.setdefault("tz_aware", True)
        client_kwargs.setdefault("serverSelectionTimeoutMS", 10_000)
        self.client = AsyncMongoClient(uri, **client_kwargs)
        self.db = self.client[database]
        self.sessions = SessionStore(self.db)
        self.challenges = ChallengeStore(self.db)
        self.ratings = RatingStore(self.db)
        self.snapshots = SnapshotStore(self.db)
        self.cohorts = CohortStore(self.db)
        self.profiles = ProfileStore(self.db)

    async def ensure_indexes(self) -> None:
        """Create the indexes every query path needs (idempotent)."""
        await self.sessions.ensure_indexes()
        await self.challenges.ensure_indexes()
        await self.ratings.ensure_indexes()
        await self.snapshots.ensure_indexes()
        await self.cohorts.ensure_indexes()

    async def close(self) -> None:
        await self.client.close()


async def connect(uri: str, database: str = "peerplatform", **client_kwargs) -> Store:
    store = Store(uri, database, **client_kwargs)
    await store.ensure_indexes()
    return store
