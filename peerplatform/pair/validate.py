"""The request bodies of the pair API, checked in full before anything changes.

Each ``*_body`` function takes the parsed JSON and returns it normalised, or raises
:class:`~.errors.PairError` 400 naming the offending field. Unknown fields are refused too: a
pair server that sends something we do not read has a bug worth seeing.
"""

from __future__ import annotations

import json
import math
import re

from peerplatform_contracts.difficulties import CHOICES
from peerplatform_contracts.pair_api import SWAP_ACTIONS

from .errors import PairError

CELL_TYPES = ("code", "markdown", "raw")
#: Cells of one notebook (a session notebook has a handful).
MAX_CELLS = 2000
#: Snapshots / events in one batch.
MAX_BATCH = 200
#: The final notebook is kept (JSON text) for review unless it is bigger than this.
MAX_STORED_NOTEBOOK_BYTES = 4 * 1024 * 1024
#: An event's ``data``, as JSON.
MAX_EVENT_DATA_BYTES = 16 * 1024
EVENT_ID_RE = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
#: Event types the service writes itself: a pair server may not forge them (``last_tests``
#: and the review read them).
RESERVED_EVENT_TYPES = frozenset({
    "tests", "swap", "swap_requested", "swap_declined", "swap_cancelled", "challenge",
    "voice", "started", "ended", "outcome",
})


def bad(field: str, why: str) -> PairError:
    return PairError(400, f"{field}: {why}")


def _object(value, field: str, allowed: set[str], required: set[str] = frozenset()) -> dict:
    if not isinstance(value, dict):
        raise bad(field, "must be an object")
    unknown = sorted(set(value) - allowed)
    if unknown:
        raise bad(f"{field}.{unknown[0]}" if field else unknown[0], "unknown field")
    for name in sorted(required):
        if name not in value:
            raise bad(f"{field}.{name}" if field else name, "is required")
    return value


