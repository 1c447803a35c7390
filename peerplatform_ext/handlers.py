"""REST API of the pair server under ``/peerplatform/api/``.

Every verb is ``@web.authenticated`` + ``@authorized`` (resource ``peerplatform``: the
Authorizer applies JupyterHub's access check; the role checks are here, per endpoint,
because either member may e.g. ask for a swap). Bodies are JSON objects of at most
:data:`MAX_BODY_BYTES` (413 beyond); errors are JSON ``{"message": ...}`` with a meaningful
status.
"""

from __future__ import annotations

import json

from jupyter_server.auth.decorator import authorized
from jupyter_server.base.handlers import APIHandler
from jupyter_server.extension.handler import ExtensionHandlerMixin
from tornado import web

from peerplatform_contracts.difficulties import CHOICES as DIFFICULTIES
from peerplatform_contracts.pair_api import SWAP_ACTIONS

from .auth import OWN_RESOURCE
from .controller import PairController, PairError

AUTH_RESOURCE = OWN_RESOURCE
#: Our bodies are a field or two (``{"action": "accept"}``); 64 KiB is far beyond any of them
#: and small enough that a member cannot make the server hold or parse megabytes (the
#: server-wide cap, there for notebook uploads, is 512 MB).
MAX_BODY_BYTES = 64 * 1024
#: A body up to this size is read (and dropped) so that the client gets the 413 as a normal
#: response; a larger announced one is refused at once, without reading it.
DRAIN_BODY_BYTES = 8 * MAX_BODY_BYTES


def _too_large() -> str:
    return f"the body is larger than {MAX_BODY_BYTES} bytes"


@web.stream_request_body
class PairAPIHandler(ExtensionHandlerMixin, APIHandler):
    """Base of our API handlers: the body is counted as it streams in (see :meth:`json_body`)."""

    auth_resource = AUTH_RESOURCE

    async def prepare(self):
        self._body_chunks: list[bytes] = []
        self._body_size = 0
        await super().prepare()
        length = self.request.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > DRAIN_BODY_BYTES:
            raise web.HTTPError(413, _too_large())
        self.request.connection.set_max_body_size(DRAIN_BODY_BYTES)

    def data_received(self, chunk: bytes) -> None:
        self._body_size += len(chunk)
        if self._body_size > MAX_BODY_BYTES:
            self._body_chunks = []
        else:
            self._body_chunks.append(chunk)

    @property
    def controller(self) -> PairController:
        return self.settings["peerplatform_controller"]

    @property
    def username(self) -> str:
        return self.current_user.username

    def json_body(self, allowed: set[str]) -> dict:
        if self._body_size > MAX_BODY_BYTES:
            raise web.HTTPError(413, _too_large())
        raw = b"".join(self._body_chunks) or b"{}"
        try:
            body = json.loads(raw)
        except ValueError as e:
            raise web.HTTPError(400, "the body must be JSON") from e
        if not isinstance(body, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        unknown = set(body) - allowed
        if unknown:
            raise web.HTTPError(400, f"unknown field(s): {', '.join(sorted(unknown))}")
        return body

    def reply(self, data, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(data, default=str))

    async def run(self, coro):
        try:
            return await coro
        except PairError as e:
            raise web.HTTPError(e.status, e.message) from e

    def check(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except PairError as e:
            raise web.HTTPError(e.status, e.message) from e


class SessionHandler(PairAPIHandler):
    """``GET /peerplatform/api/session``: the session, the caller's role, the clock.

    ``connected`` is false while the platform service cannot be reached: the page says it is
    reconnecting (the session goes on, on the last state the service sent)."""

    @web.authenticated
    @authorized
    async def get(self):
        doc, role = self.check(self.controller.member_doc, self.username)
        state = self.controller.state
        self.reply({
            "username": self.username,
            "role": role,
            "partner": doc["observer"] if role == "driver" else doc["driver"],
            "can_write": state.can_write(self.username),
            "session": {
                "id": doc["id"],
                "state": doc["state"],
                "driver": doc["driver"],
                "observer": doc["observer"],
                "duration_s": doc.get("duration_s"),
                "started_at": doc.get("started_at"),
                "challenge": doc.get("challenge"),
                "notebook": self.controller.notebook.path,
            },
            "clock": self.controller.clock_json(),
            "swap_request": doc.get("swap_request"),
            "locked": state.locked,
            "connected": self.controller.connected,
            "difficulties": list(DIFFICULTIES),
            # the last test run (so a reloaded page shows it), and the final one once ended
            "last_tests": doc.get("last_tests"),
            "final_tests": _final_tests(doc),
        })


def _final_tests(doc: dict) -> dict | None:
    """The outcome's test run: per test when the session's last run is the final one (the
    service records it so), else the outcome's summary."""
    outcome = doc.get("outcome") or {}
    if not outcome:
        return None
    last = doc.get("last_tests") or {}
    result = last.get("result") if last.get("final") else outcome.get("tests")
    return {"result": result, "grader": outcome.get("grader")}


class ClockHandler(PairAPIHandler):
    """``GET /peerplatform/api/clock``: remaining time etc., computed from the server's time."""

    @web.authenticated
    @authorized
    async def get(self):
        self.check(self.controller.member_doc, self.username)
        self.reply(self.controller.clock_json())


class SwapHandler(PairAPIHandler):
    """``POST /peerplatform/api/swap`` ``{"action": "request"|"accept"|"decline"|"cancel"}``.

    Either member may request; the partner accepts or declines; the requester may cancel.
    A request from each side is an agreement.
    """

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body({"action"})
        action = body.get("action")
        if action not in SWAP_ACTIONS:
            raise web.HTTPError(400, "action must be request, accept, decline or cancel")
        self.reply(await self.run(self.controller.swap(self.username, action)))


class ChallengeHandler(PairAPIHandler):
    """``GET``: the current challenge (no hidden parts). ``POST`` ``{"difficulty"?}``: the
    driver draws another challenge neither member has seen (optionally another difficulty);
    it replaces the challenge cells in the live notebook."""

    @web.authenticated
    @authorized
    async def get(self):
        self.reply({"challenge": await self.run(self.controller.current_challenge(self.username))})

    @web.authenticated
    @authorized
    async def post(self):
        body = self.json_body({"difficulty"})
        difficulty = body.get("difficulty")
        if difficulty is not None and not isinstance(difficulty, str):
            raise web.HTTPError(400, "difficulty must be a string")
        challenge = await self.run(self.controller.change_challenge(self.username, difficulty))
        self.reply({"challenge": challenge})


class TestsHandler(PairAPIHandler):
    """``POST /peerplatform/api/tests``: the driver has the notebook's cells graded against
    the hidden tests by the platform service (which keeps them; this server never sees
    them); the result is pushed to both members."""

    @web.authenticated
    @authorized
    async def post(self):
        self.json_body(set())
        self.reply({"result": await self.run(self.controller.run_tests(self.username))})


default_handlers = [
    (r"/peerplatform/api/session", SessionHandler),
    (r"/peerplatform/api/clock", ClockHandler),
    (r"/peerplatform/api/swap", SwapHandler),
    (r"/peerplatform/api/challenge", ChallengeHandler),
    (r"/peerplatform/api/tests", TestsHandler),
]
