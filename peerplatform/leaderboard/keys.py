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
``pp:lb:built``                        STRING  set once a rebuild has completed
``pp:lb:updates``                      PUBSUB  JSON of each change, for open leaderboard pages
=====================================  ======  ================================================
"""

PREFIX = "pp:lb:"
BOARDS = ("overall", "communication", "collaboration", "problem_solving")
COHORTS = PREFIX + "cohorts"
BUILT = PREFIX + "built"
UPDATES = PREFIX + "updates"
PATTERN = PREFIX + "*"


def board(name: str) -> str:
    return f"{PREFIX}board:{name}"


def cohort_board(cohort: str, name: str) -> str:
    return f"{PREFIX}cohort:{cohort}:{name}"


def stats(user: str) -> str:
    return f"{PREFIX}stats:{user}"


def cohort_stats(cohort: str) -> str:
    return f"{PREFIX}cohortstats:{cohort}"
