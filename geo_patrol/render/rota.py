"""A stored rota on a map (a day's walks, or a layer per day), as tables, GeoJSON and an
offline briefing (roster numbers at most: names never leave the page)."""

from __future__ import annotations

import datetime as dt
import html
import json
from typing import Any

import folium
import numpy as np
import pandas as pd

from geo_patrol.clock import local_column, local_text, now_local
from geo_patrol.crs import wgs84_to_gcj02
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
             "community": label("community", lang), "km": "km",
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
        m, _ = maps.base_map((109.7, 40.5, 110.1, 40.8), basemap=basemap)
        return maps.finish(m, [])
    m, shift = maps.base_map(tuple(rows.total_bounds), basemap=basemap)
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
        [label("rota_promise", lang), f"{s['promises_kept']} / {s['promised']}"],
        [label("rota_entropy", lang),
         f"{s['entropy_bits']:.2f} / {s['start_entropy_bits']:.2f} "
         f"({label('at_most', lang)} {s['entropy_max']:.0f})"],
        [label("rota_hours", lang), f"{s['hours_used']:.1f} / {s['hours_available']:.1f}"],
        [label("rota_assigned", lang), f"{s['walks'] - s['unassigned']} / {s['walks']}"],
        [label("rota_solver", lang),
         f"{term('solver_status', s['status'], lang)} · {label('solver_gap', lang)} "
         f"{100 * s['gap']:.2f}% · {s['seconds']:.0f} s"],
        [label("shortfall", lang), f"{s['shortfall_h']:.1f} h"],
    ]


def week_rows(view: Any, lang: str) -> tuple[list[str], list[list[str]]]:
    """Per day: walks and hours in each slot, and the expected figures with and without."""
    headers = [label("date", lang), *[term("slot", s, lang) for s in SLOTS],
               label("streets_fresh", lang), label("hazards_in_rule", lang)]
    rows = []
    for r in view.week().to_dict("records"):
        cells = [f"{r[f'{s}_walks']} · {r[f'{s}_hours']:.1f} h" for s in SLOTS]
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
                       generated: dt.datetime | None = None) -> str:
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
        [label(k, lang) for k in ("date", "walk_start", "slot", "walk_kind", "community")]
        + ["km", label("loop_min", lang), label("loop_hazards", lang), label("number", lang)],
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
    return map_page(m, title, head, body, basemap=basemap, what="rota briefing")


def task_map(task: Any, lang: str, *, basemap: str | None = None) -> folium.Map:
    """One task's route (a one-row frame), its start marked."""
    m, shift = maps.base_map(tuple(task.total_bounds), basemap=basemap)
    rows = task.assign(kind_text=[label(f"walk_{k}", lang) for k in task["kind"]],
                       km=(task["length_m"] / 1000).round(2),
                       colour=[SLOT_COLOURS["evening"] if k == "hotspot" else "#1f78b4"
                               for k in task["kind"]])
    maps.geojson_layer(m, rows, shift, name=label("walk", lang),
                       shown={"kind_text": label("walk_kind", lang), "km": "km"},
                       styled=("colour",),
                       style=lambda f: {"color": f["properties"]["colour"], "weight": 5,
                                        "opacity": 0.9})
    x, y = task.geometry.iloc[0].coords[0]
    if shift:
        (x,), (y,) = wgs84_to_gcj02(np.array([x]), np.array([y]))
    folium.CircleMarker([y, x], radius=8, color="#000", weight=2, fill=True,
                        fill_color="#33a02c", fill_opacity=1,
                        tooltip=html.escape(label("walk_start", lang))).add_to(m)
    return maps.finish(m, [(label("walk", lang), [("#1f78b4", label("walk_streets", lang)),
                                                  (SLOT_COLOURS["evening"],
                                                   label("walk_hotspot", lang)),
                                                  ("#33a02c", label("walk_start", lang))])])
