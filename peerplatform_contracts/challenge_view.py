"""What learners may see of a challenge, and its statement as safe HTML.

Both sides use these (the lobby on the Hub side, the challenge panel in the pair server), so
there is one definition of "public": everything but the hidden tests and the reference solution.
"""

from __future__ import annotations

import mistune
import nh3

#: Never shown to learners (nor sent to the browser).
HIDDEN_FIELDS = ("tests", "solution")
PUBLIC_FIELDS = ("slug", "title", "statement", "difficulty", "rating", "tags", "track",
                 "starter_code", "examples", "time_limit_s", "source", "licence", "version",
                 "hash")

ALLOWED_TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "strong", "em", "b", "i",
                "code", "pre", "blockquote", "ul", "ol", "li", "a", "table", "thead", "tbody",
                "tr", "th", "td", "del", "sup", "sub", "span"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "code": {"class"}, "span": {"class"},
                      "th": {"align"}, "td": {"align"}, "ol": {"start"}}

_markdown = mistune.create_markdown(escape=False, plugins=["table", "strikethrough"])


def render_statement(markdown: str) -> str:
    """Markdown to HTML, then sanitized with nh3: no scripts, no event handlers, no
    ``javascript:`` links, no images (nothing loads from elsewhere); links get
    ``rel="noopener noreferrer"``."""
    html = _markdown(markdown or "")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                     url_schemes={"http", "https", "mailto"},
                     link_rel="noopener noreferrer")


def public_view(challenge: dict, *, html: bool = True) -> dict:
    """The challenge without hidden fields (and with ``statement_html`` when ``html``)."""
    view = {k: challenge[k] for k in PUBLIC_FIELDS if k in challenge}
    if html:
        view["statement_html"] = render_statement(challenge.get("statement", ""))
    return view
