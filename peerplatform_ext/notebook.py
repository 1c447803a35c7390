"""The session notebook, always through jupyter-collaboration's live room.

The .ipynb on disk is the room's copy: writing it directly would race the room's file
poller (it reloads the room from disk) and its saver (it overwrites the disk). So the server
edits ``get_document(copy=False)`` - the live document every client is synced to; the
default ``copy=True`` returns a fork whose edits go nowhere - and saves through the room.
"""

from __future__ import annotations

import asyncio

import nbformat
from jupyter_server.utils import ensure_async
from jupyter_server_ydoc.utils import encode_file_path
from jupyter_ydoc import YNotebook


class SessionNotebook:
    def __init__(self, serverapp, path: str, log):
        self.serverapp = serverapp
        self.path = path
        self.log = log

    @property
    def settings(self) -> dict:
        return self.serverapp.web_app.settings

    @property
    def ydoc_extension(self):
        return self.settings["jupyter_server_ydoc"]

    async def ensure_file(self) -> bool:
        """Create an empty notebook at ``path`` if there is none; True if created.

        Only before any room has it open (at server start), so nothing is behind RTC's back.
        """
        cm = self.serverapp.contents_manager
        if await ensure_async(cm.file_exists(self.path)):
            return False
        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        await ensure_async(cm.save({"type": "notebook", "format": "json", "content": nb},
                                   self.path))
        return True

    async def live(self, create: bool = True) -> YNotebook | None:
        """The live shared notebook (the room's document, not a fork)."""
        return await self.ydoc_extension.get_document(
            path=self.path, content_type="notebook", file_format="json", copy=False,
            create=create,
        )

    def _room_id(self) -> str:
        file_id = self.settings["file_id_manager"].index(self.path)
        return encode_file_path("json", "notebook", file_id)

    async def _room(self):
        server = self.ydoc_extension.ywebsocket_server
        try:
            return await server.get_room(self._room_id())
        except Exception:  # RoomNotFound: nobody has the notebook open; disk is current
            return None

    async def save(self, attempts: int = 20) -> bool:
        """Save the live document to disk now, through the room. True when it is on disk.

        Returns True without writing when no room is open (the disk is then up to date).
        """
        room = await self._room()
        if room is None:
            return True
        for _ in range(attempts):
            task = room._save_to_disc()  # the same call as a client's "save" frame
            if task is not None:
                await task
                if await self._on_disk_matches(room):
                    return True
            # the room is applying an update or another save is running: try again shortly
            await asyncio.sleep(0.1)
        return False

    async def _on_disk_matches(self, room) -> bool:
        cm = self.serverapp.contents_manager
        model = await ensure_async(cm.get(self.path, content=True, type="notebook"))
        live = await room._document.aget()
        return [c.get("source") for c in model["content"]["cells"]] == [
            c.get("source") for c in live.get("cells", [])
        ]

    async def content(self) -> dict:
        """The notebook as an nbformat dict: the live document if open, else the file."""
        room = await self._room()
        if room is not None:
            return await room._document.aget()
        model = await ensure_async(self.serverapp.contents_manager.get(self.path, content=True,
                                                                       type="notebook"))
        return model["content"]
