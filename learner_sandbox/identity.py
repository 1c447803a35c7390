"""Who learner code runs as, and how this process gets there.

Three cases, by who starts the sandbox:

* **root** (a pair server started directly as root, e.g. by a test): ``setpriv`` drops to the
  kernel user before bubblewrap, so learner code runs as that host uid;
* **an unprivileged user with the kernel user as its subordinate id** (the spawner's pair
  servers when the platform runs as root: ``peerplatform up`` writes ``/etc/subuid`` and
  ``/etc/subgid``): ``unshare`` maps the kernel user into a new user namespace through the
  setuid ``newuidmap``; the pair server owns that namespace, so it can still signal (interrupt,
  kill) the kernel, and the kernel can signal nothing of the pair server's;
* **an unprivileged user without one** (a developer's ``make up``): the kernel keeps this uid,
  in a user namespace of its own (bubblewrap's), as the issue allows for a non-root platform.

Inside, learner code is always uid/gid 1000, "learner".
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
from dataclasses import dataclass

SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
INNER_UID = 1000


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot be set up here; the message names what is missing."""


def tool(name: str) -> str:
    found = shutil.which(name, path=SYSTEM_PATH)
    if not found:
        package = {"bwrap": "bubblewrap", "newuidmap": "uidmap"}.get(name, "util-linux")
        raise SandboxUnavailable(
            f"{name} is not installed (Debian: apt-get install {package})")
    return found


@dataclass(frozen=True)
class KernelIdentity:
    uid: int
    gid: int
    name: str
    #: command prefix that makes the rest of the command run as ``uid`` (possibly empty)
    prefix: tuple = ()

    @property
    def separate(self) -> bool:
        """Whether learner code runs as a host uid other than this process's."""
        return self.uid != os.geteuid()


def _subordinate(path: str, user: str, uid: int, wanted: int) -> bool:
    """Whether ``/etc/subuid``-style ``path`` lets ``user`` map id ``wanted``."""
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        return False
    for line in lines:
        parts = line.strip().split(":")
        if len(parts) != 3 or parts[0] not in (user, str(uid)):
            continue
        try:
            start, count = int(parts[1]), int(parts[2])
        except ValueError:
            continue
        if start <= wanted < start + count:
            return True
    return False


def kernel_identity(user: str) -> KernelIdentity:
    """How learner code gets to run as ``user`` from this process (see the module doc)."""
    euid = os.geteuid()
    try:
        entry = pwd.getpwnam(user) if user else None
    except KeyError:
        entry = None
    if euid == 0:
        if entry is None:
            raise SandboxUnavailable(
                f"the kernel user {user!r} does not exist: as root, learner code must run as an "
                "unprivileged system user (`peerplatform up` creates it; or "
                f"`useradd --system --user-group --no-create-home {user or 'pp-kernel'}`)")
        if entry.pw_uid == 0:
            raise SandboxUnavailable(f"the kernel user {user!r} is root")
        return KernelIdentity(entry.pw_uid, entry.pw_gid, entry.pw_name, (
            tool("setpriv"), f"--reuid={entry.pw_uid}", f"--regid={entry.pw_gid}",
            "--clear-groups", "--inh-caps=-all", "--"))
    me = pwd.getpwuid(euid).pw_name if _has_uid(euid) else str(euid)
    if entry is not None and entry.pw_uid != euid:
        mappable = (_subordinate("/etc/subuid", me, euid, entry.pw_uid)
                    and _subordinate("/etc/subgid", me, euid, entry.pw_gid))
        if mappable:
            tool("newuidmap")
            return KernelIdentity(entry.pw_uid, entry.pw_gid, entry.pw_name, (
                tool("unshare"), "--user", f"--map-users={entry.pw_uid},0,1",
                f"--map-groups={entry.pw_gid},0,1", "--setuid=0", "--setgid=0", "--"))
    return KernelIdentity(euid, os.getegid(), me, ())


def _has_uid(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
    except KeyError:
        return False
    return True


def group_id(name: str) -> int | None:
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        return None
