"""peerplatform: pair-programming interview practice on JupyterHub.

The Hub-side platform service lives here (``peerplatform.web``, ``peerplatform.sessions``,
``peerplatform.matching``), together with the contracts shared with the pair-server extension:
``peerplatform.store`` (MongoDB documents) and ``peerplatform.matching.keys`` (Redis keys).
"""

__version__ = "0.1.0"
