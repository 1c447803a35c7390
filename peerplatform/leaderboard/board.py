"""Live leaderboards of peer ratings, in Redis sorted sets rebuilt from MongoDB at will.

**Scores.** A learner's score on a criterion is a *Bayesian average* of the peer ratings they
received: ``(C·m + Σ ratings) / (C + n)``, with prior mean ``m`` and prior weight ``C``
(``c.PeerPlatform.leaderboard_prior_mean`` = 3.0, ``leaderboard_prior_weight`` = 5). A single
5/5 rating scores (5·3 + 5)/6 = 3.33, below someone rated 4/5 twenty times (3.88): a small
sample cannot top the board, and the number of ratings is shown next to every score.
*Overall* is the same average over the mean of the three criteria.

**Ties** (equal scores) share a rank, shown as ``=2``; within a tie, rows are ordered by name.

**Cohort totals.** A cohort's score is the mean of its qualifying members' overall scores,
shrunk the same way toward ``m`` with weight ``leaderboard_cohort_prior_weight`` (3):
``(C_c·m + Σ member scores) / (C_c + k)``. A member qualifies with at least
``leaderboard_cohort_min_ratings`` (3) ratings received, so a cohort of one, or of learners
rated once, cannot top the cohort board.

Every change is applied by one Lua script (atomic across service replicas) and published on
``pp:lb:updates``; open leaderboard pages receive it as a server-sent event. A change counts
once: the board remembers the version of each rating it counted, so applying one twice (or
an older edit after a newer one) changes nothing.

**Rebuilds** never lose a live change: the rebuild holds a lock while it reads MongoDB and
writes its keys aside; changes made meanwhile are applied as usual and journaled too. One
script then swaps the rebuilt keys in and replays the journal onto them.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..store.ratings import CRITERIA
from . import keys

_LUA = Path(__file__).parent
RATING_LUA = (_LUA / "rating.lua").read_text()
APPLY_LUA = RATING_LUA + "\n" + (_LUA / "apply.lua").read_text()
SWAP_LUA = RATING_LUA + "\n" + (_LUA / "swap.lua").read_text()
# take the lock and start an empty journal, in one step (a change journaled before it was
# emptied would be lost)
LOCK_LUA = """
if redis.call("SET", KEYS[1], ARGV[1], "NX", "PX", ARGV[2]) then
  redis.call("DEL", KEYS[2])
  return 1
end
return 0
"""
REFRESH_LUA = """
if redis.call("GET", KEYS[1]) ~= ARGV[1] then return 0 end
redis.call("PEXPIRE", KEYS[1], ARGV[2])
redis.call("PEXPIRE", KEYS[2], ARGV[2])
return 1
"""
RELEASE_LUA = """
if redis.call("GET", KEYS[1]) == ARGV[1] then redis.call("DEL", KEYS[1], KEYS[2]) end
return 0
"""
#: How long a rebuild's lock lives without a refresh (it refreshes every 1000 ratings): past
#: it, a dead rebuild no longer holds live changes in its journal.
REBUILD_LOCK_MS = 60_000


#: How long after its edit window the board remembers what it counted of a rating: a change
#: arriving late (a slow request, one racing a rebuild) comes well within it.
RATED_MARGIN_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_MS = timedelta(milliseconds=1)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=timezone.utc)


def rating_version(doc: dict) -> int:
    """A rating's ``updated_at`` in whole ms (what MongoDB keeps of it): newer edits, higher."""
    return (_aware(doc["updated_at"]) - _EPOCH) // _MS


def marker_ttl_ms(doc: dict) -> int:
    """How long to remember what was counted of ``doc``; 0 once that is no longer needed."""
    left = (_aware(doc["editable_until"]) - datetime.now(timezone.utc)) // _MS + RATED_MARGIN_MS
    return max(left, 0)


