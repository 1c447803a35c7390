"""Leaderboards: the JSON API and its live updates (server-sent events); the page is
:mod:`peerplatform.handlers.leaderboard`.

``GET api/leaderboard?board=overall|communication|collaboration|problem_solving&cohort=<c>``
gives the top rows (``limit`` ≤ 500, default 100); ``GET api/leaderboard/cohorts`` the cohort
totals; ``GET api/leaderboard/events`` streams every change as it happens.
"""

from __future__ import annotations

from tornado import web

from ..leaderboard import keys
from ..store.cohorts import COHORT_RE
from .base import APIHandler
from .events import EventsHandler


def board_args(handler) -> tuple[str, str | None, int]:
    """``board``, ``cohort`` and ``limit`` of the query (the page takes the same ones)."""
    board = handler.get_argument("board", "overall")
    if board not in keys.BOARDS:
        raise web.HTTPError(400, f"board must be one of {', '.join(keys.BOARDS)}")
    cohort = handler.get_argument("cohort", "") or None
    if cohort is not None and not COHORT_RE.match(cohort):
        raise web.HTTPError(400, "cohort is not a valid cohort name")
    try:
        limit = int(handler.get_argument("limit", "100"))
    except ValueError:
        raise web.HTTPError(400, "limit must be a whole number") from None
    if not 1 <= limit <= 500:
        raise web.HTTPError(400, "limit must be between 1 and 500")
    return board, cohort, limit


class LeaderboardAPIHandler(APIHandler):
    @web.authenticated
    async def get(self):
        board, cohort, limit = board_args(self)
        lb = self.platform.leaderboard
        self.write_json(
            {
                "board": board,
                "cohort": cohort,
                "rows": await lb.top(board, cohort, limit),
                "scoring": lb.scoring.describe(),
            }
        )


class CohortBoardAPIHandler(APIHandler):
    @web.authenticated
    async def get(self):
        self.write_json(
            {
                "rows": await self.platform.leaderboard.cohorts(),
                "scoring": self.platform.leaderboard.scoring.describe(),
            }
        )


class LeaderboardEventsHandler(EventsHandler):
    def subscription(self):
        return self.platform.events.subscribe_channel(keys.UPDATES)


def default_handlers(prefix: str):
    return [
        (prefix + r"api/leaderboard", LeaderboardAPIHandler),
        (prefix + r"api/leaderboard/cohorts", CohortBoardAPIHandler),
        (prefix + r"api/leaderboard/events", LeaderboardEventsHandler),
    ]
