"""Small server-rendered SVG charts: no script, every label escaped, each with a <title> and
<desc> (the page also shows the numbers as a table, the text alternative)."""

from __future__ import annotations

import math

from tornado.escape import xhtml_escape as esc

COLOURS = ("#1769aa", "#e07b00", "#2e7d32", "#8e24aa")
#: Width of one character of a label at the charts' 12px font, a little over the mean so that
#: the room reserved for a label is never too small (a clipped tag reads as another tag).
CHAR_W = 7.5
#: Labels under a bar are cut to this many characters (the bar's tooltip has the whole one).
MAX_LABEL = 24
#: x labels are turned by this much (degrees) so that long ones do not overlap.
LABEL_ANGLE = 30


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1] + "…"


def _frame(chart_id: str, title: str, desc: str, width: int, height: int, body: str) -> str:
    return (
        f'<svg class="chart" id="{esc(chart_id)}" role="img" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" aria-labelledby="{esc(chart_id)}-t {esc(chart_id)}-d" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{esc(chart_id)}-t">{esc(title)}</title>'
        f'<desc id="{esc(chart_id)}-d">{esc(desc)}</desc>{body}</svg>'
    )


def bar_chart(
    chart_id: str,
    title: str,
    bars: list[tuple[str, float, float]],
    *,
    unit: str = "",
    width: int = 560,
    height: int = 220,
) -> str:
    """``bars`` = (label, total, highlighted part): e.g. sessions and how many were solved."""
    if not bars:
        return _frame(
            chart_id, title, "No data yet.", width, 40, '<text x="8" y="24">No data yet.</text>'
        )
    top = max(total for _, total, _ in bars) or 1
    # A label turned by LABEL_ANGLE ends under the middle of its bar and reaches left and
    # down by its length's cosine and sine: the plot starts far enough right, and the chart is
    # tall enough, that no label is clipped (a clipped tag reads as another tag).
    longest = max(len(_short(label)) for label, _, _ in bars) * CHAR_W
    reach_x = longest * math.cos(math.radians(LABEL_ANGLE))
    label_room = max(46, math.ceil(longest * math.sin(math.radians(LABEL_ANGLE))) + 24)
    height += label_room - 46
    left, bottom = max(36, math.ceil(reach_x) + 4), height - label_room
    plot_h = bottom - 20
    step = (width - left - 8) / len(bars)
    bw = min(48.0, max(4.0, step * 0.7))  # one bar must not fill the chart
    parts = [
        f'<line x1="{left}" y1="{bottom}" x2="{width - 4}" y2="{bottom}" stroke="#888"/>',
        f'<text x="4" y="{bottom - plot_h + 4}">{esc(f"{top:g}")}</text>',
        f'<text x="4" y="{bottom}">0</text>',
    ]
    for i, (label, total, part) in enumerate(bars):
        x = left + i * step + (step - bw) / 2
        h = plot_h * total / top
        hp = plot_h * part / top
        parts.append(
            f'<rect x="{x:.1f}" y="{bottom - h:.1f}" width="{bw:.1f}" height="{h:.1f}" '
            f'fill="#90caf9"><title>{esc(label)}: {total:g}{esc(unit)}</title></rect>'
        )
        if part:
            parts.append(
                f'<rect x="{x:.1f}" y="{bottom - hp:.1f}" width="{bw:.1f}" height="{hp:.1f}" '
                f'fill="{COLOURS[0]}"><title>{esc(label)}: {part:g} solved</title></rect>'
            )
        if len(bars) <= 16 or i % max(1, len(bars) // 12) == 0:
            parts.append(
                f'<text x="{x + bw / 2:.1f}" y="{bottom + 14}" text-anchor="end" '
                f'transform="rotate(-{LABEL_ANGLE} {x + bw / 2:.1f} {bottom + 14})">'
                f"{esc(_short(label))}</text>"
            )
    desc = "; ".join(f"{label}: {total:g} ({part:g} solved)" for label, total, part in bars)
    return _frame(chart_id, title, desc, width, height, "".join(parts))


def line_chart(
    chart_id: str,
    title: str,
    series: dict[str, list[float]],
    *,
    lo: float = 1,
    hi: float = 5,
    width: int = 560,
    height: int = 200,
) -> str:
    """One line per series over the same x positions (e.g. ratings in order received)."""
    n = max((len(v) for v in series.values()), default=0)
    if n == 0:
        return _frame(
            chart_id, title, "No data yet.", width, 40, '<text x="8" y="24">No data yet.</text>'
        )
    left, top, bottom = 30, 10, height - 30
    right = width - 150

    def xy(i, v):
        x = left + (right - left) * (i / max(1, n - 1))
        y = bottom - (bottom - top) * (v - lo) / (hi - lo)
        return f"{x:.1f},{y:.1f}"

    parts = []
    for k in range(int(lo), int(hi) + 1):
        y = bottom - (bottom - top) * (k - lo) / (hi - lo)
        parts.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="#8884"/>'
            f'<text x="8" y="{y + 4:.1f}">{k}</text>'
        )
    for j, (name, values) in enumerate(series.items()):
        colour = COLOURS[j % len(COLOURS)]
        points = " ".join(xy(i, v) for i, v in enumerate(values))
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{points}"/>'
        )
        for i, v in enumerate(values):
            x, y = xy(i, v).split(",")
            parts.append(
                f'<circle cx="{x}" cy="{y}" r="3" fill="{colour}"><title>{esc(name)} #{i + 1}: '
                f"{v:.2f}</title></circle>"
            )
        parts.append(
            f'<rect x="{right + 12}" y="{top + j * 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{right + 26}" y="{top + j * 18 + 9}">{esc(name)}</text>'
        )
    desc = "; ".join(
        f"{name}: " + ", ".join(f"{v:.2f}" for v in values) for name, values in series.items()
    )
    return _frame(chart_id, title, desc, width, height, "".join(parts))
