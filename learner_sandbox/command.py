"""The command line that runs learner code in the sandbox.

``sandbox_command(argv, ...)`` returns::

    python -I -m learner_sandbox.enter SPEC -- [setpriv|unshare …] bwrap … -- argv

``enter`` joins the session's cgroup and sets resource limits, then executes the rest;
the identity prefix (:mod:`.identity`) switches to the kernel user; bubblewrap builds the view.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from .identity import INNER_UID, KernelIdentity, SandboxUnavailable, kernel_identity, tool
from .limits import Limits, SessionCgroup

HOME = "/home/learner"
#: placeholder for the seccomp filter's descriptor, filled in by ``enter``
SECCOMP_FD = "{seccomp_fd}"
#: what learner code may see of /etc (read-only); nothing else of it
ETC = ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "ssl",
       "ca-certificates", "ca-certificates.conf", "alternatives", "mime.types", "fonts",
       "nsswitch.conf", "matplotlibrc", "pki")
#: variables passed through from the launching environment, if set; everything else is dropped
PASSED_ENV = ("JPY_SESSION_NAME", "PYDEVD_DISABLE_FILE_VALIDATION", "LANG", "LC_ALL",
              "LC_CTYPE", "TZ", "TERM", "COLUMNS", "LINES", "MPLBACKEND", "PYTHONIOENCODING")

__all__ = ["SandboxUnavailable", "sandbox_command", "sandbox_env", "probe"]


def _python_roots() -> list[str]:
    """Folders the kernel's Python needs: the environment and the interpreter it is made from."""
    roots = {os.path.realpath(p) for p in (sys.prefix, sys.base_prefix, sys.exec_prefix)}
    roots.add(os.path.realpath(os.path.dirname(os.path.realpath(sys.executable))))
    # /usr is bound whole; a root inside it needs nothing more
    return sorted(r for r in roots if not (r == "/usr" or r.startswith("/usr/")))


def _system_binds() -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for top in ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"):
        if os.path.islink(top):
            args += ["--symlink", os.readlink(top), top]
        elif os.path.isdir(top):
            args += ["--ro-bind", top, top]
    for name in ETC:
        args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
    return args


def sandbox_env(env: dict | None = None) -> dict:
    """The sandbox's environment: a fixed base plus :data:`PASSED_ENV` from ``env``."""
    env = env or {}
    venv_bin = os.path.join(sys.prefix, "bin")
    out = {
        "HOME": HOME, "USER": "learner", "LOGNAME": "learner", "SHELL": "/bin/sh",
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin", "TMPDIR": "/tmp",
        "LANG": "C.UTF-8", "PYTHONNOUSERSITE": "1",
        # tool state in the private /tmp, not in the learners' file browser
        "IPYTHONDIR": "/tmp/.ipython", "MPLCONFIGDIR": "/tmp/.matplotlib",
        "XDG_CACHE_HOME": "/tmp/.cache", "XDG_CONFIG_HOME": "/tmp/.config",
        "JUPYTER_RUNTIME_DIR": "/tmp/.jupyter-runtime",
    }
    out.update({k: env[k] for k in PASSED_ENV if env.get(k)})
    return out


def inner_path(path: str, work_dir: str) -> str:
    """Where a host path under the work folder appears in the sandbox."""
    rel = os.path.relpath(os.path.realpath(path), os.path.realpath(work_dir))
    if rel == os.curdir:
        return HOME
    if rel.startswith(os.pardir):
        return HOME
    return os.path.join(HOME, rel)


