"""The pair server's client of the platform service's pair API
(``peerplatform_contracts.pair_api``).

The pair server is an untrusted client: its only credential is its own Hub API token
(``$JUPYTERHUB_API_TOKEN``), which the service accepts for this server's session only. One
method per endpoint; answers are parsed JSON, the pair view's datetimes as aware datetimes.

Faults are of two kinds, told apart by type:

* :class:`PlatformUnavailable` - the service could not be reached or answered 5xx/429, after
  the retries (with backoff) allowed for the call: worth trying again later;
* :class:`PlatformRefused` - a 4xx answer (``status``, the service's ``message``): retrying
  the same request would get the same answer. 401/403 on our own session means the
  credential was revoked or the session is over.
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime, timezone
from urllib.parse import urlencode

from peerplatform_contracts.pair_api import DATETIME_FIELDS, MAX_WAIT_S, PAIR_API_PATH
from tornado.httpclient import AsyncHTTPClient, HTTPClientError, HTTPRequest
from tornado.iostream import StreamClosedError

#: Statuses worth retrying: the service is busy (429) or a replica failed (5xx).
TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})


class PlatformError(Exception):
    """A request to the platform service failed; ``status`` is its HTTP status, if any."""

    def __init__(self, status: int | None, message: str):
        super().__init__(f"{status or 'no answer'}: {message}")
        self.status = status
        self.message = message


class PlatformUnavailable(PlatformError):
    """The service is unreachable or failing (connection error, timeout, 5xx, 429)."""


class PlatformRefused(PlatformError):
    """The service refused the request (4xx): the same request would be refused again."""

    @property
    def revoked(self) -> bool:
        """Our credential is no longer good for this session (it ended or was revoked)."""
        return self.status in (401, 403)


def parse_datetime(value):
    """An ISO 8601 string as an aware UTC datetime (a naive one is read as UTC)."""
    if not isinstance(value, str):
        return value
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def parse_view(view: dict | None) -> dict | None:
    """The pair view with its datetimes (top level, ``swap_request.at``, ``last_tests.at``)
    parsed, as the rest of the extension expects them."""
    if not isinstance(view, dict):
        return None
    out = dict(view)
    for key in DATETIME_FIELDS:
        if out.get(key) is not None:
            out[key] = parse_datetime(out[key])
    for key in ("swap_request", "last_tests"):
        if isinstance(out.get(key), dict) and out[key].get("at") is not None:
            out[key] = {**out[key], "at": parse_datetime(out[key]["at"])}
    return out


def pair_api_base(api_url: str, session_id: str) -> str:
    """``<service>/api/pair/<session id>/`` from the service's URL (with its prefix) or from
    the pair API's own URL (ending in ``api/pair/``): either spelling works."""
    base = api_url.rstrip("/") + "/"
    prefix = PAIR_API_PATH.split("{", 1)[0]  # "api/pair/"
    if base.endswith("/" + prefix):
        return base + PAIR_API_PATH[len(prefix):].format(session=session_id)
    return base + PAIR_API_PATH.format(session=session_id)


