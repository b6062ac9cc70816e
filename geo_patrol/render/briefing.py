"""The briefing: one self-contained HTML file per district and period, for offline PCs.

Map (community coverage, street recency or gaps, hazards by compliance, incident hexagons),
legend, title, period, community table and priority gaps; every script and style inlined; no
personal data (no names, phones, ID numbers or tracks).
"""

from __future__ import annotations

import datetime as dt
import html
from typing import Any

import folium

from geo_patrol import clock
from geo_patrol.analysis.places import Place, distinct_place_texts, place_text, place_texts
from geo_patrol.render import maps
from geo_patrol.render.assets import external_references, inline_assets
from geo_patrol.render.basemap import base_layer
from geo_patrol.render.charts import burn_down_svg
from geo_patrol.render.csp import with_meta_policy
from geo_patrol.render.i18n import duration_text, label, term
from geo_patrol.rules import Rules

#: Above this many street segments a briefing shows the gaps instead of every street.
MAX_SEGMENTS = 20_000

BRIEFING_CSS = """
body{margin:0;display:flex;flex-direction:column;font:14px/1.45 "Noto Sans CJK SC","Microsoft YaHei",sans-serif;color:#222}
.gp-head{padding:10px 16px;border-bottom:2px solid #333}
.gp-head h1{font-size:20px;margin:0 0 4px}
.gp-body{padding:8px 16px}
table.gp{border-collapse:collapse;margin:8px 0 16px;font-size:13px}
table.gp th,table.gp td{border:1px solid #bbb;padding:3px 7px;text-align:right}
table.gp th:first-child,table.gp td:first-child{text-align:left}
.gp-note{color:#555;font-size:12px}
details.gp-stats{margin:4px 0 12px}details.gp-stats summary{cursor:pointer;color:#555}
.gp-head{order:0}.folium-map{order:1;flex:0 0 auto}.gp-body{order:2}
@media print{.leaflet-control-container{display:none}.gp-page{page-break-before:always}}
"""


def html_table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>"
                   for r in rows)
    return f'<table class="gp"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def embed_base_map(m: folium.Map, tiles: dict[str, bytes] | None) -> None:
    """A file has no server to ask for base tiles: the map carries ``tiles`` (none: the
    base map's background only)."""
    layer = base_layer(m)
    if layer is not None:
        layer.embed(tiles or {})


def map_page(m: folium.Map, title: str, head: str, body: str, *, basemap: str | None,
             what: str, tiles: dict[str, bytes] | None = None) -> str:
    """A map with a heading above and tables below, as one self-contained HTML page (assets
    and the base map's ``tiles`` inlined, the CSP in a meta tag); refuses to return a page
    that would load from outside when no outside base map was configured."""
    embed_base_map(m, tiles)
    root = m.get_root()
    root.header.add_child(folium.Element(f"<style>{BRIEFING_CSS}</style>"))
    root.html.add_child(folium.Element(head), index=0)
    root.html.add_child(folium.Element(body))
    m.height = (62.0, "vh")
    page = root.render().replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)
    page = with_meta_policy(inline_assets(page))
    if not (basemap and basemap != "none") and external_references(page):
        raise RuntimeError(f"{what} would load from outside")
    return page


def campaign_section(progress: list[Any], lang: str, rules: Rules) -> str:
    """Each running campaign's progress in the district: totals, per category, the
    burn-down and the units never visited (names of premises, no personal data)."""
    parts = []
    for p in progress:
        c, t = p.campaign, p.totals
        intro = label("campaign_intro", lang).format(
            name=c["name"], start=c["starts_on"], end=c["ends_on"], through=p.through,
            found=t["found"], visited=t["visited"], rectified=t["rectified"],
            cleared=t["cleared"], open=t["open"], never=t["never_visited"])
        rows = [[rules.label(r.category, lang), r.found, r.visited, r.never_visited,
                 r.rectified, r.cleared, r.open] for r in p.table.itertuples()]
        table = html_table([label("category", lang), label("found", lang),
                            label("visited", lang), label("never_visited", lang),
                            term("hazard_status", "rectified", lang),
                            term("hazard_status", "cleared", lang),
                            label("still_open", lang)], rows)
        never = html_table([label("name", lang), label("category", lang),
                            label("community", lang)],
                           [[u.name, rules.label(u.category, lang), u.community]
                            for u in p.never_visited.head(30).itertuples()])
        parts.append(f"<p>{html.escape(intro)}</p>{table}{burn_down_svg(p.days, lang)}"
                     f"<h3>{label('never_visited_units', lang)}</h3>{never}")
    if not parts:
        return ""
    return f'<h2 class="gp-page">{label("campaign_section", lang)}</h2>' + "".join(parts)


