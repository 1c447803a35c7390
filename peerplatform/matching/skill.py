"""Skill ratings: Glicko-2 (the maintained ``glicko2`` package does the maths).

A session is one rated game per member **against the challenge**: solved within the time
(the final hidden tests passed) is a win for the learner and a loss for the challenge, anything
else the reverse. So the challenge's rating moves too, and a learner's rating says which
challenges they solve. Peer ratings (communication, collaboration, …) are a separate signal
and never move this one. Every rating is updated from the values before the session, as one
Glicko-2 rating period.
"""

from __future__ import annotations

from dataclasses import dataclass

import glicko2

from peerplatform_contracts.ratings import DEFAULT_CHALLENGE_RATING, DEFAULT_LEARNER_RATING

NEW_RATING, NEW_RD, NEW_VOL = DEFAULT_LEARNER_RATING, 350.0, 0.06


@dataclass(frozen=True)
class Skill:
    rating: float = NEW_RATING
    rd: float = NEW_RD
    vol: float = NEW_VOL

    @classmethod
    def of(cls, doc: dict | None, *, rating_field="rating", rd_field="rd", vol_field="vol",
           default_rating: float = NEW_RATING) -> Skill:
        doc = doc or {}
        return cls(float(doc.get(rating_field) or default_rating),
                   float(doc.get(rd_field) or NEW_RD), float(doc.get(vol_field) or NEW_VOL))


def _update(player: Skill, opponents: list[Skill], scores: list[float]) -> Skill:
    p = glicko2.Player(rating=player.rating, rd=player.rd, vol=player.vol)
    p.update_player([o.rating for o in opponents], [o.rd for o in opponents], scores)
    return Skill(p.rating, p.rd, p.vol)


def rate_session(members: dict[str, Skill], challenge: Skill, solved: bool
                 ) -> tuple[dict[str, Skill], Skill]:
    """New skills of the members and of the challenge after one session."""
    learner_score = 1.0 if solved else 0.0
    new_members = {user: _update(skill, [challenge], [learner_score])
                   for user, skill in members.items()}
    new_challenge = _update(challenge, list(members.values()),
                            [1.0 - learner_score] * len(members))
    return new_members, new_challenge


def difficulty_for(ratings) -> str:
    """"Match my level": the difficulty whose typical challenge rating is nearest the pair's
    mean rating (easy 1200, medium 1500, hard 1800 by default)."""
    ratings = list(ratings)
    mean = sum(ratings) / len(ratings)
    return min(DEFAULT_CHALLENGE_RATING, key=lambda d: abs(DEFAULT_CHALLENGE_RATING[d] - mean))
