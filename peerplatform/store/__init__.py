"""MongoDB documents of the platform, through one code path: ``pymongo.AsyncMongoClient(uri)``.

This package is the contract shared by the Hub-side service and the pair-server extension.
Each collection has a small repository class here; nothing else touches the collections.
"""

from .client import Store, connect
from .sessions import SESSION_STATES, SessionStore, new_session_id

__all__ = ["Store", "connect", "SessionStore", "SESSION_STATES", "new_session_id"]