def sandbox_command(argv: list[str], *, work_dir: str, settings, cgroup: str,
                    env: dict | None = None, cwd: str | None = None,
                    shared_dirs: tuple = (), session_leader: bool = True,
                    ro_binds: tuple = ()) -> list[str]:
    """The whole command line that runs ``argv`` confined (see the module doc).

    ``work_dir`` appears read-write at ``/home/learner``; ``shared_dirs`` read-write at their
    own paths (the kernel's ipc sockets, which both sides address by path); ``ro_binds``,
    ``(host path, path inside)`` pairs, read-only where named (a file or folder the sandboxed
    program needs, e.g. the grader's runner at ``/opt/peerplatform/runner.py``; inside paths
    belong outside ``/home/learner`` and ``/tmp``); ``cwd``, a host path under ``work_dir``,
    becomes the working directory. File descriptors the caller passes (``Popen(pass_fds=…)``)
    stay open, at the same numbers, in the sandboxed program. Raises
    :class:`SandboxUnavailable`.
    """
    identity = kernel_identity(settings.user)
    bwrap = tool("bwrap")
    limits = Limits.from_settings(settings)
    spec = {"cgroup": cgroup, "limits": limits.as_dict(), "separate_uid": identity.separate}
    box = [
        bwrap, "--unshare-all", "--unshare-user", "--uid", str(INNER_UID),
        "--gid", str(INNER_UID), "--disable-userns", "--cap-drop", "ALL",
        "--die-with-parent", "--hostname", "learner",
        # /tmp first: a bind below it afterwards would otherwise be hidden by it
        "--size", str(settings.tmp_mb * 1024 * 1024), "--tmpfs", "/tmp",
        *_system_binds(),
    ]
    # enter puts the filter in a file descriptor and writes its number here
    box += ["--seccomp", SECCOMP_FD]
    if session_leader:
        # no TIOCSTI into a terminal of the launching process
        box.append("--new-session")
    for root in _python_roots():
        box += ["--ro-bind", root, root]
    for host, inside in ro_binds:
        box += ["--ro-bind", os.path.realpath(host), inside]
    box += ["--bind", os.path.realpath(work_dir), HOME]
    for shared in shared_dirs:
        box += ["--bind", os.path.realpath(shared), os.path.realpath(shared)]
    box += ["--proc", "/proc", "--dev", "/dev",
            # the sandbox's own root (bubblewrap's tmpfs) read-only: only the binds above write
            "--remount-ro", "/",
            "--chdir", inner_path(cwd or work_dir, work_dir), "--clearenv"]
    for key, value in sandbox_env(env).items():
        box += ["--setenv", key, value]
    return [sys.executable, "-I", "-m", "learner_sandbox.enter", json.dumps(spec), "--",
            *identity.prefix, *box, "--", *argv]


_PROBED_OK: set = set()


def _probe(user: str, work_dir: str) -> str:
    """'' if a sandbox starts here, else why not. A success is remembered for the process; a
    failure is not, so a fixed host works again without restarting the pair server."""
    if (user, work_dir) in _PROBED_OK:
        return ""
    from types import SimpleNamespace

    settings = SimpleNamespace(user=user, memory_mb=256, pids=64, cpus=1.0, file_size_mb=1,
                               open_files=64, tmp_mb=1)
    cmd = sandbox_command([sys.executable, "-I", "-c", "import os; os.listdir('.')"],
                          work_dir=work_dir, settings=settings, cgroup="probe")
    try:
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                              env={"PATH": "/usr/bin:/bin"})
    except (OSError, subprocess.SubprocessError) as e:
        return f"the sandbox did not start: {e}"
    finally:
        SessionCgroup("probe").remove()
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).decode("utf-8", "replace").strip()[-400:]
        return f"the sandbox did not start for {work_dir} (exit {done.returncode}): {detail}"
    _PROBED_OK.add((user, work_dir))
    return ""


def probe(settings, work_dir: str) -> KernelIdentity:
    """Check once per process that a sandbox starts for ``work_dir``; raise
    :class:`SandboxUnavailable` with the reason if not."""
    identity = kernel_identity(settings.user)
    reason = _probe(settings.user, str(Path(work_dir).resolve()))
    if reason:
        raise SandboxUnavailable(reason)
    return identity
