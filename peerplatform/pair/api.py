"""What the pair API handlers and the clock sweep share: one :class:`PairAPI` per replica."""

from __future__ import annotations

from .actions import PairActions
from .clock import ClockSweep
from .grading import Grading, default_grader
from .revisions import RevisionWatch


class PairAPI:
    """The service's side of pair sessions, built from ``c.PeerPlatform`` settings.

    ``hub_auth`` asks the Hub who a token is (the default credentials); ``events`` (an
    ``EventBus``, optional) tells the lobbies when a session ends.
    """

    def __init__(self, *, settings, store, events=None, hub_auth=None, credentials=None,
                 grader_factory=default_grader, replica: str | None = None):
        self.settings = settings
        self.store = store
        self.events = events
        self.watch = RevisionWatch(store, poll_interval=settings.state_poll_interval)
        self.credentials = credentials or settings.pair_credentials_class(
            parent=settings, hub_auth=hub_auth, store=store, owner=settings.pair_owner)
        self.grading = Grading(store, concurrency=settings.grading_concurrency,
                               timeout=settings.grading_timeout, grader_factory=grader_factory)
        self.actions = PairActions(store, self.watch)
        self.clock = ClockSweep(self, replica=replica)
