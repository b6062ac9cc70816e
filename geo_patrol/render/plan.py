"""A patrol plan on a map (zones, posts, loops) and as an offline briefing."""

from __future__ import annotations

import datetime as dt
import html

import folium
import geopandas as gpd
import numpy as np
import shapely

from geo_patrol.clock import local_text, now_local
from geo_patrol.crs import wgs84_to_gcj02

from geo_patrol.planning.plan import Plan
from geo_patrol.render import maps
from geo_patrol.render.briefing import html_table, map_page
from geo_patrol.render.i18n import label, term

#: Zone colours (ColorBrewer Set1/Dark2-like, distinct on a white map).
PALETTE = ["#e41a1c", "#377eb8", "#4daf4a", "#984ea3", "#ff7f00", "#a65628", "#f781bf",
           "#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#666666"]


def zone_colour(zone: int) -> str:
    return PALETTE[(zone - 1) % len(PALETTE)]


def zone_streets(plan: Plan) -> gpd.GeoDataFrame:
    """The streets of each zone as one line feature (``zone``, ``colour``): the map draws
    them alike, and a district's tens of thousands of streets would make a document of
    megabytes and seconds of work feature by feature."""
    seg = plan.segments[plan.segments["zone"] >= 0]
    zone = seg["zone"].to_numpy() + 1
    order = np.argsort(zone, kind="stable")
    zones, index = np.unique(zone[order], return_inverse=True)
    lines = shapely.multilinestrings(np.asarray(seg.geometry.values)[order], indices=index) \
        if len(seg) else []
    return gpd.GeoDataFrame({"zone": zones, "colour": [zone_colour(int(z)) for z in zones]},
                            geometry=lines, crs=plan.segments.crs)


def plan_map(plan: Plan, lang: str, *, basemap: str | None = None) -> folium.Map:
    """Streets coloured by zone, each loop drawn over them, posts as circles."""
    seg = plan.segments
    m, shift = maps.base_map(tuple(seg.total_bounds), lang=lang, basemap=basemap)
    data = maps.geojson_features(zone_streets(plan), ["zone", "colour"], shift, 6)
    folium.GeoJson(data, name=label("zones", lang),
                   style_function=lambda f: {"color": f["properties"]["colour"], "weight": 2,
                                             "opacity": 0.45}).add_to(m)
    loops = plan.loops.assign(colour=lambda f: [zone_colour(z) for z in f["zone"]])
    keys = ["zone", "loop_km", "loop_min", "loop_streets", "loop_hazards"]
    maps.geojson_layer(m, loops, shift, name=label("loop", lang), styled=("colour",),
                       shown={k: label(k, lang) for k in keys},
                       style=lambda f: {"color": f["properties"]["colour"], "weight": 5,
                                        "opacity": 0.9})
    posts = folium.FeatureGroup(name=label("post", lang))
    for row in plan.posts.itertuples():
        x, y = row.geometry.x, row.geometry.y
        if shift:
            (x,), (y,) = wgs84_to_gcj02(np.array([x]), np.array([y]))
        folium.CircleMarker([y, x], radius=8, color="#000", weight=2, fill=True,
                            fill_color=zone_colour(row.zone), fill_opacity=1,
                            tooltip=f"{label('post', lang)} {row.zone}").add_to(posts)
    posts.add_to(m)
    legend = [(label("zones", lang), [(zone_colour(z), f"{label('zone', lang)} {z}")
                                      for z in plan.zones["zone"]])]
    return maps.finish(m, legend)


def plan_tables(plan: Plan, lang: str) -> str:
    """Before/after, zones and proposed volunteers as HTML tables (no personal data)."""
    b, a = plan.before, plan.after
    compare = html_table(["", label("coverage_pct", lang), label("hazard_compliance", lang)], [
        [label(when, lang), f"{100 * v['coverage']:.1f}", f"{100 * v['hazard_compliance']:.1f}"]
        for when, v in (("before", b), ("after", a))])
    balance = html_table(["", label("balance", lang)], [
        [f"{label('zones', lang)} ({len(plan.zones)})",
         f"{plan.communities['zones_imbalance']:.2f}"],
        [f"{label('today_communities', lang)} ({plan.communities['count']})",
         f"{plan.communities['imbalance']:.2f}"]])
    keys = ["zone", "street_km", "workload", "loop_km", "loop_min", "loop_streets",
            "loop_hazards"]
    zones = html_table([label(k, lang) for k in keys],
                   [[getattr(r, k) for k in keys] for r in plan.zones.itertuples()])
    # how many are proposed per zone and slot: a briefing names nobody (no roster numbers, no
    # one's home distance, patrol habits or certificates); the planner page has the rest
    sizes = plan.crew.groupby(["zone", "slot"], sort=True).size() if len(plan.crew) else []
    crew = html_table([label(k, lang) for k in ("zone", "slot", "crew_size")],
                      [[zone, term("slot", slot, lang), int(n)]
                       for (zone, slot), n in (sizes.items() if len(sizes) else [])])
    return (f"{compare}{balance}<h2>{label('zones', lang)}</h2>{zones}"
            f"<h2 class=\"gp-page\">{label('crew', lang)}</h2>{crew}")


def plan_briefing_html(plan: Plan, *, tz: str, lang: str = "zh", basemap: str | None = None,
                       generated: dt.datetime | None = None,
                       tiles: dict[str, bytes] | None = None) -> str:
    """The plan as one self-contained HTML file for offline PCs (made at ``generated``, now
    by default, shown in the city's zone ``tz``), carrying its base map ``tiles``."""
    m = plan_map(plan, lang, basemap=basemap)
    title = f"{plan.area['name']} · {label('plan', lang)}"
    stamp = local_text(now_local(tz, generated), tz)
    p = plan.params
    head = (f'<div class="gp-head"><h1>{html.escape(title)}</h1>'
            f"{len(plan.zones)} {label('zones', lang)} · {p.minutes:.0f} "
            f"{label('unit_min', lang)} · {p.speed_kmh:g} {label('km_per_h', lang)}</div>")
    body = (f'<div class="gp-body">{plan_tables(plan, lang)}'
            f'<p class="gp-note">{label("generated", lang)}: {stamp} · '
            f'{label("no_personal", lang)}</p></div>')
    return map_page(m, title, head, body, basemap=basemap, what="plan briefing", tiles=tiles)
