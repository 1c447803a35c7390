"""Grader settings (``c.GraderSettings.*``): how hidden tests are isolated and scheduled.

The grader runs in pair servers and in ``challenges-loader verify``, neither of which reads
``jupyterhub_config.py``; so each trait defaults to an environment variable (:data:`ENV`),
which the spawner forwards to pair servers. Set the variables where the Hub runs.
"""

from __future__ import annotations

import os

from traitlets import CaselessStrEnum, Integer, TraitError, Unicode, default
from traitlets.config import SingletonConfigurable

#: trait name -> environment variable it defaults to.
ENV = {
    "isolation": "PEERPLATFORM_GRADER_ISOLATION",
    "user": "PEERPLATFORM_GRADER_USER",
    "concurrency": "PEERPLATFORM_GRADER_CONCURRENCY",
}


class GraderSettings(SingletonConfigurable):
    """One per process: the sandbox and the pipeline read :meth:`instance`."""

    isolation = CaselessStrEnum(
        ["auto", "none"],
        help="""Namespace isolation of graded code (``$PEERPLATFORM_GRADER_ISOLATION``).

        ``auto`` (default): no network and its own process namespace via ``unshare`` where this
        machine allows it. ``none``: resource limits and the audit hook only — for hosts where
        ``unshare`` is present but broken; it weakens the sandbox, so never set it otherwise.""",
    ).tag(config=True)

    @default("isolation")
    def _default_isolation(self):
        return os.environ.get(ENV["isolation"], "").strip() or "auto"

    user = Unicode(
        help="""Run graded code as this system user (``$PEERPLATFORM_GRADER_USER``).

        Only when the pair server runs as root, and only if that user can run the same
        interpreter (checked once). Empty (default): the pair server's own user.""",
    ).tag(config=True)

    @default("user")
    def _default_user(self):
        return os.environ.get(ENV["user"], "").strip()

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
