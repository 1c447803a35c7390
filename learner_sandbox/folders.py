"""A session's folders, with owners and modes that let the pair server and the sandbox in and
keep everyone else out::

    <session>/          server user, group of the kernel user, 0710 (the sandbox only passes)
    <session>/work/     2770: the notebook root, /home/learner in the sandbox
    <session>/kernels/  2770: one folder per kernel with its ipc sockets and connection file

The group bit is how the pair server (a member of the kernel user's group, or root) and the
sandbox share the work folder; ``enter`` sets umask 007 so learner files stay editable by the
server. Everything that must stay the server's alone (the RTC store) goes in folders of
0700 that the pair server makes itself.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

from .identity import SandboxUnavailable

SHARED = ("work", "kernels")


def prepare_session_dir(session_dir: Path, *, server_uid: int, kernel_user: str) -> None:
    """Create (or fix) the folders above; the caller must be root or ``server_uid``."""
    try:
        kernel = pwd.getpwnam(kernel_user)
    except KeyError:
        kernel = None
    group = kernel.pw_gid if kernel is not None else -1
    session_dir.mkdir(parents=True, exist_ok=True)
    _own(session_dir, server_uid, group, 0o710 if kernel is not None else 0o700)
    for name in SHARED:
        path = session_dir / name
        path.mkdir(exist_ok=True)
        _own(path, server_uid, group, 0o2770 if kernel is not None else 0o700)
    if kernel is not None:
        check_reachable(session_dir / "work", kernel.pw_uid, kernel.pw_gid)


def _own(path: Path, uid: int, gid: int, mode: int) -> None:
    if os.geteuid() == 0:
        os.chown(path, uid, gid)
    elif gid != -1:
        os.chown(path, -1, gid)  # a group the caller is in
    os.chmod(path, mode)


def check_reachable(path: Path, uid: int, gid: int) -> None:
    """Raise :class:`SandboxUnavailable` naming the first folder above ``path`` that ``uid``
    cannot pass (bubblewrap, running as that user, must reach the folders it binds)."""
    path = Path(os.path.realpath(path))
    for folder in [*reversed(path.parents), path]:
        st = folder.stat()
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            raise SandboxUnavailable(
                f"{folder} (mode {stat.S_IMODE(st.st_mode):04o}) keeps the sandbox's user out "
                f"of {path}: put the sessions where every user may pass "
                "(c.PairSpawner.sessions_root / $PEERPLATFORM_SESSIONS_DIR)")
