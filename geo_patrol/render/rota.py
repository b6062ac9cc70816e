"""A stored rota on a map (a day's walks, or a layer per day), as tables, GeoJSON and an
offline briefing (roster numbers at most: names never leave the page)."""

from __future__ import annotations

import datetime as dt
import html
import json
import urllib.parse
from typing import Any

import folium
import numpy as np
import pandas as pd
from branca.element import MacroElement, Template

from geo_patrol.analysis.places import Place, place_text
from geo_patrol.clock import local_column, local_text, now_local
from geo_patrol.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo_patrol.planning.crew import SLOTS
from geo_patrol.render import maps
from geo_patrol.render.briefing import html_table, map_page
from geo_patrol.render.i18n import label, term

#: A colour per time slot (walks are drawn in their slot's colour).
SLOT_COLOURS = {"morning": "#1b9e77", "midday": "#e6ab02", "afternoon": "#d95f02",
                "evening": "#7570b3"}


def walk_rows(view: Any, lang: str) -> pd.DataFrame:
    """The walks as the pages, maps and briefings show them: start, slot and kind in the
    reader's language, km, minutes, hazard stops, community, roster number (when shown)."""
    w = view.walks
    if not len(w):
        return w.assign(start="", slot_text="", kind_text="", km=0.0, stops=0)
    out = w.copy()
    out["start"] = local_column(w["starts_at"], view.header["tz"], "time")
    out["slot_text"] = [term("slot", s, lang) for s in w["slot"]]
    out["kind_text"] = [label(f"walk_{k}", lang) for k in w["kind"]]
    out["km"] = (w["length_m"] / 1000).round(2)
    out["stops"] = w["hazard_ids"].map(len)
    out["minutes"] = w["minutes"].round(0).astype(int)
    out["colour"] = [SLOT_COLOURS.get(s, "#444") for s in w["slot"]]
    for col in ("number", "name", "community"):
        out[col] = out[col].astype(object).where(out[col].notna(), None)
    return out


def _day_layer(target: Any, rows: pd.DataFrame, lang: str, shift: bool, people: bool) -> None:
    shown = {"day": label("date", lang), "start": label("walk_start", lang),
             "slot_text": label("slot", lang), "kind_text": label("walk_kind", lang),
             "community": label("community", lang), "km": label("km", lang),
             "minutes": label("loop_min", lang), "stops": label("loop_hazards", lang)}
    if people:
        shown["number"] = label("number", lang)
    maps.geojson_layer(target, rows.assign(day=rows["day"].astype(str)), shift,
                       name=label("walk", lang), shown=shown, styled=("colour", "kind"),
                       style=lambda f: {"color": f["properties"]["colour"], "weight": 4,
                                        "opacity": 0.85,
                                        "dashArray": "6 4" if f["properties"]["kind"]
                                        == "hotspot" else None})
    hot = rows[rows["kind"] == "hotspot"]
    for geom, start in zip(hot.geometry, hot["start"]):
        x, y = geom.coords[0]
        if shift:
            (x,), (y,) = wgs84_to_gcj02(np.array([x]), np.array([y]))
        folium.CircleMarker([y, x], radius=7, color="#b2182b", weight=2, fill=True,
                            fill_color="#ef8a62", fill_opacity=0.9,
                            tooltip=html.escape(f"{label('hot_spot', lang)} · {start}")
                            ).add_to(target)


def rota_map(view: Any, lang: str, *, day: dt.date | None = None, basemap: str | None = None,
             people: bool = False) -> folium.Map:
    """The walks of ``day`` (or each day as its own layer, the first shown), coloured by
    time slot, hot-spot visits dashed with the stop marked."""
    rows = walk_rows(view, lang)
    if not len(rows):
        m, _ = maps.base_map((109.7, 40.5, 110.1, 40.8), lang=lang, basemap=basemap)
        return maps.finish(m, [])
    m, shift = maps.base_map(tuple(rows.total_bounds), lang=lang, basemap=basemap)
    days = [day] if day is not None else view.days()
    for k, d in enumerate(days):
        mine = rows[rows["day"] == d]
        if not len(mine):
            continue
        group = folium.FeatureGroup(name=f"{d:%m-%d} {term('weekday', _weekday(d), lang)}",
                                    show=k == 0 or day is not None)
        _day_layer(group, mine, lang, shift, people)
        group.add_to(m)
    legend = [(label("slot", lang), [(c, term("slot", s, lang)) for s, c in SLOT_COLOURS.items()]),
              (label("walk_kind", lang), [("#ef8a62", label("walk_hotspot", lang))])]
    return maps.finish(m, legend)


