"""CI check: every reference solution of the built-in pack passes its hidden tests in the
real grader, and no starter code passes them already."""

from challenges_loader import collect, verify
from challenges_loader.verify import failure_text


async def test_builtin_reference_solutions_pass_and_starters_do_not():
    collection = collect(["builtin"])
    assert collection.ok
    report = await verify(collection.challenges)
    assert report.ok, "\n".join(failure_text(slug, r) for slug, r in report.failed)
    assert len(report.passed) == len(collection.challenges)
    assert report.warnings == []

