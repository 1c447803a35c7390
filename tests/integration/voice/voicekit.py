"""Test kit for the service's voice API (``peerplatform.apihandlers.voice``).

* :class:`VoiceService` - the service's real voice handlers (and its ``lab-bridge`` page) in a
  tornado app on a free port, with JupyterHub's real ``HubOAuth`` whose only stand-in is the
  Hub's token lookup (:class:`TableHubAuth`): tokens in the ``Authorization`` header and the
  signed OAuth cookie plus XSRF token for browsers work exactly as behind a Hub.
* :class:`FakeTwilio` - an in-process, stateful stand-in for Twilio's REST API in the style of
  twilio-python's own ``Holodeck``: plugged in as the client's ``http_client``, it keeps the
  conferences and participants, so a mute can be read back (Prism, in the contract test,
  checks the shape of the calls but keeps no state).
* :class:`SameOrigin` - JupyterHub's own proxy (configurable-http-proxy) in front of a pair
  server and the service, so that a browser page reaches both on one origin, as in production.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import httpx
from jupyterhub.services.auth import HubOAuth
from tornado import web
from tornado.httpserver import HTTPServer
from traitlets import Dict
from twilio.http import HttpClient
from twilio.http.response import Response as TwilioResponse

from peerplatform.apihandlers import voice as voice_api
from peerplatform.handlers import labbridge
from peerplatform.voice.calls import VoiceCalls
from peerplatform.voice.settings import VoiceSettings

REPO = Path(__file__).resolve().parents[3]
PREFIX = "/services/peerplatform/"
CLIENT_ID = "service-peerplatform"
ACCESS_SCOPE = "access:services!service=peerplatform"
OWNER = "pp-pairs"
DRIVER, OBSERVER = "alice", "bob"
STRANGER = "eve"  # another learner
OUTSIDER = "carol"  # e.g. an instructor: may use the service, not a member
TOKENS = {DRIVER: "svc-alice", OBSERVER: "svc-bob", STRANGER: "svc-eve", OUTSIDER: "svc-carol",
          OWNER: "svc-pp-pairs"}

ACCOUNT = "AC" + "1" * 32
KEY = "SK" + "2" * 32
KEY_SECRET = "k" * 32  # PyJWT wants >= 32 bytes for HS256
APP = "AP" + "3" * 32
SECRET = "voice-secret-for-tests-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def twilio_settings(**extra) -> VoiceSettings:
    return VoiceSettings(twilio_account_sid=ACCOUNT, twilio_api_key_sid=KEY,
                         twilio_api_key_secret=KEY_SECRET, twilio_twiml_app_sid=APP,
                         secret=SECRET, **extra)


def webrtc_settings(**extra) -> VoiceSettings:
    # explicit empties: the environment of the test run must not switch Twilio on
    return VoiceSettings(twilio_account_sid="", twilio_api_key_sid="", twilio_api_key_secret="",
                         twilio_twiml_app_sid="", secret=SECRET, **extra)


class TableHubAuth(HubOAuth):
    """TEST ONLY: JupyterHub's ``HubOAuth`` with the Hub's token lookup replaced by a table.

    Everything else (token from the header or the signed cookie, the XSRF rules for cookies,
    the access-scope check) is JupyterHub's own code."""

    users = Dict(help="token -> the Hub's user model for it").tag(config=True)

    def user_for_token(self, token, use_cache=True, session_id="", *, sync=True):
        model = self.users.get(token)
        model = dict(model) if model else None
        if sync:
            return model

        async def lookup():
            return model

        return lookup()


def user_models(tokens: dict = TOKENS) -> dict:
    return {token: {"kind": "user", "name": name, "admin": False, "groups": [],
                    "scopes": [ACCESS_SCOPE]}
            for name, token in tokens.items()}


