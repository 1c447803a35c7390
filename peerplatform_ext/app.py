"""``PeerPlatformExtension``: the pair server's extension app (``c.PeerPlatformExtension.*``)."""

from __future__ import annotations

import os

from jupyter_server.extension.application import ExtensionApp
from traitlets import Float, Unicode, default

from .handlers import default_handlers
from .session import PairSession


class PeerPlatformExtension(ExtensionApp):
    name = "peerplatform_ext"
    load_other_extensions = True

    session_id = Unicode(
        help="""Session id this server was started for (``$PEERPLATFORM_SESSION_ID``).

        A hint only: the session is whichever the store assigns to this server, so a warm
        server can be given a session later.""",
    ).tag(config=True)

    @default("session_id")
    def _default_session_id(self):
        return os.environ.get("PEERPLATFORM_SESSION_ID", "")

    mongodb_uri = Unicode(help="MongoDB URI of the platform store (``$MONGODB_URI``).").tag(config=True)

    @default("mongodb_uri")
    def _default_mongodb_uri(self):
        return os.environ.get("MONGODB_URI", "")

    mongodb_database = Unicode(help="Database name (``$PEERPLATFORM_MONGODB_DB``).").tag(config=True)

    @default("mongodb_database")
    def _default_mongodb_database(self):
        return os.environ.get("PEERPLATFORM_MONGODB_DB", "peerplatform")

    server_owner = Unicode(help="Hub owner of this server (``$JUPYTERHUB_USER``).").tag(config=True)

    @default("server_owner")
    def _default_server_owner(self):
        return os.environ.get("JUPYTERHUB_USER", "")

    server_name = Unicode(help="Hub name of this server (``$JUPYTERHUB_SERVER_NAME``).").tag(config=True)

    @default("server_name")
    def _default_server_name(self):
        return os.environ.get("JUPYTERHUB_SERVER_NAME", "")

    session_cache_ttl = Float(
        1.0, help="Seconds a looked-up session document is reused before reading it again."
    ).tag(config=True)

    @property
    def active(self) -> bool:
        """Whether this server is a pair server (it knows its store and its Hub identity)."""
        return bool(self.mongodb_uri and self.server_owner and self.server_name)

    def initialize_settings(self):
        if not self.active:
            self.log.info("peerplatform_ext: not a pair server (no store or hub identity); inert")
            return
        self.pair_session = PairSession(
            mongodb_uri=self.mongodb_uri, database=self.mongodb_database,
            owner=self.server_owner, server_name=self.server_name,
            session_id=self.session_id, ttl=self.session_cache_ttl, log=self.log,
        )
        self.settings["peerplatform_session"] = self.pair_session

    def initialize_handlers(self):
        if self.active:
            self.handlers.extend(default_handlers)

    async def stop_extension(self):
        if self.active:
            await self.pair_session.close()
