"""The session panel states the grading rule next to "Run tests": it must name what the grader
actually leaves out, so a learner's scratch cell is where they think it is."""

from pathlib import Path

from peerplatform_grader.notebook import SKIP_TAG, is_graded

PANEL = Path(__file__).resolve().parents[3] / "labextension" / "src" / "panel.ts"


def test_panel_states_the_rule_the_grader_applies():
    text = PANEL.read_text()
    assert "GRADING_RULE" in text and "gradingRule()" in text
    rule = text.split("export const GRADING_RULE =", 1)[1].split(";", 1)[0]
    assert SKIP_TAG in rule
    assert "%%" in rule and "markdown" in rule and "top to bottom" in rule
    # and the grader does what the sentence says
    assert not is_graded({"cell_type": "markdown", "source": "x = 1"})
    assert not is_graded({"cell_type": "code", "source": "x", "metadata": {"tags": [SKIP_TAG]}})
    assert not is_graded({"cell_type": "code", "source": "%%time\nx = 1"})
    assert is_graded({"cell_type": "code", "source": "x = 1", "metadata": {}})
