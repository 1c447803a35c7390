"""Grader settings (``c.GraderSettings.*``): how hidden tests are isolated and scheduled.

Who runs graded code, and the sandbox's budget, are the learner sandbox's settings
(``c.SandboxSettings``, :mod:`learner_sandbox.settings`): graded code is the driver's code
and runs confined like the session's kernel.

The grader runs in pair servers and in ``challenges-loader verify``, neither of which reads
``jupyterhub_config.py``; so each trait defaults to an environment variable (:data:`ENV`),
which the spawner forwards to pair servers. Set the variables where the Hub runs.
"""

from __future__ import annotations

import os

from traitlets import CaselessStrEnum, Integer, TraitError, default
from traitlets.config import SingletonConfigurable

#: trait name -> environment variable it defaults to.
ENV = {
    "isolation": "PEERPLATFORM_GRADER_ISOLATION",
    "concurrency": "PEERPLATFORM_GRADER_CONCURRENCY",
}


class GraderSettings(SingletonConfigurable):
    """One per process: the sandbox and the pipeline read :meth:`instance`."""

    isolation = CaselessStrEnum(
        ["auto", "none"],
        help="""How graded code is confined (``$PEERPLATFORM_GRADER_ISOLATION``).

        ``auto`` (default): in the learner sandbox, like the session's kernel (the kernel user
        of ``c.SandboxSettings.user``, no network, its own PID, mount and user namespaces, the
        session's cgroup), plus the grader's resource limits and audit hook. If the sandbox
        cannot be set up, grading fails with an error naming what is missing: graded code never
        runs unconfined. ``none``: UNSAFE, resource limits and the audit hook only, for hosts
        without bubblewrap: graded code then runs as the pair server's user and can read
        whatever it can (other sessions' folders included) and reach the network.""",
    ).tag(config=True)

    @default("isolation")
    def _default_isolation(self):
        return os.environ.get(ENV["isolation"], "").strip() or "auto"

    concurrency = Integer(
        min=0,
        help="""Sandboxes running at once per process (``$PEERPLATFORM_GRADER_CONCURRENCY``).

        Grading is CPU-bound, so more than the cores only queues in the kernel. 0 (default):
        the number of CPUs.""",
    ).tag(config=True)

    @default("concurrency")
    def _default_concurrency(self):
        raw = os.environ.get(ENV["concurrency"], "").strip() or "0"
        try:
            return int(raw)
        except ValueError:
            raise TraitError(f"{ENV['concurrency']} must be a whole number, not {raw!r}") from None

    @property
    def slots(self) -> int:
        """How many sandboxes may run at once."""
        return self.concurrency or os.cpu_count() or 2
