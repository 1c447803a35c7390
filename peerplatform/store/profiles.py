"""Learner profiles: the matchmaking skill rating (Glicko-2) and its history.

Document shape (``profiles`` collection)::

    {"_id": "alice", "rating": 1500.0, "rd": 350.0, "vol": 0.06, "games": 0,
     "rated_sessions": ["k3j9x2m4q8ab", ...],   # the last 50, so a session counts once
     "updated_at": datetime}

A learner without a document has the Glicko-2 defaults (1500 / RD 350).

The same documents hold the learner's own details, written only through ``update_details``
(``$set`` of these fields, so the skill fields above are never touched and vice versa)::

    {"first_name": "Alice", "last_name": "Liddell", "city": "Oxford", "country": "UK",
     "bio": "...", "picture_etag": "9f2c..." | None, "details_updated_at": datetime}

``pictures`` (kept apart so profile reads stay small)::

    {"_id": "alice", "data": Binary, "content_type": "image/png", "etag": "9f2c...",
     "width": 256, "height": 256, "updated_at": datetime}

Pictures are stored only after :func:`reencode_picture` decoded and re-encoded them, so what
is served is always a clean PNG or JPEG without the upload's metadata. The bootcamp/college
is the learner's cohort (:mod:`.cohorts`), assigned by an admin.
"""

from __future__ import annotations

import hashlib
import io
import unicodedata
from datetime import datetime, timezone

from bson import Binary
from pymongo import WriteConcern
from pymongo.errors import DuplicateKeyError

KEEP_RATED_SESSIONS = 50


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


#: Editable fields and their maximum lengths.
FIELDS = {"first_name": 60, "last_name": 60, "city": 80, "country": 80, "bio": 2000}
#: What partners and other learners may see; ``city`` stays with the learner (and admins).
PUBLIC_FIELDS = ("first_name", "last_name", "country", "bio")


class InvalidProfile(ValueError):
    pass


class InvalidPicture(ValueError):
    pass


def validate_profile(body: dict) -> dict:
    """Check a profile edit (any subset of :data:`FIELDS`): strings within their length,
    no control characters except newlines in the bio. Returns the normalised fields."""
    if not isinstance(body, dict):
        raise InvalidProfile("the body must be a JSON object")
    unknown = set(body) - set(FIELDS)
    if unknown:
        raise InvalidProfile(f"unknown field(s): {', '.join(sorted(unknown))}")
    if not body:
        raise InvalidProfile(f"nothing to change: give one of {', '.join(FIELDS)}")
    out = {}
    for name, value in body.items():
        if value is None:
            value = ""
        if not isinstance(value, str):
            raise InvalidProfile(f"{name} must be a string")
        value = unicodedata.normalize("NFC", value).strip()
        if len(value) > FIELDS[name]:
            raise InvalidProfile(f"{name} must be at most {FIELDS[name]} characters")
        allowed = "\n\t" if name == "bio" else ""
        if any(unicodedata.category(ch) == "Cc" and ch not in allowed for ch in value):
            raise InvalidProfile(f"{name} must not contain control characters")
        out[name] = value
    return out