def _name(value, field: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255:
        raise bad(field, "must be a user name")
    return value


def _bool(value, field: str) -> bool:
    if not isinstance(value, bool):
        raise bad(field, "must be true or false")
    return value


def _number(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(field, "must be a number")
    return float(value)


def _grading_metadata(value, field: str) -> dict:
    """The part of a cell's metadata grading reads (tags, ``peerplatform.grade``); the rest
    is dropped (it is the notebook's, and may hold keys the store cannot take)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise bad(field, "must be an object")
    out: dict = {}
    tags = value.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise bad(f"{field}.tags", "must be a list of strings")
        out["tags"] = [t[:100] for t in tags[:50]]
    pp = value.get("peerplatform")
    if isinstance(pp, dict) and pp.get("grade") is False:
        out["peerplatform"] = {"grade": False}
    return out


def cells(value, field: str = "cells") -> list[dict]:
    """Notebook cells as the pair server sends them -> ``{"cell_type", "source",
    "metadata"}`` with ``source`` a string."""
    if not isinstance(value, list):
        raise bad(field, "must be a list of cells")
    if len(value) > MAX_CELLS:
        raise bad(field, f"at most {MAX_CELLS} cells")
    out = []
    for i, cell in enumerate(value):
        where = f"{field}[{i}]"
        cell = _object(cell, where, {"cell_type", "source", "metadata", "id", "outputs",
                                     "execution_count", "attachments"},
                       {"cell_type", "source"})
        if cell["cell_type"] not in CELL_TYPES:
            raise bad(f"{where}.cell_type", f"must be one of {', '.join(CELL_TYPES)}")
        source = cell["source"]
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise bad(f"{where}.source", "must be a string (or a list of strings)")
        out.append({"cell_type": cell["cell_type"], "source": source,
                    "metadata": _grading_metadata(cell.get("metadata"), f"{where}.metadata")})
    return out


def challenge_body(body: dict) -> dict:
    body = _object(body, "", {"by", "difficulty"}, {"by"})
    difficulty = body.get("difficulty")
    if difficulty is not None and difficulty not in CHOICES:
        raise bad("difficulty", f"must be one of {', '.join(CHOICES)}")
    return {"by": _name(body["by"], "by"), "difficulty": difficulty}


def tests_body(body: dict) -> dict:
    body = _object(body, "", {"by", "cells"}, {"by", "cells"})
    return {"by": _name(body["by"], "by"), "cells": cells(body["cells"])}


def swap_body(body: dict) -> dict:
    body = _object(body, "", {"by", "action"}, {"by", "action"})
    if body["action"] not in SWAP_ACTIONS:
        raise bad("action", f"must be one of {', '.join(SWAP_ACTIONS)}")
    return {"by": _name(body["by"], "by"), "action": body["action"]}


def snapshots_body(body: dict) -> list[dict]:
    body = _object(body, "", {"snapshots"}, {"snapshots"})
    items = body["snapshots"]
    if not isinstance(items, list) or not items:
        raise bad("snapshots", "must be a non-empty list")
    if len(items) > MAX_BATCH:
        raise bad("snapshots", f"at most {MAX_BATCH} in one batch")
    out, seqs = [], set()
    for i, snap in enumerate(items):
        where = f"snapshots[{i}]"
        snap = _object(snap, where, {"seq", "t", "by", "cells", "final", "notebook"},
                       {"seq", "t", "by", "cells"})
        seq = snap["seq"]
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53:
            raise bad(f"{where}.seq", "must be a non-negative integer")
        if seq in seqs:
            raise bad(f"{where}.seq", "appears twice in the batch")
        seqs.add(seq)
        t = _number(snap["t"], f"{where}.t")
        if not 0 <= t <= 7 * 24 * 3600:
            raise bad(f"{where}.t", "must be seconds after the start (0 or more)")
        final = _bool(snap.get("final", False), f"{where}.final")
        notebook_json = None
        if snap.get("notebook") is not None:
            if not final:
                raise bad(f"{where}.notebook", "only the final snapshot carries the notebook")
            notebook = snap["notebook"]
            if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
                raise bad(f"{where}.notebook", "must be an nbformat notebook object")
            # JSON text: output mimetypes ("text/plain", dotted names) are not safe keys
            notebook_json = json.dumps(notebook)
            if len(notebook_json) > MAX_STORED_NOTEBOOK_BYTES:
                notebook_json = None
        out.append({"seq": seq, "t": t, "by": _name(snap["by"], f"{where}.by"),
                    "cells": cells(snap["cells"], f"{where}.cells"), "final": final,
                    "notebook_json": notebook_json})
    return out


def _safe_keys(value, field: str, depth: int = 0) -> None:
    """Event data goes into the session document: keys the store can take, shallow."""
    if depth > 5:
        raise bad(field, "is nested too deeply")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or not key or key.startswith("$") or "." in key:
                raise bad(field, f"key {key!r} is not allowed (no '.', no leading '$')")
            _safe_keys(item, f"{field}.{key}", depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _safe_keys(item, f"{field}[{i}]", depth + 1)


def events_body(body: dict) -> list[dict]:
    body = _object(body, "", {"events"}, {"events"})
    items = body["events"]
    if not isinstance(items, list) or not items:
        raise bad("events", "must be a non-empty list")
    if len(items) > MAX_BATCH:
        raise bad("events", f"at most {MAX_BATCH} in one batch")
    out, ids = [], set()
    for i, event in enumerate(items):
        where = f"events[{i}]"
        event = _object(event, where, {"id", "type", "data"}, {"id", "type"})
        if not isinstance(event["id"], str) or not EVENT_ID_RE.match(event["id"]):
            raise bad(f"{where}.id", "must be 1-64 characters of [A-Za-z0-9_.:-]")
        if event["id"] in ids:
            raise bad(f"{where}.id", "appears twice in the batch")
        ids.add(event["id"])
        kind = event["type"]
        if not isinstance(kind, str) or not EVENT_TYPE_RE.match(kind):
            raise bad(f"{where}.type", "must be a short lowercase name")
        if kind in RESERVED_EVENT_TYPES:
            raise bad(f"{where}.type", f"{kind!r} is recorded by the service itself")
        data = event.get("data") or {}
        if not isinstance(data, dict):
            raise bad(f"{where}.data", "must be an object")
        if len(json.dumps(data)) > MAX_EVENT_DATA_BYTES:
            raise bad(f"{where}.data", f"larger than {MAX_EVENT_DATA_BYTES} bytes")
        _safe_keys(data, f"{where}.data")
        out.append({"id": event["id"], "type": kind, "data": data})
    return out
