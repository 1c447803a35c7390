"""Grader overhead: time of a grading beyond the hidden tests' own runtime.

Grades a correct solution of a 5-test challenge 40 times (one at a time) and prints
``grade_overhead_ms=`` (median of duration_ms - tests_ms: sandbox start-up, isolation, job
transfer, result parsing) plus p90 and the isolation layers used.

    .venv/bin/python bench/grade.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys

from peerplatform_grader import grade_sync

CHALLENGE = {
    "slug": "bench-add", "time_limit_s": 10,
    "tests": {"cases": [{"name": f"t{i}", "code": f"assert add({i}, {i}) == {2 * i}"}
                        for i in range(5)]},
}
CODE = "def add(a, b):\n    return a + b\n"


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 40
    grade_sync(CHALLENGE, CODE)  # warm-up: isolation probe, page cache
    overheads, totals = [], []
    for _ in range(runs):
        result = grade_sync(CHALLENGE, CODE)
        assert result["status"] == "passed", result
        overheads.append(result["duration_ms"] - result["tests_ms"])
        totals.append(result["duration_ms"])
    overheads.sort()
    print(f"isolation={','.join(result['isolation'])}")
    print(f"grade_total_ms_median={statistics.median(totals):.1f}")
    print(f"grade_overhead_ms_p90={overheads[int(0.9 * (len(overheads) - 1))]:.1f}")
    print(f"grade_overhead_ms={statistics.median(overheads):.1f}")


if __name__ == "__main__":
    main()
