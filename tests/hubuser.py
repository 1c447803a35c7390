"""A learner driving the platform over plain HTTP, as a browser would (forms, cookies, XSRF)."""

from __future__ import annotations

import json
import re
import time
from urllib.parse import urljoin

import requests

XSRF_INPUT = re.compile(r'name="_xsrf"\s+value="([^"]+)"')
XSRF_DATA = re.compile(r'data-xsrf="([^"]+)"')


class HubUser:
    def __init__(self, base_url: str, name: str, password: str = "correct-horse-42"):
        self.base_url = base_url.rstrip("/") + "/"
        self.name = name
        self.password = password
        self.http = requests.Session()
        self.service_xsrf: str | None = None

    def url(self, path: str) -> str:
        return urljoin(self.base_url, path.lstrip("/"))

    def _form(self, path: str, data: dict) -> requests.Response:
        page = self.http.get(self.url(path), timeout=30)
        page.raise_for_status()
        match = XSRF_INPUT.search(page.text)
        assert match, f"no _xsrf in the form at {path}"
        return self.http.post(self.url(path), data={**data, "_xsrf": match.group(1)}, timeout=30)

    def signup(self) -> requests.Response:
        return self._form("hub/signup", {
            "username": self.name, "signup_password": self.password,
            "signup_password_confirmation": self.password,
        })

    def login(self, password: str | None = None) -> requests.Response:
        return self._form("hub/login", {"username": self.name, "password": password or self.password})

    def open_lobby(self) -> requests.Response:
        """Follow the Hub's default URL through the service's OAuth into the lobby page."""
        resp = self.http.get(self.url("hub/"), timeout=30)
        if resp.ok:
            match = XSRF_DATA.search(resp.text)
            self.service_xsrf = match.group(1) if match else None
        return resp

    def api(self, method: str, path: str, body=None, raw: bytes | None = None,
            headers: dict | None = None) -> requests.Response:
        hdrs = {"X-XSRFToken": self.service_xsrf or ""}
        if body is not None:
            hdrs["Content-Type"] = "application/json"
            raw = json.dumps(body).encode()
        hdrs.update(headers or {})
        return self.http.request(method, self.url(f"services/peerplatform/api/{path}"),
                                 data=raw, headers=hdrs, timeout=30, allow_redirects=False)

    def accept(self, timeout: float = 30) -> str:
        """Wait for a match offer (the handshake) and accept it, as the lobby's
        ``#accept-match`` does; returns the match id. Keeps the heartbeat going meanwhile."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            self.api("POST", "waiting-room/heartbeat", {})
            me = last = self.api("GET", "me").json()
            if me.get("match"):
                resp = self.api("POST", f"matches/{me['match']['id']}/accept", {})
                assert resp.status_code == 200, resp.text
                return me["match"]["id"]
            if me.get("session"):  # auto-accept: nothing to answer
                return me["session"]["id"]
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no match offered within {timeout} s; last {last}")

    def wait_for_session(self, timeout: float = 120, states=("active",),
                         accept: bool = True) -> dict:
        """Wait until the learner's session is in one of ``states``; a match offered
        meanwhile is accepted (``accept=False`` leaves it alone)."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            resp = self.api("POST", "waiting-room/heartbeat", {})
            me = self.api("GET", "me").json()
            last = me
            if accept and me.get("match") and not me["match"]["accepted"]:
                self.api("POST", f"matches/{me['match']['id']}/accept", {})
            session = me.get("session") or me.get("last_session")
            if session and session["state"] in states:
                return session
            if session and session["state"] == "failed" and "failed" not in states:
                raise AssertionError(f"session failed: {session['failure_reason']}")
            assert resp.status_code == 200, resp.text
            time.sleep(0.5)
        raise AssertionError(f"{self.name}: no session in {states} within {timeout} s; last {last}")


class EventListener:
    """Reads the lobby's server-sent events in a background thread, as the lobby page does."""

    def __init__(self, user: HubUser):
        import threading

        self.events: list[dict] = []
        self._resp = user.http.get(user.url("services/peerplatform/api/events"), stream=True,
                                   timeout=(10, 300))
        assert self._resp.status_code == 200, self._resp.text
        assert self._resp.headers["Content-Type"].startswith("text/event-stream")
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self):
        try:
            for line in self._resp.iter_lines(decode_unicode=True):
                if line and line.startswith("data:"):
                    event = json.loads(line[5:])
                    event["_received"] = time.time()  # when this lobby got it (benchmarks)
                    self.events.append(event)
        except Exception:
            pass

    def types(self) -> list[str]:
        return [e["type"] for e in self.events]

    def wait_for(self, type_: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for event in self.events:
                if event["type"] == type_:
                    return event
            time.sleep(0.1)
        raise AssertionError(f"no {type_!r} event within {timeout} s; got {self.types()}")

    def close(self):
        # Shut the socket down first: closing a streaming response while the reader thread
        # blocks in recv() would wait for the server's next keepalive.
        import socket

        conn = getattr(self._resp.raw, "_connection", None)
        sock = getattr(conn, "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self._thread.join(timeout=5)
        self._resp.close()
