"""``GET dashboard`` / ``dashboard/<user>``: a learner's progress dashboard page (charts and
tables). What it holds and who may see it: :mod:`peerplatform.dashboard`."""

from __future__ import annotations

from tornado import web

from ..dashboard import allowed_user, charts, dashboard_data, plural
from ..store.ratings import CRITERIA
from .base import PageHandler


class DashboardPage(PageHandler):
    @web.authenticated
    async def get(self, user=None):
        user = await allowed_user(self, user)
        data = await dashboard_data(self.platform, user)
        own = user == self.username
        self.render_page(
            "dashboard.html",
            title="Dashboard",
            d=data,
            charts=charts(data),
            csv_base=self.settings["service_prefix"]
            + "api/dashboard"
            + ("" if own else "/" + user)
            + "/csv",
            own=own,
            criteria=CRITERIA,
            plural=plural,
        )


USER = r"([^/]{1,128})"


def default_handlers(prefix: str):
    return [
        (prefix + r"dashboard", DashboardPage),
        (prefix + r"dashboard/" + USER, DashboardPage),
    ]
