"""Exercism track checkouts (e.g. a clone of the Python track).

Layout read: the track's ``config.json`` (``exercises.practice``: slug, name, difficulty 1-10,
practices, prerequisites, status) and, per exercise, ``exercises/practice/<slug>/`` with
``.docs/introduction.md`` (optional), ``.docs/instructions.md``, ``.docs/instructions.append.md``
(optional), ``.meta/config.json`` (``files.solution``, ``files.test``, ``files.example``), the stub,
the test file and the example solution.

Mapping:

* slug ``exercism-<slug>``, track ``algorithms``, title from the track config's ``name``;
* statement = introduction + instructions + appended instructions (markdown, as written);
* starter code = the stub; reference solution = ``.meta/example.py``; hidden tests = the test
  file as a ``suite``, importing the learner's code under the stub's module name;
* difficulty through :data:`DEFAULT_DIFFICULTY_MAP` (1-3 easy, 4-6 medium, 7-10 hard),
  overridable (``--exercism-difficulty-map 1-2=easy,3-7=medium,8-10=hard``); rating
  ``900 + 100 * difficulty``;
* tags = practices + prerequisites (concept slugs are already kebab-case), else ``exercism``;
* deprecated exercises are skipped; source names the track, licence MIT (Exercism's).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..schema import PackError
from . import Candidate

DEFAULT_DIFFICULTY_MAP = {**dict.fromkeys(range(1, 4), "easy"),
                          **dict.fromkeys(range(4, 7), "medium"),
                          **dict.fromkeys(range(7, 11), "hard")}


def parse_difficulty_map(text: str) -> dict[int, str]:
    """``"1-3=easy,4-6=medium,7-10=hard"`` → {1: "easy", ...}; every level 1-10 must be mapped."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = re.fullmatch(r"(\d+)(?:-(\d+))?=(easy|medium|hard)", part)
        if not match:
            raise ValueError(f"bad difficulty mapping {part!r}: expected e.g. 1-3=easy")
        low, high = int(match.group(1)), int(match.group(2) or match.group(1))
        for level in range(low, high + 1):
            mapping[level] = match.group(3)
    missing = [n for n in range(1, 11) if n not in mapping]
    if missing:
        raise ValueError(f"difficulty mapping leaves levels {missing} unmapped")
    return mapping


def is_track(path: Path) -> bool:
    return (path / "config.json").is_file() and (path / "exercises" / "practice").is_dir()


def _kebab(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", str(text).lower()).strip("-")


def read(path: str | Path, difficulty_map: dict | None = None) -> tuple[list, list]:
    root = Path(path)
    difficulty_map = difficulty_map or DEFAULT_DIFFICULTY_MAP
    config_file = root / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        exercises = config["exercises"]["practice"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return [], [PackError(str(config_file), f"not an Exercism track config: {exc}")]
    track = config.get("slug") or root.name
    candidates, errors = [], []
    for entry in exercises:
        slug = entry.get("slug", "")
        if entry.get("status") == "deprecated":
            continue
        folder = root / "exercises" / "practice" / slug
        label = repr(f"exercism-{slug}")
        try:
            candidates.append(Candidate(str(folder), label, _challenge(
                folder, entry, track, difficulty_map)))
        except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
            errors.append(PackError(str(folder), f"cannot import this exercise: {exc}",
                                    challenge=label))
    return candidates, errors


def _challenge(folder: Path, entry: dict, track: str, difficulty_map: dict) -> dict:
    meta = json.loads((folder / ".meta" / "config.json").read_text(encoding="utf-8"))
    files = meta["files"]
    stub, test = files["solution"][0], files["test"][0]
    example = (files.get("example") or [".meta/example.py"])[0]
    docs = folder / ".docs"
    statement = "\n\n".join(
        (docs / name).read_text(encoding="utf-8").strip()
        for name in ("introduction.md", "instructions.md", "instructions.append.md")
        if (docs / name).is_file())
    level = int(entry.get("difficulty", 1))
    if level not in difficulty_map:
        raise ValueError(f"difficulty {level} is outside the mapping (1-10)")
    tags = []
    for concept in list(entry.get("practices") or ()) + list(entry.get("prerequisites") or ()):
        tag = _kebab(concept)[:40].strip("-")
        if tag and tag not in tags:
            tags.append(tag)
    return {
        "slug": f"exercism-{entry['slug']}",
        "title": entry.get("name") or entry["slug"].replace("-", " ").capitalize(),
        "statement": statement or meta.get("blurb", ""),
        "difficulty": difficulty_map[level],
        "rating": 900 + 100 * level,
        "tags": tags[:12] or ["exercism"],
        "track": "algorithms",
        "starter_code": (folder / stub).read_text(encoding="utf-8"),
        "examples": [],
        "tests": {"module_name": Path(stub).stem,
                  "suite": (folder / test).read_text(encoding="utf-8")},
        "solution": (folder / example).read_text(encoding="utf-8"),
        "time_limit_s": 10,
        "source": f"Exercism {track} track: exercises/practice/{entry['slug']}",
        "licence": "MIT",
    }