class VoiceService:
    """The service's voice API (plus ``lab-bridge``) on 127.0.0.1, in this event loop."""

    def __init__(self, store, settings: VoiceSettings, *, http_client=None,
                 prefix: str = PREFIX, tokens: dict = TOKENS):
        self.store = store
        self.settings = settings
        self.prefix = prefix
        self.tokens = tokens
        self.calls = VoiceCalls(settings, http_client=http_client)
        self.cookie_secret = secrets.token_bytes(32)
        self.hub_auth = TableHubAuth(
            api_token="unused-by-the-table", api_url="http://127.0.0.1:9/hub/api",
            oauth_client_id=CLIENT_ID, base_url=prefix, hub_prefix="/hub/",
            access_scopes={ACCESS_SCOPE}, users=user_models(tokens))
        self.app = web.Application(
            [*voice_api.default_handlers(prefix), *labbridge.default_handlers(prefix)],
            platform=SimpleNamespace(store=store,
                                     settings=SimpleNamespace(max_body_bytes=1024 * 1024)),
            hub_auth=self.hub_auth, cookie_secret=self.cookie_secret, service_prefix=prefix,
            hub_prefix="/hub/", login_url=prefix + "oauth_callback",
            voice_settings=settings, voice_calls=self.calls,
        )
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._server: HTTPServer | None = None

    def start(self) -> VoiceService:
        self._server = HTTPServer(self.app)
        self._server.listen(self.port, "127.0.0.1")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    def url(self, path: str = "") -> str:
        return self.base + self.prefix + path.lstrip("/")

    def auth(self, user: str) -> dict:
        return {"Authorization": f"token {self.tokens[user]}"}

    def login_cookie(self, user: str) -> tuple[str, str]:
        """The cookie HubOAuth sets after the OAuth dance: (name, signed value)."""
        value = web.create_signed_value(self.cookie_secret, self.hub_auth.cookie_name,
                                        self.tokens[user])
        return self.hub_auth.cookie_name, value.decode()

    async def request(self, user: str | None, method: str, path: str, body=None,
                      headers: dict | None = None, **kw) -> httpx.Response:
        hdrs = dict(self.auth(user)) if user else {}
        content = None
        if body is not None:
            content = body if isinstance(body, (str, bytes)) else json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        async with httpx.AsyncClient(timeout=30) as client:
            return await client.request(method, self.url(path), headers=hdrs, content=content,
                                        **kw)


async def running_session(store, *, state: str = "active", duration_s: int = 3600,
                          session_id: str | None = None) -> dict:
    """A session of DRIVER and OBSERVER on OWNER's server, moved to ``state``."""
    doc = await store.sessions.create(members=[DRIVER, OBSERVER], driver=DRIVER,
                                      observer=OBSERVER, server_owner=OWNER,
                                      duration_s=duration_s, session_id=session_id)
    if state == "pending":
        return doc
    for step in ("spawning", "active", "ended"):
        doc = await store.sessions.transition(doc["_id"], step)
        if step == state:
            break
    return doc


# -- Twilio's REST API, in process -------------------------------------------------------------

