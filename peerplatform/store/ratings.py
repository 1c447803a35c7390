"""Peer ratings: after a session each member rates the other, once, on three criteria.

Document shape (``ratings`` collection)::

    {
      "_id": "<session id>:<rater>",     # one rating per rater per session, by construction
      "session_id": "k3j9x2m4q8ab",
      "rater": "alice", "ratee": "bob",
      "scores": {"communication": 4, "collaboration": 5, "problem_solving": 3},
      "comment": "clear thinking aloud",  # "" when none
      "created_at": datetime, "updated_at": datetime,
      "editable_until": datetime,         # created_at + the edit window
    }

Peer ratings feed the leaderboards and dashboards only; they never move the matchmaking
(skill) rating.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import ASCENDING, DESCENDING, ReturnDocument, WriteConcern
from pymongo.errors import DuplicateKeyError

from .sessions import utcnow

CRITERIA = ("communication", "collaboration", "problem_solving")
MAX_COMMENT = 1000


class InvalidRating(ValueError):
    """The rating body breaks a rule (message says which); nothing was stored."""


class DuplicateRating(Exception):
    """The rater already rated this session."""


class EditWindowClosed(Exception):
    """The rating can no longer be changed."""


def validate_rating(body: dict, *, partial: bool = False) -> dict:
    """Check a rating body; returns ``{"scores": {...}, "comment": str}`` (only given keys
    when ``partial``). Scores are whole numbers 1-5 (not bools, floats or strings)."""
    if not isinstance(body, dict):
        raise InvalidRating("the body must be a JSON object")
    unknown = set(body) - set(CRITERIA) - {"comment"}
    if unknown:
        raise InvalidRating(f"unknown field(s): {', '.join(sorted(unknown))}")
    scores = {}
    for name in CRITERIA:
        if name not in body:
            if partial:
                continue
            raise InvalidRating(f"{name} is required (a whole number from 1 to 5)")
        value = body[name]
        if type(value) is not int or not 1 <= value <= 5:
            raise InvalidRating(f"{name} must be a whole number from 1 to 5")
        scores[name] = value
    out: dict = {"scores": scores}
    if "comment" in body:
        comment = body["comment"]
        if comment is None:
            comment = ""
        if not isinstance(comment, str):
            raise InvalidRating("comment must be a string")
        if len(comment) > MAX_COMMENT:
            raise InvalidRating(f"comment must be at most {MAX_COMMENT} characters")
        if "\x00" in comment:
            raise InvalidRating("comment must not contain NUL characters")
        out["comment"] = comment.strip()
    elif not partial:
        out["comment"] = ""
    if partial and not scores and "comment" not in out:
        raise InvalidRating("nothing to change: give at least one score or the comment")
    return out


def public_rating(doc: dict) -> dict:
    return {
        "session": doc["session_id"],
        "rater": doc["rater"],
        "ratee": doc["ratee"],
        **doc["scores"],
        "comment": doc.get("comment", ""),
        "created_at": doc["created_at"],
        "updated_at": doc["updated_at"],
        "editable_until": doc["editable_until"],
    }


class RatingStore:
    def __init__(self, db):
        # a rating is user input that must survive a crash once acknowledged
        self.collection = db.get_collection("ratings", write_concern=WriteConcern(w=1, j=True))

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("ratee", ASCENDING), ("created_at", DESCENDING)])
        await self.collection.create_index([("rater", ASCENDING), ("created_at", DESCENDING)])
        await self.collection.create_index([("session_id", ASCENDING)])

    @staticmethod
    def rating_id(session_id: str, rater: str) -> str:
        return f"{session_id}:{rater}"

    async def create(
        self,
        *,
        session_id: str,
        rater: str,
        ratee: str,
        scores: dict,
        comment: str = "",
        edit_window_s: int,
        now: datetime | None = None,
    ) -> dict:
        now = now or utcnow()
        doc = {
            "_id": self.rating_id(session_id, rater),
            "session_id": session_id,
            "rater": rater,
            "ratee": ratee,
            "scores": {name: scores[name] for name in CRITERIA},
            "comment": comment,
            "created_at": now,
            "updated_at": now,
            "editable_until": now + timedelta(seconds=edit_window_s),
        }
        try:
            await self.collection.insert_one(doc)
        except DuplicateKeyError:
            raise DuplicateRating(f"{rater} already rated session {session_id}") from None
        return doc

    async def get(self, session_id: str, rater: str) -> dict | None:
        return await self.collection.find_one({"_id": self.rating_id(session_id, rater)})

    async def edit(
        self,
        session_id: str,
        rater: str,
        *,
        scores: dict,
        comment: str | None = None,
        now: datetime | None = None,
    ) -> tuple[dict, dict]:
        """Change a rating inside its edit window; returns (before, after).

        One conditional update, so an edit racing the window's end either lands before it or
        not at all. Raises KeyError when there is no such rating, EditWindowClosed after.
        """
        now = now or utcnow()
        fields = {f"scores.{name}": value for name, value in scores.items()}
        if comment is not None:
            fields["comment"] = comment
        fields["updated_at"] = now
        before = await self.collection.find_one_and_update(
            {"_id": self.rating_id(session_id, rater), "editable_until": {"$gt": now}},
            {"$set": fields},
            return_document=ReturnDocument.BEFORE,
        )
        if before is None:
            if await self.get(session_id, rater) is None:
                raise KeyError(session_id)
            raise EditWindowClosed("the edit window of this rating has closed")
        after = await self.get(session_id, rater)
        return before, after

    async def for_session(self, session_id: str) -> list[dict]:
        return await self.collection.find({"session_id": session_id}).to_list(length=10)

    async def received_by(self, user: str, limit: int = 10_000) -> list[dict]:
        cursor = self.collection.find({"ratee": user}).sort("created_at", ASCENDING)
        return await cursor.to_list(length=limit)

    def all(self, batch_size: int = 1000):
        """Every rating (an async cursor), for rebuilding derived data such as leaderboards."""
        return self.collection.find({}, batch_size=batch_size)
