"""Profiles: the learner's own (read, edit, picture upload) and others' public part.

``GET|PUT api/profile`` (own), ``PUT|DELETE api/profile/picture`` (raw image body, ≤
``c.PeerPlatform.picture_max_bytes``, 413 beyond), ``GET api/profiles/<user>`` and
``GET api/profiles/<user>/picture`` (the public part: the learner, their partners, the
instructors of their cohort and admins; 404 for everyone else). The pages are
:mod:`peerplatform.handlers.profiles`.
"""

from __future__ import annotations

import asyncio

from tornado import web

from ..profiles import may_view, profile_model
from ..store.profiles import InvalidPicture, InvalidProfile, reencode_picture, validate_profile
from .base import APIHandler

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/webp")


class OwnProfileHandler(APIHandler):
    @web.authenticated
    async def get(self):
        self.write_json(await profile_model(self.platform, self.username, full=True))

    @web.authenticated
    async def put(self):
        try:
            fields = validate_profile(self.get_json_body(required=True))
        except InvalidProfile as e:
            raise web.HTTPError(400, str(e)) from None
        await self.platform.store.profiles.update_details(self.username, fields)
        self.write_json(await profile_model(self.platform, self.username, full=True))


@web.stream_request_body
class PictureUploadHandler(APIHandler):
    """The raw image is the body; its size is checked as it streams in (413 past the cap)."""

    def prepare(self):
        self._chunks, self._size, self._too_big = [], 0, False
        if self.request.method != "PUT":
            return
        cap = self.platform.settings.picture_max_bytes
        length = self.request.headers.get("Content-Length")
        if length is not None and length.isdigit() and int(length) > 8 * cap:
            # far too big to even read: answer at once (a proxy in front may turn the
            # closed connection into its own error while the client is still sending)
            raise web.HTTPError(413, f"the picture is larger than {cap} bytes")
        # Read (and drop) a body somewhat past the cap, so the client and any proxy get the
        # 413 as a normal response instead of a connection reset mid-upload.
        self.request.connection.set_max_body_size(8 * cap)

    def data_received(self, chunk):
        self._size += len(chunk)
        if self._size > self.platform.settings.picture_max_bytes:
            self._too_big = True
            self._chunks = []
        elif not self._too_big:
            self._chunks.append(chunk)

    @web.authenticated
    async def put(self):
        cap = self.platform.settings.picture_max_bytes
        if self._too_big:
            raise web.HTTPError(413, f"the picture is larger than {cap} bytes")
        ctype = self.request.headers.get("Content-Type", "").split(";")[0].strip().lower()
        if ctype not in IMAGE_TYPES:
            raise web.HTTPError(415, f"the picture must be one of {', '.join(IMAGE_TYPES)}")
        data = b"".join(self._chunks)
        if not data:
            raise web.HTTPError(400, "the body must be the image")
        try:
            clean, out_type, width, height = await asyncio.to_thread(reencode_picture, data)
        except InvalidPicture as e:
            raise web.HTTPError(400, str(e)) from None
        etag = await self.platform.store.profiles.set_picture(
            self.username, clean, out_type, width, height
        )
        self.write_json(
            {
                "picture": True,
                "picture_etag": etag,
                "content_type": out_type,
                "width": width,
                "height": height,
                "bytes": len(clean),
            }
        )

    @web.authenticated
    async def delete(self):
        await self.platform.store.profiles.delete_picture(self.username)
        self.write_json({"picture": False})


class ProfileHandler(APIHandler):
    @web.authenticated
    async def get(self, user):
        if not await may_view(self, user):
            raise web.HTTPError(404, "no such profile")
        self.write_json(await profile_model(self.platform, user, full=user == self.username))


class PictureHandler(APIHandler):
    @web.authenticated
    async def get(self, user):
        if not await may_view(self, user):
            raise web.HTTPError(404, "no such picture")
        pic = await self.platform.store.profiles.get_picture(user)
        if pic is None:
            raise web.HTTPError(404, "no picture")
        etag = f'"{pic["etag"]}"'
        self.set_header("Content-Type", pic["content_type"])
        self.set_header("Cache-Control", "private, max-age=300")
        self.set_header("ETag", etag)
        self.set_header(
            "Content-Disposition", f'inline; filename="{user}.{pic["content_type"].split("/")[1]}"'
        )
        if self.request.headers.get("If-None-Match") == etag:
            self.set_status(304)
            self.finish()
            return
        self.finish(bytes(pic["data"]))

    def compute_etag(self):
        return None  # set explicitly above


USER = r"([^/]{1,128})"


def default_handlers(prefix: str):
    return [
        (prefix + r"api/profile", OwnProfileHandler),
        (prefix + r"api/profile/picture", PictureUploadHandler),
        (prefix + r"api/profiles/" + USER, ProfileHandler),
        (prefix + r"api/profiles/" + USER + r"/picture", PictureHandler),
    ]