def _weekday(d: dt.date) -> str:
    return ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[d.weekday()]


def _pct(v: object) -> str:
    return "—" if v is None or (isinstance(v, float) and v != v) else f"{100 * float(v):.1f}"


def figures_rows(summary: dict[str, Any], lang: str) -> list[list[str]]:
    """The rota's figures as (what, value) rows."""
    s = summary
    zh = lang.startswith("zh")
    risk = "、".join(term("slot", r, lang) for r in s.get("risk_slots", [])) or "—"
    return [
        [label("rota_coverage", lang),
         f"{_pct(s['last_period'])}% → {_pct(s['single_loop_after'])}% / "
         f"{_pct(s['rota_after'])}%"],
        [label("rota_due_met", lang), f"{_pct(s['due_met'])}%"],
        [label("rota_hazards", lang), f"{s['hazard_met']} / {s['hazard_due']}"],
        [label("rota_hotspots", lang),
         (f"{s['hotspots']} 处，风险时段 {risk}：驻巡 {s['hotspot_met']} / {s['hotspot_due']} 次"
          if zh else f"{s['hotspots']} in {risk}: {s['hotspot_met']} of {s['hotspot_due']} "
          "stops") if s["hotspots"] else label("no_hot_spots", lang)],
        [label("rota_hotspot_force", lang), hotspot_force(s, lang) or "—"],
        [label("rota_promise", lang), f"{s['promises_kept']} / {s['promised']}"],
        [label("rota_entropy", lang),
         f"{_share(s['entropy_bits'], s['entropy_max'])} / "
         f"{_share(s['start_entropy_bits'], s['entropy_max'])} "
         f"{label('of_most_random', lang)}"],
        [label("rota_hours", lang), f"{s['hours_used']:.1f} / {s['hours_available']:.1f}"],
        [label("rota_assigned", lang), f"{s['walks'] - s['unassigned']} / {s['walks']}"],
        [label("rota_solver", lang), _solver_text(s, lang)],
        [label("shortfall", lang), f"{s['shortfall_h']:.1f} {label('unit_h', lang)}"],
    ]


def _solver_text(s: dict[str, Any], lang: str) -> str:
    """How good the plan is in plain words: the best there is, or how far from it at most
    (the solver's name for that, its MIP gap, is shown on hover), and how long it took."""
    parts = [term("solver_status", s["status"], lang)]
    if s["status"] != "Optimal" and s.get("gap") is not None and s["gap"] == s["gap"]:
        parts.append(label("solver_gap_plain", lang).format(p=f"{100 * s['gap']:.2f}"))
    seconds = round(float(s["seconds"]))
    parts.append(label("worked_0s" if seconds < 1 else "worked_1s" if seconds == 1
                       else "worked_s", lang).format(s=seconds))
    return (" · " if not lang.startswith("zh") else "，").join(parts)


def hotspot_force(summary: dict[str, Any], lang: str) -> str | None:
    """Koper's dose of hot-spot stops the rota asks for against what the force seen in
    the weeks before it can make (walks given to a volunteer), and what is missing in
    volunteer-hours; ``None`` for a rota without hot spots or stored before it was told."""
    s = summary
    if not s.get("hotspots") or "hotspot_given" not in s:
        return None
    if not s["hotspot_missing"]:
        return label("hotspot_force_met", lang).format(due=s["hotspot_due"])
    return label("hotspot_force_short", lang).format(
        due=s["hotspot_due"], given=s["hotspot_given"], missing=s["hotspot_missing"],
        h=f"{s['hotspot_missing_h']:.0f}", m=f"{s['hotspot_walk_min']:.0f}")


def _share(bits: float, most: float) -> str:
    return f"{100 * float(bits) / float(most):.0f}%" if most else "—"


def figures_tech(summary: dict[str, Any], lang: str) -> list[str | None]:
    """The technical figure behind each of :func:`figures_rows`' rows (shown on hover on the
    page), ``None`` where the row says it plainly already."""
    s = summary
    tech: list[str | None] = [None] * 11
    tech[6] = (f"{label('entropy_tech', lang)}: {s['entropy_bits']:.2f} / "
               f"{s['start_entropy_bits']:.2f} ({label('at_most', lang)} "
               f"{s['entropy_max']:.0f})")
    tech[9] = (f"{s['status']} · {label('solver_gap', lang)} (MIP gap): "
               f"{100 * s['gap']:.2f}%")
    return tech


