"""Writing a validated :class:`~.collect.Collection` to the store (all-or-nothing)."""

from __future__ import annotations

import sys

from .collect import Collection


class InvalidInput(Exception):
    """The run's input has errors; nothing was written."""

    def __init__(self, errors):
        super().__init__(f"{len(errors)} error(s) in the input; nothing was written")
        self.errors = errors


async def load(collection: Collection, store, *, progress: bool = False):
    """Upsert every challenge by slug + content hash; returns the store's ApplyReport.

    Refuses (:class:`InvalidInput`) when the collection has any error, so an invalid file
    anywhere in the run means nothing is written; a failure while writing is rolled back by
    :meth:`ChallengeStore.apply`."""
    if collection.errors:
        raise InvalidInput(collection.errors)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(collection.challenges), desc="loading", unit="challenge",
                   file=sys.stderr, leave=True)
    try:
        return await store.challenges.apply(collection.challenges,
                                            progress=bar.update if bar else None)
    finally:
        if bar is not None:
            bar.close()
