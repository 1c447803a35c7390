"""The Jupyter server extension inside every pair server.

It finds the session assigned to its server in the store, and tells each visitor their role.
Enabled by ``jupyter-config/server-config/peerplatform_ext.json`` (installed with the package);
inert in a server that has no pair session (e.g. a plain ``jupyter lab`` in the same env).
"""

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    from .app import PeerPlatformExtension

    return [{"module": "peerplatform_ext", "app": PeerPlatformExtension}]
