"""The patrol dose on a map: a rota's hot spots, each street segment coloured by the share
of its planned minutes that volunteers delivered (minutes and places only: no volunteer)."""

from __future__ import annotations

import html
from typing import Any

import folium
import numpy as np
import shapely
from branca.element import MacroElement, Template

from geo_patrol.analysis.places import distinct_place_texts
from geo_patrol.crs import wgs84_to_gcj02
from geo_patrol.render import maps
from geo_patrol.render.i18n import label

#: Delivered, partly, little or none, nothing planned yet.
DOSE_COLOURS = {"dose_full": "#1a9850", "dose_part": "#fdae61", "dose_low": "#d73027",
                "dose_unplanned": "#888888"}
#: The bands of a share of planned minutes delivered: the lowest share of each, highest
#: first (the legend's words say the same: 80% or more, 40% to 80%, under 40%).
DOSE_BANDS = ((0.8, "dose_full"), (0.4, "dose_part"), (0.0, "dose_low"))


def dose_key(share: float | None) -> str:
    """The legend's key of a hot spot's share of planned minutes delivered."""
    if share is None or share != share:
        return "dose_unplanned"
    return next((key for low, key in DOSE_BANDS if share >= low), "dose_low")


def dose_band(share: float | None, lang: str) -> dict[str, str]:
    """A share's band as the map, its legend and the page's tables show it: ``key``, its
    ``colour``, its legend's ``words`` and their ``short`` form (without the range)."""
    key = dose_key(share)
    words = label(key, lang)
    return {"key": key, "colour": DOSE_COLOURS[key], "words": words,
            "short": words.split("（")[0].split(" (")[0]}


def dose_map(spots: Any, lang: str, *, basemap: str | None = None) -> folium.Map:
    """``spots`` (a GeoDataFrame in WGS 84: each hot spot's segment with its ``street``,
    cross streets, ``planned_min``, ``minutes``, ``delivered_min`` and ``share``) as thick
    lines in the colour of their share delivered, their figures in the tooltip; and, seen
    at any zoom, a marker at each one's middle in the same colour, named by its place, its
    dose against the plan in its popup."""
    x0, y0, x1, y1 = (float(v) for v in spots.total_bounds)
    mx, my = 0.1 * (x1 - x0), 0.1 * (y1 - y0)  # a margin: no marker on the map's edge
    m, shift = maps.base_map((x0 - mx, y0 - my, x1 + mx, y1 + my), lang=lang,
                             basemap=basemap, canvas=False)
    frame = spots.copy()
    frame["place"] = distinct_place_texts(frame, lang)
    frame["colour"] = [DOSE_COLOURS[dose_key(s)] for s in frame["share"]]
    frame["planned"] = frame["planned_min"].round(0).astype(int)
    frame["present"] = frame["minutes"].round(0).astype(int)
    frame["delivered"] = frame["delivered_min"].round(0).astype(int)
    frame["done"] = ["–" if s != s else f"{100 * s:.0f}%" for s in frame["share"]]
    maps.geojson_layer(m, frame, shift, name=label("dose_map", lang), styled=("colour",),
                       shown={"place": label("hot_spot_place", lang),
                              "planned": label("planned_min", lang),
                              "present": label("minutes_present", lang),
                              "delivered": label("delivered_min", lang),
                              "done": label("share", lang)},
                       style=lambda f: {"color": f["properties"]["colour"], "weight": 9,
                                        "opacity": 0.9})
    _markers(m, frame, shift, lang)
    return maps.finish(m, [(label("dose_map", lang),
                            [(c, label(k, lang)) for k, c in DOSE_COLOURS.items()])])


def _markers(m: folium.Map, frame: Any, shift: bool, lang: str) -> None:
    """A marker at the middle of each hot spot's segment, in the colour of its share
    delivered: its place beside it, its minutes delivered against planned in its popup."""
    middles = shapely.line_interpolate_point(frame.geometry.to_numpy(), 0.5, normalized=True)
    if shift:
        middles = shapely.transform(middles, lambda xy: np.column_stack(
            wgs84_to_gcj02(xy[:, 0], xy[:, 1])))
    group = folium.FeatureGroup(name=label("dose_spots", lang)).add_to(m)
    for at, r in zip(middles, frame.itertuples()):
        if at is None or shapely.is_empty(at):
            continue
        rows = [(label("hot_spot_place", lang), r.place),
                (label("dose_against_plan", lang),
                 f"{r.delivered} / {r.planned} {label('unit_min', lang)}"),
                (label("minutes_present", lang), f"{r.present} {label('unit_min', lang)}"),
                (label("share", lang), r.done)]
        body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>"
                       for k, v in rows)
        marker = folium.CircleMarker(
            [at.y, at.x], radius=9, color="#ffffff", weight=2, fill=True,
            fill_color=r.colour, fill_opacity=0.95, class_name="gp-spot",
            tooltip=folium.Tooltip(html.escape(r.place), permanent=True, direction="right",
                                   offset=(10, 0), class_name="gp-spot-label"))
        _Popup(f'<table class="gp-spot-popup">{body}</table>').add_to(marker)
        marker.add_to(group)


class _Popup(MacroElement):
    """A popup of ready (escaped) HTML bound to its parent layer by Leaflet alone."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        {{ this._parent.get_name() }}.bindPopup({{ this.body|tojson }}, {maxWidth: 320});
        {% endmacro %}""")

    def __init__(self, body: str) -> None:
        super().__init__()
        self._name = "Popup"
        self.body = body
