"""Imported challenges grade: each importer's fixture goes through ``verify`` (the real grader,
sandbox included): every reference solution passes its hidden tests and no starter does."""

from pathlib import Path

import pytest

from challenges_loader import Options, collect, verify
from challenges_loader.verify import failure_text

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.mark.parametrize("source, slugs", [
    ("exercism-track", ["exercism-leap", "exercism-two-fer"]),
    ("humaneval/mini.jsonl", ["humaneval-0", "humaneval-1"]),
])
async def test_imported_reference_solutions_pass_and_starters_do_not(source, slugs):
    collection = collect([str(FIXTURES / source)], Options(difficulty="easy"))
    assert collection.ok, "\n".join(map(str, collection.errors))
    assert sorted(c["slug"] for c in collection.challenges) == slugs
    # verify grades a starter only when there is one: every imported challenge has one
    assert all(c["starter_code"].strip() for c in collection.challenges)
    report = await verify(collection.challenges)
    assert report.ok, "\n".join(failure_text(slug, r) for slug, r in report.failed)
    assert sorted(report.passed) == slugs
    assert report.warnings == []
