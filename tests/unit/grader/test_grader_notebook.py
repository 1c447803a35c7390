"""The "which code is graded" rule of ``code_from_notebook``."""

import pytest

from peerplatform_grader import code_from_notebook


def code(source, **metadata):
    return {"cell_type": "code", "source": source, "metadata": metadata, "outputs": []}


def notebook(*cells):
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": list(cells)}


def test_every_code_cell_in_order_with_its_position():
    nb = notebook(
        {"cell_type": "markdown", "source": "# The challenge", "metadata": {}},
        code("def f(x):\n    return x\n"),
        code(["y = f(", "2)\n"]),  # nbformat allows a list of lines
    )
    assert code_from_notebook(nb) == (
        "# %% [cell 2]\ndef f(x):\n    return x\n"
        "# %% [cell 3]\ny = f(2)\n"
    )


def test_markdown_raw_and_skip_tagged_cells_are_left_out():
    nb = notebook(
        {"cell_type": "raw", "source": "raw = 1", "metadata": {}},
        code("scratch = 1", tags=["skip-grading"]),
        code("also_scratch = 1", peerplatform={"grade": False}),
        code("kept = 1"),
    )
    out = code_from_notebook(nb)
    assert "kept = 1" in out
    assert "raw" not in out and "scratch" not in out


def test_cell_magics_are_left_out_and_line_magics_become_pass():
    nb = notebook(
        code("%%timeit\nf(3)"),
        code("%matplotlib inline\nif True:\n    !ls\n    files = !ls\nz = 1"),
    )
    out = code_from_notebook(nb)
    assert "timeit" not in out
    assert "pass  # IPython-only line left out\nif True:\n    pass" in out
    assert "    pass  # IPython-only line left out\nz = 1" in out
    compile(out, "<graded>", "exec")  # still valid Python


@pytest.mark.parametrize("bad", [None, [], {"cells": "nope"}, {"nbformat": 4}])
def test_not_a_notebook_is_refused(bad):
    with pytest.raises(ValueError, match="not a notebook"):
        code_from_notebook(bad)
