"""The trusted side of pair sessions: the service's API for pair servers and its clock.

A pair server is an untrusted client (``peerplatform_contracts.pair_api``): it holds only its
own Hub token. Everything authoritative happens here, in any replica of the service:

* :mod:`.errors` - :class:`~.errors.PairError`, a refusal and its HTTP status;
* :mod:`.credentials` - who a pair server is (its Hub token and scope), for which session;
* :mod:`.validate` - the request bodies of the contract, checked before anything changes;
* :mod:`.view` - the pair view of a session document (never a hidden test or solution);
* :mod:`.timing` - clock arithmetic on a session document (end, scheduled swaps);
* :mod:`.picking` - choosing a session's challenge (at its creation, and "another one");
* :mod:`.actions` - challenge, swaps, snapshots and events, with the role checks;
* :mod:`.grading` - hidden tests on the trusted side, a few at a time per replica;
* :mod:`.revisions` - waiting for a session's revision to change (the long poll);
* :mod:`.clock` - the sweep: scheduled swaps, and the end at time-up (once, any replica);
* :mod:`.api` - :class:`~.api.PairAPI`, what the handlers (``peerplatform.apihandlers.pair``)
  and the sweep share.
"""
