"""Each grading step alone, on synthetic sandbox runs (no subprocess here)."""

import pytest

from peerplatform_grader import steps
from peerplatform_grader.sandbox import Limits, SandboxRun

CHALLENGE = {
    "slug": "add", "version": 3, "hash": "abc",
    "solution": "def add(a, b):\n    return a + b  # REFERENCE-SOLUTION-MARKER\n",
    "tests": {"setup": "HELP = 1", "module_name": "adder",
              "cases": [{"name": "one", "code": "assert add(1, 1) == 2", "extra": "x"},
                        {"name": "two", "code": "assert add(2, 2) == 4"}]},
    "time_limit_s": 3,
}


def grading(**run):
    g = steps.Grading(challenge=CHALLENGE, code="def add(a, b): return a + b")
    steps.choose_limits(g)
    steps.build_job(g)
    g.run = SandboxRun(**run)
    return g


def finish(g):
    steps.collect_results(g)
    steps.cap_output(g)
    steps.score(g)
    return g.result


def test_job_never_carries_the_reference_solution():
    g = grading()
    assert "REFERENCE-SOLUTION-MARKER" not in repr(g.job)
    assert "solution" not in g.job
    assert g.job["cases"] == [{"name": "one", "code": "assert add(1, 1) == 2"},
                              {"name": "two", "code": "assert add(2, 2) == 4"}]
    assert g.job["module_aliases"] == ["adder"]
    assert g.job["setup"] == "HELP = 1"


@pytest.mark.parametrize("wanted, expected", [(3, 3.0), (None, 10.0), (0.1, 1.0), (500, 60.0)])
def test_time_limit_comes_from_the_challenge_within_bounds(wanted, expected):
    g = steps.Grading(challenge={**CHALLENGE, "time_limit_s": wanted}, code="")
    steps.choose_limits(g)
    assert g.limits.wall_s == expected


@pytest.mark.parametrize("challenge", [None, {"slug": "x", "tests": "def test_a(): pass"}])
def test_malformed_challenge_is_a_grading_error(challenge):
    g = steps.Grading(challenge=challenge, code="")
    with pytest.raises(steps.GradingError):
        steps.check_challenge(g)


def test_grade_never_raises_for_a_malformed_challenge():
    from peerplatform_grader import grade_sync

    result = grade_sync({"slug": "x", "tests": "def test_a(): pass"}, "x = 1")
    assert result["status"] == "error" and "schema-v1 shape" in result["message"]


def test_challenge_without_tests_cannot_be_graded():
    g = steps.Grading(challenge={"slug": "x", "tests": {}}, code="")
    with pytest.raises(steps.GradingError, match="no hidden tests"):
        steps.check_challenge(g)


def passed(name):
    return {"event": "test", "name": name, "status": "pass", "kind": None, "message": "",
            "duration_ms": 1.5}


def test_all_pass_is_passed():
    result = finish(grading(events=[passed("one"), passed("two"), {"event": "done"}],
                            returncode=0))
    assert (result["status"], result["passed"], result["total"]) == ("passed", 2, 2)
    assert result["tests_ms"] == 3.0
    assert result["challenge"] == {"slug": "add", "version": 3, "hash": "abc"}


def test_tests_that_never_reported_are_errors_and_time_wins():
    result = finish(grading(events=[passed("one")], killed="time", returncode=-9))
    assert result["status"] == "timeout"
    two = [t for t in result["tests"] if t["name"] == "two"][0]
    assert two["status"] == "error" and "time limit" in two["message"]


def test_memory_kind_gives_memory_status():
    bad = {"event": "test", "name": "two", "status": "error", "kind": "memory",
           "message": "MemoryError", "duration_ms": 1}
    assert finish(grading(events=[passed("one"), bad], returncode=0))["status"] == "memory"


def test_output_kill_wins_and_output_is_capped():
    g = grading(events=[], killed="output", output=b"x\n" * 5000, output_bytes=5_000_000)
    result = finish(g)
    assert result["status"] == "output"
    assert result["output_truncated"] is True
    assert result["output"].count("\n") <= steps.MAX_OUTPUT_LINES + 2
    assert "5000000 bytes" in result["output"]


def test_a_failing_assertion_is_failed():
    fail = {"event": "test", "name": "two", "status": "fail", "kind": "assertion",
            "message": "got 5", "duration_ms": 1}
    result = finish(grading(events=[passed("one"), fail, {"event": "done"}], returncode=0))
    assert (result["status"], result["failed"]) == ("failed", 1)


def test_load_errors_without_any_pass_is_error():
    cell = {"event": "cell", "label": "cell 2", "kind": "exception", "message": "NameError"}
    err = {"event": "test", "name": "", "status": "error", "kind": "exception", "message": "x",
           "duration_ms": 0}
    events = [cell, {**err, "name": "one"}, {**err, "name": "two"}, {"event": "done"}]
    result = finish(grading(events=events, returncode=0))
    assert result["status"] == "error"
    assert result["load_errors"][0]["cell"] == "cell 2"


def test_runner_crash_is_error_with_the_exit_status():
    result = finish(grading(events=[], returncode=-11))
    assert result["status"] == "error"
    assert "-11" in result["message"]


def test_forged_event_status_is_not_trusted_blindly():
    weird = {"event": "test", "name": "one", "status": "PASSED!!", "duration_ms": 0}
    result = finish(grading(events=[weird, passed("two"), {"event": "done"}], returncode=0))
    assert [t["status"] for t in result["tests"]] == ["error", "pass"]


def test_limits_reported_without_interpreter_path():
    result = finish(grading(events=[passed("one"), passed("two")], returncode=0))
    assert result["limits"]["wall_s"] == 3.0 and "python" not in result["limits"]
    assert isinstance(Limits().rlimits()["nproc"], int)
