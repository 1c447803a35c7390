"""Our own packs: YAML or JSON files, or folders of them (searched recursively, sorted)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from ..schema import PackError, SchemaVersionError, check_version, validate_file_shape
from . import Candidate

EXTENSIONS = (".yaml", ".yml", ".json")
#: libyaml's safe loader when PyYAML was built with it (much faster), else the pure-Python one.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def pack_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in EXTENSIONS
                      and not any(part.startswith(".") for part in p.relative_to(path).parts))
    return [path]


def parse(path: Path) -> dict:
    """The file's data; raises ValueError with a line number on a syntax error."""
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    try:
        return yaml.load(text, Loader=SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ValueError(f"invalid YAML{at}: {problem}") from None


def read(path: str | Path) -> tuple[list[Candidate], list[PackError]]:
    path = Path(path)
    candidates, errors = [], []
    if not path.exists():
        return [], [PackError(str(path), "no such file or folder")]
    files = pack_files(path)
    if path.is_dir() and not files:
        return [], [PackError(str(path), "no .yaml, .yml or .json pack files in this folder")]
    for file in files:
        name = str(file)
        if file.suffix not in EXTENSIONS:
            errors.append(PackError(name, "not a pack file (expected .yaml, .yml or .json)"))
            continue
        try:
            data = parse(file)
        except (ValueError, UnicodeDecodeError) as exc:
            errors.append(PackError(name, str(exc)))
            continue
        if not isinstance(data, dict):
            errors.append(PackError(name, "expected a mapping with schema_version and challenges"))
            continue
        try:
            data = check_version(data, name)
        except SchemaVersionError as exc:
            errors.append(exc.as_pack_error())
            continue
        shape = validate_file_shape(data, name)
        if shape:
            errors.extend(shape)
            continue
        if "challenges" in data:
            pack = data.get("pack") or {}
            for i, item in enumerate(data["challenges"]):
                candidates.append(Candidate(name, label_of(item, i), item, pack))
        else:
            item = {k: v for k, v in data.items() if k != "schema_version"}
            candidates.append(Candidate(name, label_of(item, 0), item, {}))
    return candidates, errors


def label_of(item, index: int) -> str:
    slug = item.get("slug") if isinstance(item, dict) else None
    return repr(slug) if isinstance(slug, str) and slug else f"#{index + 1}"
