"""The Jupyter server extension inside every pair server.

It serves the session the platform service assigned to its server, as an untrusted client
of the service (its only credential: its own Hub token): the observer (and everybody once
time is up) is strictly read-only on every channel, the roles the service sets apply at once,
the challenge's public view is placed in the live shared notebook, and writes stop at the
session's end even when the service cannot be reached. See ``app.py`` for the map of the
modules. Enabled by
``jupyter-config/server-config/peerplatform_ext.json`` (installed with the package); inert in
a server that has no pair session (e.g. a plain ``jupyter lab`` in the same env).
"""

__version__ = "0.1.0"


def _jupyter_server_extension_points():
    from .app import PeerPlatformExtension

    return [{"module": "peerplatform_ext", "app": PeerPlatformExtension}]


def _jupyter_labextension_paths():
    # where the built JupyterLab extension lives in the package (labextension/package.json
    # "outputDir"): `jupyter labextension develop --overwrite .` links it for an editable install
    return [{"src": "labextension", "dest": "peerplatform-lab"}]
