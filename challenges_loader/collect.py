"""Read every source, then validate everything, before anything is written.

:func:`collect` returns all valid challenges *and* all errors of the run; the loader writes
only when there is no error at all (all-or-nothing per run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from peerplatform_contracts.ratings import DEFAULT_CHALLENGE_RATING

from .schema import PackError, check_code, validate_challenge, with_defaults
from .sources import exercism, humaneval, packs

BUILTIN = Path(__file__).with_name("packs") / "builtin"


@dataclass
class Options:
    """Importer options: HumanEval's difficulty and tags, Exercism's difficulty mapping."""

    difficulty: str | None = None
    tags: tuple = ("humaneval",)
    exercism_map: dict | None = None


@dataclass
class Collection:
    challenges: list = field(default_factory=list)
    errors: list = field(default_factory=list)
    origins: dict = field(default_factory=dict)        # slug -> file it came from

    @property
    def ok(self) -> bool:
        return not self.errors


def read_source(spec: str, options: Options) -> tuple[list, list]:
    """``spec`` is a path (kind detected) or ``kind:path`` with kind pack, exercism or
    humaneval; ``builtin`` is our own pack and ``humaneval`` alone the bundled problem set."""
    kind, _, rest = spec.partition(":")
    if spec == "builtin":
        return packs.read(BUILTIN)
    if spec in ("humaneval", "humaneval:"):
        return humaneval.read(None, difficulty=options.difficulty, tags=options.tags)
    if kind in ("pack", "exercism", "humaneval") and rest:
        path = Path(rest)
    else:
        kind, path = "auto", Path(spec)
    if kind == "auto":
        if path.is_dir() and exercism.is_track(path):
            kind = "exercism"
        elif path.name.endswith((".jsonl", ".jsonl.gz")):
            kind = "humaneval"
        else:
            kind = "pack"
    if kind == "exercism":
        if not exercism.is_track(path):
            return [], [PackError(str(path), "not an Exercism track checkout (expected "
                                             "config.json and exercises/practice/)")]
        return exercism.read(path, options.exercism_map)
    if kind == "humaneval":
        return humaneval.read(path, difficulty=options.difficulty, tags=options.tags)
    return packs.read(path)


def collect(specs, options: Options | None = None) -> Collection:
    options = options or Options()
    result = Collection()
    if not specs:
        result.errors.append(PackError("(command line)", "no source given"))
        return result
    for spec in specs:
        candidates, errors = read_source(str(spec), options)
        result.errors.extend(errors)
        for candidate in candidates:
            challenge = with_defaults(candidate.data, candidate.pack) \
                if isinstance(candidate.data, dict) else candidate.data
            problems = validate_challenge(challenge, candidate.file, candidate.label)
            if not problems:
                problems = check_code(challenge, candidate.file, candidate.label)
            if problems:
                result.errors.extend(problems)
                continue
            slug = challenge["slug"]
            if slug in result.origins:
                result.errors.append(PackError(
                    candidate.file, f"duplicate slug: also defined in {result.origins[slug]}",
                    challenge=candidate.label, field="slug"))
                continue
            challenge.setdefault("rating", DEFAULT_CHALLENGE_RATING[challenge["difficulty"]])
            result.origins[slug] = candidate.file
            result.challenges.append(challenge)
    return result
