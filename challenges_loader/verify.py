"""``verify``: every reference solution must pass its own hidden tests, through the real grader
(sandbox included). The starter code is graded too: a starter that already passes means the
tests are too weak, which is reported as a warning."""

from __future__ import annotations

import asyncio
import os
import sys
from dataclasses import dataclass, field


@dataclass
class VerifyReport:
    passed: list = field(default_factory=list)
    failed: list = field(default_factory=list)       # [(slug, result)]
    warnings: list = field(default_factory=list)     # [(slug, message)]

    @property
    def ok(self) -> bool:
        return not self.failed


def failure_text(slug: str, result: dict) -> str:
    lines = [f"{slug}: reference solution {result['status']}: {result.get('message', '')}"]
    for test in result.get("tests", []):
        if test["status"] != "pass":
            lines.append(f"  - {test['name']}: {test['status']}: "
                         f"{test['message'].splitlines()[0] if test['message'] else ''}")
    for error in result.get("load_errors", []):
        lines.append(f"  - {error['cell']}: {error['message'].splitlines()[0]}")
    return "\n".join(lines)


async def verify(challenges, *, jobs: int | None = None, check_starter: bool = True,
                 progress: bool = False) -> VerifyReport:
    from peerplatform_grader import grade

    report = VerifyReport()
    limit = asyncio.Semaphore(jobs or os.cpu_count() or 2)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(challenges), desc="verifying", unit="challenge", file=sys.stderr,
                   leave=True)

    async def one(challenge):
        async with limit:
            result = await grade(challenge, challenge["solution"])
            if result["status"] != "passed":
                report.failed.append((challenge["slug"], result))
            else:
                report.passed.append(challenge["slug"])
            if check_starter and challenge.get("starter_code", "").strip():
                starter = await grade(challenge, challenge["starter_code"])
                if starter["status"] == "passed":
                    report.warnings.append((challenge["slug"],
                                            "the starter code already passes every hidden test"))
        if bar is not None:
            bar.update(1)

    try:
        await asyncio.gather(*(one(c) for c in challenges))
    finally:
        if bar is not None:
            bar.close()
    return report
