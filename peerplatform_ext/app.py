"""``PeerPlatformExtension``: the pair server's extension app (``c.PeerPlatformExtension.*``).

In a pair server (it knows its store and its Hub identity) it:

* at link time installs the read-only enforcement (``wiring.install``) and at load time
  checks it is in effect, or stops the server (``wiring.verify``; fail closed);
* holds the live role state (``roles.PairState``) every check reads;
* runs the session (``controller.PairController``): challenge cells, the clock, swaps, the end;
* serves ``/peerplatform/api/*`` (``handlers.py``) and pushes events (``events/``);
* runs the pair's voice call (``voice.py``: Twilio tokens or WebRTC signaling).

Anywhere else (a plain ``jupyter lab`` in the same environment) it does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from learner_sandbox import SandboxSettings
from peerplatform.voice.settings import VoiceSettings
from traitlets import Bool, Float, Integer, List, Unicode, default

from .controller import PairController
from .events import SCHEMA_PATH, SessionEvents
from .grader.settings import GraderSettings
from .handlers import default_handlers
from .notebook import SessionNotebook
from .pages import hide_server_token
from .roles import PairState
from .rtc_filter import STATE_KEY
from .session import PairSession
from .voice import PairVoice, voice_handlers
from .wiring import NotSafe, install, verify


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

    redis_url = Unicode(
        help="""Redis URL of the platform (``$REDIS_URL``), to tell both members' lobby pages
        that the session ended. Empty: lobbies learn it from the store instead.""",
    ).tag(config=True)

    @default("redis_url")
    def _default_redis_url(self):
        return os.environ.get("REDIS_URL", "")

    server_owner = Unicode(help="Hub owner of this server (``$JUPYTERHUB_USER``).").tag(config=True)

    @default("server_owner")
    def _default_server_owner(self):
        return os.environ.get("JUPYTERHUB_USER", "")

    server_name = Unicode(help="Hub name of this server (``$JUPYTERHUB_SERVER_NAME``).").tag(config=True)

    @default("server_name")
    def _default_server_name(self):
        return os.environ.get("JUPYTERHUB_SERVER_NAME", "")

    session_dir = Unicode(
        help="""The session's own directory (``$PEERPLATFORM_SESSION_DIR``), set by the spawner.

        The notebook root is ``<session_dir>/work``; the RTC stores go to ``data_dir``, which
        must not be inside the notebook root (the server refuses to start otherwise).""",
    ).tag(config=True)

    @default("session_dir")
    def _default_session_dir(self):
        return os.environ.get("PEERPLATFORM_SESSION_DIR", "")

    data_dir = Unicode(
        help="""Where the RTC update store (``ystore.db``) and session file go.
        Default: ``<session_dir>/data``.""",
    ).tag(config=True)

    @default("data_dir")
    def _default_data_dir(self):
        return str(Path(self.session_dir) / "data") if self.session_dir else ""

    notebook_path = Unicode(
        "session.ipynb",
        help="The shared notebook of the session, relative to the notebook root.",
    ).tag(config=True)

    session_cache_ttl = Float(
        1.0, help="Seconds a looked-up session document is reused before reading it again."
    ).tag(config=True)

    tick_interval = Float(
        1.0,
        help="""Seconds between two looks at the session in the store (roles changed
        elsewhere, the end). Swaps and the end are also scheduled at their exact time.""",
    ).tag(config=True)

    swap_at_fractions = List(
        Float(),
        [0.5],
        help="""Role swaps, as fractions of the duration, for sessions whose document has no
        ``swap_schedule_s``. ``[]``: no scheduled swap (members may still agree on one).""",
    ).tag(config=True)

    ystore_squash_after = Integer(
        24 * 3600,
        help="""Seconds of inactivity after which a document's RTC history is squashed
        (``SQLiteYStore.squash_after_inactivity_of``). The history is the edit replay for
        reviewers, so keep it longer than a session. 0: never squash.""",
    ).tag(config=True)

    final_tests_timeout = Float(
        120.0, help="Seconds the final test run at time-up may take before it is skipped."
    ).tag(config=True)

    shutdown_kernels_at_end = Bool(
        True,
        help="""Shut kernels and terminals down at the end of the session: nothing runs, and
        nothing changes files, once the session is over.""",
    ).tag(config=True)

    @property
    def active(self) -> bool:
        """Whether this server is a pair server (it knows its store and its Hub identity)."""
        return bool(self.mongodb_uri and self.server_owner and self.server_name)

    def _fail_closed(self, message: str) -> None:
        self.log.critical("peerplatform_ext: refusing to run this pair server: %s", message)
        self.serverapp.exit(1)

    def _link_jupyter_server_extension(self, serverapp):
        super()._link_jupyter_server_extension(serverapp)
        if not self.active:
            return
        if not self.data_dir:
            self._fail_closed("no session dir ($PEERPLATFORM_SESSION_DIR) for the RTC stores")
        # the sandbox's singleton, created here so a server config's c.SandboxSettings applies
        if SandboxSettings.instance(parent=self).unsafe_no_sandbox:
            self.log.warning("peerplatform_ext: UNSAFE: SandboxSettings.unsafe_no_sandbox is set: "
                             "learner code runs unconfined, as this server's user, with its "
                             "environment, files and network")
        try:
            install(self)
        except NotSafe as e:
            self._fail_closed(str(e))

    def initialize(self):
        super().initialize()
        if self.active:
            self.serverapp.event_logger.register_event_schema(SCHEMA_PATH)

    def initialize_settings(self):
        if not self.active:
            self.log.info("peerplatform_ext: not a pair server (no store or hub identity); inert")
            return
        self.pair_session = PairSession(
            mongodb_uri=self.mongodb_uri, database=self.mongodb_database,
            owner=self.server_owner, server_name=self.server_name,
            session_id=self.session_id, ttl=self.session_cache_ttl, log=self.log,
        )
        self.pair_state = PairState(self.pair_session, log=self.log)
        # the grader's singleton, created here so a server config's c.GraderSettings applies
        GraderSettings.instance(parent=self)
        self.session_events = SessionEvents(self.serverapp.event_logger,
                                            redis_url=self.redis_url, log=self.log)
        self.controller = PairController(
            state=self.pair_state,
            notebook=SessionNotebook(self.serverapp, self.notebook_path, self.log),
            events=self.session_events,
            serverapp=self.serverapp,
            swap_fractions=self.swap_at_fractions,
            tick_s=self.tick_interval,
            final_tests_timeout_s=self.final_tests_timeout,
            shutdown_kernels_at_end=self.shutdown_kernels_at_end,
            log=self.log,
        )
        self.serverapp.kernel_manager.on_kernel_notice = self.controller.kernel_notice
        self.settings["peerplatform_session"] = self.pair_session
        self.settings[STATE_KEY] = self.pair_state
        self.settings["peerplatform_controller"] = self.controller
        self.voice = PairVoice(VoiceSettings(parent=self), self.pair_state, self.log)
        self.settings["peerplatform_voice"] = self.voice

    def initialize_handlers(self):
        if not self.active:
            return
        hide_server_token(self.serverapp.web_app)
        try:
            verify(self)
        except NotSafe as e:
            self._fail_closed(str(e))
        self.handlers.extend(default_handlers)
        self.handlers.extend(voice_handlers)

    async def _start_jupyter_server_extension(self, serverapp):
        if self.active:
            self.controller.start()

    async def stop_extension(self):
        if self.active:
            await self.controller.stop()
            await self.voice.close()
            await self.session_events.close()
            await self.pair_session.close()