class PlatformClient:
    """One pair server's client of ``<service>/api/pair/<session_id>/``.

    ``api_url`` is the service's URL with its prefix
    (``http://127.0.0.1:8081/services/peerplatform/``) or the pair API's
    (``.../services/peerplatform/api/pair/``); ``token`` the server's own Hub API token.
    """

    def __init__(self, *, api_url: str, token: str, session_id: str, timeout_s: float = 30.0,
                 connect_timeout_s: float = 5.0, attempts: int = 4, backoff_s: float = 0.25,
                 max_backoff_s: float = 5.0, log=None):
        if not api_url or not session_id:
            raise ValueError("the platform client needs the service URL and the session id")
        self.base = pair_api_base(api_url, session_id)
        self.session_id = session_id
        self._token = token
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.attempts = max(1, attempts)
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.log = log
        self._http: AsyncHTTPClient | None = None

    def __repr__(self) -> str:  # never show the token
        return f"<PlatformClient {self.base}>"

    @property
    def http(self) -> AsyncHTTPClient:
        # our own instance (not the loop's shared one), created in the server's event loop
        if self._http is None:
            self._http = AsyncHTTPClient(force_instance=True, max_clients=32)
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- the endpoints ----------------------------------------------------------------------

    async def state(self, since: int | None = None, wait: float = 0.0,
                    attempts: int | None = None) -> tuple[int, dict]:
        """``GET state``: ``(rev, pair view)``; a long poll when ``since`` is given."""
        query = {}
        if since is not None:
            query = {"since": str(since), "wait": f"{min(max(wait, 0.0), MAX_WAIT_S):g}"}
        data = await self.request("GET", "state", query=query, attempts=attempts,
                                  timeout_s=self.timeout_s + (wait if since is not None else 0))
        rev, view = data.get("rev"), parse_view(data.get("session"))
        if not isinstance(rev, int) or view is None:
            raise PlatformUnavailable(None, "the service sent a malformed session state")
        return rev, view

    async def challenge(self) -> dict | None:
        """``GET challenge``: the public view of the session's challenge (or None)."""
        return (await self.request("GET", "challenge")).get("challenge")

    async def change_challenge(self, by: str, difficulty: str | None = None) -> dict:
        """``POST challenge``: the driver draws another challenge; its public view."""
        body = {"by": by, **({"difficulty": difficulty} if difficulty else {})}
        # not retried on a lost answer: a second draw would skip the first one's challenge
        return (await self.request("POST", "challenge", body, attempts=1)).get("challenge")

    async def run_tests(self, by: str, cells: list[dict]) -> dict:
        """``POST tests``: the grader's result on the driver's cells."""
        return (await self.request("POST", "tests", {"by": by, "cells": cells},
                                   timeout_s=max(self.timeout_s, 180.0))).get("result")

    async def swap(self, by: str, action: str) -> dict:
        """``POST swap``: ``{"swap_request", "driver"}`` after the action."""
        return await self.request("POST", "swap", {"by": by, "action": action}, attempts=1)

    async def snapshots(self, snapshots: list[dict], attempts: int | None = None) -> dict:
        """``POST snapshots`` (idempotent on ``seq``): ``{"stored", "duplicates"}``."""
        return await self.request("POST", "snapshots", {"snapshots": snapshots},
                                  attempts=attempts, timeout_s=max(self.timeout_s, 60.0))

    async def events(self, events: list[dict], attempts: int | None = None) -> dict:
        """``POST events`` (idempotent on ``id``): ``{"stored"}``."""
        return await self.request("POST", "events", {"events": events}, attempts=attempts)

    # -- transport --------------------------------------------------------------------------

    async def request(self, method: str, endpoint: str, body: dict | None = None, *,
                      query: dict | None = None, attempts: int | None = None,
                      timeout_s: float | None = None) -> dict:
        """One call, retried on transient failures; the answer's JSON object."""
        url = self.base + endpoint + (f"?{urlencode(query)}" if query else "")
        payload = None if body is None else json.dumps(body, default=str)
        tries = self.attempts if attempts is None else max(1, attempts)
        last: PlatformUnavailable | None = None
        for attempt in range(tries):
            if attempt:
                await asyncio.sleep(self._delay(attempt, last))
            try:
                return await self._once(method, url, payload, timeout_s or self.timeout_s)
            except PlatformUnavailable as e:
                last = e
                if self.log:
                    self.log.debug("peerplatform: %s %s failed (%s); attempt %d of %d",
                                   method, endpoint, e, attempt + 1, tries)
        raise last

    def _delay(self, attempt: int, error: PlatformUnavailable | None) -> float:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            return min(retry_after, self.max_backoff_s)
        delay = min(self.backoff_s * 2 ** (attempt - 1), self.max_backoff_s)
        return delay * random.uniform(0.5, 1.0)  # spread the retries of many servers

    async def _once(self, method: str, url: str, payload: str | None, timeout_s: float) -> dict:
        headers = {"Authorization": f"token {self._token}", "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        request = HTTPRequest(url, method=method, headers=headers, body=payload,
                              request_timeout=timeout_s, connect_timeout=self.connect_timeout_s,
                              follow_redirects=False)
        try:
            response = await self.http.fetch(request, raise_error=False)
        except (OSError, StreamClosedError, HTTPClientError, asyncio.TimeoutError) as e:
            raise PlatformUnavailable(None, f"the platform service is unreachable: {e}") from None
        text = response.body.decode("utf-8", "replace") if response.body else ""
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = None
        if response.code < 300:
            if not isinstance(data, dict):
                raise PlatformUnavailable(response.code, "the service's answer is not JSON")
            return data
        message = (data.get("message") if isinstance(data, dict) else None) \
            or response.reason or f"HTTP {response.code}"
        if response.code in TRANSIENT_STATUSES or response.code >= 500:
            error = PlatformUnavailable(response.code, str(message))
            error.retry_after = _retry_after(response.headers.get("Retry-After"))
            raise error
        raise PlatformRefused(response.code, str(message))


def _retry_after(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value else None
    except ValueError:
        return None
