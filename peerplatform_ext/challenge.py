"""The challenge cells of the session notebook.

The platform service picks the challenge and gives the pair server its public view only
(``peerplatform_contracts.challenge_view``: statement, starter, examples, tags; never a
hidden test or the solution). Two cells, both tagged
``metadata.peerplatform = {"challenge": <slug>, "cell": ...}``: a markdown *statement*
(title, difficulty, tags, statement, examples; not editable in the UI) and a code *starter*
cell. They are placed server side in the live shared document
(``notebook.py``), in one transaction, so every connected client gets them at once.
"""

from __future__ import annotations

import json

from jupyter_ydoc import YNotebook

from peerplatform_contracts.challenge_view import public_view

META_KEY = "peerplatform"
ORIGIN = "peerplatform-challenge"


def public_challenge(challenge: dict) -> dict:
    """The challenge without its hidden parts (tests, solution): the shared definition,
    with the statement also as sanitized HTML. The service sends it so already; applying it
    again here costs nothing and keeps whatever else a view may carry off the page."""
    return public_view(challenge)


def _example_md(i: int, example) -> str:
    if isinstance(example, dict):
        lines = []
        for key, value in example.items():
            text = value if isinstance(value, str) else json.dumps(value)
            lines.append(f"{key}: {text}")
        body = "\n".join(lines)
    else:
        body = str(example)
    return f"**Example {i}**\n\n```\n{body.replace('```', '` ` `')}\n```"


def statement_markdown(challenge: dict) -> str:
    tags = ", ".join(str(t) for t in challenge.get("tags") or []) or "none"
    parts = [
        f"# {challenge.get('title') or challenge['slug']}",
        f"**Difficulty:** {challenge.get('difficulty') or 'unrated'} · **Tags:** {tags}",
        str(challenge.get("statement") or "").strip(),
    ]
    examples = challenge.get("examples") or []
    if examples:
        parts.append("### Examples")
        parts.extend(_example_md(i, ex) for i, ex in enumerate(examples, 1))
    return "\n\n".join(p for p in parts if p)


def challenge_cells(challenge: dict) -> list[dict]:
    slug = challenge["slug"]
    return [
        {
            "cell_type": "markdown",
            "source": statement_markdown(challenge),
            "metadata": {META_KEY: {"challenge": slug, "cell": "statement"},
                         "editable": False, "deletable": False,
                         "tags": ["peerplatform-challenge"]},
        },
        {
            "cell_type": "code",
            "source": str(challenge.get("starter_code") or ""),
            "metadata": {META_KEY: {"challenge": slug, "cell": "starter"},
                         "tags": ["peerplatform-starter"]},
            "outputs": [],
            "execution_count": None,
        },
    ]


def _cell_tag(ycell) -> dict | None:
    meta = ycell.get("metadata")
    if meta is None:
        return None
    tag = meta.get(META_KEY)
    if tag is None:
        return None
    return tag.to_py() if hasattr(tag, "to_py") else dict(tag)


def challenge_in(nb: YNotebook) -> str | None:
    """Slug of the challenge whose statement cell is in the notebook, if any."""
    for ycell in nb.ycells:
        tag = _cell_tag(ycell)
        if tag and tag.get("cell") == "statement":
            return tag.get("challenge")
    return None


def place_challenge(nb: YNotebook, challenge: dict) -> None:
    """Replace the notebook's challenge cells by ``challenge``'s, at the top, atomically."""
    with nb.ydoc.transaction(origin=ORIGIN):
        tagged = [i for i, ycell in enumerate(nb.ycells) if _cell_tag(ycell)]
        if not tagged and all(not str(c["source"]) for c in nb.ycells):
            # a fresh notebook: jupyter_ydoc gave it one empty cell, the starter replaces it
            tagged = list(range(len(nb.ycells)))
        for i in reversed(tagged):
            del nb.ycells[i]
        for i, cell in enumerate(challenge_cells(challenge)):
            nb.ycells.insert(i, nb.create_ycell(cell))
