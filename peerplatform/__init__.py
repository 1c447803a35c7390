"""peerplatform: pair-programming interview practice on JupyterHub.

The Hub-side platform service lives here: its pages (``peerplatform.handlers``) and JSON API
(``peerplatform.apihandlers``), assembled by ``peerplatform.webapp``; ``peerplatform.sessions``,
``peerplatform.matching``, ``peerplatform.store`` (MongoDB documents). What it shares with the
Hub and the pair servers is in ``peerplatform_contracts``.
"""

__version__ = "0.1.0"