def week_rows(view: Any, lang: str) -> tuple[list[str], list[list[str]]]:
    """Per day: walks and hours in each slot, and the expected figures with and without."""
    headers = [label("date", lang), *[term("slot", s, lang) for s in SLOTS],
               label("streets_fresh", lang), label("hazards_in_rule", lang)]
    rows = []
    for r in view.week().to_dict("records"):
        cells = [f"{r[f'{s}_walks']} · {r[f'{s}_hours']:.1f} {label('hours_unit', lang)}"
                 for s in SLOTS]
        rows.append([f"{r['day']:%m-%d} {term('weekday', _weekday(r['day']), lang)}", *cells,
                     f"{_pct(r['streets'])}% ({_pct(r['streets_idle'])}%)",
                     f"{_pct(r['hazards'])}% ({_pct(r['hazards_idle'])}%)"])
    return headers, rows


def shortfall_rows(summary: dict[str, Any], lang: str) -> tuple[list[str], list[list[Any]]]:
    headers = [label("community", lang), label("hours", lang), label("volunteers_a_day", lang),
               *[term("slot", s, lang) for s in SLOTS], label("idle_on_duty", lang)]
    rows = [[r["community"], f"{r['hours']:.1f}", f"{r['volunteers_a_day']:.1f}",
             *[f"{r.get(s, 0.0):.1f}" for s in SLOTS], r.get("idle_on_duty", 0)]
            for r in sorted(summary.get("shortfall", []), key=lambda r: -r["hours"])]
    return headers, rows


def rota_geojson(view: Any) -> dict[str, Any]:
    """The walks as GeoJSON (WGS-84) with the rota's figures."""
    w = view.walks
    frame = w.assign(day=w["day"].astype(str),
                     starts_at=local_column(w["starts_at"], view.header["tz"], "iso")
                     if len(w) else [])
    keep = ["id", "day", "slot", "starts_at", "minutes", "kind", "community_id", "community",
            "number", "name", "length_m", "segment_ids", "hazard_ids", "hotspot_segment_id"]
    doc = json.loads(frame[[*keep, "geom"]].to_json(drop_id=True)) if len(frame) else {
        "type": "FeatureCollection", "features": []}
    h = view.header
    doc["properties"] = {"rota": int(h["id"]), "area": h["area"],
                         "start": h["start_day"].isoformat(), "days": int(h["days"]),
                         "revisit_days": int(h["revisit_days"]), "seed": int(h["seed"]),
                         **{k: v for k, v in view.summary.items() if k != "daily"},
                         "daily": view.summary.get("daily", [])}
    return doc


def rota_briefing_html(view: Any, *, lang: str = "zh", basemap: str | None = None,
                       generated: dt.datetime | None = None,
                       tiles: dict[str, bytes] | None = None) -> str:
    """The rota as one self-contained HTML file for offline PCs: the figures, the week, the
    shortfall, the walks with roster numbers only, and a map layer per day."""
    m = rota_map(view, lang, basemap=basemap)
    h = view.header
    title = f"{h['area']} · {label('rota', lang)}"
    last = h["start_day"] + dt.timedelta(days=int(h["days"]) - 1)
    stamp = local_text(now_local(h["tz"], generated), h["tz"])
    head = (f'<div class="gp-head"><h1>{html.escape(title)}</h1>'
            f"{h['start_day']:%Y-%m-%d} – {last:%Y-%m-%d} · "
            f"{html.escape(label('revisit_every', lang).format(n=h['revisit_days']))}</div>")
    week_h, week = week_rows(view, lang)
    short_h, short = shortfall_rows(view.summary, lang)
    rows = walk_rows(view, lang)
    walks = html_table(
        [label(k, lang) for k in ("date", "walk_start", "slot", "walk_kind", "community", "km",
                                  "loop_min", "loop_hazards", "number")],
        [[f"{r.day:%m-%d}", r.start, r.slot_text, r.kind_text, r.community or "—", r.km,
          r.minutes, r.stops, r.number or "—"] for r in rows.itertuples()]) if len(rows) else ""
    body = (f'<div class="gp-body">{html_table(["", ""], figures_rows(view.summary, lang))}'
            f"<h2>{label('week', lang)}</h2>{html_table(week_h, week)}"
            f'<p class="gp-note">{html.escape(label("week_note", lang))}</p>'
            + (f"<h2>{label('shortfall', lang)}</h2>{html_table(short_h, short)}" if short
               else "")
            + f'<h2 class="gp-page">{label("walks", lang)}</h2>{walks}'
            f'<p class="gp-note">{label("generated", lang)}: {stamp} · '
            f'{label("no_names", lang)}</p></div>')
    return map_page(m, title, head, body, basemap=basemap, what="rota briefing", tiles=tiles)


