"""The pair logic of the spawner, independent of where the server runs (local or Kubernetes).

A mixin on :class:`traitlets.config.Configurable` rather than on ``Spawner``: JupyterHub's
``Spawner.__init_subclass__`` requires start/stop/poll on every Spawner subclass.
"""

from __future__ import annotations

import os
from pathlib import Path

from learner_sandbox import SandboxSettings
from sqlalchemy.orm import object_session
from traitlets import Bool, Integer, Unicode, default
from traitlets.config import Configurable

from peerplatform_contracts import env as envvars
from peerplatform_contracts.sessions import SESSION_ID_RE

#: Environment the pair server receives from the Hub process: none. A pair server is untrusted
#: (learner code runs in its process tree): no store URL, no voice key or secret, no grader
#: settings (grading is the service's). What it gets is set by :meth:`pair_env`; its one
#: credential is the Hub's own ``$JUPYTERHUB_API_TOKEN``, scoped to its session
#: (``c.PairSpawner.server_token_scopes``).
FORWARDED_ENV: tuple[str, ...] = ()


def parse_user_options(user_options: dict) -> dict:
    """Validate the ``user_options`` the platform sends when it starts a pair server.

    Only ``session_id`` is accepted: everything else about the session the pair server reads
    from the service, so nothing a client puts in the request body can change roles.
    Raises ``ValueError`` (the Hub answers 400 "Invalid user options") on anything else.
    """
    if not isinstance(user_options, dict):
        raise ValueError("user_options must be an object")
    unknown = set(user_options) - {"session_id"}
    if unknown:
        raise ValueError(f"unknown pair option(s): {', '.join(sorted(map(str, unknown)))}")
    session_id = user_options.get("session_id")
    if not isinstance(session_id, str) or not SESSION_ID_RE.match(session_id):
        raise ValueError("session_id must be 12 characters of [a-z0-9]")
    return {"session_id": session_id}