def crime_section(crime: dict[str, Any] | None, lang: str) -> str:
    """The property-crime section: concentration, the hottest streets, near-repeat risk and
    whether the hot spots predict (street names and counts only)."""
    if not crime or not crime["incidents"]:
        return ""
    intro = label("crime_intro", lang).format(
        start=crime["start"], end=crime["end"], n=crime["incidents"],
        top5=f"{100 * (crime['top5'] or 0):.0f}", hot=crime["hot"])
    risk = crime["risk"]
    repeat = label("crime_no_risk", lang) if risk is None else label("crime_risk", lang).format(
        m=f"{risk[0]:g}", d=risk[1], a=crime["alerts"])
    lines = [intro, repeat]
    if crime["predicts"] is not None:
        lines.append(label("crime_predicts" if crime["predicts"] else "crime_not_predicts", lang))
    table = html_table([label("street", lang), label("community", lang),
                        label("incidents", lang), label("gi_z", lang)],
                       [[place_text(Place(r["street"], r.get("cross_a"), r.get("cross_b")),
                                    lang), r["community"], r["incidents"], f"{r['z']:.1f}"]
                        for r in crime["streets"]])
    text = "".join(f"<p>{html.escape(t)}</p>" for t in lines)
    return f'<h2 class="gp-page">{label("crime_section", lang)}</h2>{text}{table}'


def report_section(figures: dict[str, Any] | None, lang: str, rules: Rules) -> str:
    """Volunteers' reports in the period: per community and category, how many, verified,
    rejected, merged, pending, the hazards they added and the median hours to triage.
    Counts only: no reporter, no text, no photo."""
    if not figures or not figures["reports"]:
        return ""
    share = figures["share_verified"]
    hours = figures["triage_h"]
    intro = label("reports_intro", lang).format(
        n=figures["reports"], share="—" if share is None else f"{100 * share:.0f}%",
        time=duration_text(hours, lang), hazards=figures["hazards"])
    rows = [[r.community, rules.report_label(r.category, lang) or term("report", r.category, lang),
             r.reports, r.verified, r.rejected, r.merged, r.pending, r.hazards,
             "—" if r.triage_h != r.triage_h or r.triage_h is None else f"{r.triage_h:.1f}"]
            for r in figures["table"].itertuples()]
    table = html_table([label("community", lang), label("category", lang),
                        label("reports", lang), term("verification", "verified", lang),
                        term("verification", "rejected", lang),
                        term("verification", "merged", lang),
                        term("verification", "pending", lang), label("hazards_added", lang),
                        label("triage_hours", lang)], rows)
    return (f'<h2 class="gp-page">{label("report_section", lang)}</h2>'
            f'<p>{html.escape(intro)}</p>{table}')


def _pct(share: float) -> str:
    return f"{100 * share:.0f}"


def _details(lang: str, *parts: str) -> str:
    """The statistics behind a plain sentence, folded away until asked for."""
    return (f'<details class="gp-stats"><summary>{label("stats_behind", lang)}</summary>'
            + "".join(parts) + "</details>")