def navigate_urls(lon: float, lat: float, name: str) -> dict[str, str]:
    """Links that open AMap (GCJ-02) or Baidu Maps (BD-09) at a WGS-84 point, converted to
    the datum each app reads, with the place's name."""
    (gx,), (gy,) = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    (bx,), (by,) = wgs84_to_bd09(np.array([lon]), np.array([lat]))
    text = urllib.parse.quote(name)
    return {
        "amap": f"https://uri.amap.com/marker?position={gx:.6f},{gy:.6f}&name={text}"
                "&coordinate=gaode&callnative=1&src=geo-patrol",
        "baidu": f"https://api.map.baidu.com/marker?location={by:.6f},{bx:.6f}&title={text}"
                 f"&content={text}&coord_type=bd09ll&output=html&src=geo-patrol"}


#: A site's label that stays open wraps its words (a long place name on a phone's width).
WRAPPED = "white-space:normal;width:max-content;max-width:min(16em,70vw)"


class NavigateBox(MacroElement):
    """A box on a phone's map: open AMap or Baidu Maps at the site, and show my position
    (the browser's own location, drawn here only, never sent)."""

    _template = Template("""
        {% macro script(this, kwargs) %}
        (function () {
          var map = {{ this._parent.get_name() }};
          // on a small map (a call-out card's) folded behind its name, leaving the site seen,
          // on the right (the legend has the left); the search box has the top
          var small = map.getContainer().clientHeight < {{ this.small_below }};
          var box = L.control({position: small ? "bottomright" : "bottomleft"});
          box.onAdd = function () {
            var div = L.DomUtil.create(small ? "details" : "div", "gp-navigate");
            div.style.cssText = "background:#fff;padding:6px 8px;border-radius:4px;" +
              "box-shadow:0 1px 4px rgba(0,0,0,.3);font:14px/1.6 sans-serif";
            if (small) {
              var summary = document.createElement("summary");
              summary.textContent = {{ this.short|tojson }};
              summary.style.cssText = "cursor:pointer;font-weight:bold;font-size:12px";
              div.style.padding = "3px 7px";
              div.appendChild(summary);
            }
            var title = document.createElement("b");
            title.textContent = {{ this.title|tojson }};
            div.appendChild(title);
            {{ this.links|tojson }}.forEach(function (link) {
              var a = document.createElement("a");
              a.href = link[1]; a.target = "_blank"; a.rel = "noopener";
              a.className = "gp-navigate-" + link[2];
              a.textContent = link[0];
              a.style.cssText = "display:block";
              div.appendChild(a);
            });
            var me = document.createElement("button");
            me.type = "button"; me.className = "gp-locate";
            me.textContent = {{ this.locate|tojson }};
            var mark = null;
            me.addEventListener("click", function () { map.locate({setView: true, maxZoom: 17}); });
            map.on("locationfound", function (e) {
              if (mark) { map.removeLayer(mark); }
              mark = L.circleMarker(e.latlng, {radius: 8, color: "#fff", weight: 3,
                fillColor: "#2b83ba", fillOpacity: 1, className: "gp-me"}).addTo(map);
            });
            div.appendChild(me);
            L.DomEvent.disableClickPropagation(div);
            return div;
          };
          box.addTo(map);
        })();
        {% endmacro %}""")

    def __init__(self, title: str, links: list[tuple[str, str, str]], locate: str, *,
                 short: str) -> None:
        super().__init__()
        self._name = "NavigateBox"
        self.title, self.links, self.locate, self.short = title, links, locate, short
        self.small_below = maps.SMALL_MAP_BELOW_PX


