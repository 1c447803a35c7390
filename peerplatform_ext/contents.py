"""The pair server's ContentsManager: read-only views, and nothing outside the notebook root.

* Contents REST reports ``writable: false`` to whoever may not write. JupyterLab then marks the
  document read-only and disables Save. Only for requests served by the contents REST handler:
  jupyter-collaboration's saver calls the same ``get()`` and skips saving when ``writable`` is
  false, and the driver's edits must keep reaching the disk.
* No path resolves outside the notebook root. Learner code writes the work folder: a symlink
  it plants there (to ``/proc/self/environ``, another session, the RTC store) must not make
  the server, which runs as another user with other rights, read or write through it.
"""

from __future__ import annotations

import errno
import inspect
import os

from tornado import web

from jupyter_server.base.call_context import CallContext
from jupyter_server.services.contents.handlers import ContentsHandler

from .rtc_filter import STATE_KEY


def _read_only_caller() -> bool:
    handler = CallContext.get(CallContext.JUPYTER_HANDLER)
    if not isinstance(handler, ContentsHandler):
        return False
    state = handler.settings.get(STATE_KEY)
    user = handler.current_user
    return state is None or not state.can_write(getattr(user, "username", None))


def _mark_read_only(model: dict) -> dict:
    model["writable"] = False
    if model.get("type") == "directory" and isinstance(model.get("content"), list):
        for child in model["content"]:
            child["writable"] = False
    return model


class OutsideRoot(web.HTTPError, PermissionError):
    """403 to a REST caller; EACCES to the directory listing, which then skips the entry."""

    def __init__(self, path: str):
        web.HTTPError.__init__(self, 403, "%s leads outside the notebook folder", path)
        self.errno = errno.EACCES


def _inside(os_path: str, root: str) -> bool:
    return os_path == root or os_path.startswith(root.rstrip(os.sep) + os.sep)


class ReadOnlyViewMixin:
    """ContentsManager mixin: ``get()`` says ``writable: false`` to read-only REST callers."""

    peerplatform_read_only_view = True

    def _get_os_path(self, path):
        os_path = super()._get_os_path(path)
        root = os.path.realpath(self.root_dir)
        # a path that does not exist yet resolves through its parent (a symlinked folder)
        if not _inside(os.path.realpath(os_path), root):
            raise OutsideRoot(path)
        return os_path

    def get(self, path, content=True, type=None, format=None, **kwargs):
        result = super().get(path, content=content, type=type, format=format, **kwargs)
        if not _read_only_caller():
            return result
        if inspect.isawaitable(result):
            async def _view():
                return _mark_read_only(await result)

            return _view()
        return _mark_read_only(result)


def with_read_only_view(contents_manager_class: type) -> type:
    if issubclass(contents_manager_class, ReadOnlyViewMixin):
        return contents_manager_class
    return type(f"ReadOnlyView{contents_manager_class.__name__}",
                (ReadOnlyViewMixin, contents_manager_class),
                {"__module__": __name__, "__doc__": contents_manager_class.__doc__})
