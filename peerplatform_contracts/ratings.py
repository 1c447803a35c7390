"""Default skill ratings (Glicko-2 scale) of challenges and learners."""

from __future__ import annotations

#: A challenge's rating until rated sessions move it, by difficulty (a pack may set its own);
#: "match my level" picks the difficulty whose default is nearest the pair's mean rating.
DEFAULT_CHALLENGE_RATING = {"easy": 1200, "medium": 1500, "hard": 1800}
#: A learner's rating before any rated session (Glicko-2's default).
DEFAULT_LEARNER_RATING = 1500.0
