"""Grading the driver's code against a challenge's hidden tests, in a sandboxed subprocess.

CONTRACT used by the pair server's handlers (keep these signatures):

* ``code_from_notebook(notebook: dict) -> str``   the code to grade, from the session notebook
  (nbformat dict) by a documented rule
* ``await grade(challenge: dict, code: str) -> dict`` with at least::

      {"status": "passed"|"failed"|"error"|"timeout"|"memory"|"output",
       "passed": int, "failed": int, "errors": int, "total": int,
       "duration_ms": float,
       "tests": [{"name": str, "status": "pass"|"fail"|"error", "message": str}],
       "output": str}                                  # captured stdout/stderr, capped

The challenge-bank work implements this (pipeline of small steps, rlimits, no solution file).
"""


def code_from_notebook(notebook: dict) -> str:
    raise NotImplementedError("the autograder is not implemented yet")


async def grade(challenge: dict, code: str) -> dict:
    raise NotImplementedError("the autograder is not implemented yet")
