"""Session ids and the name of a session's pair server (``s-<session id>``).

The service makes the id, the Hub's spawner checks it (``user_options``), and the pair server
finds its session by its server name, so all three read the format here.
"""

from __future__ import annotations

import re
import secrets
import string

#: Characters of a session id: lowercase, so ``s-<id>`` is a valid JupyterHub server name.
SESSION_ID_ALPHABET = string.ascii_lowercase + string.digits
SESSION_ID_LENGTH = 12
SESSION_ID_RE = re.compile(rf"^[a-z0-9]{{{SESSION_ID_LENGTH}}}$")
#: Prefix of pair server names (JupyterHub named servers of the pair owner, ``pp-pairs``).
SERVER_NAME_PREFIX = "s-"


def new_session_id() -> str:
    """12 random [a-z0-9] characters: unguessable, and ``s-<id>`` is a valid server name."""
    return "".join(secrets.choice(SESSION_ID_ALPHABET) for _ in range(SESSION_ID_LENGTH))


def server_name(session_id: str) -> str:
    """The name of the pair server of session ``session_id``: ``s-<session id>``."""
    return SERVER_NAME_PREFIX + session_id


def session_id_of(name: str) -> str | None:
    """The session id a pair server name stands for (inverse of :func:`server_name`), or None
    when ``name`` is not a pair server's name."""
    if not isinstance(name, str) or not name.startswith(SERVER_NAME_PREFIX):
        return None
    session_id = name[len(SERVER_NAME_PREFIX):]
    return session_id if SESSION_ID_RE.match(session_id) else None
