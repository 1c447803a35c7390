"""What the platform service and the pair servers agree on, and nothing else.

This package imports neither side (``peerplatform`` nor ``peerplatform_ext``) and nothing of
the stores: the pair server, which is untrusted, may import it. One module per concept:

* :mod:`.difficulties` - the challenge difficulties and what learners may choose;
* :mod:`.ratings` - the default skill ratings;
* :mod:`.sessions` - the session id format and the pair server's name;
* :mod:`.challenge_view` - what learners (and pair servers) may see of a challenge;
* :mod:`.voice_identity` - opaque Twilio identities of members;
* :mod:`.env` - environment variable names passed between Hub, service and pair servers;
* :mod:`.clock` - the session clock (when swaps and the end are due), computed alike by both;
* :mod:`.pair_api` - the service's API for pair servers (paths, bodies, the credential).
"""
