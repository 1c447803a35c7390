"""The service's JSON API (``<prefix>api/...``), one module per resource, as JupyterHub's
``apihandlers/``.

Each module ends with ``default_handlers(prefix)``; :func:`peerplatform.webapp.make_app`
registers them. :mod:`.base` holds :class:`~.base.APIHandler` (JSON bodies and errors).
:mod:`.voice_webhooks` are Twilio's webhooks (signed by Twilio, no Hub login).
"""
