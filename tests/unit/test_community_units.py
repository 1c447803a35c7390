"""Pure parts of the community features: settings, rating and profile validation, picture
re-encoding, scope parsing, CSV safety, chart and notebook escaping."""

from __future__ import annotations

import io

import pytest
from traitlets import TraitError

from peerplatform.settings import PeerPlatform
from peerplatform.store.profiles import InvalidPicture, reencode_picture
from peerplatform.store.ratings import InvalidRating, validate_rating
from peerplatform.charts import bar_chart, line_chart
from peerplatform.dashboard import csv_safe, rolling
from peerplatform.notebook_view import render_notebook
from peerplatform.rights import reviewed_cohorts


@pytest.mark.parametrize(
    "name, value",
    [
        ("leaderboard_prior_mean", 0.5),
        ("leaderboard_prior_mean", 6.0),
        ("leaderboard_prior_weight", -1.0),
        ("leaderboard_cohort_prior_weight", -0.1),
        ("rating_edit_window", -1),
    ],
)
def test_bad_community_settings_are_refused(name, value):
    with pytest.raises(TraitError):
        setattr(PeerPlatform(), name, value)


def test_rating_validation():
    assert validate_rating({"communication": 1, "collaboration": 5, "problem_solving": 3}) == {
        "scores": {"communication": 1, "collaboration": 5, "problem_solving": 3},
        "comment": "",
    }
    assert validate_rating({"comment": None}, partial=True) == {"scores": {}, "comment": ""}
    for bad in ({"communication": True}, {"communication": 2.0}, {"comment": "a\x00b"}, {}):
        with pytest.raises(InvalidRating):
            validate_rating(bad, partial=True)


def test_decompression_bombs_and_non_images_are_refused():
    from PIL import Image

    out = io.BytesIO()
    Image.new("1", (9000, 9000)).save(out, "PNG")  # tiny file, 81 M pixels
    with pytest.raises(InvalidPicture, match="pixels"):
        reencode_picture(out.getvalue())
    with pytest.raises(InvalidPicture):
        reencode_picture(b"GIF89a" + b"\0" * 20)
    gif = io.BytesIO()
    Image.new("P", (20, 10)).save(gif, "GIF")
    data, ctype, w, h = reencode_picture(gif.getvalue())
    assert ctype in ("image/jpeg", "image/png") and (w, h) == (20, 10)


def test_review_scopes():
    assert reviewed_cohorts({"name": "a", "admin": True}) is None
    assert reviewed_cohorts({"name": "a", "scopes": ["custom:peerplatform:review"]}) is None
    assert reviewed_cohorts(
        {
            "name": "a",
            "scopes": [
                "custom:peerplatform:review!group=north",
                "custom:peerplatform:review!group=east",
                "custom:peerplatform:reviewer!group=x",
                "read:users:name!user=a",
            ],
        }
    ) == {"north", "east"}
    assert reviewed_cohorts({"name": "a", "scopes": []}) == set()


def test_csv_cells_never_start_a_formula():
    assert csv_safe("=1+1") == "'=1+1" and csv_safe("+x") == "'+x" and csv_safe("@SUM") == "'@SUM"
    assert csv_safe("-2") == "'-2" and csv_safe("plain") == "plain" and csv_safe(None) == ""
    assert csv_safe(["a", "b"]) == "a b"
    assert rolling([1, 2, 3, 4], 2) == [1, 1.5, 2.5, 3.5]


def test_charts_escape_labels():
    svg = bar_chart("c", "t<", [("<script>", 2, 1)])
    assert "<script>" not in svg and "&lt;script&gt;" in svg and 'role="img"' in svg
    svg = line_chart("l", "t", {"<b>": [1.0, 5.0]})
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert "No data yet." in bar_chart("e", "t", [])


def test_notebook_view_is_inert():
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["<script>alert(1)</script>\n\n", "**bold**"]},
            {
                "cell_type": "code",
                "source": "x",
                "outputs": [
                    {"output_type": "display_data", "data": {"image/png": "not base64!!"}},
                    {
                        "output_type": "display_data",
                        "data": {"text/html": "<a href='javascript:alert(1)' onclick=x>l</a>"},
                    },
                    {"output_type": "error", "traceback": ["\x1b[31mValueError\x1b[0m: <b>"]},
                ],
            },
        ]
    }
    html = "".join(c["html"] for c in render_notebook(nb))
    assert "<script>" not in html and "onclick" not in html and "javascript:" not in html
    assert "<strong>bold</strong>" in html and "not valid base64" in html
    assert "ValueError: &lt;b&gt;" in html
    assert render_notebook("{not json")[0]["html"].startswith("<pre")
    assert render_notebook(None) == []
