"""Voice for a pair, on the platform service's side (pair servers hold none of it).

* ``settings`` - :class:`VoiceSettings` (``c.VoiceSettings.*``, each also from the
  environment): the Twilio key and app, the identity secret, ICE/TURN;
* ``calls`` - what a member gets (the call description, Twilio tokens, TURN credentials),
  conference mute, and :func:`calls.end_conference` for the end of a session;
* ``twilio`` - access tokens, the conference TwiML, and conference control over Twilio's REST
  API (``*_async`` calls; tests inject an ``http_client``);
* ``ice`` - ICE servers for the self-hosted WebRTC call, with short-lived TURN credentials
  (coturn ``use-auth-secret``).

The opaque identities and conference names are in ``peerplatform_contracts.voice_identity``.
The service's routes are ``peerplatform.apihandlers.voice`` (members) and
``peerplatform.apihandlers.voice_webhooks`` (Twilio). Twilio is used when it is configured
(:attr:`VoiceSettings.twilio_enabled`); otherwise the members' browsers hold a plain WebRTC
call, whose signaling the pair server relays (``peerplatform_ext.voice``).
"""
