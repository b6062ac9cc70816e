"""The patrol dose on a map: a rota's hot spots, each street segment coloured by the share
of its planned minutes that volunteers delivered (minutes and places only: no volunteer)."""

from __future__ import annotations

from typing import Any

import folium

from geo_patrol.analysis.places import distinct_place_texts
from geo_patrol.render import maps
from geo_patrol.render.i18n import label

#: Delivered, partly, little or none, nothing planned yet.
DOSE_COLOURS = {"dose_full": "#1a9850", "dose_part": "#fdae61", "dose_low": "#d73027",
                "dose_unplanned": "#888888"}


def dose_key(share: float | None) -> str:
    """The legend's key of a hot spot's share of planned minutes delivered."""
    if share is None or share != share:
        return "dose_unplanned"
    return "dose_full" if share >= 0.8 else "dose_part" if share >= 0.4 else "dose_low"


def dose_map(spots: Any, lang: str, *, basemap: str | None = None) -> folium.Map:
    """``spots`` (a GeoDataFrame in WGS 84: each hot spot's segment with its ``street``,
    cross streets, ``planned_min``, ``minutes``, ``delivered_min`` and ``share``) as thick
    lines in the colour of their share delivered, their figures in the tooltip."""
    m, shift = maps.base_map(tuple(spots.total_bounds), lang=lang, basemap=basemap)
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
    return maps.finish(m, [(label("dose_map", lang),
                            [(c, label(k, lang)) for k, c in DOSE_COLOURS.items()])])