def forecast_part(f: dict[str, Any], lang: str) -> str:
    """Which forecast the rotas take their hot spots from, and why (plain words first)."""
    if f.get("why_not") is not None:
        return f'<p id="gp-forecast">{html.escape(label("forecast_too_few", lang))}</p>'
    if not f.get("beats_random"):
        text = label("forecast_none", lang)
    else:
        text = label("forecast_chosen", lang).format(
            method=term("method", f["method"], lang), weeks=f.get("weeks", ""),
            pai=f"{f['pai']:.1f}", random=f"{f['random_pai']:.1f}")
    test = f.get("test") or ("", "")
    stats = label("forecast_stats", lang).format(
        a=test[0], b=test[1], n=f.get("test_incidents", ""),
        method=term("method", f["method"], lang), pai=f"{f['pai']:.2f}",
        runner=term("method", f.get("runner_up"), lang) or "—",
        second=f"{f.get('runner_up_pai', 0.0):.2f}", random=f"{f['random_pai']:.2f}")
    notes = [f'<p class="gp-note">{html.escape(stats)}</p>']
    fit = f.get("sepp") or {}
    boot = fit.get("bootstrap")
    if boot:  # a fit stored before the bootstrap was run says no more than its PAI
        iv = boot["intervals"]
        shown = {"bg": ("background_per_day", "background", "{:.2f}"),
                 "theta": ("theta", "theta", "{:.2f}"),
                 "days": ("mean_days", "mean_days", "{:.1f}"),
                 "sigma": ("sigma_m", "sigma_m", "{:.0f}")}
        words = {"n": boot["draws"]}
        for k, (own, ranged, fmt) in shown.items():
            words |= {k: fmt.format(fit[own]), f"{k}_lo": fmt.format(iv[ranged][0]),
                      f"{k}_hi": fmt.format(iv[ranged][1])}
        notes.append(f'<p class="gp-note" id="gp-forecast-fit">'
                     f'{html.escape(label("forecast_fit", lang).format(**words))}</p>')
    return f'<p id="gp-forecast">{html.escape(text)}</p>' + _details(lang, *notes)


def dose_part(dose: Any, lang: str, *, stay_min: float, radius_m: float) -> str:
    """The patrol time delivered against the rotas' plan at each hot spot in the period
    (hot spots named by street and cross streets; minutes only)."""
    if dose is None or not len(dose) or not dose["planned_min"].sum():
        return f'<p id="gp-dose">{html.escape(label("dose_none", lang))}</p>'
    planned, got = float(dose["planned_min"].sum()), float(dose["delivered_min"].sum())
    text = label("dose_summary", lang).format(n=len(dose), got=f"{got:.0f}",
                                              planned=f"{planned:.0f}",
                                              share=_pct(got / planned))
    names = distinct_place_texts(dose, lang)
    rows = [[name, f"{r.planned_min:.0f}", f"{r.delivered_min:.0f}",
             "–" if r.share != r.share else f"{_pct(r.share)}%"]
            for name, r in zip(names, dose.itertuples())]
    table = html_table([label("hot_spot_place", lang), label("planned_min", lang),
                        label("delivered_min", lang), label("share", lang)], rows)
    rule = label("dose_rule", lang).format(
        m=f"{radius_m:g}", min=f"{stay_min:g}", minutes=f"{dose['minutes'].sum():.0f}",
        koper=int(dose["koper_stays"].sum()))
    table = table.replace("<table ", '<table id="gp-dose-table" ', 1)
    return (f'<p id="gp-dose">{html.escape(text)}</p>{table}'
            + _details(lang, f'<p class="gp-note">{html.escape(rule)}</p>'))


