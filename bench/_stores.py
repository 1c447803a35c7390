"""A document store for the benchmarks: ``$MONGODB_URI`` if set, else the embedded server."""

from __future__ import annotations

import contextlib
import os
import tempfile


@contextlib.contextmanager
def mongodb_uri():
    if os.environ.get("MONGODB_URI"):
        yield os.environ["MONGODB_URI"]
        return
    from peerplatform.embedded import EmbeddedMongo

    with tempfile.TemporaryDirectory() as folder:
        server = EmbeddedMongo(folder, memory=True)
        server.start()
        try:
            yield server.url
        finally:
            server.stop()


def synthetic(n: int, seed: int = 1) -> list[dict]:
    """``n`` valid, distinct challenges over 3 tracks, 3 difficulties and 20 tags."""
    import random

    rng = random.Random(seed)
    tags = [f"tag-{i}" for i in range(20)]
    tracks = ["algorithms"] * 6 + ["sql", "regex"]
    out = []
    for i in range(n):
        out.append({
            "slug": f"synthetic-{i}",
            "title": f"Synthetic challenge {i}",
            "statement": f"Return the number {i}.\n\n" + "Some words of statement. " * 20,
            "difficulty": rng.choice(["easy", "medium", "hard"]),
            "tags": rng.sample(tags, 3),
            "track": rng.choice(tracks),
            "starter_code": f"def answer_{i}():\n    raise NotImplementedError\n",
            "examples": [{"input": f"answer_{i}()", "output": str(i)}],
            "tests": {"cases": [{"name": f"t{k}", "code": f"assert answer_{i}() == {i}"}
                                for k in range(3)]},
            "solution": f"def answer_{i}():\n    return {i}\n",
            "source": "bench", "licence": "CC0-1.0",
        })
    return out
