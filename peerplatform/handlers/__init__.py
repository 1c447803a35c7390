"""The service's HTML pages, one module per page family, as JupyterHub's ``handlers/``.

Each module ends with ``default_handlers(prefix)``; :func:`peerplatform.webapp.make_app`
registers them. :mod:`.base` holds :class:`~.base.BaseHandler` (Hub OAuth login),
:class:`~.base.PageHandler` (the page frame, strict CSP) and the OAuth callback. The JSON API
is :mod:`peerplatform.apihandlers`.
"""
