"""Pure validation: what a pair server and the waiting room accept."""

from __future__ import annotations

import pytest

from peerplatform.matching.preferences import InvalidPreferences, validate_preferences
from spawner import parse_user_options


def test_user_options_accept_exactly_a_session_id():
    assert parse_user_options({"session_id": "abc123def456"}) == {"session_id": "abc123def456"}


@pytest.mark.parametrize(
    "options, says",
    [
        ({}, "session_id"),
        ({"session_id": ""}, "session_id"),
        ({"session_id": "abc123def45"}, "session_id"),  # 11 characters
        ({"session_id": "abc123def4567"}, "session_id"),  # 13 characters
        ({"session_id": "ABC123DEF456"}, "session_id"),
        ({"session_id": "abc123def45/"}, "session_id"),
        ({"session_id": ["abc123def456"]}, "session_id"),
        ({"session_id": "abc123def456", "driver": "mallory"}, "driver"),
        ("abc123def456", "object"),
        (None, "object"),
    ],
)
def test_user_options_refuse_everything_else(options, says):
    with pytest.raises(ValueError, match=says):
        parse_user_options(options)


LENGTHS = (30, 45, 60)  # the settings' default choices


def test_preferences_defaults_and_normalisation():
    assert validate_preferences(None, durations=LENGTHS) == {"difficulty": "any"}
    assert validate_preferences({"difficulty": "hard", "duration_minutes": 30},
                                durations=LENGTHS) == {"difficulty": "hard", "duration_minutes": 30}
    assert validate_preferences({"track": "sql"}, durations=LENGTHS) == {
        "difficulty": "any", "track": "sql"}
    assert validate_preferences({"track": "any"}, durations=LENGTHS) == {"difficulty": "any"}


def test_the_lengths_on_offer_are_the_only_lengths_accepted():
    assert validate_preferences({"duration_minutes": 20}, durations=[20, 40]) == {
        "difficulty": "any", "duration_minutes": 20}
    for refused in (45, 15, 90, 20.0):  # 15 and 90 were hard-wired before the settings
        with pytest.raises(InvalidPreferences) as e:
            validate_preferences({"duration_minutes": refused}, durations=[20, 40])
        assert str(e.value) == ("duration_minutes must be one of 20, 40 (minutes), or left out "
                                "for the default length")
    # leaving it out (the default length) is always possible, even with no choices at all
    assert validate_preferences({}, durations=[]) == {"difficulty": "any"}


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"difficulty": "extreme"}, "difficulty"),
        ({"difficulty": 3}, "difficulty"),
        ({"duration_minutes": 31}, "duration_minutes"),
        ({"duration_minutes": 90}, "duration_minutes"),
        ({"duration_minutes": "30"}, "duration_minutes"),
        ({"duration_minutes": True}, "duration_minutes"),
        ({"rating": 1500}, "rating"),
        ({"track": "SQL; DROP"}, "track"),
        ({"track": 7}, "track"),
        ({"track": "x" * 41}, "track"),
        (["easy"], "object"),
    ],
)
def test_preferences_name_the_bad_field(raw, field):
    with pytest.raises(InvalidPreferences, match=field):
        validate_preferences(raw, durations=LENGTHS)