def trial_part(r: Any, lang: str) -> str:
    """One trial: what it is, its state, and at its end its verdict in plain words; the
    arms' counts and patrol time, and the statistics folded away."""
    t, spots = r.trial, r.spots
    n_p = int((spots["arm"] == "patrolled").sum())
    head = label("trial_head", lang).format(
        id=t["id"], area=t.get("area") or label("whole_city", lang), start=t["start_day"],
        end=r.end, n=len(spots), p=n_p, c=len(spots) - n_p)
    lines = [head]
    if r.until is None:
        lines.append(label("trial_not_started", lang).format(start=t["start_day"]))
        text = "".join(f"<p>{html.escape(x)}</p>" for x in lines)
        return f'<div class="gp-trial" id="gp-trial-{int(t["id"])}">{text}</div>'
    p, c = r.dose["patrolled"], r.dose["control"]
    inf = r.inference
    if r.interim:
        lines.append(label("trial_interim", lang).format(until=r.until))
    else:
        change = "" if inf.change is None else f"{100 * inf.change:+.0f}%"
        verdict = r.verdict
        if verdict == "too_small":
            lines.append(label("trial_too_small", lang).format(
                n=len(spots), b=spots["block"].nunique()))
        else:
            lines.append(label(f"trial_{verdict}", lang).format(pa=p["after"], ca=c["after"],
                                                               change=change))
    dose = label("trial_dose", lang).format(p=f"{p['per_spot_week']:.0f}",
                                            c=f"{c['per_spot_week']:.0f}")
    if not r.delivered:
        dose += " " + label("trial_not_delivered", lang)
    lines.append(dose)
    arms = html_table([label("arm", lang), label("arm_spots", lang),
                       label("incidents_before", lang), label("incidents_during", lang),
                       label("minutes_week", lang)],
                      [[label(f"arm_{arm}", lang), d["spots"], d["before"], d["after"],
                        f"{d['per_spot_week']:.0f}"]
                       for arm, d in (("patrolled", p), ("control", c))])
    stats = ""
    if not r.interim:
        stats = label("trial_stats", lang).format(
            days=r.days, effect=f"{inf.effect:+.2f}", lo=f"{inf.ci[0]:+.2f}",
            hi=f"{inf.ci[1]:+.2f}", p=f"{inf.p_value:.3f}", draws=inf.draws,
            alpha=f"{0.05:g}", smallest=f"{inf.smallest_p:.3f}")
    rings = html_table([label("ring", lang), label("incidents_before", lang),
                        label("incidents_during", lang), label("wdq", lang)],
                       [[label("ring_m", lang).format(a=f"{g.from_m:.0f}", b=f"{g.to_m:.0f}"),
                         g.before, g.after, "–" if g.wdq is None or g.wdq != g.wdq
                         else f"{g.wdq + 0.0:+.2f}"]
                        for g in (r.rings.itertuples() if r.rings is not None else [])])
    text = "".join(f"<p>{html.escape(x)}</p>" for x in lines)
    folded = _details(lang, f'<p class="gp-note">{html.escape(stats)}</p>' if stats else "",
                      rings)
    return f'<div class="gp-trial" id="gp-trial-{int(t["id"])}">{text}{arms}{folded}</div>'


def evidence_section(evidence: dict[str, Any] | None, lang: str) -> str:
    """Forecasts, dose and trials: which forecast the rotas' hot spots come from, the
    patrol time delivered against the plan at each hot spot in the period, and the
    district's trials (state, arms, a finished one's verdict); plain words first, the
    statistics folded away. Places, counts and minutes only: no personal data."""
    if not evidence:
        return ""
    parts = [f'<h2 class="gp-page" id="gp-evidence">{label("evidence_section", lang)}</h2>',
             f'<h3>{label("forecast_heading", lang)}</h3>',
             forecast_part(evidence["forecast"], lang),
             f'<h3>{label("dose_heading", lang)}</h3>',
             dose_part(evidence.get("dose"), lang, stay_min=evidence["stay_min"],
                       radius_m=evidence["radius_m"]),
             f'<h3>{label("trials_heading", lang)}</h3>']
    reports = evidence.get("trials") or []
    parts.extend(trial_part(r, lang) for r in reports)
    if not reports:
        parts.append(f'<p id="gp-no-trial">{html.escape(label("trials_none", lang))}</p>')
    return "".join(parts)


