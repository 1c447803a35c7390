"""A learner's dashboard as data: ``GET api/dashboard[/<user>]`` (JSON) and
``GET api/dashboard[/<user>]/csv?part=sessions|tags|ratings`` (CSV download). What it holds and
who may see it: :mod:`peerplatform.dashboard`."""

from __future__ import annotations

import csv
import io

from tornado import web

from ..dashboard import PARTS, allowed_user, csv_safe, dashboard_data
from ..handlers.base import BaseHandler
from .base import APIHandler


class DashboardAPIHandler(APIHandler):
    @web.authenticated
    async def get(self, user=None):
        user = await allowed_user(self, user)
        self.write_json(await dashboard_data(self.platform, user))


class DashboardCSVHandler(BaseHandler):
    @web.authenticated
    async def get(self, user=None):
        user = await allowed_user(self, user)
        part = self.get_argument("part", "sessions")
        if part not in PARTS:
            raise web.HTTPError(400, f"part must be one of {', '.join(PARTS)}")
        rows = (await dashboard_data(self.platform, user))[part]
        out = io.StringIO()
        if rows:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]))
            writer.writeheader()
            for row in rows:
                writer.writerow({k: csv_safe(v) for k, v in row.items()})
        self.set_header("Content-Type", "text/csv; charset=utf-8")
        self.set_header("Content-Disposition", f'attachment; filename="{user}-{part}.csv"')
        self.set_header("Cache-Control", "no-store")
        self.finish(out.getvalue())


USER = r"([^/]{1,128})"


def default_handlers(prefix: str):
    # api/dashboard/csv before api/dashboard/<user>: "csv" is also a valid user name pattern
    return [
        (prefix + r"api/dashboard", DashboardAPIHandler),
        (prefix + r"api/dashboard/csv", DashboardCSVHandler),
        (prefix + r"api/dashboard/" + USER + r"/csv", DashboardCSVHandler),
        (prefix + r"api/dashboard/" + USER, DashboardAPIHandler),
    ]
