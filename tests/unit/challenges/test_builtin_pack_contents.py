"""The built-in pack meets its brief: size, tags, difficulties, tool tracks, metadata."""

from collections import Counter

import pytest

from challenges_loader import collect


@pytest.fixture(scope="module")
def builtin():
    result = collect(["builtin"])
    assert result.ok, "\n".join(map(str, result.errors))
    return result.challenges


def test_at_least_sixty_challenges(builtin):
    assert len(builtin) >= 60


def test_at_least_twelve_tags_and_all_difficulties(builtin):
    assert len({t for c in builtin for t in c["tags"]}) >= 12
    assert {c["difficulty"] for c in builtin} == {"easy", "medium", "hard"}


def test_two_tool_tracks_with_at_least_eight_each(builtin):
    tracks = Counter(c["track"] for c in builtin)
    tools = {track: n for track, n in tracks.items() if track != "algorithms"}
    assert sum(n >= 8 for n in tools.values()) >= 2, tracks


def test_every_challenge_has_examples_or_starter_and_its_own_licence(builtin):
    for c in builtin:
        assert c["starter_code"].strip(), c["slug"]
        assert c["licence"] == "BSD-3-Clause" and "original" in c["source"], c["slug"]
        total = len(c["tests"].get("cases") or ())
        assert total >= 1, c["slug"]


def test_reference_solution_is_not_in_the_public_fields(builtin):
    from peerplatform.store.challenge_view import public_view

    for c in builtin:
        view = public_view(c, html=False)
        assert "solution" not in view and "tests" not in view
