"""The RTC update store of a pair server, in the session's data directory.

jupyter-collaboration builds YStores in two places: the room websocket handler passes the
server's config, ``YDocExtension.get_document(create=True)`` (which we use to insert the
challenge) passes none. So ``c.SQLiteYStore.db_path`` alone would leave the second one at
the default ``.jupyter_ystore.db`` in the server's CWD. The class made here fixes the path
and history policy for both, whatever the config says.
"""

from __future__ import annotations

from jupyter_server_ydoc.stores import SQLiteYStore


def session_ystore_class(db_path: str, squash_after_s: int | None) -> type[SQLiteYStore]:
    class PairSQLiteYStore(SQLiteYStore):
        __doc__ = f"SQLiteYStore kept in {db_path}."
        session_db_path = db_path

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.db_path = db_path
            self.squash_after_inactivity_of = squash_after_s

    return PairSQLiteYStore
