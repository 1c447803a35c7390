"""The pure parts behind issue 17's after-session pages (no Hub): counts with their nouns,
times as ``<time datetime>``, a cell's outputs set apart, chart labels with room to show.
The browser checks are in ``test_after_session_pages.py``."""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

from peerplatform.charts import CHAR_W, LABEL_ANGLE, bar_chart
from peerplatform.dashboard import plural
from peerplatform.notebook_view import render_notebook
from peerplatform.review import time_html


def test_counts_agree_with_their_nouns():
    assert plural(0, "session") == "0 sessions"
    assert plural(1, "session") == "1 session"
    assert plural(2, "peer rating") == "2 peer ratings"
    assert plural(1, "person", "people") == "1 person"
    assert plural(3, "person", "people") == "3 people"


def test_times_are_machine_readable_utc_and_readable_without_the_script():
    at = datetime(2026, 12, 2, 10, 57, 12, 299000, tzinfo=timezone.utc)
    assert time_html(at, seconds=True) == (
        '<time datetime="2026-12-02T10:57:12+00:00" data-seconds>2026-12-02 10:57:12 UTC</time>')
    # the store's naive datetimes are UTC; other zones are converted
    assert 'datetime="2026-12-02T10:57:12+00:00"' in time_html(at.replace(tzinfo=None))
    assert time_html(None) == "" and time_html("<b>") == "&lt;b&gt;"


def test_outputs_are_set_apart_from_the_code():
    nb = {"cells": [
        {"cell_type": "code", "source": "print(1)",
         "outputs": [{"output_type": "stream", "text": "1\n"}]},
        {"cell_type": "code", "source": "pass", "outputs": []},
    ]}
    with_output, without = (c["html"] for c in render_notebook(nb))
    assert re.fullmatch(r'<pre class="source">print\(1\)</pre><div class="outputs"[^>]*>'
                        r'<p class="outputs-label"[^>]*>Output</p><pre class="stream">1\n</pre>'
                        r"</div>", with_output), with_output
    assert "outputs" not in without


def _label_extent(svg: str):
    """(leftmost x, lowest y) any x label reaches, by the chart's own geometry."""
    height = float(re.search(r'viewBox="0 0 \d+ (\d+)"', svg).group(1))
    left, low = math.inf, 0.0
    for x, y, text in re.findall(r'<text x="([\d.]+)" y="([\d.]+)" text-anchor="end" '
                                 r'transform="rotate[^"]*">([^<]*)</text>', svg):
        reach = len(text) * CHAR_W
        left = min(left, float(x) - reach * math.cos(math.radians(LABEL_ANGLE)))
        low = max(low, float(y) + reach * math.sin(math.radians(LABEL_ANGLE)))
    return left, low, height


def test_tag_labels_have_room_left_and_below():
    tags = ["regex-groups", "binary-search-tree", "dynamic-programming", "hash-maps", "strings",
            "recursion"]
    svg = bar_chart("c", "t", [(t, 2, 1) for t in tags])
    left, low, height = _label_extent(svg)
    assert left >= 0 and low <= height, (left, low, height)
    # a label longer than any tag is cut, with the whole name in the bar's tooltip
    long = "a-very-long-tag-name-that-goes-on-and-on"
    svg = bar_chart("c", "t", [(long, 1, 0)])
    assert f"<title>{long}: 1</title>" in svg and f">{long}</text>" not in svg
    left, low, height = _label_extent(svg)
    assert left >= 0 and low <= height