def reencode_picture(data: bytes, *, max_pixels: int = 40_000_000,
                     size: int = 512) -> tuple[bytes, str, int, int]:
    """Decode an uploaded image and re-encode it: PNG when it has transparency, else JPEG,
    at most ``size`` px on a side, orientation applied, every metadata block dropped.

    Raises :class:`InvalidPicture` for anything that is not a PNG, JPEG, GIF or WebP image
    Pillow can fully decode (a renamed text file, a truncated file, a decompression bomb).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as probe:
            fmt = probe.format
            if fmt not in ("PNG", "JPEG", "GIF", "WEBP"):
                raise InvalidPicture(f"unsupported image type {fmt}: use PNG, JPEG, GIF or WebP")
            if probe.width * probe.height > max_pixels:
                raise InvalidPicture("the image has too many pixels")
            probe.verify()  # structure and checksums, without decoding everything
        with Image.open(io.BytesIO(data)) as img:
            img.load()  # full decode: catches truncated data verify() lets through
            img = ImageOps.exif_transpose(img)
            has_alpha = img.mode in ("RGBA", "LA", "PA") or (
                img.mode == "P" and "transparency" in img.info)
            img = img.convert("RGBA" if has_alpha else "RGB")
            img.thumbnail((size, size))
            clean = Image.new(img.mode, img.size)  # a fresh image carries no info/exif/icc
            clean.paste(img)
            out = io.BytesIO()
            if has_alpha:
                clean.save(out, "PNG", optimize=True)
                ctype = "image/png"
            else:
                clean.save(out, "JPEG", quality=88, optimize=True)
                ctype = "image/jpeg"
            return out.getvalue(), ctype, clean.width, clean.height
    except InvalidPicture:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError) as e:
        raise InvalidPicture(f"not an image this platform accepts ({type(e).__name__})") from None
    except (OSError, SyntaxError, ValueError) as e:
        raise InvalidPicture(f"the image could not be decoded: {e}") from None


class ProfileStore:
    def __init__(self, db):
        self.collection = db.get_collection("profiles", write_concern=WriteConcern(w=1, j=True))
        self.pictures = db.get_collection("pictures", write_concern=WriteConcern(w=1, j=True))

    async def ensure_indexes(self) -> None:
        pass  # read by _id only

    async def get(self, user: str) -> dict | None:
        return await self.collection.find_one({"_id": user})

    async def ratings(self, users) -> dict[str, float]:
        from ..matching.skill import NEW_RATING

        found = {d["_id"]: d.get("rating", NEW_RATING)
                 async for d in self.collection.find({"_id": {"$in": list(users)}}, {"rating": 1})}
        return {u: float(found.get(u, NEW_RATING)) for u in users}

    async def apply(self, user: str, session_id: str, skill) -> bool:
        """Store ``user``'s skill after ``session_id``, once: False if that session already
        counted for them (a second replica, a retried sweep)."""
        try:
            result = await self.collection.update_one(
                {"_id": user, "rated_sessions": {"$ne": session_id}},
                {"$set": {"rating": skill.rating, "rd": skill.rd, "vol": skill.vol,
                          "updated_at": utcnow()},
                 "$inc": {"games": 1},
                 "$push": {"rated_sessions": {"$each": [session_id],
                                              "$slice": -KEEP_RATED_SESSIONS}}},
                upsert=True,
            )
        except DuplicateKeyError:  # the document exists and already holds this session
            return False
        return result.modified_count == 1 or result.upserted_id is not None

    # -- the learner's own details and picture ---------------------------------------------

    async def details(self, user: str) -> dict:
        """The learner's details (empty strings for what they never filled in)."""
        doc = await self.collection.find_one({"_id": user}) or {}
        return {"_id": user, **{f: doc.get(f, "") for f in FIELDS},
                "picture_etag": doc.get("picture_etag"),
                "updated_at": doc.get("details_updated_at")}

    async def update_details(self, user: str, fields: dict) -> dict:
        await self.collection.update_one(
            {"_id": user}, {"$set": {**fields, "details_updated_at": utcnow()}}, upsert=True)
        return await self.details(user)

    async def set_picture(self, user: str, data: bytes, content_type: str, width: int,
                          height: int) -> str:
        etag = hashlib.sha256(data).hexdigest()[:32]
        now = utcnow()
        await self.pictures.replace_one(
            {"_id": user},
            {"_id": user, "data": Binary(data), "content_type": content_type, "etag": etag,
             "width": width, "height": height, "updated_at": now},
            upsert=True)
        await self.collection.update_one(
            {"_id": user}, {"$set": {"picture_etag": etag, "details_updated_at": now}}, upsert=True)
        return etag

    async def get_picture(self, user: str) -> dict | None:
        return await self.pictures.find_one({"_id": user})

    async def delete_picture(self, user: str) -> None:
        await self.pictures.delete_one({"_id": user})
        await self.collection.update_one(
            {"_id": user}, {"$set": {"picture_etag": None, "details_updated_at": utcnow()}})
