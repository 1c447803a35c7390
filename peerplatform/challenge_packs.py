"""Challenge packs into the store: the service's packs at start-up
(``c.PeerPlatform.challenge_packs``) and ``peerplatform challenges load SOURCE...``.

:mod:`challenges_loader` reads, validates and verifies packs and gives challenge dicts (it knows
nothing of the store); writing them is the platform's: :meth:`ChallengeStore.apply`
(all-or-nothing, idempotent), through :func:`load`.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from challenges_loader import Collection, collect

log = logging.getLogger("peerplatform")


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


async def load_challenge_packs(store, specs: list[str]) -> bool:
    """Load the configured packs (all or nothing); a bad pack is logged, never fatal: the
    service still runs on the bank it has. Returns whether the packs were loaded."""
    if not specs:
        return True
    collection = await asyncio.to_thread(collect, specs)
    if collection.errors:
        for error in collection.errors[:20]:
            log.error("challenge pack: %s", error)
        log.error("challenge packs %s NOT loaded: %d error(s); fix them and restart, or run "
                  "`challenges-loader validate %s`", specs, len(collection.errors),
                  " ".join(specs))
        return False
    try:
        report = await load(collection, store)
    except Exception:  # a concurrent loader (another replica) or a store hiccup
        log.exception("challenge packs %s NOT loaded", specs)
        return False
    log.info("challenge bank: %s (%s)", report.summary(), ", ".join(specs))
    return True


async def load_command(sources: list[str], options, *, mongodb_uri: str, database: str,
                       verify_first: bool, out, err, progress: bool) -> int:
    """``peerplatform challenges load``: validate the sources (with ``verify_first``, also run
    every reference solution), then write them to the store. Exit status as
    ``challenges-loader``'s: 0 loaded, 1 invalid input or a failing reference solution (nothing
    written), 2 no store."""
    from challenges_loader.cli import print_errors
    from challenges_loader.verify import failure_text, verify

    from .store import connect

    collection = collect(sources, options)
    if collection.errors:
        print_errors(collection.errors, err)
        return 1
    if not mongodb_uri:
        print("peerplatform challenges load: no store: set MONGODB_URI or pass --mongodb-uri",
              file=err)
        return 2
    if verify_first:
        report = await verify(collection.challenges, progress=progress, check_starter=False)
        if not report.ok:
            for slug, result in report.failed:
                print(failure_text(slug, result), file=err)
            print(f"{len(report.failed)} reference solution(s) failed; nothing was written",
                  file=err)
            return 1
    store = await connect(mongodb_uri, database)
    try:
        report = await load(collection, store, progress=progress)
    finally:
        await store.close()
    print(f"loaded {len(collection.challenges)} challenge(s): {report.summary()}", file=out)
    return 0
