"""Run code in a session's kernel as the driver, exactly as JupyterLab does.

A learner's browser reaches its pair server through the proxy with the Hub's OAuth cookies:
``POST <server>/api/sessions`` (the session notebook, kernel ``python3``) with those cookies
and the server's ``_xsrf`` cookie echoed in ``X-XSRFToken``, then the kernel's websocket
``<server>/api/kernels/<id>/channels`` (Jupyter's JSON websocket protocol): ``execute_request``
on ``shell``, the output as ``stream``/``error``/``execute_result`` on ``iopub``, then the
``execute_reply``.

* :class:`PairVisitor` - one learner on one pair server (REST calls, websocket URLs, cookies).
* :class:`DriverKernel` - the session's kernel as seen by the driver: :meth:`~DriverKernel.execute`
  returns an :class:`Execution`; :meth:`~DriverKernel.run` runs attacking code that reports with
  ``_report({...})`` and returns that JSON (the helpers of :data:`PRELUDE` are defined first).
* :class:`EventWatcher` - a member's subscription to the pair server's event bus
  (``/api/events/subscribe``), as JupyterLab keeps one.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

import websockets
from websockets.sync.client import connect as ws_connect

MARK = "@@PP-RESULT@@"
PAIR_SESSION_SCHEMA = "https://events.peerplatform.dev/pair-session/v1"

#: Defined before every attempt: ``_outcome(fn)`` runs ``fn`` and describes what happened
#: (``ok`` and the value, or the exception's type, errno and its symbolic name);
#: ``_report(obj)`` prints it for the test to parse. Never prints what a read returned.
PRELUDE = r'''
import errno as _errno, json as _json, os as _os
def _outcome(fn, *args, **kwargs):
    try:
        value = fn(*args, **kwargs)
    except Exception as e:
        no = getattr(e, "errno", None)
        return {"ok": False, "exc": type(e).__name__, "errno": no,
                "errname": _errno.errorcode.get(no) if isinstance(no, int) else None,
                "msg": str(e)[:300]}
    if not isinstance(value, (int, float, str, bool, type(None), list, dict)):
        value = repr(value)[:300]
    return {"ok": True, "value": value}
def _report(obj):
    print("@@PP-RESULT@@" + _json.dumps(obj, default=repr), flush=True)
'''


def _open(url: str, visitor: PairVisitor, **kwargs):
    """A websocket with the visitor's cookies, kept open beyond a ``with`` block."""
    return ws_connect(url, additional_headers={"Cookie": visitor.cookie_header()},
                      open_timeout=30, **kwargs).__enter__()


class KernelDied(AssertionError):
    """The kernel went away (restarting/dead) while running the code."""

    def __init__(self, state: str, execution: Execution):
        super().__init__(f"the kernel died ({state}) while executing; output so far: "
                         f"{execution.stdout[-500:]!r} {execution.stderr[-500:]!r}")
        self.state = state
        self.execution = execution


@dataclass
class Execution:
    msg_id: str
    stdout: str = ""
    stderr: str = ""
    error: dict | None = None  # ename, evalue of an ``error`` message
    results: list = field(default_factory=list)
    reply: dict | None = None  # content of the execute_reply
    idle: bool = False

    @property
    def status(self) -> str | None:
        return (self.reply or {}).get("status")

    def report(self) -> dict:
        """The JSON the attacking code printed with ``_report``."""
        found = [line[len(MARK):] for line in self.stdout.splitlines() if line.startswith(MARK)]
        if not found:
            raise AssertionError(
                f"the code reported nothing (status {self.status}, error {self.error}):\n"
                f"stdout: {self.stdout[-2000:]}\nstderr: {self.stderr[-2000:]}")
        return json.loads(found[-1])


class PairVisitor:
    """A learner's browser on a pair server: Hub OAuth cookies, the server's XSRF cookie."""

    def __init__(self, user, session: dict):
        self.user = user  # tests/hubuser.HubUser, logged in
        self.session = session
        self.base = session["url"].removesuffix("lab")  # /user/pp-pairs/s-<id>/
        page = user.http.get(user.url(session["url"]), timeout=60)
        assert page.status_code == 200 and page.url.endswith("/lab"), (page.status_code, page.url)

    @property
    def name(self) -> str:
        return self.user.name

    def xsrf(self) -> str:
        jar = self.user.http.cookies
        return jar.get("_xsrf", path=self.base.rstrip("/")) or jar.get("_xsrf", path=self.base) \
            or ""

    def call(self, method: str, path: str, body=None, timeout: float = 30):
        headers = {"X-XSRFToken": self.xsrf()}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        return self.user.http.request(method, self.user.url(self.base + path), data=data,
                                      headers=headers, timeout=timeout, allow_redirects=False)

    def ws_url(self, path: str) -> str:
        return self.user.url(self.base + path).replace("http://", "ws://", 1)

    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.user.http.cookies)

    def ws_status(self, path: str) -> int:
        """HTTP status of a websocket upgrade (101 when accepted)."""
        try:
            with ws_connect(self.ws_url(path), additional_headers={"Cookie": self.cookie_header()},
                            open_timeout=15):
                return 101
        except websockets.InvalidStatus as e:
            return e.response.status_code

    def wait_can_write(self, timeout: float = 20) -> None:
        """The server reads the session's state live: wait until it lets this member write."""
        deadline = time.monotonic() + timeout
        while True:
            r = self.call("GET", "peerplatform/api/session")
            if r.status_code == 200 and r.json().get("can_write"):
                return
            assert time.monotonic() < deadline, \
                f"{self.name} cannot write: {r.status_code} {r.text}"
            time.sleep(0.2)