class FakeTwilio(HttpClient):
    """Twilio's conferences and participants, kept in memory (only what we call).

    ``sent`` records ``(method, path, params, data, auth_user)``; ``unreachable`` makes every
    request fail as a network error would."""

    def __init__(self, account: str = ACCOUNT):
        import logging

        super().__init__(logging.getLogger("fake-twilio"), is_async=True)
        self.account = account
        self.conferences: dict[str, dict] = {}
        self.participants: dict[tuple[str, str], dict] = {}
        self.sent: list[tuple] = []
        self.unreachable = False

    def start_conference(self, friendly_name: str, labels=()) -> str:
        """What Twilio does when members dial in (the TwiML names the conference)."""
        sid = "CF" + secrets.token_hex(16)
        self.conferences[sid] = {"sid": sid, "account_sid": self.account,
                                 "friendly_name": friendly_name, "status": "in-progress"}
        for label in labels:
            self.participants[(sid, label)] = {
                "account_sid": self.account, "conference_sid": sid, "label": label,
                "call_sid": "CA" + secrets.token_hex(16), "muted": False, "hold": False,
                "status": "connected"}
        return sid

    def participant(self, conference_sid: str, label: str) -> dict | None:
        return self.participants.get((conference_sid, label))

    async def request(self, method, url, params=None, data=None, headers=None, auth=None,
                      timeout=None, allow_redirects=False):
        parts = urlsplit(url)
        assert parts.netloc == "api.twilio.com", url
        self.sent.append((method.upper(), parts.path, dict(params or {}), dict(data or {}),
                          auth[0] if auth else None))
        if self.unreachable:
            raise ConnectionError("api.twilio.com is unreachable")
        if not auth or auth[0] != KEY or auth[1] != KEY_SECRET:
            return self._error(401, 20003, "Authenticate")
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        query.update({k: str(v) for k, v in (params or {}).items()})
        segments = parts.path.split("/")  # '', '2010-04-01', 'Accounts', AC, ...
        if segments[1:4] != ["2010-04-01", "Accounts", self.account]:
            return self._error(404, 20404, "not found")
        rest = [s.removesuffix(".json") for s in segments[4:]]
        method = method.upper()
        if method == "GET" and rest == ["Conferences"]:
            found = [c for c in self.conferences.values()
                     if c["friendly_name"] == query.get("FriendlyName", c["friendly_name"])
                     and c["status"] == query.get("Status", c["status"])]
            return self._ok({"conferences": found, "page": 0, "page_size": 50,
                             "next_page_uri": None, "previous_page_uri": None})
        if method == "POST" and len(rest) == 2 and rest[0] == "Conferences":
            conf = self.conferences.get(rest[1])
            if conf is None:
                return self._error(404, 20404, "not found")
            status = (data or {}).get("Status")
            if status not in (None, "completed"):
                return self._error(400, 21218, "Invalid status")
            if status == "completed":
                conf["status"] = "completed"
            return self._ok(conf)
        if method == "POST" and len(rest) == 4 and rest[0] == "Conferences" \
                and rest[2] == "Participants":
            part = self.participants.get((rest[1], rest[3]))
            if part is None or self.conferences[rest[1]]["status"] != "in-progress":
                return self._error(404, 20404, "not found")
            if "Muted" in (data or {}):
                part["muted"] = str(data["Muted"]).lower() == "true"
            return self._ok(part)
        return self._error(404, 20404, "not found")

    @staticmethod
    def _ok(payload: dict) -> TwilioResponse:
        return TwilioResponse(200, json.dumps(payload))

    @staticmethod
    def _error(status: int, code: int, message: str) -> TwilioResponse:
        return TwilioResponse(status, json.dumps({"code": code, "message": message,
                                                  "status": status}))


# -- one origin for the page, the pair server and the service ----------------------------------

class SameOrigin:
    """configurable-http-proxy (the Hub's own proxy, from ``node_modules``): ``/`` to the pair
    server, ``<prefix>`` to the service, as the Hub routes them."""

    def __init__(self, pair_base: str, service_base: str, prefix: str = PREFIX, *,
                 log_path: Path | None = None):
        self.pair_base = pair_base
        self.service_base = service_base
        self.prefix = prefix
        self.port, self.api_port = free_port(), free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.token = secrets.token_hex(16)
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> SameOrigin:
        binary = REPO / "node_modules" / ".bin" / "configurable-http-proxy"
        assert binary.exists(), "configurable-http-proxy is missing: run `npm install`"
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            [str(binary), "--ip", "127.0.0.1", "--port", str(self.port),
             "--api-ip", "127.0.0.1", "--api-port", str(self.api_port),
             "--default-target", self.pair_base, "--log-level", "warn"],
            env={**os.environ, "CONFIGPROXY_AUTH_TOKEN": self.token},
            stdout=out, stderr=subprocess.STDOUT)
        api = f"http://127.0.0.1:{self.api_port}/api/routes"
        headers = {"Authorization": f"token {self.token}"}
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, "configurable-http-proxy exited"
            try:
                r = httpx.post(api + self.prefix.rstrip("/"), headers=headers, timeout=2,
                               json={"target": self.service_base})
                if r.status_code == 201:
                    return self
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("configurable-http-proxy did not start")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
