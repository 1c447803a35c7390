"""The pair API of the platform service, alone, as a subprocess: for pair-server tests.

Starts a tornado app with just the pair API (``peerplatform.apihandlers.pair``) and the
service's clock sweep (scheduled swaps, the end at time-up with the final grading), against
the given MongoDB/Redis, with a static token -> session map instead of the Hub (test-only
credentials: :mod:`statictokens`; the scope and session checks are the production ones).

From a test (the ``mongodb_uri`` / ``redis_url`` / ``mongodb_database`` fixtures of
tests/conftest.py)::

    from serviceproc import ServiceProcess        # tests/integration/pair_api on sys.path

    svc = ServiceProcess(mongodb_uri, mongodb_database, redis_url=redis_url,
                         tokens={"tok-s1": "abcdefabcdef"},
                         settings={"clock_interval": 0.2, "final_snapshot_wait": 3})
    svc.start()                   # waits until it answers
    svc.api_url                   # http://127.0.0.1:<port>/services/peerplatform/api/pair/
                                  # -> give it to the pair server as PEERPLATFORM_API_URL
    svc.add_token("tok-s2", "zzzzzzzzzzzz")   # more sessions while it runs
    ...
    svc.stop()                    # (also: svc.kill() = SIGKILL, e.g. "replica dies")

The pair server then sends ``Authorization: token tok-s1`` (its ``JUPYTERHUB_API_TOKEN``).
Sessions and challenges are seeded in the store by the test (``store.sessions.create``,
``transition(..., "active")``, ``store.challenges.upsert``). ``settings`` are
``c.PeerPlatform.*`` traits (``clock_interval``, ``final_snapshot_wait``, ``end_lease``,
``grading_concurrency``, ``grading_timeout``, ``state_poll_interval``, ``pair_owner``).
Its log is ``svc.log_path``.

From a shell::

    .venv/bin/python tests/integration/pair_api/serviceproc.py \
        --mongodb-uri mongodb://127.0.0.1:27017/ --database pp_dev --redis-url redis://... \
        --tokens '{"tok-s1": "abcdefabcdef"}' [--tokens-file F] [--port P] \
        [--settings '{"clock_interval": 0.2}']

prints one JSON line ``{"url": ..., "api_url": ..., "pid": ...}`` once it listens.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[2]
PREFIX = "/services/peerplatform/"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    """Runs this module as a subprocess (see the module docstring)."""

    def __init__(self, mongodb_uri: str, database: str, *, redis_url: str = "",
                 tokens: dict | None = None, settings: dict | None = None,
                 port: int | None = None, log_dir: str | os.PathLike | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}{PREFIX}"
        self.api_url = self.url + "api/pair/"
        folder = Path(log_dir or tempfile.mkdtemp(prefix="pp-service-"))
        folder.mkdir(parents=True, exist_ok=True)
        self.tokens_file = folder / f"tokens-{self.port}.json"
        self.tokens_file.write_text(json.dumps(tokens or {}))
        self.log_path = folder / f"service-{self.port}.log"
        self.args = [sys.executable, str(Path(__file__).resolve()),
                     "--mongodb-uri", mongodb_uri, "--database", database,
                     "--redis-url", redis_url, "--port", str(self.port),
                     "--tokens-file", str(self.tokens_file),
                     "--settings", json.dumps(settings or {})]
        self.proc: subprocess.Popen | None = None

    def add_token(self, token: str, session_id: str) -> None:
        tokens = json.loads(self.tokens_file.read_text() or "{}")
        tokens[token] = session_id
        tmp = self.tokens_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(tokens))
        tmp.replace(self.tokens_file)  # atomic: the service never reads half a file

    def start(self, timeout: float = 30) -> ServiceProcess:
        log = open(self.log_path, "ab")
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [str(REPO), str(HERE), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen(self.args, stdout=subprocess.PIPE, stderr=log, env=env,
                                     cwd=str(REPO), start_new_session=True)
        log.close()
        deadline = time.monotonic() + timeout
        line = b""
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the service exited ({self.proc.returncode}):\n"
                                   f"{self.log_tail()}")
            line = self.proc.stdout.readline()
            if line.strip().startswith(b"{"):
                return self
        raise TimeoutError(f"the service did not start within {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except FileNotFoundError:
            return ""

    def stop(self, timeout: float = 10) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def kill(self) -> None:
        """SIGKILL, as a replica that dies (nothing is cleaned up)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


async def serve(args) -> None:
    import logging

    from redis.asyncio import Redis
    from tornado import web
    from tornado.httpserver import HTTPServer
    from traitlets.config import Config

    from peerplatform.apihandlers import pair as pair_handlers
    from peerplatform.events import EventBus
    from peerplatform.pair.api import PairAPI
    from peerplatform.settings import PeerPlatform
    from peerplatform.store import connect
    from peerplatform_contracts.pair_api import MAX_BODY_BYTES

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="[%(levelname).1s %(asctime)s %(name)s] %(message)s")
    config = Config()
    for name, value in json.loads(args.settings or "{}").items():
        config.PeerPlatform[name] = value
    config.PeerPlatform.setdefault("pair_credentials_class", "statictokens.StaticTokens")
    config.StaticTokens.tokens = json.loads(args.tokens or "{}")
    config.StaticTokens.tokens_file = args.tokens_file or ""
    config.StaticTokens.cache_max_age = 0.0
    settings = PeerPlatform(config=config)
    store = await connect(args.mongodb_uri, args.database)
    redis = Redis.from_url(args.redis_url, decode_responses=True) if args.redis_url else None
    api = PairAPI(settings=settings, store=store, events=EventBus(redis) if redis else None)
    app = web.Application(pair_handlers.default_handlers(PREFIX), pair_api=api)
    server = HTTPServer(app, max_body_size=2 * MAX_BODY_BYTES)
    server.listen(args.port, "127.0.0.1")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sweep = asyncio.create_task(api.clock.run(stop))
    url = f"http://127.0.0.1:{args.port}{PREFIX}"
    print(json.dumps({"url": url, "api_url": url + "api/pair/", "pid": os.getpid()}),
          flush=True)
    await stop.wait()
    server.stop()
    await sweep
    await store.close()
    if redis is not None:
        await redis.aclose()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mongodb-uri", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--tokens", default="{}", help="JSON object: token -> session id")
    parser.add_argument("--tokens-file", default="", help="JSON file, re-read per request")
    parser.add_argument("--settings", default="{}", help="JSON object of c.PeerPlatform traits")
    args = parser.parse_args(argv)
    if not args.port:
        args.port = free_port()
    sys.path[:0] = [str(REPO), str(HERE)]
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()
