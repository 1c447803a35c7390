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
``pp:lb:updates``; open leaderboard pages receive it as a server-sent event.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..store.ratings import CRITERIA
from . import keys

APPLY_LUA = (Path(__file__).parent / "apply.lua").read_text()


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

    # -- writes ----------------------------------------------------------------------------

    async def apply(self, ratee: str, cohort: str | None, *, dn: int, deltas: dict) -> dict:
        """Add one rating (``dn=1``, deltas = its scores) or an edit (``dn=0``, deltas = the
        differences) to ``ratee``'s entries; publishes and returns the change."""
        cohort = cohort or ""
        s = self.scoring
        ks = [
            keys.stats(ratee),
            *(keys.board(b) for b in keys.BOARDS),
            *(keys.cohort_board(cohort, b) for b in keys.BOARDS),
            keys.cohort_stats(cohort),
            keys.COHORTS,
        ]
        out = await self._apply(
            keys=ks,
            args=[
                ratee,
                cohort,
                dn,
                *(int(deltas.get(c, 0)) for c in CRITERIA),
                s.prior_mean,
                s.prior_weight,
                s.cohort_min_ratings,
                s.cohort_prior_weight,
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

    async def rating_changed(self, before: dict | None, after: dict, cohort: str | None) -> dict:
        if before is None:
            return await self.apply(after["ratee"], cohort, dn=1, deltas=after["scores"])
        deltas = {c: after["scores"][c] - before["scores"][c] for c in CRITERIA}
        return await self.apply(after["ratee"], cohort, dn=0, deltas=deltas)

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
        documents) and ``memberships`` (``{user: cohort}``) give. Returns counts."""
        sums: dict[str, list] = {}
        count = 0
        async for doc in ratings:
            entry = sums.setdefault(doc["ratee"], [0, 0, 0, 0])
            entry[0] += 1
            for i, c in enumerate(CRITERIA):
                entry[1 + i] += doc["scores"][c]
            count += 1
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
        old = [k async for k in self.redis.scan_iter(match=keys.PATTERN, count=1000)]
        pipe = self.redis.pipeline(transaction=True)
        for i in range(0, len(old), 1000):
            pipe.unlink(*old[i : i + 1000])
        for key, members in boards.items():
            items = list(members.items())
            for i in range(0, len(items), 5000):
                pipe.zadd(key, dict(items[i : i + 5000]))
        for user, fields in stats.items():
            pipe.hset(keys.stats(user), mapping=fields)
        for cohort, values in cohort_scores.items():
            pipe.hset(keys.cohort_stats(cohort), mapping={"n": len(values), "sum": sum(values)})
            pipe.zadd(
                keys.COHORTS,
                {
                    cohort: (s.cohort_prior_weight * s.prior_mean + sum(values))
                    / (s.cohort_prior_weight + len(values))
                },
            )
        pipe.set(keys.BUILT, str(time.time()))
        await pipe.execute()
        await self.redis.publish(keys.UPDATES, json.dumps({"type": "rebuilt", "at": time.time()}))
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
