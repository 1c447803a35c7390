"""Challenge packs: read and validate them, verify their reference solutions, give the
challenges as dicts. Writing them to the store is the platform's
(:mod:`peerplatform.challenge_packs`, ``peerplatform challenges load``): this package imports
only :mod:`peerplatform_contracts`, :mod:`peerplatform_grader` and third-party libraries.

The library surface the CLI (:mod:`.cli`) is a thin layer over::

    collection = collect(["builtin", "exercism:/path/to/python", "humaneval"], Options(...))
    collection.errors          # every problem, naming file / challenge / field
    collection.challenges      # the challenge dicts, ready for ChallengeStore.apply
    await verify(collection.challenges)              # reference solutions pass their tests
    stats(collection.challenges)

The pack format is versioned: :mod:`.schema` and ``schema/challenge.v1.json``.
"""

from .collect import BUILTIN, Collection, Options, collect
from .schema import SCHEMA_VERSION, PackError, SchemaTooNewError, SchemaTooOldError
from .stats import stats
from .verify import verify

__all__ = ["collect", "Collection", "Options", "BUILTIN", "verify", "stats", "PackError",
           "SCHEMA_VERSION", "SchemaTooOldError", "SchemaTooNewError"]