@dataclass
class Scoring:
    prior_mean: float = 3.0
    prior_weight: float = 5.0
    cohort_min_ratings: int = 3
    cohort_prior_weight: float = 3.0

    @classmethod
    def from_settings(cls, settings) -> Scoring:
        return cls(
            settings.leaderboard_prior_mean,
            settings.leaderboard_prior_weight,
            settings.leaderboard_cohort_min_ratings,
            settings.leaderboard_cohort_prior_weight,
        )

    def bayes(self, total: float, n: int) -> float:
        return (self.prior_weight * self.prior_mean + total) / (self.prior_weight + n)

    def describe(self) -> dict:
        return {
            "method": "bayesian-average",
            "prior_mean": self.prior_mean,
            "prior_weight": self.prior_weight,
            "cohort_min_ratings": self.cohort_min_ratings,
            "cohort_prior_weight": self.cohort_prior_weight,
        }


def _ranked(pairs, extra: dict, offset: int = 0, above: int = 0) -> list[dict]:
    """Rows with competition ranks (1, 2, 2, 4); ``above`` = entries scoring higher than
    the first row (for pages past the first)."""
    rows, rank, last = [], 0, None
    for i, (member, score) in enumerate(pairs):
        rounded = round(float(score), 9)
        if rounded != last:
            rank = (above + 1) if i == 0 else offset + i + 1
            last = rounded
        rows.append(
            {"rank": rank, "user": member, "score": round(float(score), 3), **extra.get(member, {})}
        )
    for row in rows:  # visible ties
        row["tied"] = sum(1 for r in rows if r["rank"] == row["rank"]) > 1
    return rows


