"""The JupyterLab extension as JupyterLab sees it: ``jupyter labextension list`` of this
environment reports ``peerplatform-lab`` enabled and OK (installed with the package), and
``jupyter labextension develop`` links this checkout's build for an editable install."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import peerplatform_ext

REPO = Path(__file__).resolve().parents[2]
BUILT = Path(peerplatform_ext.__file__).parent / "labextension"
NAME = "peerplatform-lab"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def jupyter(args: list[str], home: Path, jupyter_path: Path | None = None) -> str:
    """Runs the environment's ``jupyter`` with no user or ``JUPYTER_PATH`` directories
    besides ``jupyter_path`` (what the package installed is what counts)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "JUPYTER_DATA_DIR",
                        "JUPYTER_CONFIG_DIR")}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["HOME"] = str(home)
    env["JUPYTER_CONFIG_DIR"] = str(home / ".jupyter")
    env["JUPYTER_DATA_DIR"] = str(home / "data")
    if jupyter_path is not None:
        env["JUPYTER_PATH"] = str(jupyter_path)
    done = subprocess.run(["jupyter", "labextension", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    output = ANSI.sub("", done.stdout + done.stderr)
    assert done.returncode == 0, output
    return output


def listed(output: str) -> dict[str, list[str]]:
    """``jupyter labextension list``: labextensions directory -> its extension lines."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in output.splitlines():
        if line.startswith("/"):
            current = sections.setdefault(line.strip(), [])
        elif current is not None and line.startswith((" ", "\t")) and line.strip():
            current.append(line.strip())
    return sections


def status_of(lines: list[str]) -> str | None:
    for line in lines:
        if line.split(" ", 1)[0] == NAME:
            return line
    return None


@pytest.fixture(scope="module", autouse=True)
def built():
    if not (BUILT / "package.json").is_file():
        pytest.fail(f"the JupyterLab extension is not built ({BUILT}): run `make` or "
                    "`npm install && npm run build` in labextension/")


def test_installed_extension_is_enabled_and_ok(tmp_path):
    version = json.loads((REPO / "labextension" / "package.json").read_text())["version"]
    sections = listed(jupyter(["list"], tmp_path))
    installed = str(Path(sys.prefix) / "share" / "jupyter" / "labextensions")
    line = status_of(sections.get(installed, []))
    assert line is not None, sections
    assert re.fullmatch(rf"{NAME} v{re.escape(version)} enabled\s+OK\b.*", line), line


def test_labextension_paths_name_the_built_extension():
    (path,) = peerplatform_ext._jupyter_labextension_paths()
    src = Path(peerplatform_ext.__file__).parent / path["src"]
    assert src == BUILT
    assert json.loads((src / "package.json").read_text())["name"] == path["dest"] == NAME


def test_develop_links_this_checkout_and_lab_lists_it(tmp_path):
    """The editable (dev) install: ``jupyter labextension develop .`` links the checkout's
    build (needs ``_jupyter_labextension_paths``), and JupyterLab loads that one first."""
    jpath = tmp_path / "jupyter-path"
    labextensions = jpath / "labextensions"
    jupyter(["develop", "--overwrite", "--DevelopLabExtensionApp.sys_prefix=False",
             f"--DevelopLabExtensionApp.labextensions_dir={labextensions}", "."], tmp_path)
    link = labextensions / NAME
    assert link.is_symlink() and link.resolve() == BUILT.resolve()
    sections = listed(jupyter(["list"], tmp_path, jupyter_path=jpath))
    line = status_of(sections.get(str(labextensions), []))
    assert line is not None, sections
    assert re.match(rf"{NAME} v\S+ enabled\s+OK\b", line), line
    assert list(sections).index(str(labextensions)) == 0, sections  # first on the path