class DriverKernel:
    """The session notebook's kernel, opened by the driver as JupyterLab opens it."""

    def __init__(self, visitor: PairVisitor, path: str = "session.ipynb"):
        self.visitor = visitor
        self.path = path
        self.client_session = uuid.uuid4().hex
        self.session_model: dict | None = None
        self.ws = None

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def kernel_id(self) -> str:
        return self.session_model["kernel"]["id"]

    def open(self, timeout: float = 60) -> DriverKernel:
        """``POST api/sessions`` for the notebook (starts its kernel), then its channels."""
        r = self.visitor.call("POST", "api/sessions", {
            "path": self.path, "type": "notebook", "name": self.path,
            "kernel": {"name": "python3"}}, timeout=timeout)
        assert r.status_code in (200, 201), f"POST api/sessions: {r.status_code} {r.text}"
        self.session_model = r.json()
        self.connect(timeout)
        return self

    def connect(self, timeout: float = 60) -> None:
        self.close_socket()
        url = self.visitor.ws_url(
            f"api/kernels/{self.kernel_id}/channels?session_id={self.client_session}")
        self.ws = _open(url, self.visitor, max_size=None)
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 60) -> None:
        """Until the kernel answers a kernel_info_request (it may still be starting)."""
        deadline = time.monotonic() + timeout
        while True:
            msg_id = self._send("kernel_info_request", {})
            try:
                if self._wait_reply(msg_id, "kernel_info_reply", min(5, timeout)):
                    return
            except KernelDied:
                pass
            assert time.monotonic() < deadline, "the kernel did not answer kernel_info"

    def close_socket(self) -> None:
        if self.ws is not None:
            try:
                self.ws.close()
            except Exception:
                pass
            self.ws = None

    def shutdown(self) -> None:
        self.close_socket()
        if self.session_model:
            self.visitor.call("DELETE", f"api/sessions/{self.session_model['id']}")

    def recover(self, timeout: float = 90) -> str:
        """After a kernel death: wait for its restart, else restart it, else start it again.
        Returns how it came back ('restarted', 'restart', 'new')."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r = self.visitor.call("GET", f"api/kernels/{self.kernel_id}")
            if r.status_code == 200 and r.json().get("execution_state") in ("idle", "busy"):
                try:
                    self.connect(timeout=15)
                    return "restarted"
                except (AssertionError, OSError, websockets.WebSocketException):
                    pass
            elif r.status_code == 404:
                break
            elif r.status_code == 200 and r.json().get("execution_state") == "dead":
                rr = self.visitor.call("POST", f"api/kernels/{self.kernel_id}/restart",
                                       timeout=60)
                if rr.status_code == 200:
                    self.connect(timeout=30)
                    return "restart"
            time.sleep(0.5)
        self.close_socket()
        self.open(timeout=60)
        return "new"

    # -- messages ---------------------------------------------------------------------------

    def _send(self, msg_type: str, content: dict, channel: str = "shell") -> str:
        msg_id = uuid.uuid4().hex
        self.ws.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": msg_type, "username": self.visitor.name,
                       "session": self.client_session, "version": "5.3",
                       "date": datetime.now(timezone.utc).isoformat()},
            "parent_header": {}, "metadata": {}, "content": content, "channel": channel,
            "buffers": [],
        }))
        return msg_id

    def _recv(self, timeout: float) -> dict | None:
        try:
            raw = self.ws.recv(timeout=timeout)
        except TimeoutError:
            return None
        if isinstance(raw, bytes):  # binary frames carry buffers; not used here
            return {}
        return json.loads(raw)

    def _wait_reply(self, msg_id: str, reply_type: str, timeout: float) -> dict | None:
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            msg = self._recv(left)
            if msg is None:
                return None
            if self._death(msg):
                raise KernelDied(self._death(msg), Execution(msg_id))
            if msg.get("parent_header", {}).get("msg_id") == msg_id and \
                    msg.get("msg_type") == reply_type:
                return msg["content"]
        return None

    @staticmethod
    def _death(msg: dict) -> str | None:
        if msg.get("msg_type") == "status" and msg.get("channel") == "iopub":
            state = msg.get("content", {}).get("execution_state")
            if state in ("restarting", "dead", "autorestarting") and \
                    not msg.get("parent_header", {}).get("msg_id"):
                return state
        return None

    def submit(self, code: str) -> str:
        """Send an execute_request without waiting (see :meth:`collect`)."""
        return self._send("execute_request", {
            "code": code, "silent": False, "store_history": True, "user_expressions": {},
            "allow_stdin": False, "stop_on_error": True})

    def collect(self, msg_id: str, timeout: float = 30) -> Execution:
        """Gather what the request ``msg_id`` produced until its reply and idle status.
        Raises :class:`KernelDied` if the kernel went away, AssertionError on timeout."""
        ex = Execution(msg_id)
        deadline = time.monotonic() + timeout
        while not (ex.reply is not None and ex.idle):
            left = deadline - time.monotonic()
            assert left > 0, (f"{'no idle status after the reply' if ex.reply else 'no execute_reply'}"
                              f" within {timeout} s; stdout so far "
                              f"{ex.stdout[-1000:]!r} stderr {ex.stderr[-1000:]!r}")
            msg = self._recv(left)
            if msg is None:
                continue
            death = self._death(msg)
            if death:
                raise KernelDied(death, ex)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg.get("msg_type"), msg.get("content", {})
            if kind == "stream":
                if content.get("name") == "stderr":
                    ex.stderr += content.get("text", "")
                else:
                    ex.stdout += content.get("text", "")
            elif kind == "error":
                ex.error = {"ename": content.get("ename"), "evalue": content.get("evalue")}
            elif kind in ("execute_result", "display_data"):
                ex.results.append(content.get("data", {}))
            elif kind == "execute_reply":
                ex.reply = content
            elif kind == "status" and content.get("execution_state") == "idle":
                ex.idle = True
        return ex

    def execute(self, code: str, timeout: float = 30) -> Execution:
        return self.collect(self.submit(code), timeout)

    def execute_after_restart(self, code: str, timeout: float = 90) -> Execution:
        """:meth:`execute` right after a restart, as a learner would: run it again if the
        first request went unanswered. A request sent while the server is still re-wiring the
        kernel's channels after a restart can be lost on a loaded machine (seen in CI: a
        ``kernel_info`` reply, then silence); what must hold is that the kernel answers."""
        deadline = time.monotonic() + timeout
        tries = []
        while True:
            left = deadline - time.monotonic()
            try:
                return self.execute(code, timeout=max(5.0, min(20.0, left)))
            except (AssertionError, OSError, websockets.WebSocketException) as e:
                if isinstance(e, KernelDied):
                    raise
                tries.append(str(e)[:200])
            assert time.monotonic() < deadline, \
                f"the kernel did not answer {code!r} within {timeout} s: {tries}"
            self.connect(timeout=max(5.0, deadline - time.monotonic()))

    def run(self, code: str, timeout: float = 30) -> dict:
        """Run attacking ``code`` after :data:`PRELUDE`; return what it ``_report``-ed."""
        return self.execute(PRELUDE + "\n" + code, timeout).report()

    def interrupt(self):
        """``POST api/kernels/<id>/interrupt``, as JupyterLab's stop button does."""
        return self.visitor.call("POST", f"api/kernels/{self.kernel_id}/interrupt")


class EventWatcher:
    """A member's subscription to the pair server's event bus, read in a thread."""

    def __init__(self, visitor: PairVisitor):
        self.visitor = visitor
        self.events: list[dict] = []  # pair-session events
        self._stop = threading.Event()
        self._ws = _open(visitor.ws_url("api/events/subscribe"), visitor)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                raw = self._ws.recv(timeout=0.5)
            except TimeoutError:
                continue
            except Exception:
                return
            try:
                event = json.loads(raw)
            except ValueError:
                continue
            if event.get("schema_id") == PAIR_SESSION_SCHEMA:
                self.events.append(event)

    def of(self, type_: str, since: int = 0) -> list[dict]:
        return [e for e in self.events[since:] if e.get("type") == type_]

    def wait_for(self, type_: str, since: int = 0, timeout: float = 20) -> dict | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.of(type_, since)
            if found:
                return found[-1]
            time.sleep(0.1)
        return None

    def close(self) -> None:
        self._stop.set()
        try:
            self._ws.close()
        except Exception:
            pass
        self._thread.join(timeout=5)