def briefing_html(run: dict[str, Any], layers: Any, segments: Any, table: Any, *,
                  rules: Rules, tz: str, lang: str = "zh", basemap: str | None = None,
                  generated: dt.datetime | None = None,
                  crime: dict[str, Any] | None = None,
                  campaigns: list[Any] | None = None, city: str | None = None,
                  reports: dict[str, Any] | None = None,
                  tiles: dict[str, bytes] | None = None,
                  evidence: dict[str, Any] | None = None) -> str:
    """The briefing of one district (of ``city``, named in its title), as one self-contained
    HTML string, its period and time in the city's zone ``tz``: ``layers`` of the
    district (without inspectors: no personal data in a briefing), its street ``segments``,
    the run's community ``table``, the running ``campaigns``' progress in the district (see
    :func:`geo_patrol.services.campaigns.district_progress`) and the property-crime figures
    (``crime``, see :func:`geo_patrol.services.crime.briefing_figures`), the figures of
    volunteers' reports (``reports``, see :func:`geo_patrol.services.reports.figures`), the
    evidence (``evidence``: forecast, dose and trials, see :func:`evidence_section`); the
    district's base map ``tiles`` (``{"z/x/y": mvt}``) travel inside the file."""
    district, communities, gaps = layers.area, layers.communities, layers.gaps
    name = str(district.iloc[0]["name"])
    focus = communities if not communities.empty else district
    m, shift = maps.base_map(tuple(focus.total_bounds), lang=lang, basemap=basemap)
    embed_base_map(m, tiles)
    m.get_root().header.add_child(folium.Element(f"<style>{BRIEFING_CSS}</style>"))
    maps.add_areas(m, focus, lang, shift)
    sections = [(label("coverage_pct", lang), [(maps.coverage_colour(v), f"{int(v * 100)}%")
                                               for v in (0.0, 0.5, 1.0)])]
    if len(segments) <= MAX_SEGMENTS:
        maps.add_segments(m, segments, lang, shift)
        sections.append(maps.recency_legend(lang))
    maps.add_gaps(m, gaps, lang, shift)
    maps.add_hazards(m, layers.hazards, lang, shift, rules, tz=tz)
    maps.add_incident_bins(m, layers.incident_bins, lang, shift)
    sections.append(maps.compliance_legend(lang))
    sections.append(maps.layers_legend(lang))
    maps.finish(m, sections)

    period = clock.period_text(run["window_start"], run["window_end"], tz)
    title = f"{city + ' ' if city else ''}{name} · {label('briefing', lang)}"
    rows = []
    table = table[table["area_id"].isin(communities["area_id"])] if not communities.empty \
        else table.iloc[0:0]
    for r in table.sort_values("coverage").itertuples():
        rows.append([r.name, f"{r.total_m / 1000:.1f}", f"{r.covered_m / 1000:.1f}",
                     f"{100 * (r.coverage or 0):.1f}", r.hazards_overdue + r.hazards_never,
                     r.gaps, r.active_volunteers])
    summary = html_table([label("community", lang), label("street_km", lang),
                      label("visited_km", lang), label("coverage_pct", lang),
                      label("overdue", lang), label("gaps", lang), label("volunteers", lang)],
                     rows)
    top = gaps.head(15)
    gap_rows = [[place, g.area or "", f"{g.length_m / 1000:.2f}", g.hazards_overdue,
                 g.incidents, f"{g.priority:.2f}"]
                for place, g in zip(place_texts(top, lang, length=False), top.itertuples())]
    gap_table = html_table([label("gap", lang), label("community", lang), label("length_km", lang),
                        label("overdue", lang), label("incidents", lang),
                        label("priority", lang)], gap_rows)
    total = float(district.iloc[0]["total_m"])
    covered = float(district.iloc[0]["covered_m"])
    stamp = clock.local_text(clock.now_local(tz, generated), tz)
    head = (f'<div class="gp-head"><h1>{html.escape(title)}</h1>'
            f'{label("period", lang)}: {period} · {label("coverage_pct", lang)}: '
            f'{100 * covered / total if total else 0:.1f} · {label("overdue", lang)}: '
            f'{int(district.iloc[0]["hazards_overdue"])} · {label("gaps", lang)}: '
            f'{int(district.iloc[0]["gaps"])}</div>')
    body = (f'<div class="gp-body"><h2>{label("summary", lang)}</h2>{summary}'
            f'<h2 class="gp-page">{label("top_gaps", lang)}</h2>{gap_table}'
            f'{campaign_section(campaigns or [], lang, rules)}{crime_section(crime, lang)}'
            f'{report_section(reports, lang, rules)}{evidence_section(evidence, lang)}'
            f'<p class="gp-note">{label("generated", lang)}: {stamp} · '
            f'{label("no_personal", lang)}</p></div>')
    root = m.get_root()
    root.title = title
    root.html.add_child(folium.Element(head), index=0)
    root.html.add_child(folium.Element(body))
    m.height = (62.0, "vh")
    page = root.render()
    page = page.replace("<head>", f"<head><title>{html.escape(title)}</title>", 1)
    page = with_meta_policy(inline_assets(page))
    leftovers = [u for u in external_references(page)
                 if not (basemap and basemap != "none")]
    if leftovers:
        raise RuntimeError(f"briefing would load from outside: {leftovers[:3]}")
    return page
