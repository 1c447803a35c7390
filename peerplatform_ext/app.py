"""``PeerPlatformExtension``: the pair server's extension app (``c.PeerPlatformExtension.*``).

In a pair server (it knows the platform service's URL and its Hub identity) it:

* at link time installs the read-only enforcement (``wiring.install``) and at load time
  checks it is in effect, or stops the server (``wiring.verify``; fail closed);
* follows the session the platform service keeps (``session.py``: a long poll of the pair
  API through ``platform_client.py``, with this server's own Hub token as its only
  credential) and holds the live role state every check reads (``roles.PairState``);
* runs the session's part here (``controller.PairController``): challenge cells, test runs
  and swap requests passed on to the service, replay snapshots, the lock at the end;
* serves ``/peerplatform/api/*`` (``handlers.py``) and pushes events (``events/``);
* relays the pair's voice call (``voice.py``).

It holds no store URL, no service token and no voice secret: the service picks the
challenge, grades, keeps the clock and records the outcome. Anywhere else (a plain
``jupyter lab`` in the same environment) it does nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_server.extension.application import ExtensionApp
from learner_sandbox import SandboxSettings
from peerplatform_contracts.pair_api import MAX_WAIT_S
from peerplatform_contracts.sessions import session_id_of
from traitlets import Bool, Float, Integer, Unicode, default, validate

from .controller import PairController
from .events import SCHEMA_PATH, SessionEvents
from .handlers import default_handlers
from .notebook import SessionNotebook
from .pages import hide_server_token
from .platform_client import PlatformClient
from .roles import PairState
from .rtc_filter import STATE_KEY
from .voice import PairVoice, voice_handlers
from .wiring import NotSafe, install, verify


class PeerPlatformExtension(ExtensionApp):
    name = "peerplatform_ext"
    load_other_extensions = True

    api_url = Unicode(
        help="""URL of the platform service's pair API (``$PEERPLATFORM_API_URL``), e.g.
        ``http://127.0.0.1:8081/services/peerplatform/api/pair/`` (the service's own URL,
        without ``api/pair/``, works too); this server's session is under it
        (``<session id>/``). Empty: this is not a pair server (the extension is inert).""",
    ).tag(config=True)

    @default("api_url")
    def _default_api_url(self):
        return os.environ.get("PEERPLATFORM_API_URL", "")

    api_token = Unicode(
        help="""This server's credential for the pair API: its own Hub API token
        (``$JUPYTERHUB_API_TOKEN``), which the Hub scopes to this server's session and
        deletes when the server stops. Never logged.""",
    ).tag(config=True)

    @default("api_token")
    def _default_api_token(self):
        return os.environ.get("JUPYTERHUB_API_TOKEN", "")

    session_id = Unicode(
        help="""Id of the session this server was started for (``$PEERPLATFORM_SESSION_ID``,
        set by the spawner; else read from the server's name, ``s-<session id>``): the pair
        API answers this server's credential for that session only.""",
    ).tag(config=True)

    @default("session_id")
    def _default_session_id(self):
        return os.environ.get("PEERPLATFORM_SESSION_ID", "") or \
            session_id_of(os.environ.get("JUPYTERHUB_SERVER_NAME", "")) or ""

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

    tick_interval = Float(
        1.0,
        help="""Seconds between two looks at the live notebook while the session runs: a
        replay snapshot is queued when the cells changed, and what is queued is sent. The
        end (``ends_at``) is also scheduled at its exact time.""",
    ).tag(config=True)

    poll_wait = Float(
        25.0,
        help=f"""Seconds the platform service may hold a long poll of the session state
        before it answers "no change" (at most {MAX_WAIT_S:g}, the service's limit). Changes
        (a swap, the end) arrive as soon as they happen, whatever this is.""",
    ).tag(config=True)

    @validate("poll_wait")
    def _validate_poll_wait(self, proposal):
        return min(max(float(proposal["value"]), 0.0), MAX_WAIT_S)

    request_timeout = Float(
        30.0,
        help="""Seconds a request to the platform service may take (a long poll adds its
        wait; a test run may take up to 180 s).""",
    ).tag(config=True)

    request_attempts = Integer(
        4,
        help="""How many times a request to the platform service is tried when the service
        cannot be reached or answers 5xx/429, with exponential backoff in between. Swap and
        challenge requests are tried once: the member sees the error and may try again.""",
    ).tag(config=True)

    ystore_squash_after = Integer(
        24 * 3600,
        help="""Seconds of inactivity after which a document's RTC history is squashed
        (``SQLiteYStore.squash_after_inactivity_of``). The history is the edit replay for
        reviewers, so keep it longer than a session. 0: never squash.""",
    ).tag(config=True)

    shutdown_kernels_at_end = Bool(
        True,
        help="""Shut kernels and terminals down at the end of the session: nothing runs, and
        nothing changes files, once the session is over.""",
    ).tag(config=True)

    @property
    def active(self) -> bool:
        """Whether this server is a pair server (it knows the service and its Hub identity)."""
        return bool(self.api_url and self.server_owner and self.server_name)

    def _fail_closed(self, message: str) -> None:
        self.log.critical("peerplatform_ext: refusing to run this pair server: %s", message)
        self.serverapp.exit(1)

    def _link_jupyter_server_extension(self, serverapp):
        super()._link_jupyter_server_extension(serverapp)
        if not self.active:
            return
        if not self.data_dir:
            self._fail_closed("no session dir ($PEERPLATFORM_SESSION_DIR) for the RTC stores")
        if not self.session_id or not self.api_token:
            # without them the service would never answer for this server: nobody could
            # ever write, and the learners would wait for a session that never comes
            self._fail_closed("no session id ($PEERPLATFORM_SESSION_ID) or no credential "
                              "($JUPYTERHUB_API_TOKEN) for the platform service")
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
            self.log.info("peerplatform_ext: not a pair server (no platform URL or hub "
                          "identity); inert")
            return
        self.platform = PlatformClient(
            api_url=self.api_url, token=self.api_token, session_id=self.session_id,
            timeout_s=self.request_timeout, attempts=self.request_attempts, log=self.log,
        )
        self.pair_state = PairState(self.platform.state, log=self.log)
        self.session_events = SessionEvents(self.serverapp.event_logger,
                                            session_id=self.session_id, log=self.log)
        self.controller = PairController(
            state=self.pair_state,
            client=self.platform,
            notebook=SessionNotebook(self.serverapp, self.notebook_path, self.log),
            events=self.session_events,
            serverapp=self.serverapp,
            tick_s=self.tick_interval,
            poll_wait_s=self.poll_wait,
            shutdown_kernels_at_end=self.shutdown_kernels_at_end,
            log=self.log,
        )
        self.serverapp.kernel_manager.on_kernel_notice = self.controller.kernel_notice
        self.settings[STATE_KEY] = self.pair_state
        self.settings["peerplatform_controller"] = self.controller
        self.voice = PairVoice(state=self.pair_state, log=self.log)
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
