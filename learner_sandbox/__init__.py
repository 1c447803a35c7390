"""The sandbox that confines learner code: kernels (and terminals) of pair servers.

Learner code is hostile (README, "Security"): whatever a kernel can reach belongs to the learner.
A sandboxed process runs

* as an unprivileged OS user that is neither the pair server's nor the platform's
  (:mod:`.identity`), inside bubblewrap: its own user, mount, PID, network, IPC and UTS
  namespaces, with only the system libraries and the Python environment (read-only), the
  session's work folder (read-write, at ``/home/learner``) and a private ``/tmp``
  (:mod:`.command`);
* with an environment built from an allowlist (no store URL, token or secret);
* under limits (:mod:`.limits`): a cgroup per session for memory, processes and CPU where the
  machine has one to give, and resource limits (file size, open files, core dumps) always.

Nothing here imports the Hub side or the pair-server side: the spawner (Hub, root) prepares a
session's cgroup, the pair server's kernel provisioner builds the command, and
``python -m learner_sandbox.enter`` joins the limits and runs it.
"""

from __future__ import annotations

import importlib

__all__ = ["SandboxSettings", "SandboxUnavailable", "sandbox_command"]
_WHERE = {"SandboxSettings": ".settings", "SandboxUnavailable": ".identity",
          "sandbox_command": ".command"}


def __getattr__(name: str):
    # Lazily: ``python -m learner_sandbox.enter`` runs before every kernel and must not pay for
    # traitlets and the command builder it does not use.
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
