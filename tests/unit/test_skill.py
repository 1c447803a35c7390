"""Glicko-2 skill updates with the challenge as the opponent."""

from peerplatform.matching.skill import Skill, difficulty_for, rate_session


def test_new_learners_start_at_1500_rd_350():
    assert Skill.of(None) == Skill(1500.0, 350.0, 0.06)


def test_solving_raises_learners_and_lowers_the_challenge():
    members = {"a": Skill(), "b": Skill(1600, 200)}
    after, challenge = rate_session(members, Skill(1500, 200), solved=True)
    assert after["a"].rating > 1500 and after["b"].rating > 1600
    assert after["a"].rd < 350  # more certain after a game
    assert challenge.rating < 1500
    # the uncertain newcomer moves further than the established learner
    assert after["a"].rating - 1500 > after["b"].rating - 1600


def test_failing_lowers_learners_and_raises_the_challenge():
    after, challenge = rate_session({"a": Skill(), "b": Skill()}, Skill(1500, 200), solved=False)
    assert after["a"].rating < 1500 and challenge.rating > 1500


def test_match_my_level_difficulty():
    assert difficulty_for([1150, 1250]) == "easy"
    assert difficulty_for([1500, 1560]) == "medium"
    assert difficulty_for([1900, 1750]) == "hard"
