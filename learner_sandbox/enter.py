"""``python -I -m learner_sandbox.enter SPEC -- COMMAND…``: limits first, then the sandbox.

Run by the pair server for each kernel or terminal. It moves itself into the session's cgroup
(creating it where it runs as root), sets resource limits, makes itself the first victim of a
machine-wide out-of-memory kill, and replaces itself with COMMAND, which inherits all of it.
A separate process rather than a ``preexec_fn``: the pair server is multi-threaded.
"""

from __future__ import annotations

import json
import os
import sys

from .limits import Limits, SessionCgroup, set_rlimits
from .seccomp import program_fd

SECCOMP_FD = "{seccomp_fd}"  # the placeholder of command.py (not imported: start-up time)


def _exists(path) -> bool:
    try:
        return path.exists()
    except OSError:  # a parent we may not pass: prepared by root, not for us
        return True


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m learner_sandbox.enter SPEC -- COMMAND...")
    spec = json.loads(argv[0])
    command = argv[2:]
    limits = Limits(**spec["limits"])
    os.umask(0o007)  # the pair server (same group) reads and edits what learner code writes
    cgroup = SessionCgroup(spec["cgroup"])
    joined = False
    if cgroup.version is not None:
        try:
            if os.geteuid() == 0:
                cgroup.create(limits)
            if cgroup.joinable():
                cgroup.join()
                joined = True
        except OSError as e:
            print(f"learner_sandbox: no cgroup ({e}); resource limits only", file=sys.stderr)
        if not joined and cgroup.dirs and _exists(cgroup.dirs[0]):
            # prepared for this session but not ours to join: a setup fault worth a log line
            print(f"learner_sandbox: cannot join the session's cgroup {cgroup.name}; "
                  "resource limits only", file=sys.stderr)
    set_rlimits(limits, cgroup=joined, separate_uid=spec.get("separate_uid", False))
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("1000")
    except OSError:
        pass
    fd = program_fd()
    if fd is None:
        # no filter for this architecture: drop the option rather than the sandbox
        at = command.index(SECCOMP_FD)
        del command[at - 1:at + 1]
    else:
        command = [str(fd) if part == SECCOMP_FD else part for part in command]
    # Nothing of the launcher's environment goes on: bubblewrap is PID 1 in the sandbox, and
    # its /proc/1/environ is readable there.
    os.execve(command[0], command, {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"})


if __name__ == "__main__":
    main(sys.argv[1:])
