"""Plugging the read-only enforcement into the server, and refusing to run without it.

``install`` runs while extensions are *linked* (after the config files and the command line
are read, before the ServerApp builds its IdentityProvider, Authorizer, ContentsManager and
web app, and before any extension registers handlers). It sets, on the ServerApp and on the
already-linked jupyter-collaboration and JupyterLab apps, what a pair server needs.

``verify`` runs when this extension is *loaded* (after jupyter-collaboration and JupyterLab,
which sort before us) and checks the *effective* result on the live objects and routes.
Anything missing means an observer could write: the server exits (fail closed), like
JupyterHub's own single-user extension does when it cannot load.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_client.provisioning import KernelProvisionerFactory
from learner_sandbox import SandboxSettings, SandboxUnavailable
from tornado.httputil import HTTPHeaders, HTTPServerRequest

from .auth import PairAuthorizer
from .channels import PairKernelWebsocketConnection
from .contents import ReadOnlyViewMixin, with_read_only_view
from .guard import ReadOnlyGuardMixin, guarded
from .pages import serves_server_token
from .kernels import PROVISIONER, PairKernelManager, terminal_command
from .rtc_filter import PairYDocWebSocketHandler
from .ystore import session_ystore_class


class NotSafe(RuntimeError):
    """The pair server would run without part of its read-only enforcement."""


def _app(serverapp, class_path: str):
    """The (linked) extension app of this class, if the extension is enabled."""
    module, _, name = class_path.rpartition(".")
    try:
        cls = getattr(__import__(module, fromlist=[name]), name)
    except ImportError:
        return None
    for apps in serverapp.extension_manager.extension_apps.values():
        for app in apps:
            if isinstance(app, cls):
                return app
    return None


YDOC = "jupyter_server_ydoc.app.YDocExtension"
LAB = "jupyterlab.labapp.LabApp"


def _set(serverapp, name: str, value) -> None:
    """Set a ServerApp trait and its config: the ServerApp reloads all of its config whenever
    it is updated (e.g. with the starter extension's config, after every link), and would
    otherwise put back what an earlier extension (JupyterHub's IdentityProvider) set."""
    setattr(serverapp, name, value)
    serverapp.config.ServerApp[name] = value


def install(ext) -> None:
    serverapp = ext.serverapp
    if not issubclass(serverapp.authorizer_class, PairAuthorizer):
        _set(serverapp, "authorizer_class", PairAuthorizer)
    else:
        _set(serverapp, "authorizer_class", serverapp.authorizer_class)
    _set(serverapp, "identity_provider_class", guarded(serverapp.identity_provider_class))
    _set(serverapp, "contents_manager_class",
         with_read_only_view(serverapp.contents_manager_class))
    # (its default needs gateway config the ServerApp only builds later: read it only if set)
    if not (serverapp.trait_has_value("kernel_websocket_connection_class") and issubclass(
            serverapp.kernel_websocket_connection_class, PairKernelWebsocketConnection)):
        _set(serverapp, "kernel_websocket_connection_class", PairKernelWebsocketConnection)

    # Learner code: every kernel through the sandboxed provisioner, one per session; a terminal
    # (off unless the spawner enables them) runs the same sandbox instead of a shell.
    if not (serverapp.trait_has_value("kernel_manager_class")
            and issubclass(serverapp.kernel_manager_class, PairKernelManager)):
        _set(serverapp, "kernel_manager_class", PairKernelManager)
    serverapp.config.KernelProvisionerFactory.default_provisioner_name = PROVISIONER
    if KernelProvisionerFactory.initialized():
        KernelProvisionerFactory.instance().default_provisioner_name = PROVISIONER
    if serverapp.terminals_enabled:
        try:
            shell = terminal_command(serverapp.root_dir, SandboxSettings.instance())
        except SandboxUnavailable as e:
            raise NotSafe(f"terminals are enabled but the learner sandbox is unavailable: {e}") \
                from None
        _set(serverapp, "terminado_settings", {**serverapp.terminado_settings,
                                              "shell_command": shell})

    # jupyter-collaboration builds its routes from this module global when it is loaded,
    # which is after every extension is linked: replacing it now registers our subclass.
    import jupyter_server_ydoc.app as ydoc_module

    ydoc_module.YDocWebSocketHandler = PairYDocWebSocketHandler

    data_dir = Path(ext.data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    ydoc = _app(serverapp, YDOC)
    if ydoc is not None:
        ydoc.ystore_class = session_ystore_class(str(data_dir / "ystore.db"),
                                                 ext.ystore_squash_after or None)
        ydoc.session_store_path = str(data_dir / "collaboration_sessions.json")
    lab = _app(serverapp, LAB)
    if lab is not None:
        lab.extension_manager = "readonly"


def _inside(path: str, root: str) -> bool:
    path, root = os.path.realpath(path), os.path.realpath(root)
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def room_handler_class(serverapp) -> type | None:
    """The handler class the live router gives a document room URL."""
    web_app = serverapp.web_app
    base = serverapp.base_url.rstrip("/")
    request = HTTPServerRequest(method="GET", uri=f"{base}/api/collaboration/room/json:notebook:x",
                                headers=HTTPHeaders({"Host": "127.0.0.1"}))
    delegate = web_app.default_router.find_handler(request)
    return getattr(delegate, "handler_class", None)


def verify(ext) -> None:
    """Raise :class:`NotSafe` naming every piece of enforcement that is not in effect."""
    serverapp = ext.serverapp
    problems = []
    if not isinstance(serverapp.authorizer, PairAuthorizer):
        problems.append(f"Authorizer is {type(serverapp.authorizer).__name__}, not PairAuthorizer")
    if not isinstance(serverapp.identity_provider, ReadOnlyGuardMixin):
        problems.append("the IdentityProvider has no read-only request guard")
    if not isinstance(serverapp.contents_manager, ReadOnlyViewMixin):
        problems.append("the ContentsManager does not report writable=false to observers")
    kernel_conn = serverapp.web_app.settings.get("kernel_websocket_connection_class")
    if not (isinstance(kernel_conn, type) and issubclass(kernel_conn, PairKernelWebsocketConnection)):
        problems.append("kernel channels are not filtered by role")
    if not isinstance(serverapp.kernel_manager, PairKernelManager):
        problems.append(f"kernels are managed by {type(serverapp.kernel_manager).__name__}, "
                        "not PairKernelManager (one sandboxed kernel per session)")
    factory = KernelProvisionerFactory.instance(parent=serverapp.kernel_manager)
    if factory.default_provisioner_name != PROVISIONER:
        problems.append(f"kernels would start with the {factory.default_provisioner_name!r} "
                        "provisioner, outside the learner sandbox")
    unsafe = SandboxSettings.instance().unsafe_no_sandbox
    if serverapp.web_app.settings.get("terminals_available") and not unsafe:
        shell = serverapp.terminado_settings.get("shell_command") or []
        if "learner_sandbox.enter" not in shell:
            problems.append("terminals are enabled without the learner sandbox")
    ydoc = _app(serverapp, YDOC)
    if ydoc is None or "jupyter_server_ydoc" not in serverapp.web_app.settings:
        problems.append("jupyter-collaboration (jupyter_server_ydoc) is not loaded")
    else:
        handler = room_handler_class(serverapp)
        if not (isinstance(handler, type) and issubclass(handler, PairYDocWebSocketHandler)):
            problems.append(f"the document room URL is served by {handler}, without the "
                            "per-message read-only filter")
        db_path = getattr(ydoc.ystore_class, "session_db_path", None)
        if db_path is None or _inside(db_path, serverapp.root_dir):
            problems.append(f"the RTC update store ({db_path}) is not in the session data dir")
        store_path = serverapp.web_app.settings.get("collaborative_session_store_path")
        if not store_path or _inside(store_path, serverapp.root_dir):
            problems.append(f"the RTC session store ({store_path}) is not in the data dir")
    if serves_server_token(serverapp.web_app):
        problems.append("HTML pages would carry the server's Hub token")
    lab = _app(serverapp, LAB)
    if lab is not None and lab.extension_manager != "readonly":
        problems.append(f"JupyterLab's extension manager is {lab.extension_manager!r}")
    if _inside(ext.data_dir, serverapp.root_dir):
        problems.append(f"the data dir {ext.data_dir} is inside the notebook root")
    if problems:
        raise NotSafe("; ".join(problems))
