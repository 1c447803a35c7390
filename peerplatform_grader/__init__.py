"""Grading the driver's code against a challenge's hidden tests, in a sandboxed subprocess.

A package of its own: it imports neither the service (``peerplatform``) nor the pair server
(``peerplatform_ext``), only :mod:`learner_sandbox` and :mod:`peerplatform_contracts`
(``tests/unit/test_import_graph.py`` checks it). Its settings: :mod:`.settings`.

CONTRACT (keep these signatures):

* ``code_from_notebook(notebook: dict) -> str``   the code to grade, from the session notebook
  (nbformat dict); the rule is in :mod:`.notebook` (every code cell in order, except cells tagged
  ``skip-grading`` and cell magics; a cell that raises does not stop the others)
* ``await grade(challenge: dict, code: str) -> dict`` with at least::

      {"status": "passed"|"failed"|"error"|"timeout"|"memory"|"output",
       "passed": int, "failed": int, "errors": int, "total": int,
       "duration_ms": float,
       "tests": [{"name": str, "status": "pass"|"fail"|"error", "message": str}],
       "output": str}                                  # captured stdout/stderr, capped

  and also ``message`` (one line for humans), ``tests_ms`` (the tests' own time),
  ``load_errors`` ([{cell, kind, message}]: cells that raised), ``output_truncated``,
  ``challenge`` ({slug, version, hash} graded against), ``isolation`` (layers applied) and
  ``limits``; each test also has ``kind`` (assertion|exception|timeout|memory|...) and
  ``duration_ms``.

Pass the challenge **as stored** (``store.challenges.get(slug)`` or ``get_version(slug, v)``):
the hidden tests are taken from it, never from the notebook. Grading never raises for bad
code; it returns a result. How: :mod:`.pipeline` runs the steps of :mod:`.steps`; the sandbox
is :mod:`.sandbox` running :mod:`.runner`.
"""

from .notebook import code_from_notebook
from .pipeline import DEFAULT_STEPS, grade, grade_sync
from .sandbox import Limits

__all__ = ["code_from_notebook", "grade", "grade_sync", "Limits", "DEFAULT_STEPS"]
