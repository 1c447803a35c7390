"""Base of the JSON API: JSON in, JSON out, errors as ``{"status", "message"}``."""

from __future__ import annotations

import json

from tornado import web

from ..handlers.base import BaseHandler


class JSONReplies:
    """JSON answers and JSON errors ``{"status": code, "message": text}`` for a handler
    (the learners' API and the pair servers' API, which authenticate differently)."""

    def write_json(self, obj, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(obj, default=str))

    def write_error(self, status_code, **kwargs):
        message = self._reason
        exc_info = kwargs.get("exc_info")
        if exc_info:
            exc = exc_info[1]
            if isinstance(exc, web.HTTPError) and exc.log_message:
                message = exc.log_message % exc.args if exc.args else exc.log_message
            elif not isinstance(exc, web.HTTPError):
                message = "internal error"
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.finish(json.dumps({"status": status_code, "message": message}))


class APIHandler(JSONReplies, BaseHandler):
    """JSON in, JSON out; errors as ``{"status": code, "message": text}``."""

    def set_default_headers(self):
        super().set_default_headers()
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")

    def get_login_url(self):
        # An API call without a login answers 403 JSON instead of redirecting to the Hub.
        raise web.HTTPError(403, "not logged in")

    def get_json_body(self, *, required: bool = False) -> dict:
        """The request body as a JSON object: 413 past the size cap, 400 if not an object."""
        body = self.request.body or b""
        limit = self.platform.settings.max_body_bytes
        if len(body) > limit:
            raise web.HTTPError(413, f"request body is larger than {limit} bytes")
        if not body.strip():
            if required:
                raise web.HTTPError(400, "a JSON body is required")
            return {}
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type and content_type != "application/json":
            raise web.HTTPError(415, "the body must be application/json")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise web.HTTPError(400, f"the body is not valid JSON: {e}") from None
        if not isinstance(data, dict):
            raise web.HTTPError(400, "the body must be a JSON object")
        return data
