"""The service's API for pair servers: ``<service prefix>api/pair/<session id>/<endpoint>``.

A pair server is an untrusted client of the platform service. It holds one credential: its
own JupyterHub API token (``$JUPYTERHUB_API_TOKEN``, which the Hub issues at spawn and deletes
when the server stops). The Hub gives that token the custom scope :data:`PAIR_SCOPE` filtered
to this one server (``custom:peerplatform:pair!server=pp-pairs/s-<id>``; see
``c.PairSpawner.server_token_scopes`` in ``jupyterhub_config.py``). The service asks the Hub
who the token is (``HubAuth.user_for_token``) and accepts it for session ``<id>`` only when its
scopes include that filtered scope and the session is open. So: own session 2xx; another
session 403; an ended session 403; a stopped server's (deleted) token 401; no token 401.

Every request carries ``Authorization: token <credential>``. Bodies and answers are JSON;
errors are ``{"message": str}`` with the HTTP status. ``by`` is the member the pair server
authenticated (its Hub login); the service checks the member's role itself.

Endpoints (all relative to ``api/pair/<session id>/``):

``GET state?since=<rev>&wait=<seconds>``
    Long poll. Answers ``{"rev": int, "session": <pair view>}`` as soon as the session's
    revision differs from ``since`` (at once when ``since`` is absent), else after ``wait``
    seconds (at most :data:`MAX_WAIT_S`) with the unchanged view. The *pair view* is the
    session as the pair server needs it - never a hidden test or solution::

        {"id", "state", "members", "driver", "observer", "duration_s",
         "started_at", "ends_at",            # ISO 8601 UTC or null
         "swap_schedule_s", "scheduled_swaps_done", "swap_request",  # {"by", "at"} | null
         "challenge": {"slug", "title", "difficulty", "tags", "track", "version"} | null,
         "last_tests": {"by", "final", "at", "result"} | null,
         "outcome": {"reason", "grader", "tests": {...summary}} | null,
         "server_time"}

``GET challenge``
    ``{"challenge": <public view> | null}``: statement, starter, examples, tags of the
    session's challenge at its pinned version (:func:`.challenge_view.public_view`).

``POST challenge`` ``{"by": str, "difficulty"?: str}``
    The driver draws another challenge neither member has seen. ``{"challenge": <public
    view>}``; 403 if ``by`` is not the driver, 409 if the session is not running, 404 if
    nothing else matches.

``POST tests`` ``{"by": str, "cells": [{"cell_type", "source", "metadata"}...]}``
    The driver's code (the notebook's cells; the service applies the grading rule) graded
    against the hidden tests in the sandbox. ``{"result": <grader result>}``; the run is
    recorded as a session event (``last_tests``). 403 not the driver, 409 not running or a
    run already in progress for this session, 429 when the replica is at its concurrency
    limit (retry later), 413 body too large.

``POST swap`` ``{"by": str, "action": "request"|"accept"|"decline"|"cancel"}``
    Swap requests and answers; the service swaps the roles when the partner accepts (or both
    request). ``{"swap_request": ..., "driver": str}``. 409 when there is nothing to answer.

``POST snapshots`` ``{"snapshots": [{"seq": int, "t": float, "by": str, "cells": [...],
"final": bool, "notebook"?: <nbformat dict, final one only>}]}``
    Replay snapshots, batched; ``seq`` is the pair server's counter, so a retried batch
    stores nothing twice. ``{"stored": int, "duplicates": int}``. The final snapshot (at
    time-up) is what the service grades for the outcome.

``POST events`` ``{"events": [{"id": str, "type": str, "data": {...}}]}``
    Notices from the pair server to keep with the session (e.g. ``kernel``: the learner's
    kernel was killed for memory). Idempotent on ``id``. ``{"stored": int}``.

The service decides the clock, the scheduled swaps and the end: at time-up it grades the final
snapshot itself and records the outcome once; no pair server can report an outcome.
"""

from __future__ import annotations

#: The custom Hub scope a pair server's token holds, filtered to its own server.
PAIR_SCOPE = "custom:peerplatform:pair"
#: Path of the pair API under the service's prefix; ``{session}`` is the session id.
PAIR_API_PATH = "api/pair/{session}/"
#: Longest long poll the service holds (seconds).
MAX_WAIT_S = 30.0
#: Largest request body the pair API accepts (the final notebook travels with the snapshot).
MAX_BODY_BYTES = 8 * 1024 * 1024
#: Actions of ``POST swap``.
SWAP_ACTIONS = ("request", "accept", "decline", "cancel")
#: Fields of the pair view's challenge summary.
CHALLENGE_SUMMARY_FIELDS = ("slug", "title", "difficulty", "tags", "track", "version")
#: Datetime fields of the pair view (ISO 8601 strings on the wire).
DATETIME_FIELDS = ("started_at", "ends_at", "server_time")
