"""Every Redis key and channel the platform uses, in one place.

All keys share the ``pp:`` prefix. Nothing here is the only copy of anything that matters:
sessions, ratings and history live in MongoDB, and Redis can be rebuilt from there.

===============================  ======  =====================================================
key                              type    holds
===============================  ======  =====================================================
``pp:waiting``                   ZSET    learners waiting; member = username, score = join
                                         time in ms (the pick rule reads this)
``pp:presence:<user>``           STRING  "1" with a TTL, refreshed by the lobby's heartbeat;
                                         its absence means the learner is gone
``pp:user:<user>``               HASH    ``state`` = waiting | matched | session,
                                         ``session`` = session id, ``since`` = ms; a learner
                                         is in at most one of these at a time
``pp:prefs:<user>``              HASH    waiting-room preferences (difficulty, duration, …)
``pp:events:<user>``             PUBSUB  JSON events for that learner's open lobby pages
===============================  ======  =====================================================
"""

PREFIX = "pp:"
WAITING = PREFIX + "waiting"


def presence(user: str) -> str:
    return f"{PREFIX}presence:{user}"


def user_state(user: str) -> str:
    return f"{PREFIX}user:{user}"


def prefs(user: str) -> str:
    return f"{PREFIX}prefs:{user}"


def events(user: str) -> str:
    return f"{PREFIX}events:{user}"
