"""The system users of a platform that runs as root, created by ``peerplatform up``.

* ``pp-server`` runs pair servers (never root);
* ``pp-kernel`` runs learner code; its group is how pair servers share the work folder with it,
  and ``/etc/subuid`` / ``/etc/subgid`` let ``pp-server`` map it into a user namespace
  (``newuidmap``, Debian package ``uidmap``), which is how a pair server that is not root
  starts a kernel as another user.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess

from .identity import SYSTEM_PATH, SandboxUnavailable


def _run(*cmd: str) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise SandboxUnavailable(f"{' '.join(cmd)} failed: {done.stderr.strip()}")


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd", path=SYSTEM_PATH)
    if not useradd:
        raise SandboxUnavailable(f"the system user {name!r} is missing and there is no useradd "
                                 "to create it")
    _run(useradd, "--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent",
         "--shell", "/usr/sbin/nologin", "--comment", "peerplatform sandbox", name)
    return pwd.getpwnam(name)


def _ensure_line(path: str, owner: str, start: int) -> None:
    """``owner:start:1`` in ``/etc/subuid``-style ``path`` (exactly one id, nothing more)."""
    line = f"{owner}:{start}:1"
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except FileNotFoundError:
        lines = []
    if line in lines:
        return
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")
    os.chmod(path, 0o644)


def ensure_system_users(server_user: str = "pp-server", kernel_user: str = "pp-kernel") -> list:
    """Create the users (idempotent); only as root. Returns what it created or changed."""
    if os.geteuid() != 0:
        return []
    if server_user == kernel_user:
        raise SandboxUnavailable("the pair servers' user and the kernels' user must differ")
    before = {u.pw_name for u in pwd.getpwall()}
    server = _ensure_user(server_user)
    kernel = _ensure_user(kernel_user)
    changed = [f"created system user {u}" for u in (server_user, kernel_user) if u not in before]
    if server_user not in grp.getgrgid(kernel.pw_gid).gr_mem:
        _run(shutil.which("usermod", path=SYSTEM_PATH) or "usermod", "--append", "--groups",
             grp.getgrgid(kernel.pw_gid).gr_name, server_user)
        changed.append(f"added {server_user} to group {grp.getgrgid(kernel.pw_gid).gr_name}")
    _ensure_line("/etc/subuid", server.pw_name, kernel.pw_uid)
    _ensure_line("/etc/subgid", server.pw_name, kernel.pw_gid)
    if not shutil.which("newuidmap", path=SYSTEM_PATH):
        raise SandboxUnavailable("newuidmap is missing (Debian: apt-get install uidmap): pair "
                                 f"servers running as {server_user} need it to start kernels "
                                 f"as {kernel_user}")
    return changed


def check_user_can_run(user: str, python: str, modules: tuple = ("peerplatform_ext",)) -> None:
    """Raise :class:`SandboxUnavailable` unless ``user`` can run ``python`` and import
    ``modules`` (a venv inside a private folder such as ``/root`` is the usual reason)."""
    setpriv = shutil.which("setpriv", path=SYSTEM_PATH)
    if os.geteuid() != 0 or not setpriv:
        return
    entry = pwd.getpwnam(user)
    done = subprocess.run(
        [setpriv, f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}", "--init-groups",
         python, "-c", "import " + ", ".join(modules)],
        capture_output=True, text=True, cwd="/", env={"PATH": "/usr/bin:/bin"})
    if done.returncode != 0:
        raise SandboxUnavailable(
            f"the system user {user} cannot run {python} (pair servers run as {user}): "
            f"{done.stderr.strip()[-300:]} — install the platform where every user may read it "
            "(not under /root), with a Python every user can run (make PYTHON=/usr/bin/python3)")
