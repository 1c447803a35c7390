"""Challenges (``challenges`` + ``challenge_versions``) and who has seen which (:mod:`.attempts`).

CONTRACT shared with the pair server (keep these signatures):

* ``await upsert(challenge: dict) -> dict``            store/replace one challenge by slug
* ``await get(slug: str) -> dict | None``              the current version of a challenge
* ``await pick(*, difficulty=None, tags=None, track=None, exclude_users=()) -> dict | None``
      a random challenge none of ``exclude_users`` has seen (least recently seen when exhausted)
* ``await record_seen(users, challenge: dict, session_id: str) -> None``

A challenge document carries at least: ``slug``, ``title``, ``statement`` (markdown),
``difficulty`` (easy|medium|hard), ``tags`` (list), ``track``, ``starter_code``, ``examples``
(list), ``tests`` (hidden), ``solution`` (hidden, never sent to learners), ``time_limit_s``;
and, as stored: ``rating``, ``version`` (1, 2, ...), ``hash`` (sha256 of the content).
:func:`peerplatform_contracts.challenge_view.public_view` is what learners may see.

Also: ``apply(challenges)`` (the loader's all-or-nothing bulk write), ``get_version``,
``versions``, ``record_outcome``, ``history``, ``stats``.

**Versions.** The content hash decides: same hash, nothing is written; a new hash stores version
n+1 in ``challenge_versions`` (immutable, ``_id`` ``slug@n``) and makes it current. Attempts record
the version they showed, so history keeps pointing at it.
The skill learned from rated sessions (:data:`SKILL_FIELDS`, written by ``apply_skill`` on the
current document, where ``pick`` reads ``rating``) belongs to the slug, not to one version: a
new version keeps it, and ``challenge_versions`` keep the pack's content (and its ``rating``).

**Selection without ``$nin``.** Every challenge holds one *slot* per bucket it belongs to: the
buckets are ``track|difficulty`` with ``*`` wildcards (4 per challenge), and a slot is
``"<bucket>#<n>"`` with ``n`` dense in ``0..size-1`` (sizes in ``challenge_slots``; a challenge
that leaves a bucket leaves a hole). ``pick`` draws slot numbers uniformly, fetches those
challenges through the multikey ``slots`` index (a ``$in`` on an index: cheap), and takes the
first drawn one that passes the other filters and that neither user has seen - the seen sets are
one small document per user, checked in Python. That is rejection sampling, so the choice is
uniform over the eligible challenges. After a few rounds without success (a filter that few
challenges pass, or most seen) it reads the filter's candidates by index and chooses exactly:
uniformly among the unseen ones, else the least recently seen (by either user).
"""

from __future__ import annotations

import hashlib
import json
import random
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pymongo import ASCENDING, ReturnDocument

from peerplatform_contracts.difficulties import DIFFICULTIES
from peerplatform_contracts.ratings import DEFAULT_CHALLENGE_RATING

from .attempts import AttemptStore

#: Fields that make up a challenge's content (and so its hash and version).
CONTENT_FIELDS = ("slug", "title", "statement", "difficulty", "rating", "tags", "track",
                  "starter_code", "examples", "tests", "solution", "time_limit_s", "source",
                  "licence")
#: Fields kept internal to the store, never returned.
INTERNAL_FIELDS = ("_id", "slots", "load_id")
#: What :meth:`ChallengeStore.apply_skill` learns from sessions, on the current document only
#: (``rating`` is then no longer the pack's). A new version of the challenge keeps them: an
#: edited statement or test does not make the challenge new to the bank.
SKILL_FIELDS = ("rating", "rating_rd", "rating_vol", "rated_games", "rated_sessions")
#: Tries of one replace when sessions keep being rated under it (then: ConflictError).
SKILL_RETRIES = 5
#: Slot draws per round: small first (most picks succeed at once), then larger.
DRAW_BATCHES = (4, 16, 48)
WRITE_CHUNK = 500
#: Above this many challenges, apply() reads the current ones in one scan.
SCAN_ABOVE = 200


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def content_of(challenge: dict) -> dict:
    content = {k: challenge[k] for k in CONTENT_FIELDS if k in challenge}
    if content.get("rating") is None and content.get("difficulty") in DEFAULT_CHALLENGE_RATING:
        content["rating"] = DEFAULT_CHALLENGE_RATING[content["difficulty"]]
    return content


