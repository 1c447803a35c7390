"""Every Redis key and channel the platform uses, in one place.

All keys share the ``pp:`` prefix. Nothing here is the only copy of anything that matters:
sessions, ratings and history live in MongoDB, and Redis can be rebuilt from there.

===============================  ======  =====================================================
key                              type    holds
===============================  ======  =====================================================
``pp:waiting``                   ZSET    learners waiting; member = username, score = the
                                         time they started waiting, in ms (kept when a
                                         handshake fails through no fault of theirs); the
                                         matcher anchors on the head of this set
``pp:rating``                    ZSET    the same learners, score = their skill rating; the
                                         matcher reads the anchor's rating neighbours here
``pp:presence:<user>``           STRING  "1" with a TTL, refreshed by the lobby's heartbeat;
                                         its absence means the learner is gone
``pp:user:<user>``               HASH    ``state`` = waiting | matched | session,
                                         ``session`` = match / session id, ``since`` = ms;
                                         while waiting also ``joined`` (ms), ``rating``,
                                         ``cohort``, ``track``, ``duration``, ``difficulty``
                                         (what the matcher compares); a learner is in at
                                         most one of these states at a time
``pp:prefs:<user>``              HASH    waiting-room preferences (difficulty, duration, …)
``pp:match:<id>``                HASH    a pending match (handshake): ``a``, ``b``, their
                                         ``joined_a``/``joined_b``, ``acc_a``/``acc_b``,
                                         ``deadline`` (ms); the id becomes the session id
``pp:pending``                   ZSET    pending match ids, score = handshake deadline (ms);
                                         any replica's sweep resolves the overdue ones
``pp:last:<user>``               STRING  the learner's last partner (TTL 7 days), avoided
                                         when another partner fits
``pp:marks:<user>``              HASH    ``noshow`` / ``declined`` counters
``pp:events:<user>``             PUBSUB  JSON events for that learner's open lobby pages
===============================  ======  =====================================================
"""

PREFIX = "pp:"
WAITING = PREFIX + "waiting"
RATING = PREFIX + "rating"
PENDING = PREFIX + "pending"


def presence(user: str) -> str:
    return f"{PREFIX}presence:{user}"


def user_state(user: str) -> str:
    return f"{PREFIX}user:{user}"


def prefs(user: str) -> str:
    return f"{PREFIX}prefs:{user}"


def match(match_id: str) -> str:
    return f"{PREFIX}match:{match_id}"


def last_partner(user: str) -> str:
    return f"{PREFIX}last:{user}"


def marks(user: str) -> str:
    return f"{PREFIX}marks:{user}"


def events(user: str) -> str:
    return f"{PREFIX}events:{user}"
