"""Challenge cells: what they say, and how they are placed in a live notebook."""

from __future__ import annotations

from jupyter_ydoc import YNotebook
from pycrdt import Doc

from peerplatform_ext.challenge import challenge_cells, challenge_in, place_challenge, \
    public_challenge, statement_markdown

CH = {"slug": "two-sum", "title": "Two Sum", "difficulty": "easy", "tags": ["arrays", "hash"],
      "statement": "Find two numbers.", "starter_code": "def two_sum(xs, t):\n    pass\n",
      "examples": [{"input": "[1, 2], 3", "output": "[0, 1]"}], "tests": {"cases": []},
      "solution": "secret", "track": "python"}


def test_statement_has_title_difficulty_tags_statement_examples_and_no_hidden_parts():
    md = statement_markdown(CH)
    for part in ("# Two Sum", "**Difficulty:** easy", "arrays, hash", "Find two numbers.",
                 "input: [1, 2], 3", "output: [0, 1]"):
        assert part in md
    assert "secret" not in md
    statement, starter = challenge_cells(CH)
    assert statement["metadata"]["peerplatform"] == {"challenge": "two-sum", "cell": "statement"}
    assert statement["metadata"]["editable"] is False
    assert starter["source"] == CH["starter_code"] and starter["cell_type"] == "code"
    view = public_challenge(CH)
    assert "tests" not in view and "solution" not in view and view["statement_html"]


def test_code_fences_in_examples_cannot_break_out():
    md = statement_markdown({**CH, "examples": ["```\n<script>x</script>"]})
    assert md.count("```") == 2


def notebook(cells):
    nb = YNotebook(Doc())
    nb.set({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5})
    return nb


def test_a_fresh_notebook_gets_exactly_the_challenge_cells():
    nb = notebook([])  # jupyter_ydoc gives an empty notebook one empty cell
    place_challenge(nb, CH)
    assert [c["cell_type"] for c in nb.get()["cells"]] == ["markdown", "code"]
    assert challenge_in(nb) == "two-sum"


def test_changing_the_challenge_replaces_its_cells_and_keeps_the_others():
    nb = notebook([])
    place_challenge(nb, CH)
    nb.append_cell({"cell_type": "code", "source": "# my notes", "metadata": {}})
    place_challenge(nb, {**CH, "slug": "three-sum", "title": "Three Sum"})
    cells = nb.get()["cells"]
    assert challenge_in(nb) == "three-sum" and len(cells) == 3
    assert "# Three Sum" in cells[0]["source"] and cells[2]["source"] == "# my notes"


def test_a_notebook_with_content_keeps_it():
    nb = notebook([{"cell_type": "code", "source": "x = 1", "metadata": {}, "outputs": [],
                    "execution_count": None}])
    assert challenge_in(nb) is None
    place_challenge(nb, CH)
    assert [c["source"] for c in nb.get()["cells"]][2] == "x = 1"
