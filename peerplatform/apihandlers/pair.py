"""The service's API for pair servers: ``<prefix>api/pair/<session id>/<endpoint>``.

The contract is :mod:`peerplatform_contracts.pair_api`. These handlers authenticate a pair
server by its token (no cookie, no OAuth, hence no XSRF), validate the body in full (400 naming
the field; nothing changes), and hand over to :class:`peerplatform.pair.api.PairAPI` (settings
key ``pair_api``), which checks the member's role and writes the store.
"""

from __future__ import annotations

import asyncio
import functools
import json
import math
import re

from peerplatform_contracts.pair_api import MAX_BODY_BYTES, MAX_WAIT_S
from tornado import web

from ..pair import validate
from ..pair.actions import require_driver
from ..pair.errors import PairError
from ..pair.view import pair_view
from .base import JSONReplies

TOKEN_RE = re.compile(r"^(?:token|bearer)\s+(\S+)\s*$", re.IGNORECASE)
SESSION = r"([a-z0-9]{12})"


def answers_errors(method):
    """A :class:`PairError` raised by ``method`` becomes the JSON error answer."""

    @functools.wraps(method)
    async def wrapper(self, *args, **kwargs):
        try:
            return await method(self, *args, **kwargs)
        except PairError as e:
            self.write_pair_error(e)

    return wrapper


class PairAPIHandler(JSONReplies, web.RequestHandler):
    """Token-authenticated JSON: ``self.session`` is the caller's session document."""

    session: dict

    @property
    def pair(self):
        return self.settings["pair_api"]

    def set_default_headers(self):
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")

    def check_xsrf_cookie(self):
        """Token-authenticated only: a browser's cookies give no access here."""

    def token(self) -> str | None:
        match = TOKEN_RE.match(self.request.headers.get("Authorization", ""))
        return match.group(1) if match else None

    @answers_errors
    async def prepare(self):
        session_id = self.path_args[0]
        self.session = await self.pair.credentials.authorize(self.token(), session_id)

    def write_pair_error(self, error: PairError) -> None:
        if self._finished:
            return
        for name, value in error.headers.items():
            self.set_header(name, value)
        self.write_json({"status": error.status, "message": error.message}, error.status)

    def json_body(self) -> dict:
        """The body as a JSON object: 413 past :data:`MAX_BODY_BYTES`, 400 if not JSON."""
        body = self.request.body or b""
        if len(body) > MAX_BODY_BYTES:
            raise PairError(413, f"request body is larger than {MAX_BODY_BYTES} bytes")
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type and content_type != "application/json":
            raise PairError(415, "the body must be application/json")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise PairError(400, f"the body is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise PairError(400, "the body must be a JSON object")
        return data


class StateHandler(PairAPIHandler):
    """``GET state?since=<rev>&wait=<s>``: the pair view, as soon as it changed."""

    def initialize(self):
        self._gone = asyncio.Event()

    def on_connection_close(self):
        self._gone.set()

    @answers_errors
    async def get(self, session_id):
        since = self.get_argument("since", None)
        if since is not None:
            try:
                since = int(since)
            except ValueError:
                raise PairError(400, "since: must be an integer revision") from None
        try:
            wait = float(self.get_argument("wait", "0"))
        except ValueError:
            raise PairError(400, "wait: must be a number of seconds") from None
        if not math.isfinite(wait) or wait < 0:
            raise PairError(400, "wait: must be a number of seconds")
        await self.pair.watch.wait(session_id, since, min(wait, MAX_WAIT_S), gone=self._gone)
        if self._gone.is_set():
            return
        doc = await self.pair.store.sessions.get(session_id)
        if doc is None:
            raise PairError(403, "this token is not for this session")
        self.write_json({"rev": int(doc.get("rev") or 0), "session": pair_view(doc)})


class ChallengeHandler(PairAPIHandler):
    @answers_errors
    async def get(self, session_id):
        self.write_json({"challenge": await self.pair.actions.challenge(self.session)})

    @answers_errors
    async def post(self, session_id):
        body = validate.challenge_body(self.json_body())
        view = await self.pair.actions.change_challenge(self.session, body["by"],
                                                        body["difficulty"])
        self.write_json({"challenge": view})


class TestsHandler(PairAPIHandler):
    @answers_errors
    async def post(self, session_id):
        body = validate.tests_body(self.json_body())
        require_driver(self.session, body["by"])
        result = await self.pair.grading.run_tests(self.session, body["by"], body["cells"])
        self.pair.watch.changed(session_id)
        self.write_json({"result": result})


class SwapHandler(PairAPIHandler):
    @answers_errors
    async def post(self, session_id):
        body = validate.swap_body(self.json_body())
        self.write_json(await self.pair.actions.swap(self.session, body["by"], body["action"]))


class SnapshotsHandler(PairAPIHandler):
    @answers_errors
    async def post(self, session_id):
        snapshots = validate.snapshots_body(self.json_body())
        self.write_json(await self.pair.actions.store_snapshots(self.session, snapshots))


class EventsHandler(PairAPIHandler):
    @answers_errors
    async def post(self, session_id):
        events = validate.events_body(self.json_body())
        self.write_json(await self.pair.actions.store_events(self.session, events))


def default_handlers(prefix: str) -> list:
    base = prefix + "api/pair/" + SESSION + "/"
    return [
        (base + "state", StateHandler),
        (base + "challenge", ChallengeHandler),
        (base + "tests", TestsHandler),
        (base + "swap", SwapHandler),
        (base + "snapshots", SnapshotsHandler),
        (base + "events", EventsHandler),
    ]
