"""Which code of the session notebook is graded.

The rule (also shown to learners next to the "Run tests" button):

1. Every **code cell**, in notebook order, is graded - the challenge's starter cell included.
   Markdown and raw cells are not.
2. A code cell is left out when it is tagged ``skip-grading`` (JupyterLab's property inspector
   → cell tags) or when its metadata says ``{"peerplatform": {"grade": false}}``: that is where
   scratch work goes.
3. A cell whose first line is a cell magic (``%%time``, ``%%bash``...) is left out: it is not
   Python. In the other cells, IPython-only lines (``%magic``, ``!shell``, ``x = !cmd``) become
   ``pass`` so the rest still runs.
4. The cells run one after the other in one namespace, as "Restart and run all" would; a cell
   that raises is reported (its number and the error) and the next cells still run.

The result is plain Python in the "percent" format: each cell starts with ``# %% [cell N]``,
N being the cell's 1-based position in the notebook, so messages can point at it.
"""

from __future__ import annotations

import re

SKIP_TAG = "skip-grading"
_IPYTHON_LINE = re.compile(r"^(\s*)(?:[%!]|[A-Za-z_][\w, ]*=\s*[%!])")


def _source(cell: dict) -> str:
    source = cell.get("source") or ""
    return "".join(source) if isinstance(source, list) else str(source)


def is_graded(cell: dict) -> bool:
    if cell.get("cell_type") != "code":
        return False
    metadata = cell.get("metadata") or {}
    if SKIP_TAG in (metadata.get("tags") or ()):
        return False
    if (metadata.get("peerplatform") or {}).get("grade") is False:
        return False
    return not _source(cell).lstrip().startswith("%%")


def python_only(source: str) -> str:
    """IPython-only lines become ``pass`` (same indentation, so blocks stay valid)."""
    lines = []
    for line in source.splitlines():
        match = _IPYTHON_LINE.match(line)
        lines.append(f"{match.group(1)}pass  # IPython-only line left out" if match else line)
    return "\n".join(lines)


def code_from_notebook(notebook: dict) -> str:
    """The graded code of an nbformat-4 notebook dict, by the rule in this module's docstring."""
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ValueError("not a notebook: expected an nbformat dict with a 'cells' list")
    parts = []
    for position, cell in enumerate(notebook["cells"], start=1):
        if isinstance(cell, dict) and is_graded(cell):
            parts.append(f"# %% [cell {position}]\n{python_only(_source(cell))}\n")
    return "".join(parts)
