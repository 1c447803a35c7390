"""Who may import whom, read from the source with ``ast`` (nothing is imported or run).

Every ``.py`` file of each of our top-level packages is parsed; every import counts: at module
level or inside a function, absolute or relative (resolved against the file's package), and
``importlib.import_module("...")`` / ``__import__("...")`` with a literal name. A rule lists the
packages of ours a package may import (stdlib and third-party ones are always allowed):

* ``peerplatform_ext`` runs in untrusted pair servers: nothing of the service
  (``peerplatform``), the loader or the spawner - only the contracts and the sandbox;
* ``peerplatform_contracts`` is what everyone agrees on: none of our packages;
* ``peerplatform_grader`` grades for the service and the loader: neither of them, nor the pair
  server;
* ``challenges_loader`` reads packs: the service imports it, never the reverse.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

#: Our top-level packages: an import of any other name is stdlib or third party.
OURS = ("peerplatform", "peerplatform_contracts", "peerplatform_ext", "peerplatform_grader",
        "challenges_loader", "spawner", "learner_sandbox")

#: package -> the packages of ours it may import (itself always).
RULES = {
    "peerplatform_ext": {"peerplatform_contracts", "learner_sandbox"},
    "peerplatform_contracts": set(),
    "peerplatform_grader": {"learner_sandbox", "peerplatform_contracts"},
    "challenges_loader": {"peerplatform_contracts", "peerplatform_grader"},
}


@dataclass(frozen=True)
class Import:
    file: Path
    line: int
    module: str  # absolute dotted name

    @property
    def top(self) -> str:
        return self.module.split(".")[0]


def _module_name(root: Path, path: Path) -> tuple[str, bool]:
    """Dotted name of a source file, and whether it is a package's ``__init__``."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    if is_package:
        parts.pop()
    return ".".join(parts), is_package


def _resolve(module: str | None, level: int, name: str, is_package: bool) -> str:
    """An ``ImportFrom``'s absolute module, as Python resolves it (importlib's
    ``_resolve_name``): ``level`` dots go up from the file's package."""
    if level == 0:
        return module or ""
    package = name if is_package else name.rpartition(".")[0]
    bits = package.split(".")
    if level - 1 >= len(bits):
        return "<beyond the top-level package>"
    base = ".".join(bits[: len(bits) - (level - 1)])
    return f"{base}.{module}" if module else base


def _source_files(root: Path, package: str):
    for path in sorted((root / package).rglob("*.py")):
        if "node_modules" not in path.parts:
            yield path


def imports(root: Path, package: str) -> list[Import]:
    """Every import in every ``.py`` file of ``root/package``."""
    found = []
    for path in _source_files(root, package):
        name, is_package = _module_name(root, path)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found += [Import(path, node.lineno, alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(node.module, node.level, name, is_package)
                found.append(Import(path, node.lineno, base))
                if node.module is None:  # ``from . import x``: x may be a module
                    found += [Import(path, node.lineno, f"{base}.{alias.name}")
                              for alias in node.names]
            elif (isinstance(node, ast.Call) and node.args
                  and isinstance(node.args[0], ast.Constant)
                  and isinstance(node.args[0].value, str)
                  and ((isinstance(node.func, ast.Name) and node.func.id == "__import__")
                       or (isinstance(node.func, ast.Attribute)
                           and node.func.attr == "import_module"))):
                found.append(Import(path, node.lineno, node.args[0].value))
    return found


def violations(root: Path, package: str, allowed: set[str]) -> list[str]:
    """``file:line: imports X`` for every import of one of ours that ``package`` may not make."""
    may = allowed | {package}
    return [
        f"{imp.file.relative_to(root)}:{imp.line}: imports {imp.module}"
        for imp in imports(root, package)
        if imp.top in OURS and imp.top not in may
    ]


@pytest.mark.parametrize("package", sorted(RULES))
def test_package_imports_only_what_it_may(package):
    assert (REPO / package).is_dir(), f"{package}/ is missing"
    bad = violations(REPO, package, RULES[package])
    allowed = ", ".join(sorted(RULES[package])) or "none of ours"
    assert not bad, (f"{package} may import only stdlib, third-party packages and: {allowed}; "
                     "found:\n" + "\n".join(bad))


def _plant(root: Path, files: dict[str, str]) -> None:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


def test_the_checker_catches_planted_violations(tmp_path):
    _plant(tmp_path, {
        "peerplatform_contracts/__init__.py": "",
        "peerplatform_contracts/ok.py": """\
            import json
            from . import sibling
            from .sessions import new_session_id
            """,
        "peerplatform_contracts/deep/__init__.py": "from .. import ok\n",
        "peerplatform_contracts/deep/bad.py": """\
            import re


            def later():
                import peerplatform.store  # inside a function
                return peerplatform.store


            def dynamic():
                import importlib
                return importlib.import_module("spawner.mixin")
            """,
        "peerplatform_ext/__init__.py": "",
        "peerplatform_ext/pages.py": """\
            from tornado import web
            from peerplatform_contracts import env
            from learner_sandbox import SandboxSettings
            from challenges_loader.schema import schema
            """,
    })
    bad = violations(tmp_path, "peerplatform_contracts", RULES["peerplatform_contracts"])
    assert bad == [
        "peerplatform_contracts/deep/bad.py:5: imports peerplatform.store",
        "peerplatform_contracts/deep/bad.py:11: imports spawner.mixin",
    ]
    assert violations(tmp_path, "peerplatform_ext", RULES["peerplatform_ext"]) == [
        "peerplatform_ext/pages.py:4: imports challenges_loader.schema",
    ]
    # relative imports resolve against the file's own package
    modules = {(imp.file.name, imp.module) for imp in imports(tmp_path, "peerplatform_contracts")}
    assert {("ok.py", "peerplatform_contracts"), ("ok.py", "peerplatform_contracts.sibling"),
            ("ok.py", "peerplatform_contracts.sessions"),
            ("__init__.py", "peerplatform_contracts.ok")} <= modules


def test_a_relative_import_out_of_a_package_is_resolved_not_trusted(tmp_path):
    # ``from ..peerplatform import x`` in a subpackage of the grader names the grader itself
    _plant(tmp_path, {
        "peerplatform_grader/__init__.py": "",
        "peerplatform_grader/sub/__init__.py": "",
        "peerplatform_grader/sub/m.py": "from ..peerplatform import x\nfrom ... import y\n",
    })
    found = [imp.module for imp in imports(tmp_path, "peerplatform_grader")]
    assert found == ["peerplatform_grader.peerplatform", "<beyond the top-level package>",
                     "<beyond the top-level package>.y"]
    assert violations(tmp_path, "peerplatform_grader", RULES["peerplatform_grader"]) == []
