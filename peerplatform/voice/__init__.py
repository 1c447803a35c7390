"""Voice for a pair: what the platform service and the pair servers share.

* ``settings`` - :class:`VoiceSettings` (``c.VoiceSettings.*``; every value also from the
  environment, because pair servers are configured by the spawner's environment);
* ``identity`` - the opaque Twilio identities and conference names (no personal data) and
  the way back from an identity to a session member, computed from server state only;
* ``twilio`` - access tokens, the conference TwiML, and conference control over Twilio's REST
  API (``*_async`` calls; tests inject an ``http_client``);
* ``ice`` - ICE servers for the self-hosted WebRTC call, with short-lived TURN credentials
  (coturn ``use-auth-secret``).

Twilio is used when it is configured (see :attr:`VoiceSettings.twilio_enabled`); otherwise the
pair server relays a plain WebRTC call between the two members (``peerplatform_ext.voice``).
"""
