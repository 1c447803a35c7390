"""``<prefix>lab-bridge``: the service's XSRF token, for pages elsewhere on the same origin.

Browsers send ``Sec-Fetch-Mode: cors`` with every ``fetch``, and JupyterHub then accepts the
service's login cookie only together with the service's XSRF token. A page outside the
service (the pair server's JupyterLab, which posts the end-of-session rating) cannot read that
token: its cookie is scoped to the service's path, and ``api/me`` itself needs the token.
A navigation needs none, so the JupyterLab extension loads this page in a hidden same-origin
iframe and reads ``data-xsrf`` from it. The page runs no script and may only be framed by
the same origin.
"""

from __future__ import annotations

from html import escape

from tornado import web

from .base import BaseHandler


class LabBridgeHandler(BaseHandler):
    @web.authenticated
    def get(self):
        token = self.xsrf_token.decode("ascii")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'self'")
        self.finish(
            '<!doctype html><html lang="en"><head><meta charset="utf-8">'
            "<title>peerplatform</title></head>"
            f'<body data-xsrf="{escape(token)}" data-user="{escape(self.username)}"></body></html>'
        )


def default_handlers(prefix: str):
    return [(prefix + r"lab-bridge", LabBridgeHandler)]
