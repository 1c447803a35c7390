"""The built-in pack meets its brief: size, tags, difficulties, tool tracks, metadata."""

import ast
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


def test_every_challenge_has_examples_a_starter_and_its_own_licence(builtin):
    for c in builtin:
        assert c["examples"], c["slug"]
        assert all(e["input"].strip() and e["output"].strip() for e in c["examples"]), c["slug"]
        assert c["starter_code"].strip(), c["slug"]
        assert c["licence"] == "BSD-3-Clause" and "original" in c["source"], c["slug"]
        total = len(c["tests"].get("cases") or ())
        assert total >= 1, c["slug"]


def test_reference_solution_is_not_in_the_public_fields(builtin):
    from peerplatform_contracts.challenge_view import public_view

    for c in builtin:
        view = public_view(c, html=False)
        assert "solution" not in view and "tests" not in view


#: Examples drawn rather than written as code (linked cars shown as arrows).
DRAWN = {"reverse-linked-list", "merge-sorted-chains", "loop-in-the-chain"}


def run_example(challenge: dict, source: str):
    """The value of an example's last expression, run after the starter and the reference
    solution: only what a learner has (the hidden tests' setup is not theirs), so every
    example can be tried in the notebook as written."""
    namespace: dict = {}
    for code in (challenge["starter_code"], challenge["solution"]):
        exec(code, namespace)  # our own pack: trusted code
    *body, last = ast.parse(source).body
    exec(compile(ast.Module(body, type_ignores=[]), "<example>", "exec"), namespace)
    return eval(compile(ast.Expression(last.value), "<example>", "eval"), namespace)


def test_examples_agree_with_the_reference_solution(builtin):
    drawn = set()
    for c in builtin:
        for example in c["examples"]:
            try:
                tree = ast.parse(example["input"])
                expected = ast.literal_eval(example["output"])
            except (SyntaxError, ValueError):
                drawn.add(c["slug"])
                continue
            assert tree.body and isinstance(tree.body[-1], ast.Expr), (c["slug"], example)
            got = run_example(c, example["input"])
            assert got == expected, (c["slug"], example["input"], got)
    assert drawn <= DRAWN, f"examples that are not code: {sorted(drawn - DRAWN)}"
