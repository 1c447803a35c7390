"""Challenge packs: validate them, load them into the store, verify their reference solutions.

The library surface the CLI (:mod:`.cli`) is a thin layer over::

    collection = collect(["builtin", "exercism:/path/to/python", "humaneval"], Options(...))
    collection.errors          # every problem, naming file / challenge / field
    await load(collection, store, progress=True)     # all-or-nothing, idempotent
    await verify(collection.challenges)              # reference solutions pass their tests
    stats(collection.challenges)

The pack format is versioned: :mod:`.schema` and ``schema/challenge.v1.json``.
"""

from .collect import BUILTIN, Collection, Options, collect
from .load import InvalidInput, load
from .schema import SCHEMA_VERSION, PackError, SchemaTooNewError, SchemaTooOldError
from .stats import stats
from .verify import verify

__all__ = ["collect", "Collection", "Options", "BUILTIN", "load", "InvalidInput", "verify",
           "stats", "PackError", "SCHEMA_VERSION", "SchemaTooOldError", "SchemaTooNewError"]
