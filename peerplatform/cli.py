"""``peerplatform`` command line: ``up`` runs the whole platform, ``service`` runs the service.

Also: ``matcher`` (one more match loop), ``leaderboard rebuild``, ``cohort NAME ...`` and
``challenges load SOURCE...`` (challenge packs into the store; ``challenges-loader`` validates,
verifies and counts them without a store).

``peerplatform up`` is the single-machine launcher: it starts the embedded Redis and the
embedded MongoDB-compatible server (unless ``REDIS_URL`` / ``MONGODB_URI`` point elsewhere),
then JupyterHub with ``jupyterhub_config.py``, prints the URL, and on Ctrl-C stops what it
started, hub first, stores last.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil

from .embedded import EmbeddedMongo, EmbeddedRedis
from .settings import default_data_dir, prepare_data_dir


def _find_config(explicit: str | None) -> Path:
    candidates = [explicit] if explicit else [
        os.environ.get("PEERPLATFORM_CONFIG"), "jupyterhub_config.py",
        Path(__file__).resolve().parent.parent / "jupyterhub_config.py",
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return Path(candidate).resolve()
    raise SystemExit("jupyterhub_config.py not found; pass --config PATH")


def _wait_http(url: str, timeout: float, proc: subprocess.Popen, stopping=lambda: False) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None or stopping():
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):
                return True
        except Exception:
            time.sleep(0.3)
    return False


def stop_hub(hub: subprocess.Popen, timeout: float = 60, grace: float = 5) -> None:
    """SIGTERM the Hub, which stops what it started; if it is still there after ``timeout``
    seconds, kill it and then everything it started.

    The Hub starts configurable-http-proxy, the service and the local pair servers each in a
    session of their own, so killing the Hub (or its process group) would leave them running
    as orphans: collect them by parentage first, kill the Hub (else it restarts the proxy and
    the service it sees exit), then SIGTERM them, and SIGKILL what is left after ``grace`` s.
    """
    if hub.poll() is not None:
        return
    hub.terminate()
    try:
        hub.wait(timeout)
        return
    except subprocess.TimeoutExpired:
        pass
    try:
        left = psutil.Process(hub.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        left = []
    print(f"JupyterHub did not stop within {timeout:g} s: killing it and the {len(left)} "
          "processes it started", file=sys.stderr, flush=True)
    try:
        os.killpg(hub.pid, signal.SIGKILL)  # the Hub leads its own session (start_new_session)
    except (ProcessLookupError, PermissionError):
        hub.kill()
    hub.wait()
    for proc in left:
        with contextlib.suppress(psutil.Error):
            proc.terminate()
    _gone, alive = psutil.wait_procs(left, timeout=grace)
    for proc in alive:
        with contextlib.suppress(psutil.Error):
            proc.kill()


def _prepare_sandbox_users() -> None:
    """As root: the system users pair servers (``pp-server``) and learner code (``pp-kernel``)
    run as, created if missing, and a check that the pair servers' user can run this install."""
    if os.geteuid() != 0:
        return
    from learner_sandbox.system import check_user_can_run, ensure_system_users
    from learner_sandbox.identity import SandboxUnavailable

    server_user = os.environ.get("PEERPLATFORM_SERVER_USER", "").strip() or "pp-server"
    kernel_user = os.environ.get("PEERPLATFORM_KERNEL_USER", "").strip() or "pp-kernel"
    try:
        for change in ensure_system_users(server_user, kernel_user):
            print(f"sandbox: {change}", flush=True)
        check_user_can_run(server_user, sys.executable)
    except SandboxUnavailable as e:
        raise SystemExit(f"peerplatform up: {e}") from None


