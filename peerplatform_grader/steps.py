"""The grading steps, in the order :data:`.pipeline.DEFAULT_STEPS` runs them.

Each step takes the :class:`Grading` in progress and fills in its part; each is small enough to
test alone (``tests/unit/grader/``). Like nbgrader's preprocessors, the trusted parts (the hidden
tests, the limits) always come from the *stored* challenge handed to :func:`.grade`, never from
anything the learners can edit; and the job sent into the sandbox is built from an allow-list, so
the reference solution cannot leak into it by accident.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import sandbox

#: Bounds on a challenge's own ``time_limit_s`` (whole hidden-test run).
MIN_TIME_S, DEFAULT_TIME_S, MAX_TIME_S = 1.0, 10.0, 60.0
#: Lines of captured output kept (on top of the byte cap applied while reading).
MAX_OUTPUT_LINES = 1000


class GradingError(Exception):
    """The challenge cannot be graded (no hidden tests...): the run ends with status error."""


@dataclass
class Grading:
    challenge: dict
    code: str
    limits: sandbox.Limits | None = None
    job: dict | None = None
    run: sandbox.SandboxRun | None = None
    tests: list = field(default_factory=list)
    load_errors: list = field(default_factory=list)
    output: str = ""
    output_truncated: bool = False
    result: dict = field(default_factory=dict)


def check_challenge(g: Grading) -> None:
    """A challenge without hidden tests cannot be graded; say so instead of 'passed'."""
    if not isinstance(g.challenge, dict):
        raise GradingError("no challenge to grade against")
    tests = g.challenge.get("tests") or {}
    if not isinstance(tests, dict):
        raise GradingError(f"challenge {g.challenge.get('slug')!r}: hidden tests are not in the "
                           f"schema-v1 shape ({{'cases': [...]}} and/or {{'suite': '...'}})")
    if not (tests.get("cases") or tests.get("suite")):
        raise GradingError(f"challenge {g.challenge.get('slug')!r} has no hidden tests")
    if not isinstance(g.code, str):
        raise GradingError("the code to grade must be a string")


def choose_limits(g: Grading) -> None:
    """The run's time budget is the challenge's ``time_limit_s``, within fixed bounds."""
    if g.limits is not None:
        return
    wanted = g.challenge.get("time_limit_s") or DEFAULT_TIME_S
    wall = min(max(float(wanted), MIN_TIME_S), MAX_TIME_S)
    g.limits = sandbox.Limits(wall_s=wall, per_test_s=wall)


def build_job(g: Grading) -> None:
    """The job for :mod:`.runner`, from an allow-list of the challenge's test fields."""
    tests = g.challenge.get("tests") or {}
    aliases = [tests["module_name"]] if tests.get("module_name") else []
    g.job = {
        "format": 1,
        "module": "submission",
        "module_aliases": aliases,
        "code": g.code,
        "setup": tests.get("setup") or "",
        "cases": [{"name": c["name"], "code": c["code"]} for c in tests.get("cases") or ()],
        "test_module": tests.get("suite") or None,
        "per_test_timeout_s": g.limits.per_test_s,
        "budget_s": g.limits.wall_s,
    }


def run_sandboxed(g: Grading) -> None:
    g.run = sandbox.run(g.job, g.limits)


def collect_results(g: Grading) -> None:
    """Per-test results from the runner's events; tests that never reported are errors."""
    run = g.run
    seen = set()
    for event in run.events:
        kind = event.get("event")
        if kind == "test":
            seen.add(event.get("name"))
            g.tests.append({
                "name": str(event.get("name")),
                "status": event.get("status") if event.get("status") in ("pass", "fail", "error")
                else "error",
                "kind": event.get("kind"),
                "message": str(event.get("message") or ""),
                "duration_ms": float(event.get("duration_ms") or 0.0),
            })
        elif kind == "cell":
            g.load_errors.append({"cell": event.get("label"), "kind": event.get("kind"),
                                  "message": str(event.get("message") or "")})
    why = {
        "time": f"not run: the time limit ({g.limits.wall_s:g} s) was reached",
        "output": "not run: the output limit was exceeded",
    }.get(run.killed, "not run: the test process ended early")
    kind = run.killed or "crash"
    for event in run.events:
        if event.get("event") == "limit":  # the runner saw a limit before it had to stop
            why, kind = f"not run: {event.get('message')}", event.get("kind") or kind
    for case in g.job.get("cases") or ():
        if case["name"] not in seen:
            g.tests.append({"name": case["name"], "status": "error", "kind": kind,
                            "message": why, "duration_ms": 0.0})
    if g.job.get("test_module") and not any(e.get("event") == "done" for e in run.events):
        g.tests.append({"name": "hidden tests (remaining)", "status": "error",
                        "kind": kind, "message": why, "duration_ms": 0.0})


def cap_output(g: Grading) -> None:
    """Captured output, decoded, at most ``output_keep`` bytes and ``MAX_OUTPUT_LINES`` lines."""
    text = g.run.output.decode("utf-8", "replace")
    lines = text.splitlines(keepends=True)
    truncated = g.run.output_bytes > len(g.run.output) or len(lines) > MAX_OUTPUT_LINES
    if len(lines) > MAX_OUTPUT_LINES:
        text = "".join(lines[:MAX_OUTPUT_LINES])
    if truncated:
        text += f"\n…[output truncated: {g.run.output_bytes} bytes in total]\n"
    g.output, g.output_truncated = text, truncated


def score(g: Grading) -> None:
    """Counts and one overall status; the strongest reason wins:
    output > memory > timeout > error > failed > passed."""
    passed = sum(t["status"] == "pass" for t in g.tests)
    failed = sum(t["status"] == "fail" for t in g.tests)
    errors = sum(t["status"] == "error" for t in g.tests)
    run = g.run
    kinds = {t.get("kind") for t in g.tests} | {e.get("kind") for e in g.load_errors} | {
        e.get("kind") for e in run.events if e.get("event") == "limit"}
    fatal = [e for e in run.events if e.get("event") in ("fatal", "garbled")]
    if run.killed == "output":
        status, message = "output", "the output limit was exceeded; the run was stopped"
    elif "memory" in kinds:
        status, message = "memory", "the memory limit was exceeded"
    elif run.killed == "time" or "timeout" in kinds:
        status, message = "timeout", f"the time limit ({g.limits.wall_s:g} s) was reached"
    elif not g.tests or fatal or (run.returncode not in (0, None) and not passed):
        status = "error"
        message = (fatal[0].get("message") if fatal else None) or (
            f"the grader's test process failed (exit status {run.returncode})")
    elif passed == len(g.tests):
        status, message = "passed", f"all {passed} tests passed"
    elif g.load_errors and not passed:
        status, message = "error", "your code raised an error while loading; see the cells"
    else:
        status, message = "failed", f"{passed} of {len(g.tests)} tests passed"
    tests_ms = sum(t["duration_ms"] for t in g.tests)
    g.result = {
        "status": status,
        "message": message,
        "passed": passed,
        "failed": failed,
        "errors": errors,
        "total": len(g.tests),
        "duration_ms": run.duration_ms,
        "tests_ms": tests_ms,
        "tests": g.tests,
        "load_errors": g.load_errors,
        "output": g.output,
        "output_truncated": g.output_truncated,
        "challenge": {k: g.challenge.get(k) for k in ("slug", "version", "hash")},
        "isolation": run.isolation,
        "limits": sandbox.describe(g.limits),
    }