class Leaderboard:
    def __init__(self, redis, scoring: Scoring | None = None):
        self.redis = redis
        self.scoring = scoring or Scoring()
        self._apply = redis.register_script(APPLY_LUA)
        self._swap = redis.register_script(SWAP_LUA)
        self._lock = redis.register_script(LOCK_LUA)
        self._refresh = redis.register_script(REFRESH_LUA)
        self._release = redis.register_script(RELEASE_LUA)

    # -- writes ----------------------------------------------------------------------------

    async def apply(self, rating: dict, cohort: str | None) -> dict:
        """Count ``rating`` (a rating document as stored, new or edited) on its ratee's
        entries, in ``cohort``; publishes and returns the change."""
        ratee = rating["ratee"]
        cohort = cohort or ""
        s = self.scoring
        ks = [
            keys.stats(ratee),
            *(keys.board(b) for b in keys.BOARDS),
            *(keys.cohort_board(cohort, b) for b in keys.BOARDS),
            keys.cohort_stats(cohort),
            keys.COHORTS,
            keys.rated(rating["_id"]),
            keys.REBUILD_LOCK,
            keys.REBUILD_JOURNAL,
        ]
        out = await self._apply(
            keys=ks,
            args=[
                ratee,
                cohort,
                rating["_id"],
                rating_version(rating),
                *(int(rating["scores"][c]) for c in CRITERIA),
                s.prior_mean,
                s.prior_weight,
                s.cohort_min_ratings,
                s.cohort_prior_weight,
                marker_ttl_ms(rating) or RATED_MARGIN_MS,
            ],
        )
        n, *scores, cohort_score, counted = out
        change = {
            "type": "leaderboard",
            "at": time.time(),
            "user": ratee,
            "cohort": cohort or None,
            "n": int(n),
            "scores": {b: round(float(v), 3) for b, v in zip(keys.BOARDS, scores, strict=True)},
            "cohort_score": round(float(cohort_score), 3) if cohort_score else None,
            "cohort_counted": int(counted),
        }
        await self.redis.publish(keys.UPDATES, json.dumps(change))
        return change

    async def move(self, user: str, old: str | None, new: str | None) -> None:
        """Move ``user``'s entries from cohort ``old`` to ``new`` (either may be None) and
        recompute both cohorts' totals. A rating landing during the move is still counted
        in the user's own entry; ``rebuild`` settles anything else."""
        stats = await self.redis.hgetall(keys.stats(user))
        if not stats or (old or "") == (new or ""):
            return
        s = self.scoring
        n = int(stats["n"])
        crit = [float(stats[f"s:{c}"]) for c in CRITERIA]
        values = [s.bayes(sum(crit) / 3, n), *(s.bayes(v, n) for v in crit)]
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(keys.stats(user), "cohort", new or "")
        for b, v in zip(keys.BOARDS, values, strict=True):
            if old:
                pipe.zrem(keys.cohort_board(old, b), user)
            if new:
                pipe.zadd(keys.cohort_board(new, b), {user: v})
        if n >= s.cohort_min_ratings:
            for cohort, sign in ((old, -1), (new, 1)):
                if cohort:
                    pipe.hincrbyfloat(keys.cohort_stats(cohort), "sum", sign * values[0])
                    pipe.hincrby(keys.cohort_stats(cohort), "n", sign)
        await pipe.execute()
        for cohort in (old, new):
            if not cohort:
                continue
            cstats = await self.redis.hgetall(keys.cohort_stats(cohort))
            cn = int(cstats.get("n", 0))
            if cn > 0:
                score = (s.cohort_prior_weight * s.prior_mean + float(cstats["sum"])) / (
                    s.cohort_prior_weight + cn
                )
                await self.redis.zadd(keys.COHORTS, {cohort: score})
            else:
                await self.redis.zrem(keys.COHORTS, cohort)
        await self.redis.publish(keys.UPDATES, json.dumps({"type": "rebuilt", "at": time.time()}))

    async def rebuild(self, ratings, memberships: dict[str, str]) -> dict:
        """Replace every leaderboard key with what ``ratings`` (an async iterable of rating
        documents) and ``memberships`` (``{user: cohort}``) give. Returns counts.

        Ratings given or edited while it runs are kept (see the module docstring); two
        rebuilds run one after the other.
        """
        token = secrets.token_hex(8)
        lock = [keys.REBUILD_LOCK, keys.REBUILD_JOURNAL]
        while not await self._lock(keys=lock, args=[token, REBUILD_LOCK_MS]):
            await asyncio.sleep(0.05)
        tmp = keys.rebuild_prefix(token)
        written: list[str] = []
        try:
            report = await self._build(ratings, memberships, token, tmp, written)
            old = [k async for k in self.redis.scan_iter(match=keys.PATTERN, count=1000)]
            await self._swap(
                keys=lock, args=[token, tmp, keys.PREFIX, keys.RATED, len(old), *old, *written]
            )
        except BaseException:
            if written:
                await self.redis.unlink(*written)
            await self._release(keys=lock, args=[token])
            raise
        await self.redis.publish(keys.UPDATES, json.dumps({"type": "rebuilt", "at": time.time()}))
        return report

    async def _keep_lock(self, token: str) -> None:
        if not await self._refresh(
            keys=[keys.REBUILD_LOCK, keys.REBUILD_JOURNAL], args=[token, REBUILD_LOCK_MS]
        ):
            raise RuntimeError("the leaderboard rebuild lost its lock (it stalled too long)")

    async def _build(self, ratings, memberships, token, tmp, written) -> dict:
        """Read ``ratings`` and write the boards they give under ``tmp`` (names in
        ``written``)."""
        sums: dict[str, list] = {}
        rated: dict[str, tuple[str, int]] = {}
        count = 0
        async for doc in ratings:
            entry = sums.setdefault(doc["ratee"], [0, 0, 0, 0])
            entry[0] += 1
            for i, c in enumerate(CRITERIA):
                entry[1 + i] += doc["scores"][c]
            ttl = marker_ttl_ms(doc) if "_id" in doc and "editable_until" in doc else 0
            if ttl:  # what a late change of this rating is checked against
                rated[doc["_id"]] = (
                    ":".join(
                        str(v)
                        for v in (rating_version(doc), *(doc["scores"][c] for c in CRITERIA))
                    ),
                    ttl,
                )
            count += 1
            if count % 1000 == 0:
                await self._keep_lock(token)
        s = self.scoring
        boards: dict[str, dict[str, float]] = {}
        cohort_scores: dict[str, list[float]] = {}
        stats = {}
        for user, (n, *crit) in sums.items():
            cohort = memberships.get(user, "")
            values = [s.bayes(sum(crit) / 3, n), *(s.bayes(v, n) for v in crit)]
            stats[user] = {
                "n": n,
                "cohort": cohort,
                **{f"s:{c}": v for c, v in zip(CRITERIA, crit, strict=True)},
            }
            for b, v in zip(keys.BOARDS, values, strict=True):
                boards.setdefault(keys.board(b), {})[user] = v
                if cohort:
                    boards.setdefault(keys.cohort_board(cohort, b), {})[user] = v
            if cohort and n >= s.cohort_min_ratings:
                cohort_scores.setdefault(cohort, []).append(values[0])
        await self._keep_lock(token)

        def aside(key: str) -> str:
            written.append(tmp + key[len(keys.PREFIX):])
            return written[-1]

        pipe = self.redis.pipeline(transaction=False)
        for key, members in boards.items():
            items, key = list(members.items()), aside(key)
            for i in range(0, len(items), 5000):
                pipe.zadd(key, dict(items[i : i + 5000]))
        for user, fields in stats.items():
            pipe.hset(aside(keys.stats(user)), mapping=fields)
        totals = {}
        for cohort, values in cohort_scores.items():
            pipe.hset(
                aside(keys.cohort_stats(cohort)), mapping={"n": len(values), "sum": sum(values)}
            )
            totals[cohort] = (s.cohort_prior_weight * s.prior_mean + sum(values)) / (
                s.cohort_prior_weight + len(values)
            )
        if totals:
            pipe.zadd(aside(keys.COHORTS), totals)
        pipe.set(aside(keys.BUILT), str(time.time()))
        for key in written:  # a rebuild that dies here leaves nothing behind for long
            pipe.pexpire(key, 10 * REBUILD_LOCK_MS)
        for rating_id, (value, ttl) in rated.items():
            pipe.set(aside(keys.rated(rating_id)), value, px=ttl)
        await pipe.execute()
        return {"ratings": count, "learners": len(sums), "cohorts": len(cohort_scores)}

    async def is_built(self) -> bool:
        return bool(await self.redis.exists(keys.BUILT))

    # -- reads -----------------------------------------------------------------------------

    async def top(
        self, board: str = "overall", cohort: str | None = None, limit: int = 100
    ) -> list[dict]:
        if board not in keys.BOARDS:
            raise ValueError(f"board must be one of {', '.join(keys.BOARDS)}")
        key = keys.cohort_board(cohort, board) if cohort else keys.board(board)
        pairs = await self.redis.zrevrange(key, 0, limit - 1, withscores=True)
        pipe = self.redis.pipeline(transaction=False)
        for member, _ in pairs:
            pipe.hget(keys.stats(member), "n")
        counts = await pipe.execute()
        extra = {m: {"n": int(c or 0)} for (m, _), c in zip(pairs, counts, strict=True)}
        return _ranked(pairs, extra)

    async def cohorts(self, limit: int = 100) -> list[dict]:
        pairs = await self.redis.zrevrange(keys.COHORTS, 0, limit - 1, withscores=True)
        pipe = self.redis.pipeline(transaction=False)
        for cohort, _ in pairs:
            pipe.hget(keys.cohort_stats(cohort), "n")
        counts = await pipe.execute()
        counted = {c: {"members_counted": int(n or 0)}
                   for (c, _), n in zip(pairs, counts, strict=True)}
        rows = _ranked(pairs, counted)
        for row in rows:
            row["cohort"] = row.pop("user")
        return rows

    async def entry(self, user: str) -> dict | None:
        stats = await self.redis.hgetall(keys.stats(user))
        if not stats:
            return None
        n = int(stats["n"])
        crit = [float(stats[f"s:{c}"]) for c in CRITERIA]
        s = self.scoring
        return {
            "user": user,
            "n": n,
            "cohort": stats.get("cohort") or None,
            "scores": {
                "overall": round(s.bayes(sum(crit) / 3, n), 3),
                **{c: round(s.bayes(v, n), 3) for c, v in zip(CRITERIA, crit, strict=True)},
            },
        }
