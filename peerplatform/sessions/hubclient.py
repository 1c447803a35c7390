"""The JupyterHub REST calls the platform makes, with the service's own token."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import quote

from tornado.httpclient import AsyncHTTPClient, HTTPRequest


class HubAPIError(Exception):
    def __init__(self, status: int, message: str, method: str = "", path: str = ""):
        super().__init__(f"{method} {path} -> {status}: {message}")
        self.status = status
        self.message = message


def _q(name: str) -> str:
    return quote(name, safe="")


class HubClient:
    """Calls ``$JUPYTERHUB_API_URL`` (e.g. ``http://127.0.0.1:8081/hub/api``).

    Scopes the service role needs: ``admin:users`` (creates the pair owner), ``servers``,
    ``shares``, ``read:users``.
    """

    def __init__(self, api_url: str, token: str, request_timeout: float = 30):
        if not api_url or not token:
            raise ValueError("HubClient needs the Hub API URL and a token")
        self.api_url = api_url.rstrip("/")
        self.token = token
        self.request_timeout = request_timeout
        self.http = AsyncHTTPClient()

    def _request(self, method: str, path: str, body=None, **kwargs) -> HTTPRequest:
        headers = {"Authorization": f"token {self.token}"}
        data = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(body)
        elif method in ("POST", "PUT", "PATCH"):
            data = ""
        return HTTPRequest(
            self.api_url + path, method=method, headers=headers, body=data,
            request_timeout=kwargs.pop("request_timeout", self.request_timeout),
            allow_nonstandard_methods=True, **kwargs,
        )

    async def request(self, method: str, path: str, body=None, ok=(200, 201, 202, 204)):
        resp = await self.http.fetch(self._request(method, path, body), raise_error=False)
        if resp.code not in ok:
            message = resp.reason or ""
            try:
                message = json.loads(resp.body or b"{}").get("message", message)
            except ValueError:
                pass
            if resp.code == 599:
                message = str(resp.error)
            raise HubAPIError(resp.code, message, method, path)
        if resp.body:
            return json.loads(resp.body)
        return None

    async def ensure_user(self, name: str) -> None:
        try:
            await self.request("GET", f"/users/{_q(name)}")
        except HubAPIError as e:
            if e.status != 404:
                raise
            await self.request("POST", f"/users/{_q(name)}", ok=(201, 409))

    async def start_server(self, owner: str, name: str, user_options: dict) -> None:
        await self.request(
            "POST", f"/users/{_q(owner)}/servers/{_q(name)}", {"user_options": user_options},
            ok=(201, 202),
        )

    async def share(self, owner: str, name: str, user: str) -> dict:
        return await self.request("POST", f"/shares/{_q(owner)}/{_q(name)}", {"user": user})

    async def remove_server(self, owner: str, name: str) -> None:
        """Stop the server and delete it with its shares (404 = already gone)."""
        await self.request(
            "DELETE", f"/users/{_q(owner)}/servers/{_q(name)}", {"remove": True},
            ok=(202, 204, 404),
        )

    async def server(self, owner: str, name: str) -> dict | None:
        try:
            return await self.request("GET", f"/users/{_q(owner)}/servers/{_q(name)}")
        except HubAPIError as e:
            if e.status == 404:
                return None
            raise

    async def progress(self, owner: str, name: str, timeout: float):
        """Yield the Hub's spawn progress events (dicts) until the stream ends.

        The last event has ``ready: true`` (with ``url``) or ``failed: true`` (with ``message``).
        """
        chunks: asyncio.Queue[bytes] = asyncio.Queue()
        request = self._request(
            "GET", f"/users/{_q(owner)}/servers/{_q(name)}/progress",
            streaming_callback=chunks.put_nowait, request_timeout=timeout,
        )
        request.headers["Accept"] = "text/event-stream"
        fetch = asyncio.ensure_future(self.http.fetch(request, raise_error=False))
        buffer = b""
        try:
            while True:
                getter = asyncio.ensure_future(chunks.get())
                done, _ = await asyncio.wait({getter, fetch}, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    buffer += getter.result()
                else:
                    getter.cancel()
                    while not chunks.empty():
                        buffer += chunks.get_nowait()
                while b"\n\n" in buffer:
                    block, buffer = buffer.split(b"\n\n", 1)
                    for line in block.splitlines():
                        if line.startswith(b"data:"):
                            yield json.loads(line[5:].strip())
                if fetch.done() and getter not in done:
                    resp = fetch.result()
                    if resp.code != 200:
                        raise HubAPIError(resp.code, resp.reason or str(resp.error), "GET", "progress")
                    return
        finally:
            if not fetch.done():
                fetch.cancel()
