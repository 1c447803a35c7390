"""Names of the environment variables passed between the Hub, the platform service and the pair
servers. Each constant is named as the variable itself, so either spelling greps to both.

Set by the Hub's spawner for a pair server (``spawner/mixin.py`` ``pair_env``):
:data:`PEERPLATFORM_SESSION_ID`, :data:`PEERPLATFORM_SESSION_DIR`, :data:`PEERPLATFORM_API_URL`
and :data:`JUPYTERHUB_ROOT_DIR`. Set by JupyterHub itself for every server and service it
starts: the ``JUPYTERHUB_*`` names below.
"""

from __future__ import annotations

# --- set by the spawner for a pair server --------------------------------------------------
#: The session this pair server serves (12 characters, :data:`.sessions.SESSION_ID_RE`).
PEERPLATFORM_SESSION_ID = "PEERPLATFORM_SESSION_ID"
#: The session's own folder on the server's machine (notebook root and RTC stores inside).
PEERPLATFORM_SESSION_DIR = "PEERPLATFORM_SESSION_DIR"
#: Base URL of the service's pair API for this pair server (``.../api/pair/``; see
#: :mod:`.pair_api`).
PEERPLATFORM_API_URL = "PEERPLATFORM_API_URL"

# --- set by JupyterHub ----------------------------------------------------------------------
#: The API token of the server or service (a pair server's is its only credential).
JUPYTERHUB_API_TOKEN = "JUPYTERHUB_API_TOKEN"
#: The Hub's API URL (``http://<hub>/hub/api``).
JUPYTERHUB_API_URL = "JUPYTERHUB_API_URL"
#: The Hub's base URL (``/`` by default).
JUPYTERHUB_BASE_URL = "JUPYTERHUB_BASE_URL"
#: Owner of the server (for pair servers: the pair owner, ``pp-pairs``).
JUPYTERHUB_USER = "JUPYTERHUB_USER"
#: Name of the server (for pair servers: ``s-<session id>``, :func:`.sessions.server_name`).
JUPYTERHUB_SERVER_NAME = "JUPYTERHUB_SERVER_NAME"
#: The server's notebook root (the spawner sets it to ``<session dir>/work``).
JUPYTERHUB_ROOT_DIR = "JUPYTERHUB_ROOT_DIR"
#: A managed service's URL prefix (``/services/peerplatform/``).
JUPYTERHUB_SERVICE_PREFIX = "JUPYTERHUB_SERVICE_PREFIX"
#: Where a managed service listens (``http://127.0.0.1:<port>``).
JUPYTERHUB_SERVICE_URL = "JUPYTERHUB_SERVICE_URL"