class PairSpawnerMixin(Configurable):
    """Options and environment of a pair server (``c.PairSpawner.*``)."""

    pair_owner = Unicode(
        "pp-pairs",
        help="""Hub user allowed to own pair servers (must equal ``c.PeerPlatform.pair_owner``).

        Spawns requested for any other user are refused: learners never run servers of their
        own, they join the pair server shared with them.
        """,
    ).tag(config=True)

    sessions_root = Unicode(
        help="""Folder under which each session gets its own directory ``<sessions_root>/<id>``.

        The directory is the server's notebook root and holds the session's RTC stores.
        Defaults to ``$PEERPLATFORM_DATA_DIR/sessions``.
        """,
    ).tag(config=True)

    @default("sessions_root")
    def _default_sessions_root(self):
        if os.environ.get("PEERPLATFORM_SESSIONS_DIR"):
            return os.environ["PEERPLATFORM_SESSIONS_DIR"]
        data_dir = os.environ.get("PEERPLATFORM_DATA_DIR") or str(Path.cwd() / ".peerplatform")
        # beside the data dir, not in it: the data dir is the platform's alone (0700)
        return str(Path(data_dir).parent / f"{Path(data_dir).name}-sessions")

    terminals_enabled = Bool(
        False,
        help="""Offer terminals in pair servers. Off by default: a session needs the notebook
        only. When on, a terminal is a shell in the session's learner sandbox, like the kernel.
        """,
    ).tag(config=True)

    hub_auth_cache_max_age = Integer(
        10,
        help="""Seconds the pair server caches a visitor's Hub identity (``HubOAuth.cache_max_age``).

        JupyterHub's default is 300 s; a short cache makes a revoked share take effect within
        seconds.
        """,
    ).tag(config=True)

    platform_api_url = Unicode(
        help="""The platform service's pair API as pair servers reach it (given to them as
        ``$PEERPLATFORM_API_URL``): ``<service URL><service prefix>api/pair/``.

        Defaults to the service on this machine,
        ``http://127.0.0.1:$PEERPLATFORM_SERVICE_PORT/services/peerplatform/api/pair/`` (port
        10101 when unset). On Kubernetes, the service's in-cluster address, e.g.
        ``c.PairSpawner.platform_api_url =
        "http://peerplatform.jhub.svc:10101/services/peerplatform/api/pair/"``.
        """,
    ).tag(config=True)

    @default("platform_api_url")
    def _default_platform_api_url(self):
        port = os.environ.get("PEERPLATFORM_SERVICE_PORT") or "10101"
        return f"http://127.0.0.1:{port}/services/peerplatform/api/pair/"

    session_id = Unicode(help="Session served by this server (set from user_options).")

    def apply_pair_options(self, user_options: dict) -> None:
        try:
            opts = parse_user_options(user_options)
        except ValueError:
            # The Hub saved the body as this server's default options before asking us;
            # don't keep what we refuse (a later start without a body would reuse it).
            self.user_options = {}
            orm_spawner = getattr(self, "orm_spawner", None)
            if orm_spawner is not None and orm_spawner.user_options == user_options:
                orm_spawner.user_options = {}
                db = object_session(orm_spawner)
                if db is not None:
                    db.commit()
            raise
        self.session_id = opts["session_id"]

    @property
    def session_dir(self) -> Path:
        return Path(self.sessions_root) / self.session_id

    def check_pair_spawn(self) -> None:
        if self.user.name != self.pair_owner:
            raise PermissionError(
                f"pair servers are started by the platform for {self.pair_owner!r}; "
                f"{self.user.name!r} cannot start one"
            )
        if not self.session_id:
            raise ValueError("a pair server needs a session_id in user_options")

    def pair_env(self) -> dict:
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        api_url = self.platform_api_url
        env[envvars.PEERPLATFORM_API_URL] = api_url if api_url.endswith("/") else api_url + "/"
        # the sandbox's settings as the Hub has them (c.SandboxSettings in jupyterhub_config.py)
        env.update(SandboxSettings.instance(parent=self).forwarded_env())
        # The learners see <session_dir>/work; the session dir itself also holds the RTC
        # stores (<session_dir>/data, chosen by peerplatform_ext), which must stay out of the
        # notebook root. jupyter-server needs the root to exist before it starts; where the
        # session dir is on this machine (local spawner), make it here.
        work = self.session_dir / "work"
        if self.session_dir.is_dir():
            work.mkdir(exist_ok=True)
        env.update({
            envvars.PEERPLATFORM_SESSION_ID: self.session_id,
            envvars.PEERPLATFORM_SESSION_DIR: str(self.session_dir),
            envvars.JUPYTERHUB_ROOT_DIR: str(work),
        })
        return env

    def pair_args(self) -> list[str]:
        args = [
            f"--HubOAuth.cache_max_age={self.hub_auth_cache_max_age}",
            # The pair extension sets both itself and refuses to start without them; saying
            # them here too makes a server whose extension failed to import fail to start.
            "--ServerApp.authorizer_class=peerplatform_ext.auth.PairAuthorizer",
            "--LabApp.extension_manager=readonly",
            # a timed session: no news or update toasts over the session panel (and no
            # outbound requests to jupyterlab.github.io from pair servers)
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            # never --allow-root: pair servers run as an unprivileged user (``server_user``)
            f"--ServerApp.terminals_enabled={self.terminals_enabled}",
        ]
        return args

    # Spawner state: keep the session across Hub restarts (the mixin precedes the Spawner in
    # the MRO, so super() reaches the concrete spawner's own state).
    def get_state(self):
        state = super().get_state()
        if self.session_id:
            state["session_id"] = self.session_id
        return state

    def load_state(self, state):
        super().load_state(state)
        self.session_id = state.get("session_id", "")

    def clear_state(self):
        super().clear_state()
        self.session_id = ""
