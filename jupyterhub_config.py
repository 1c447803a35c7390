"""JupyterHub configuration of peerplatform: the one place the platform is configured.

Read by the Hub, and by the platform service (its ``c.PeerPlatform`` section), so every
setting lives here. Values that differ per machine come from the environment that
``peerplatform up`` (or your deployment) sets; everything else has an embedded default.

Environment (all optional):
  PEERPLATFORM_DATA_DIR      state folder (default ./.peerplatform)
  PEERPLATFORM_BIND_URL      public URL the proxy listens on (default http://127.0.0.1:8000)
  PEERPLATFORM_HUB_PORT      Hub's internal port (8081); PEERPLATFORM_PROXY_API_PORT (8001);
  PEERPLATFORM_SERVICE_PORT  the platform service's port (10101)
  PEERPLATFORM_HUB_DB_URL    Hub database (default sqlite in the data dir; PostgreSQL in production:
                             postgresql://user@host/jupyterhub)
  PEERPLATFORM_OPEN_SIGNUP   "0" turns open signup off (an admin then approves at /hub/authorize)
  PEERPLATFORM_ADMINS        comma-separated hub admins
  REDIS_URL, MONGODB_URI     the stores (``peerplatform up`` starts embedded ones when unset)
"""

import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - provided by traitlets when this file is loaded

HERE = Path(__file__).resolve().parent
DATA_DIR = Path(os.environ.get("PEERPLATFORM_DATA_DIR") or HERE / ".peerplatform").resolve()
SERVICE = "peerplatform"
PAIR_OWNER = "pp-pairs"  # synthetic hub user that owns every pair server
env = os.environ.get

# --- network -------------------------------------------------------------------------------
c.JupyterHub.bind_url = env("PEERPLATFORM_BIND_URL", "http://127.0.0.1:8000")
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{env('PEERPLATFORM_HUB_PORT', '8081')}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('PEERPLATFORM_PROXY_API_PORT', '8001')}"
_chp = HERE / "node_modules" / ".bin" / "configurable-http-proxy"
if _chp.exists():
    c.ConfigurableHTTPProxy.command = [str(_chp)]
c.ConfigurableHTTPProxy.pid_file = str(DATA_DIR / "jupyterhub-proxy.pid")

# --- state ---------------------------------------------------------------------------------
c.JupyterHub.db_url = env("PEERPLATFORM_HUB_DB_URL", f"sqlite:///{DATA_DIR / 'jupyterhub.sqlite'}")
c.JupyterHub.cookie_secret_file = str(DATA_DIR / "jupyterhub_cookie_secret")

# --- who can log in: NativeAuthenticator with signup (swap for OAuthenticator, see README) ---
c.JupyterHub.authenticator_class = "peerplatform-native"
c.NativeAuthenticator.open_signup = env("PEERPLATFORM_OPEN_SIGNUP", "1") != "0"
c.NativeAuthenticator.minimum_password_length = 8
c.Authenticator.allow_all = True  # JupyterHub 5+: else signup works but login is refused
c.Authenticator.admin_users = {u for u in env("PEERPLATFORM_ADMINS", "").split(",") if u}
c.PairConsentMixin.pair_owner = PAIR_OWNER

# --- pair servers --------------------------------------------------------------------------
c.JupyterHub.spawner_class = "pair"
c.JupyterHub.allow_named_servers = True
c.JupyterHub.named_server_limit_per_user = 0  # the pair owner holds one server per session
c.PairSpawner.pair_owner = PAIR_OWNER
c.PairSpawner.sessions_root = str(DATA_DIR / "sessions")
c.Spawner.start_timeout = 120
c.Spawner.http_timeout = 90
# Pair servers are disposable: stop them quickly (JupyterHub waits out each of these).
c.LocalProcessSpawner.interrupt_timeout = 3
c.LocalProcessSpawner.term_timeout = 5
# POST /users/:owner/servers/:name answers 202 at once; the service follows /progress.
c.JupyterHub.tornado_settings = {"slow_spawn_timeout": 0}

# --- the platform service ------------------------------------------------------------------
_service_port = env("PEERPLATFORM_SERVICE_PORT", "10101")
_passed_env = {
    k: v for k, v in os.environ.items()
    if k.startswith("PEERPLATFORM_") or k in ("REDIS_URL", "MONGODB_URI", "PATH", "LANG", "HOME")
}
_passed_env["PEERPLATFORM_DATA_DIR"] = str(DATA_DIR)
c.JupyterHub.services = [
    {
        "name": SERVICE,
        "url": f"http://127.0.0.1:{_service_port}",
        "command": [sys.executable, "-m", "peerplatform", "service", "--config", __file__],
        "environment": _passed_env,
        "oauth_no_confirm": True,
    }
]
c.JupyterHub.load_roles = [
    {
        "name": "peerplatform-service",
        "services": [SERVICE],
        # admin:users only to create the synthetic pair owner; servers includes start:servers.
        "scopes": ["admin:users", "servers", "shares", "read:users"],
    },
]
c.JupyterHub.extra_user_scopes = [f"access:services!service={SERVICE}"]
c.JupyterHub.default_url = f"/services/{SERVICE}/"

# --- the platform (c.PeerPlatform.*: see peerplatform/settings.py for every option) ---------
c.PeerPlatform.service_name = SERVICE
c.PeerPlatform.pair_owner = PAIR_OWNER
c.PeerPlatform.data_dir = str(DATA_DIR)
c.PeerPlatform.session_duration = int(env("PEERPLATFORM_SESSION_DURATION", str(45 * 60)))
