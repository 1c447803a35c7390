"""Redis keys of the live leaderboards (all derived from MongoDB's ``ratings``; see
:mod:`peerplatform.leaderboard.board` for the scores and ``peerplatform leaderboard rebuild``).

=====================================  ======  ================================================
key                                    type    holds
=====================================  ======  ================================================
``pp:lb:board:<board>``                ZSET    every rated learner; score = Bayesian average on
                                               ``<board>`` (overall or one criterion)
``pp:lb:cohort:<cohort>:<board>``      ZSET    the same, for the members of one cohort
``pp:lb:stats:<user>``                 HASH    ``n`` ratings received, ``s:<criterion>`` sums,
                                               ``cohort`` the learner was counted in
``pp:lb:cohortstats:<cohort>``         HASH    ``n`` qualifying members, ``sum`` of their
                                               overall scores
``pp:lb:cohorts``                      ZSET    cohort totals; score = shrunk mean (see board)
``pp:lb:rated:<rating id>``            STRING  ``<version>:<c>:<k>:<p>``: the version
                                               (``updated_at``, ms) and scores counted of a
                                               rating, so a change counts once; expires an
                                               hour after the rating's edit window
``pp:lb:built:2``                      STRING  set once a rebuild has completed (``2``: the
                                               format with ``rated:``; older data is rebuilt)
``pp:lb:updates``                      PUBSUB  JSON of each change, for open leaderboard pages
``pp:lbrebuild:lock``                  STRING  held by the rebuild running (token, with a TTL)
``pp:lbrebuild:journal``               LIST    live changes made while it runs, to replay
``pp:lbnew:<token>:*``                 any     the keys a rebuild writes before the swap
=====================================  ======  ================================================

A rebuild writes under ``pp:lbnew:<token>:``, then one script drops every ``pp:lb:*`` key,
renames the new ones into place and replays the journal (see ``Leaderboard.rebuild``).
"""

PREFIX = "pp:lb:"
BOARDS = ("overall", "communication", "collaboration", "problem_solving")
COHORTS = PREFIX + "cohorts"
BUILT = PREFIX + "built:2"
UPDATES = PREFIX + "updates"
PATTERN = PREFIX + "*"
REBUILD_LOCK = "pp:lbrebuild:lock"
REBUILD_JOURNAL = "pp:lbrebuild:journal"


def rebuild_prefix(token: str) -> str:
    """Where a rebuild writes its keys before they replace the live ones."""
    return f"pp:lbnew:{token}:"


def board(name: str) -> str:
    return f"{PREFIX}board:{name}"


def cohort_board(cohort: str, name: str) -> str:
    return f"{PREFIX}cohort:{cohort}:{name}"


def stats(user: str) -> str:
    return f"{PREFIX}stats:{user}"


def cohort_stats(cohort: str) -> str:
    return f"{PREFIX}cohortstats:{cohort}"


RATED = PREFIX + "rated:"


def rated(rating_id: str) -> str:
    return RATED + rating_id
