"""``GET api/events``: the caller's lobby events as server-sent events."""

from __future__ import annotations

import json
import time

from tornado import web
from tornado.iostream import StreamClosedError

from .base import APIHandler


class EventsHandler(APIHandler):
    """Server-sent events for the caller's lobby: matched, progress, ready, failed, ended."""

    keepalive = 15.0

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Content-Type", "text/event-stream")
        self.set_header("X-Accel-Buffering", "no")

    def subscription(self):
        """The event source this stream relays (subclasses relay other channels)."""
        return self.platform.events.subscribe(self.username)

    @web.authenticated
    async def get(self):
        last_keepalive = time.monotonic()
        async with self.subscription() as sub:
            await self._send({"type": "hello", "user": self.username})
            while not self.request.connection.stream.closed():
                event = await sub.next_event(timeout=1.0)
                try:
                    if event is not None:
                        await self._send(event)
                    elif time.monotonic() - last_keepalive > self.keepalive:
                        self.write(": keepalive\n\n")
                        await self.flush()
                        last_keepalive = time.monotonic()
                except StreamClosedError:
                    break

    async def _send(self, event: dict) -> None:
        self.write(f"data: {json.dumps(event, default=str)}\n\n")
        await self.flush()

    def on_connection_close(self):
        # the loop above notices the closed stream within a second
        pass


def default_handlers(prefix: str):
    return [(prefix + r"api/events", EventsHandler)]
