"""What the pair API tests share: the seeded challenges, a real pair API server in the
test's event loop (:class:`PairService`), :func:`make_api`. Fixtures are in ``conftest.py``.
"""

from __future__ import annotations

import sys
from datetime import timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from statictokens import StaticTokens  # noqa: E402

from peerplatform.events import EventBus  # noqa: E402
from peerplatform.pair.api import PairAPI  # noqa: E402
from peerplatform.pair.picking import summary  # noqa: E402
from peerplatform.settings import PeerPlatform  # noqa: E402
from peerplatform.store.sessions import utcnow  # noqa: E402

PREFIX = "/services/peerplatform/"
OWNER = "pp-pairs"
DRIVER, OBSERVER = "alice", "bob"
#: Planted in every hidden test and solution: must never reach a pair server.
MARKER = "HIDDEN-MARKER-7f3a"

CHALLENGES = [
    {
        "slug": f"{name}-{difficulty}",
        "title": f"{name.title()} ({difficulty})",
        "statement": f"Write `solve(x)` for the {name} problem.",
        "difficulty": difficulty,
        "tags": ["arrays", name],
        "track": "python",
        "starter_code": "def solve(x):\n    pass\n",
        "examples": [{"input": "solve(1)", "output": "1"}],
        "tests": {"cases": [
            # (a failed assertion's message is shown to learners, by design: a comment is not)
            {"name": "one", "code": f"# {MARKER}-test\nassert solve(1) == 1"},
            {"name": "word", "code": "assert solve('a') == 'a'"}]},
        "solution": f"def solve(x):\n    # {MARKER}-solution\n    return x\n",
        "time_limit_s": 10,
    }
    for name in ("echo", "mirror", "parrot")
    for difficulty in ("easy", "medium")
]
SOLVED = [{"cell_type": "code", "source": "def solve(x):\n    return x\n", "metadata": {}}]
WRONG = [{"cell_type": "code", "source": "def solve(x):\n    return 0\n", "metadata": {}}]


class PairService:
    """The API under test, and helpers to seed sessions and call it as their pair server."""

    def __init__(self, api: PairAPI, credentials: StaticTokens, url: str):
        self.api = api
        self.store = api.store
        self.credentials = credentials
        self.url = url
        self.api_url = url + "api/pair/"
        self._n = 0

    async def session(self, *, state="active", duration_s=600, ago_s=0.0,
                      challenge: str | None = "echo-easy", swap_schedule_s=None,
                      token: str | None = None) -> tuple[dict, httpx.AsyncClient]:
        """A seeded session (started ``ago_s`` seconds ago) and a client holding its token."""
        self._n += 1
        sid = f"sess{self._n:04d}" + "x" * 4
        picked = await self.store.challenges.get(challenge) if challenge else None
        doc = await self.store.sessions.create(
            session_id=sid, members=[DRIVER, OBSERVER], driver=DRIVER, observer=OBSERVER,
            server_owner=OWNER, duration_s=duration_s, preferences={"difficulty": "easy"},
            challenge=summary(picked) if picked else None, swap_schedule_s=swap_schedule_s)
        if picked:
            await self.store.challenges.record_seen(doc["members"], picked, sid)
        for step in ("spawning", "active", "ended"):
            if state == "pending":
                break
            doc = await self.store.sessions.transition(sid, step)
            if step == state:
                break
        if ago_s:
            await self.store.sessions.collection.update_one(
                {"_id": sid}, {"$set": {"started_at": utcnow() - timedelta(seconds=ago_s)}})
            doc = await self.store.sessions.get(sid)
        token = token or f"tok-{sid}"
        self.credentials.tokens = {**self.credentials.tokens, token: sid}
        return doc, self.client(sid, token)

    def client(self, sid: str, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"token {token}"} if token else {}
        return httpx.AsyncClient(base_url=f"{self.api_url}{sid}/", headers=headers,
                                 timeout=60)


def make_api(store, redis, **settings) -> tuple[PairAPI, StaticTokens]:
    config = dict(clock_interval=0.1, final_snapshot_wait=1.0, state_poll_interval=0.05,
                  grading_concurrency=2, grading_timeout=60.0, end_lease=30.0)
    config.update(settings)
    platform = PeerPlatform(**config)
    credentials = StaticTokens(store=store, owner=OWNER, cache_max_age=0.0)
    api = PairAPI(settings=platform, store=store, events=EventBus(redis),
                  credentials=credentials)
    return api, credentials