def content_hash(challenge: dict) -> str:
    """sha256 of the canonical JSON of the content fields (order of keys does not matter)."""
    canonical = json.dumps(content_of(challenge), sort_keys=True, separators=(",", ":"),
                           ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def learned_skill(doc: dict | None) -> dict:
    """The skill fields ``doc`` learned from rated sessions; {} when it was never rated (its
    ``rating`` is still the pack's, so a new version takes the new pack value)."""
    if not (doc or {}).get("rated_games"):
        return {}
    return {k: doc[k] for k in SKILL_FIELDS if k in doc}


def bucket_keys(track: str, difficulty: str) -> list[str]:
    return [f"{track}|{difficulty}", f"{track}|*", f"*|{difficulty}", "*|*"]


def _clean(doc: dict | None) -> dict | None:
    if doc is None:
        return None
    return {k: v for k, v in doc.items() if k not in INTERNAL_FIELDS}


class ConflictError(Exception):
    """A challenge changed under a running load (another loader); the load was rolled back."""


@dataclass
class ApplyReport:
    created: list = field(default_factory=list)
    updated: list = field(default_factory=list)      # [(slug, old_version, new_version)]
    unchanged: list = field(default_factory=list)

    def summary(self) -> str:
        return (f"{len(self.created)} new, {len(self.updated)} updated (new version), "
                f"{len(self.unchanged)} unchanged")


class ChallengeStore:
    def __init__(self, db, *, rng: random.Random | None = None):
        self.collection = db.get_collection("challenges")
        self.versions_collection = db.get_collection("challenge_versions")
        self.slot_counters = db.get_collection("challenge_slots")
        self.history = AttemptStore(db)
        self.attempts = self.history.attempts
        self.rng = rng or random.SystemRandom()

    async def ensure_indexes(self) -> None:
        c = self.collection
        # _id is the slug (unique); each extra index costs every bulk load, so: only these
        await c.create_index([("slots", ASCENDING)])                        # pick: draws
        await c.create_index([("track", ASCENDING), ("difficulty", ASCENDING),
                              ("rating", ASCENDING)])                       # pick: exact scan
        await c.create_index([("difficulty", ASCENDING), ("rating", ASCENDING)])
        await c.create_index([("tags", ASCENDING), ("difficulty", ASCENDING)])
        v = self.versions_collection
        await v.create_index([("slug", ASCENDING), ("version", ASCENDING)], unique=True)
        await self.history.ensure_indexes()

    # -- reading ---------------------------------------------------------------------------

    async def get(self, slug: str) -> dict | None:
        return _clean(await self.collection.find_one({"_id": slug}))

    async def get_version(self, slug: str, version: int) -> dict | None:
        return _clean(await self.versions_collection.find_one({"_id": f"{slug}@{version}"}))

    async def versions(self, slug: str) -> list[dict]:
        cursor = self.versions_collection.find(
            {"slug": slug}, {"_id": 0, "version": 1, "hash": 1, "created_at": 1}
        ).sort("version", ASCENDING)
        return await cursor.to_list(length=None)

    async def count(self) -> int:
        return await self.collection.count_documents({})

    async def stats(self) -> dict:
        """Counts by difficulty, track and tag (one pass over a small projection)."""
        out = {"total": 0, "difficulty": {}, "track": {}, "tags": {}}
        async for doc in self.collection.find({}, {"difficulty": 1, "track": 1, "tags": 1}):
            out["total"] += 1
            for key in ("difficulty", "track"):
                out[key][doc.get(key)] = out[key].get(doc.get(key), 0) + 1
            for tag in doc.get("tags") or ():
                out["tags"][tag] = out["tags"].get(tag, 0) + 1
        return out

    # -- writing ---------------------------------------------------------------------------

    async def upsert(self, challenge: dict) -> dict:
        """Store one challenge (validated by the caller); returns it as now stored."""
        await self.apply([challenge])
        return await self.get(challenge["slug"])

    async def apply(self, challenges: list[dict], *, progress=None) -> ApplyReport:
        """Store many challenges: new ones, new versions of changed ones, nothing for the
        unchanged. All or nothing: on any failure, what this call wrote is undone and the
        error re-raised. ``progress(n)`` is called as challenges are written."""
        report = ApplyReport()
        for challenge in challenges:
            missing = [k for k in ("slug", "track", "difficulty") if not challenge.get(k)]
            if missing or challenge["difficulty"] not in DIFFICULTIES:
                raise ValueError(f"challenge {challenge.get('slug')!r} needs slug, track and "
                                 f"difficulty (easy|medium|hard); missing/invalid: {missing}")
        slugs = [c["slug"] for c in challenges]
        if len(set(slugs)) != len(slugs):
            raise ValueError("the same slug appears twice in one load")
        current = {}
        projection = {"version": 1, "hash": 1, "track": 1, "difficulty": 1, "slots": 1,
                      **{k: 1 for k in SKILL_FIELDS}}
        if len(slugs) > SCAN_ABOVE:
            # a bulk load: one pass over a small projection beats many large $in lookups
            wanted = set(slugs)
            async for doc in self.collection.find({}, projection):
                if doc["_id"] in wanted:
                    current[doc["_id"]] = doc
        else:
            cursor = self.collection.find({"_id": {"$in": slugs}}, projection)
            async for doc in cursor:
                current[doc["_id"]] = doc
        now = utcnow()
        load_id = secrets.token_hex(8)
        new_docs, changed = [], []
        for challenge in challenges:
            content = content_of(challenge)
            digest = content_hash(content)
            old = current.get(content["slug"])
            if old is not None and old.get("hash") == digest:
                report.unchanged.append(content["slug"])
                if progress:
                    progress(1)
                continue
            version = (old or {}).get("version", 0) + 1
            doc = {"_id": content["slug"], **content, "version": version, "hash": digest,
                   "schema_version": 1, "updated_at": now, "load_id": load_id}
            if old is None:
                doc["created_at"] = now
                new_docs.append(doc)
            else:
                changed.append((old, doc))
        await self._assign_slots(new_docs, changed)
        try:
            await self._write(new_docs, changed, load_id, progress)
        except BaseException:
            await self._rollback(new_docs, changed, load_id)
            raise
        report.created = [d["_id"] for d in new_docs]
        report.updated = [(d["_id"], old["version"], d["version"]) for old, d in changed]
        return report

    async def _assign_slots(self, new_docs, changed) -> None:
        """Give each doc a slot in each of its buckets, reserving ranges with one ``$inc``
        per bucket (concurrent loaders get disjoint ranges)."""
        wanted: dict[str, list] = {}
        for old, doc in [(None, d) for d in new_docs] + list(changed):
            kept = {s.rsplit("#", 1)[0]: s for s in (old or {}).get("slots") or ()}
            doc["slots"] = []
            for key in bucket_keys(doc["track"], doc["difficulty"]):
                if key in kept:
                    doc["slots"].append(kept[key])
                else:
                    wanted.setdefault(key, []).append(doc)
        for key, docs in wanted.items():
            counter = await self.slot_counters.find_one_and_update(
                {"_id": key}, {"$inc": {"next": len(docs)}}, upsert=True,
                return_document=ReturnDocument.AFTER)
            start = counter["next"] - len(docs)
            for offset, doc in enumerate(docs):
                doc["slots"].append(f"{key}#{start + offset}")

    async def _write(self, new_docs, changed, load_id, progress) -> None:
        versions = [self._version_doc(d) for d in new_docs] + \
                   [self._version_doc(d) for _, d in changed]
        for i in range(0, len(versions), WRITE_CHUNK):
            await self.versions_collection.insert_many(versions[i:i + WRITE_CHUNK], ordered=False)
        for i in range(0, len(new_docs), WRITE_CHUNK):
            chunk = new_docs[i:i + WRITE_CHUNK]
            await self.collection.insert_many(chunk, ordered=False)
            if progress:
                progress(len(chunk))
        for old, doc in changed:
            if not await self._replace_keeping_skill(
                    {"_id": doc["_id"], "version": old["version"]}, doc, old):
                raise ConflictError(f"challenge {doc['_id']!r} changed during the load")
            if progress:
                progress(1)

    async def _replace_keeping_skill(self, query: dict, doc: dict, current: dict) -> bool:
        """Replace the document matching ``query`` by ``doc`` plus the skill it learned
        (``current``: as last read). A session rated meanwhile bumps ``rated_games``, so the
        replace would drop it: read the skill again and retry. False when ``query`` matches
        nothing."""
        for _ in range(SKILL_RETRIES):
            guard = {**query, "rated_games": current.get("rated_games")}  # None: never rated
            done = await self.collection.replace_one(guard, {**doc, **learned_skill(current)})
            if done.matched_count == 1:
                return True
            current = await self.collection.find_one(query, {k: 1 for k in SKILL_FIELDS})
            if current is None:
                return False
        raise ConflictError(f"challenge {doc['_id']!r}: sessions kept being rated during "
                            "the load; try again")

    async def _rollback(self, new_docs, changed, load_id) -> None:
        """Undo a failed :meth:`apply`: only documents carrying this load's id are touched."""
        await self.collection.delete_many({"_id": {"$in": [d["_id"] for d in new_docs]},
                                           "load_id": load_id})
        for old, doc in changed:
            previous = await self.versions_collection.find_one(
                {"_id": f"{doc['_id']}@{old['version']}"})
            if previous is None:
                continue
            restored = {k: v for k, v in previous.items() if k not in ("_id", "load_id")}
            restored.update({"_id": doc["_id"], "slots": old.get("slots") or [],
                             "load_id": previous.get("load_id"),
                             "updated_at": previous.get("created_at")})
            written = await self.collection.find_one({"_id": doc["_id"], "load_id": load_id},
                                                     {k: 1 for k in SKILL_FIELDS})
            if written is not None:  # keep what sessions rated since, on either version
                await self._replace_keeping_skill({"_id": doc["_id"], "load_id": load_id},
                                                  restored, written)
        ours = [f"{d['_id']}@{d['version']}" for d in new_docs] + [
            f"{d['_id']}@{d['version']}" for _, d in changed]
        for i in range(0, len(ours), WRITE_CHUNK):
            await self.versions_collection.delete_many(
                {"_id": {"$in": ours[i:i + WRITE_CHUNK]}, "load_id": load_id})

    @staticmethod
    def _version_doc(doc: dict) -> dict:
        version = {k: v for k, v in doc.items() if k not in ("_id", "slots", "updated_at")}
        version["_id"] = f"{doc['_id']}@{doc['version']}"
        version["created_at"] = doc["updated_at"]
        return version

    # -- selection -------------------------------------------------------------------------

    async def pick(self, *, difficulty=None, tags=None, track=None, exclude_users=(),
                   rating=None, rating_window=150) -> dict | None:
        """A random challenge matching the filters that none of ``exclude_users`` has seen;
        when every match has been seen, the least recently seen. ``None`` when nothing matches.

        ``difficulty``: easy|medium|hard, or None/"any". ``tags``: any of them. ``rating``:
        within ``rating_window`` of it (may be combined with a difficulty)."""
        difficulty = None if difficulty in (None, "", "any") else difficulty
        if difficulty is not None and difficulty not in DIFFICULTIES:
            raise ValueError(f"unknown difficulty {difficulty!r}")
        tags = set(tags or ())
        low = high = None
        if rating is not None:
            low, high = rating - rating_window, rating + rating_window

        def eligible(doc) -> bool:
            if tags and not tags.intersection(doc.get("tags") or ()):
                return False
            if low is not None and not (low <= (doc.get("rating") or 0) <= high):
                return False
            return True

        seen = await self.history.seen_map(exclude_users)
        bucket = f"{track or '*'}|{difficulty or '*'}"
        counter = await self.slot_counters.find_one({"_id": bucket})
        size = (counter or {}).get("next", 0)
        if size == 0:
            return None
        light = {"tags": 1, "rating": 1, "slots": 1}
        prefix = bucket + "#"
        for batch in DRAW_BATCHES:
            draws = [self.rng.randrange(size) for _ in range(batch)]
            wanted = [f"{prefix}{n}" for n in set(draws)]
            by_slot = {}
            async for doc in self.collection.find({"slots": {"$in": wanted}}, light):
                for slot in doc["slots"]:
                    if slot.startswith(prefix):
                        by_slot[int(slot[len(prefix):])] = doc
            for n in draws:
                doc = by_slot.get(n)
                if doc is not None and doc["_id"] not in seen and eligible(doc):
                    return await self.get(doc["_id"])
        # exact: every candidate of the filter, by index
        query = {}
        if track:
            query["track"] = track
        if difficulty:
            query["difficulty"] = difficulty
        if tags:
            query["tags"] = {"$in": sorted(tags)}
        if low is not None:
            query["rating"] = {"$gte": low, "$lte": high}
        candidates = [d["_id"] async for d in self.collection.find(query, {"_id": 1})]
        if not candidates:
            return None
        unseen = [slug for slug in candidates if slug not in seen]
        if unseen:
            return await self.get(self.rng.choice(unseen))
        oldest = min(seen[slug] for slug in candidates)
        return await self.get(self.rng.choice([s for s in candidates if seen[s] == oldest]))

    # -- history (see .attempts) -------------------------------------------------------------

    async def record_seen(self, users, challenge: dict, session_id: str) -> None:
        """Record that ``users`` were shown ``challenge`` (the version they were shown)."""
        await self.history.record_seen(users, challenge, session_id)

    async def apply_skill(self, slug: str, session_id: str, skill) -> bool:
        """Store the challenge's Glicko-2 skill after ``session_id``, once (see
        ``peerplatform.matching.skill``); ``rating`` is what selection by rating reads."""
        result = await self.collection.update_one(
            {"_id": slug, "rated_sessions": {"$ne": session_id}},
            {"$set": {"rating": skill.rating, "rating_rd": skill.rd, "rating_vol": skill.vol},
             "$inc": {"rated_games": 1},
             "$push": {"rated_sessions": {"$each": [session_id], "$slice": -200}}},
        )
        return result.modified_count == 1

    async def record_outcome(self, session_id: str, slug: str, outcome: str,
                             result: dict | None = None, *, users=None) -> int:
        return await self.history.record_outcome(session_id, slug, outcome, result, users=users)

    async def history_of(self, user: str, limit: int = 100) -> list[dict]:
        return await self.history.history(user, limit)
