"""Load 20,000 synthetic challenges through the loader (read, validate, write); then again.

Prints ``load_20k_s=`` (first load, from pack files to the store) plus the phases and the
idempotent reload. Uses ``$MONGODB_URI`` or starts the embedded document server (in memory).

    .venv/bin/python bench/load_challenges.py [N]
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from _stores import mongodb_uri, synthetic  # noqa: E402

from challenges_loader import collect  # noqa: E402
from peerplatform.challenge_packs import load  # noqa: E402
from peerplatform.store import connect  # noqa: E402


async def run(uri: str, folder: Path, n: int) -> None:
    store = await connect(uri, "bench_load")
    try:
        await store.client.drop_database("bench_load")
        await store.ensure_indexes()
        started = time.perf_counter()
        collection = collect([str(folder)])
        assert collection.ok, collection.errors[:3]
        validated = time.perf_counter()
        report = await load(collection, store)
        done = time.perf_counter()
        assert len(report.created) == n
        again = collect([str(folder)])
        report2 = await load(again, store)
        reloaded = time.perf_counter()
        assert len(report2.unchanged) == n
        print(f"read+validate_s={validated - started:.2f}")
        print(f"write_s={done - validated:.2f}")
        print(f"reload_unchanged_s={reloaded - done:.2f}")
        print(f"load_{n // 1000}k_s={done - started:.2f}")
    finally:
        await store.client.drop_database("bench_load")
        await store.close()


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
    challenges = synthetic(n)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for i in range(0, n, 1000):  # 20 pack files of 1,000 challenges
            pack = {"schema_version": 1, "challenges": challenges[i:i + 1000]}
            (folder / f"pack-{i // 1000:03d}.json").write_text(json.dumps(pack))
        with mongodb_uri() as uri:
            asyncio.run(run(uri, folder, n))


if __name__ == "__main__":
    main()
