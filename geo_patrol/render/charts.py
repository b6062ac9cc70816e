"""Small inline SVG charts for pages and briefings (no script, no outside request)."""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from geo_patrol.render.i18n import label

#: Burn-down series: (column, colour, label key).
BURN_DOWN = (("found", "#888888", "found"), ("visited", "#2171b5", "visited"),
             ("open", "#d7301f", "still_open"))


def _anchor(i: int, n: int) -> str:
    """A day's tick under the x-axis: the last one ends at the axis' end, inside the chart."""
    return "end" if n > 1 and i == n - 1 else "middle"


def burn_down_svg(days: Any, lang: str, width: int = 520, height: int = 170) -> str:
    """Hazards found, visited and still open per day of a campaign, with a legend and the
    y-axis named with its unit (hazards, 处)."""
    if days is None or len(days) == 0:
        return ""
    top = max(int(days["found"].max()), 1)
    n = len(days)
    left, right, low, high = 46, width - 10, height - 34, 10

    def xy(i: int, v: float) -> str:
        x = left + i * (right - left) / max(n - 1, 1)
        y = low - (low - high) * float(v) / top
        return f"{x:.1f},{y:.1f}"

    lines = "".join(
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
        + " ".join(xy(i, v) for i, v in enumerate(days[col]))
        + f'"><title>{html.escape(label(key, lang))}</title></polyline>'
        for col, colour, key in BURN_DOWN)
    ticks = "".join(f'<text x="{xy(i, 0).split(",")[0]}" y="{low + 12}" font-size="9" '
                    f'text-anchor="{_anchor(i, n)}">{d:%m-%d}</text>'
                    for i, d in enumerate(days["day"]) if i % max(1, n // 6) == 0)
    axis = (f'<line x1="{left}" y1="{low}" x2="{right}" y2="{low}" stroke="#999"/>'
            f'<text x="{left - 4}" y="{high + 4}" font-size="9" text-anchor="end">{top}</text>'
            f'<text x="{left - 4}" y="{low}" font-size="9" text-anchor="end">0</text>'
            f'<text class="y-name" x="10" y="{(low + high) / 2:.0f}" font-size="10" '
            f'text-anchor="middle" transform="rotate(-90 10 {(low + high) / 2:.0f})">'
            f'{html.escape(label("hazards_axis", lang))}</text>')
    legend = "".join(
        f'<rect x="{left + k * 120}" y="{height - 12}" width="10" height="4" fill="{colour}"/>'
        f'<text x="{left + k * 120 + 14}" y="{height - 8}" font-size="10">'
        f'{html.escape(label(key, lang))}</text>'
        for k, (_, colour, key) in enumerate(BURN_DOWN))
    return (f'<svg class="burn-down" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(label("campaign_section", lang))}">'
            f'{axis}{lines}{ticks}{legend}</svg>')


def concentration_svg(length_share: Any, incident_share: Any, lang: str, width: int = 300,
                      height: int = 200) -> str:
    """The concentration curve: cumulative share of incidents over the cumulative share of
    street length (hottest segments first), beside the diagonal of an even spread."""
    xs, ys = np.asarray(length_share, dtype=float), np.asarray(incident_share, dtype=float)
    if len(xs) < 2:
        return ""
    keep = np.unique(np.r_[np.linspace(0, len(xs) - 1, min(len(xs), 240)).astype(int)])
    left, right, low, high = 30, width - 8, height - 30, 8

    def pt(x: float, y: float) -> str:
        return f"{left + x * (right - left):.1f},{low - y * (low - high):.1f}"

    curve = " ".join(pt(xs[i], ys[i]) for i in keep)
    return (f'<svg class="concentration" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(label("concentration", lang))}">'
            f'<rect x="{left}" y="{high}" width="{right - left}" height="{low - high}" '
            f'fill="none" stroke="#bbb"/>'
            f'<polyline fill="none" stroke="#999" stroke-dasharray="4 3" '
            f'points="{pt(0, 0)} {pt(1, 1)}"/>'
            f'<polyline fill="none" stroke="#d7301f" stroke-width="2" points="{curve}"/>'
            f'<text x="{(left + right) / 2}" y="{height - 14}" font-size="10" '
            f'text-anchor="middle">{html.escape(label("length_share", lang))}</text>'
            f'<text x="10" y="{(low + high) / 2}" font-size="10" text-anchor="middle" '
            f'transform="rotate(-90 10 {(low + high) / 2})">'
            f'{html.escape(label("incident_share", lang))}</text>'
            f'<text x="{left}" y="{low + 11}" font-size="9">0</text>'
            f'<text x="{right}" y="{low + 11}" font-size="9" text-anchor="end">100%</text>'
            f'<text x="{left - 3}" y="{high + 8}" font-size="9" text-anchor="end">100%</text>'
            '</svg>')


def coverage_trend_svg(series: Any, lang: str, width: int = 420, height: int = 150) -> str:
    """Street coverage per day (share of the street length patrolled that day), with a y-axis
    in percent (0, 50, 100 %), the days on the x-axis and both axes named."""
    if series is None or len(series) == 0:
        return ""
    n = len(series)
    left, right, low, high = 40, width - 10, height - 36, 10
    values = [float(v) if v == v and v is not None else 0.0 for v in series["coverage"]]
    xs = [left + i * (right - left) / max(n - 1, 1) for i in range(n)]
    ys = [low - (low - high) * v for v in values]
    grid = "".join(
        f'<line x1="{left}" y1="{low - (low - high) * p:.1f}" x2="{right}" '
        f'y2="{low - (low - high) * p:.1f}" stroke="{"#999" if p == 0 else "#e3e3e3"}"/>'
        f'<text class="y-tick" x="{left - 4}" y="{low - (low - high) * p + 3:.1f}" '
        f'font-size="9" text-anchor="end">{100 * p:.0f}%</text>' for p in (0, 0.5, 1))
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    every = max(1, n // 7)
    days = "".join(f'<text class="x-tick" x="{x:.0f}" y="{low + 12}" font-size="9" '
                   f'text-anchor="{_anchor(i, n)}">{d:%m-%d}</text>'
                   for i, (x, d) in enumerate(zip(xs, series["day"])) if i % every == 0)
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>{d:%m-%d}: '
                   f'{100 * v:.1f}%</title></circle>'
                   for x, y, d, v in zip(xs, ys, series["day"], values))
    y_name = html.escape(label("coverage_axis", lang))
    x_name = html.escape(label("day_axis", lang))
    return (f'<svg class="trend" width="100%" viewBox="0 0 {width} {height}" role="img" '
            f'preserveAspectRatio="xMinYMin meet" aria-label="{y_name}">{grid}'
            f'<polyline fill="none" stroke="#2171b5" stroke-width="2" points="{pts}"/>'
            f'{dots}{days}'
            f'<text class="x-name" x="{(left + right) / 2:.0f}" y="{height - 4}" '
            f'font-size="10" text-anchor="middle">{x_name}</text>'
            f'<text class="y-name" x="10" y="{(low + high) / 2:.0f}" font-size="10" '
            f'text-anchor="middle" transform="rotate(-90 10 {(low + high) / 2:.0f})">'
            f'{y_name}</text></svg>')