def task_map(task: Any, lang: str, *, basemap: str | None = None, hazards: Any = None,
             site: dict[str, Any] | None = None) -> folium.Map:
    """One task's route (a one-row frame), its start marked, its ``hazards`` numbered in
    walking order (``order``), its hot-spot ``site`` marked, and links to navigate there
    (to the start when it has no site)."""
    m, shift = maps.base_map(tuple(task.total_bounds), lang=lang, basemap=basemap)
    rows = task.assign(kind_text=[label(f"walk_{k}", lang) for k in task["kind"]],
                       km=(task["length_m"] / 1000).round(2),
                       colour=[SLOT_COLOURS["evening"] if k == "hotspot" else "#1f78b4"
                               for k in task["kind"]])
    maps.geojson_layer(m, rows, shift, name=label("walk", lang),
                       shown={"kind_text": label("walk_kind", lang), "km": label("km", lang)},
                       styled=("colour",),
                       style=lambda f: {"color": f["properties"]["colour"], "weight": 5,
                                        "opacity": 0.9})

    def shown(lon: float, lat: float) -> list[float]:
        if shift:
            (lon,), (lat,) = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
        return [float(lat), float(lon)]

    x0, y0 = task.geometry.iloc[0].coords[0]
    folium.CircleMarker(shown(x0, y0), radius=8, color="#000", weight=2, fill=True,
                        fill_color="#33a02c", fill_opacity=1, class_name="gp-task-start",
                        tooltip=html.escape(label("walk_start", lang))).add_to(m)
    for r in (hazards.itertuples() if hazards is not None else ()):
        where = place_text(Place(r.street, r.cross_a, r.cross_b), lang) if r.street else ""
        folium.Marker(shown(r.lon, r.lat), icon=folium.DivIcon(
            html=f'<div class="gp-stop-number" style="width:22px;height:22px;'
                 f'border-radius:11px;background:#e31a1c;color:#fff;font:bold 13px/22px '
                 f'sans-serif;text-align:center;border:2px solid #fff">{int(r.order)}</div>',
            icon_size=(26, 26), icon_anchor=(13, 13)),
            tooltip=html.escape(f"{int(r.order)}. {r.name} · {where}".rstrip(" ·"))).add_to(m)
    target, name = (x0, y0), label("walk_start", lang)
    if site is not None:
        where = place_text(Place(site["street"], site["cross_a"], site["cross_b"]), lang) \
            if site.get("street") else label("task_site", lang)
        if site.get("name"):
            where = f"{site['name']} · {where}"
        target, name = (site["lon"], site["lat"]), where
        folium.CircleMarker(shown(site["lon"], site["lat"]), radius=11, color="#fff", weight=3,
                            fill=True, fill_color=SLOT_COLOURS["evening"], fill_opacity=1,
                            class_name="gp-task-site",
                            tooltip=folium.Tooltip(html.escape(where), permanent=True,
                                                   direction="top", style=WRAPPED)).add_to(m)
    urls = navigate_urls(float(target[0]), float(target[1]), name)
    NavigateBox(label("navigate_to", lang).format(place=name),
                [(label("navigate_amap", lang), urls["amap"], "amap"),
                 (label("navigate_baidu", lang), urls["baidu"], "baidu")],
                label("my_position", lang), short=label("navigate", lang)).add_to(m)
    return maps.finish(m, [(label("walk", lang), [("#1f78b4", label("walk_streets", lang)),
                                                  (SLOT_COLOURS["evening"],
                                                   label("walk_hotspot", lang)),
                                                  ("#33a02c", label("walk_start", lang)),
                                                  ("#e31a1c", label("walk_hazards", lang))])])


def site_map(lon: float, lat: float, name: str, lang: str, *,
             basemap: str | None = None) -> folium.Map:
    """A phone's small map of a call-out's site: the place marked and named, about 600 m
    around it, and links to navigate there in AMap or Baidu Maps."""
    pad = 0.004
    up = pad * 0.75 * 0.1  # the site a little below the middle: its name above it has room
    m, shift = maps.base_map((lon - pad, lat - pad * 0.75 + up, lon + pad, lat + pad * 0.75 + up),
                             lang=lang, basemap=basemap)
    x, y = lon, lat
    if shift:
        (x,), (y,) = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    folium.CircleMarker([float(y), float(x)], radius=11, color="#fff", weight=3, fill=True,
                        fill_color=maps.INCIDENT, fill_opacity=1, class_name="gp-incident",
                        # its name above it, clear of the dot
                        tooltip=folium.Tooltip(html.escape(name), permanent=True,
                                               direction="top", offset=[0, -10])).add_to(m)
    urls = navigate_urls(lon, lat, name)
    NavigateBox(label("navigate_to", lang).format(place=name),
                [(label("navigate_amap", lang), urls["amap"], "amap"),
                 (label("navigate_baidu", lang), urls["baidu"], "baidu")],
                label("my_position", lang), short=label("navigate", lang)).add_to(m)
    return maps.finish(m, [(label("incident_point", lang), [(maps.INCIDENT, name)])])
