"""Small inline SVG charts for pages and briefings (no script, no outside request)."""

from __future__ import annotations

import html
from typing import Any

from geo_patrol.render.i18n import label

#: Burn-down series: (column, colour, label key).
BURN_DOWN = (("found", "#888888", "found"), ("visited", "#2171b5", "visited"),
             ("open", "#d7301f", "still_open"))


def burn_down_svg(days: Any, lang: str, width: int = 520, height: int = 170) -> str:
    """Hazards found, visited and still open per day of a campaign, with a legend."""
    if days is None or len(days) == 0:
        return ""
    top = max(int(days["found"].max()), 1)
    n = len(days)
    left, right, low, high = 34, width - 10, height - 34, 10

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
                    f'text-anchor="middle">{d:%m-%d}</text>'
                    for i, d in enumerate(days["day"]) if i % max(1, n // 6) == 0)
    axis = (f'<line x1="{left}" y1="{low}" x2="{right}" y2="{low}" stroke="#999"/>'
            f'<text x="{left - 4}" y="{high + 4}" font-size="9" text-anchor="end">{top}</text>'
            f'<text x="{left - 4}" y="{low}" font-size="9" text-anchor="end">0</text>')
    legend = "".join(
        f'<rect x="{left + k * 120}" y="{height - 12}" width="10" height="4" fill="{colour}"/>'
        f'<text x="{left + k * 120 + 14}" y="{height - 8}" font-size="10">'
        f'{html.escape(label(key, lang))}</text>'
        for k, (_, colour, key) in enumerate(BURN_DOWN))
    return (f'<svg class="burn-down" width="{width}" height="{height}" role="img" '
            f'aria-label="{html.escape(label("campaign_section", lang))}">'
            f'{axis}{lines}{ticks}{legend}</svg>')