def up(args) -> int:
    try:
        data_dir = prepare_data_dir(args.data_dir or default_data_dir())
    except OSError as e:
        raise SystemExit(str(e)) from None
    config = _find_config(args.config)
    _prepare_sandbox_users()
    env = dict(os.environ, PEERPLATFORM_DATA_DIR=str(data_dir))
    started = []
    stopping = False

    def _stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    hub = None
    try:
        if not env.get("REDIS_URL"):
            redis = EmbeddedRedis(data_dir / "redis")
            env["REDIS_URL"] = redis.start()
            started.append(redis)
            # the URL holds the password: show where it is kept instead
            print(f"embedded Redis        {redis.display_url}  (password in "
                  f"{redis.password_file})", flush=True)
        if not env.get("MONGODB_URI"):
            mongo = EmbeddedMongo(data_dir)
            env["MONGODB_URI"] = mongo.start()
            started.append(mongo)
            print(f"embedded MongoDB-compatible server  {mongo.display_url}  (password in "
                  f"{mongo.password_file})", flush=True)
        if stopping:  # Ctrl-C while the stores started
            return 0
        cmd = [sys.executable, "-m", "jupyterhub", "-f", str(config)]
        with open(data_dir / "jupyterhub.log", "ab") as hub_log:
            hub = subprocess.Popen(cmd, env=env, cwd=data_dir, start_new_session=True,
                                   stdout=None if args.verbose else hub_log,
                                   stderr=subprocess.STDOUT if not args.verbose else None)
        public = env.get("PEERPLATFORM_BIND_URL", "http://127.0.0.1:8000").rstrip("/")
        if not _wait_http(public + "/hub/api", 90, hub, lambda: stopping):
            if not stopping:
                print(f"JupyterHub did not start; see {data_dir / 'jupyterhub.log'}", file=sys.stderr)
                return 1
        else:
            print(f"\npeerplatform is running: {public}/\n(Ctrl-C stops it; logs in {data_dir})",
                  flush=True)
        while not stopping and hub.poll() is None:
            time.sleep(0.5)
        if hub.poll() is not None and not stopping:
            print(f"JupyterHub exited with code {hub.returncode}; see {data_dir / 'jupyterhub.log'}",
                  file=sys.stderr)
            return hub.returncode or 1
        return 0
    finally:
        print("stopping…", flush=True)
        if hub is not None:
            stop_hub(hub)
        for server in reversed(started):
            server.stop()
        print("stopped.", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(prog="peerplatform", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="run the platform on this machine (embedded stores)")
    p_up.add_argument("--config", help="JupyterHub config file (default: ./jupyterhub_config.py)")
    p_up.add_argument("--data-dir", help="state folder (default: $PEERPLATFORM_DATA_DIR or ./.peerplatform)")
    p_up.add_argument("--verbose", action="store_true", help="show the Hub's log in the terminal")
    sub.add_parser("service", help="run the platform service (started by JupyterHub)",
                   add_help=False)
    p_lb = sub.add_parser("leaderboard", help="leaderboards: `rebuild` them from MongoDB")
    p_lb.add_argument("action", choices=["rebuild"])
    p_lb.add_argument("--config", help="JupyterHub config file (default: ./jupyterhub_config.py)")
    p_m = sub.add_parser("matcher", help="run one more replica of the match loop (no web service)")
    p_m.add_argument("--config", help="JupyterHub config file (default: ./jupyterhub_config.py)")
    p_m.add_argument("--set", action="append", default=[], metavar="NAME=JSON",
                     help="override a c.PeerPlatform option, e.g. --set handshake_timeout=5")
    p_m.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds")
    p_m.add_argument("--interval", type=float, help="seconds between sweeps (default match_interval)")
    p_m.add_argument("--record", help="append every match made to this file (JSON lines)")
    p_co = sub.add_parser("cohort", help="create or change a cohort: its learners and instructors")
    p_co.add_argument("name", help="cohort name (also the JupyterHub group), e.g. acme-2026")
    p_co.add_argument("--title", help="display name, e.g. 'Acme Bootcamp, spring 2026'")
    p_co.add_argument("--learners", nargs="*", default=[], help="learners to put in the cohort")
    p_co.add_argument("--instructors", nargs="*", default=[], help="users to name instructors")
    p_co.add_argument("--remove-learners", nargs="*", default=[])
    p_co.add_argument("--remove-instructors", nargs="*", default=[])
    p_co.add_argument("--hub-api", default=os.environ.get("JUPYTERHUB_API_URL"),
                      help="Hub API URL (default $JUPYTERHUB_API_URL, else the config's hub port)")
    p_co.add_argument("--config", help="JupyterHub config file (default: ./jupyterhub_config.py)")
    _challenges_parser(sub)
    args, rest = parser.parse_known_args(argv)
    if args.command == "service":
        from .app import main as service_main

        return service_main(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    if args.command == "leaderboard":
        sys.exit(leaderboard_rebuild(args))
    if args.command == "matcher":
        sys.exit(matcher(args))
    if args.command == "cohort":
        sys.exit(cohort_command(args))
    if args.command == "challenges":
        sys.exit(challenges_command(args))
    sys.exit(up(args))


def _challenges_parser(sub) -> None:
    from challenges_loader.cli import sources_parser

    p_ch = sub.add_parser("challenges", help="challenge packs: `load` them into the store")
    actions = p_ch.add_subparsers(dest="action", required=True)
    p_load = actions.add_parser(
        "load", parents=[sources_parser()],
        help="validate packs (pack file or folder, exercism:PATH, humaneval[:PATH], builtin), "
             "then load them into the store, all or nothing",
        description="Validate challenge sources, then load them into the store (all or nothing, "
                    "idempotent). Exit status: 0 loaded, 1 invalid input or a failing reference "
                    "solution (nothing written), 2 usage error or no store.")
    p_load.add_argument("--mongodb-uri", default=os.environ.get("MONGODB_URI", ""),
                        help="MongoDB URI (default $MONGODB_URI)")
    p_load.add_argument("--database", default=os.environ.get("PEERPLATFORM_MONGODB_DB",
                                                             "peerplatform"),
                        help="database (default $PEERPLATFORM_MONGODB_DB, else peerplatform)")
    p_load.add_argument("--verify", action="store_true",
                        help="also run every reference solution first; load nothing if one fails")


def challenges_command(args, out=None, err=None) -> int:
    """``peerplatform challenges load SOURCE...``"""
    import asyncio

    from challenges_loader.cli import options_from

    from .challenge_packs import load_command

    out, err = out or sys.stdout, err or sys.stderr
    try:
        options = options_from(args)
    except ValueError as exc:  # e.g. a bad --exercism-difficulty-map
        print(f"peerplatform challenges load: {exc}", file=err)
        return 2
    return asyncio.run(load_command(
        args.sources, options, mongodb_uri=args.mongodb_uri, database=args.database,
        verify_first=args.verify, out=out, err=err,
        progress=not args.no_progress and err.isatty()))


def load_settings(config: str | None):
    """``c.PeerPlatform`` from the config file (stores from the environment when unset)."""
    from traitlets.config import Application

    from .settings import PeerPlatform

    app = Application()
    path = None
    try:
        path = _find_config(config)
    except SystemExit:
        if config:
            raise
    if path is not None:
        app.load_config_file(str(path))
    settings = PeerPlatform(parent=app)
    settings.check()
    return settings


def matcher(args) -> int:
    import json
    import logging

    from traitlets.config import Application, Config

    from .matching.matcher import run_standalone
    from .settings import PeerPlatform

    logging.basicConfig(level=logging.WARNING,
                        format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    app = Application()
    path = None
    try:
        path = _find_config(args.config)
    except SystemExit:
        if args.config:
            raise
    if path is not None:
        app.load_config_file(str(path))
    overrides = Config()
    for item in args.set:
        name, _, value = item.partition("=")
        try:
            overrides.PeerPlatform[name] = json.loads(value)
        except json.JSONDecodeError:
            overrides.PeerPlatform[name] = value
    app.update_config(overrides)
    settings = PeerPlatform(parent=app)
    return run_standalone(settings, duration_s=args.duration, record=args.record,
                          interval_s=args.interval)


def leaderboard_rebuild(args) -> int:
    """Replace the Redis leaderboards with what MongoDB's ratings and cohorts give."""
    import asyncio

    from redis.asyncio import Redis

    from .leaderboard import Leaderboard, Scoring
    from .store import connect

    settings = load_settings(args.config)

    async def run():
        store = await connect(settings.mongodb_uri, settings.mongodb_database)
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            board = Leaderboard(redis, Scoring.from_settings(settings))
            return await board.rebuild(store.ratings.all(), await store.cohorts.memberships())
        finally:
            await redis.aclose()
            await store.close()

    report = asyncio.run(run())
    print(f"leaderboards rebuilt: {report['ratings']} ratings, {report['learners']} learners, "
          f"{report['cohorts']} cohorts ranked")
    return 0


def cohort_command(args) -> int:
    """``peerplatform cohort NAME --learners ... --instructors ...`` with an admin's API token
    in ``$JUPYTERHUB_API_TOKEN``."""
    import asyncio

    from redis.asyncio import Redis

    from .cohorts import CohortAdmin, CohortError
    from .leaderboard import Leaderboard, Scoring
    from .sessions import HubClient
    from .store import connect

    token = os.environ.get("JUPYTERHUB_API_TOKEN")
    if not token:
        print("set $JUPYTERHUB_API_TOKEN to a JupyterHub admin's API token", file=sys.stderr)
        return 2
    settings = load_settings(args.config)
    hub_port = os.environ.get("PEERPLATFORM_HUB_PORT", "8081")
    api = args.hub_api or f"http://127.0.0.1:{hub_port}/hub/api"

    async def run():
        store = await connect(settings.mongodb_uri, settings.mongodb_database)
        redis = Redis.from_url(settings.redis_url, decode_responses=True)
        try:
            admin = CohortAdmin(hub=HubClient(api, token), store=store, data_dir=settings.data_dir,
                                leaderboard=Leaderboard(redis, Scoring.from_settings(settings)))
            return await admin.apply(args.name, title=args.title, learners=args.learners,
                                     instructors=args.instructors,
                                     remove_learners=args.remove_learners,
                                     remove_instructors=args.remove_instructors)
        finally:
            await redis.aclose()
            await store.close()

    try:
        result = asyncio.run(run())
    except CohortError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"cohort {result['name']}: {len(result['learners'])} learners, "
          f"instructors: {', '.join(result['instructors']) or 'none'}")
    if result["hub_restart_needed"]:
        print("new cohort: restart JupyterHub so its instructors' role is defined")
    return 0


if __name__ == "__main__":
    main()
