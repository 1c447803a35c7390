"""A stored notebook (nbformat JSON) as safe HTML parts for the review page: markdown through
the challenge renderer (sanitized with nh3), code and text outputs as text, HTML outputs
sanitized, PNG/JPEG outputs only as validated base64 data. Nothing from the notebook runs."""

from __future__ import annotations

import base64
import binascii
import json
import re

import nh3
from tornado.escape import xhtml_escape

from peerplatform_contracts.challenge_view import (
    ALLOWED_ATTRIBUTES,
    ALLOWED_TAGS,
    render_statement,
)

ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
MAX_OUTPUT_CHARS = 20_000


def _text(value) -> str:
    if isinstance(value, list):
        value = "".join(str(v) for v in value)
    return str(value or "")


def _pre(text: str, cls: str = "") -> str:
    text = ANSI.sub("", text)
    if len(text) > MAX_OUTPUT_CHARS:
        text = text[:MAX_OUTPUT_CHARS] + "\n… (cut)"
    return f'<pre class="{cls}">{xhtml_escape(text)}</pre>'


def _output(out: dict) -> str:
    kind = out.get("output_type")
    if kind == "stream":
        return _pre(_text(out.get("text")), "stream")
    if kind == "error":
        return _pre(
            "\n".join(_text(line) for line in out.get("traceback") or [])
            or f"{out.get('ename')}: {out.get('evalue')}",
            "error",
        )
    data = out.get("data") or {}
    for mime in ("image/png", "image/jpeg"):
        if mime in data:
            raw = _text(data[mime]).replace("\n", "")
            try:
                base64.b64decode(raw, validate=True)
            except (binascii.Error, ValueError):
                return _pre("(an image that is not valid base64 was left out)")
            return f'<img alt="cell output image" src="data:{mime};base64,{raw}">'
    if "text/html" in data:
        return nh3.clean(_text(data["text/html"]), tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES)
    if "text/markdown" in data:
        return render_statement(_text(data["text/markdown"]))
    if "text/plain" in data:
        return _pre(_text(data["text/plain"]), "result")
    return ""


def render_notebook(notebook_json: str | dict | None) -> list[dict]:
    """``[{"cell_type", "html"}]``: every ``html`` is safe to insert as is."""
    if not notebook_json:
        return []
    try:
        nb = json.loads(notebook_json) if isinstance(notebook_json, str) else notebook_json
    except ValueError:
        return [{"cell_type": "raw", "html": _pre("(the stored notebook could not be read)")}]
    cells = []
    for cell in nb.get("cells", []) if isinstance(nb, dict) else []:
        kind = cell.get("cell_type", "code")
        source = _text(cell.get("source"))
        if kind == "markdown":
            html = render_statement(source)
        else:
            html = _pre(source, "source")
            outputs = "".join(
                _output(o) for o in cell.get("outputs") or [] if isinstance(o, dict)
            )
            if outputs:  # set apart from the code, labelled, as JupyterLab does
                html += (
                    '<div class="outputs" role="group" aria-label="Output">'
                    f'<p class="outputs-label" aria-hidden="true">Output</p>{outputs}</div>'
                )
        cells.append({"cell_type": kind, "html": html})
    return cells
