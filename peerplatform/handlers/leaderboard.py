"""``GET leaderboard``: the leaderboards page (its data and live updates are in
:mod:`peerplatform.apihandlers.leaderboard`)."""

from __future__ import annotations

from tornado import web

from ..apihandlers.leaderboard import board_args
from ..leaderboard import keys
from .base import PageHandler


class LeaderboardPage(PageHandler):
    @web.authenticated
    async def get(self):
        board, cohort, _ = board_args(self)
        lb = self.platform.leaderboard
        cohorts = [c["_id"] for c in await self.platform.store.cohorts.all()]
        self.render_page(
            "leaderboard.html",
            title="Leaderboards",
            board=board,
            cohort=cohort,
            boards=keys.BOARDS,
            cohorts=cohorts,
            rows=await lb.top(board, cohort),
            cohort_rows=await lb.cohorts(),
            scoring=lb.scoring,
        )


def default_handlers(prefix: str):
    return [(prefix + r"leaderboard", LeaderboardPage)]
