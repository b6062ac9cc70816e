"""One analysis window as a pure function: streets, hazards, areas and a window's clean fixes
in; per-segment, per-hazard, per-area and per-day results out. No database access: the
service layer (:mod:`geo_patrol.services.analysis`) reads the inputs and stores the results.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from geo_patrol.analysis.area import area_coverage, shares_near
from geo_patrol.analysis.compliance import STATUSES, Visits, hazard_visits, judge
from geo_patrol.analysis.days import (
    DayVisits,
    Span,
    Streets,
    day_bounds,
    roll_up,
    span_of_day,
    span_visits,
)
from geo_patrol.analysis.gaps import find_gaps
from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes, build_steps
from geo_patrol.analysis.recency import recency_lengths
from geo_patrol.analysis.visits import AreaDaily, Calendar, SegmentVisits, segment_visits
from geo_patrol.errors import InputError
from geo_patrol.rules import Rules


@dataclass
class WindowInputs:
    """What a window is analysed from (metric coordinates)."""

    segments: pd.DataFrame     # id, node_from, node_to, area_id, length_m, geom
    hazards: pd.DataFrame      # id, category, status, area_id, x, y
    fixes: Fixes
    areas: pd.DataFrame        # id, parent_id, level of every area
    community_polygons: dict[int, Any] = field(default_factory=dict)
    scoped: bool = False       # one area's run: only fixes near its streets count


@dataclass
class WindowResults:
    """Result rows of a window, ready to store (without the run id)."""

    segments: pd.DataFrame
    hazards: pd.DataFrame
    areas: pd.DataFrame
    daily: pd.DataFrame
    stats: dict[str, Any]


def check_window(start: dt.datetime, end: dt.datetime, *, max_days: int = 92) -> None:
    """A window's start and end are aware, in order, and at most ``max_days`` apart."""
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("the window's start and end need a time zone")
    if end <= start:
        raise InputError(f"the window ends ({end:%Y-%m-%d %H:%M}) before it starts "
                         f"({start:%Y-%m-%d %H:%M})")
    if end - start > dt.timedelta(days=max_days):
        raise InputError(f"windows are at most {max_days} days long")


def analyse_window(inputs: WindowInputs, start: dt.datetime, end: dt.datetime, *,
                   params: AnalysisParams, rules: Rules, timezone: str,
                   threads: int = 2) -> WindowResults:
    """Visits, coverage, compliance and gaps of ``start <= t < end``, from its fixes."""
    check_window(start, end)
    reach = params.inspection_radius_m or rules.radius_m
    segments, hazards, fixes = inputs.segments, inputs.hazards, inputs.fixes
    cal = Calendar.for_window(start, end, timezone, params.day_starts, params.night_starts)
    # paths are joined from all the window's fixes, whatever the scope: dropping the fixes
    # far from one area's streets first would join the fixes either side of an excursion into
    # a step that was never walked, and cut the steps that come into the area from outside
    steps = build_steps(fixes, gap_s=params.gap_s, max_speed_kmh=params.max_speed_kmh,
                        breaks=cal.midnights)
    n_steps = len(steps)
    if inputs.scoped and len(fixes):
        box = _scope_box(segments, hazards, inputs.community_polygons,
                         params.radius_m + reach)
        fixes = fixes.take(_in_box(box, fixes.x, fixes.y, fixes.x, fixes.y))
        near = _in_box(box, steps.ax, steps.ay, steps.bx, steps.by)
        n_steps = int(near.sum())
        # the step after each one kept stays too, far as it may be: a pass is a run of
        # consecutive steps, and a walk away from a street and back is two passes
        near[1:] |= near[:-1].copy()
        steps = steps.take(near)
    visits = segment_visits(segments["geom"].to_numpy(), steps, cal, radius=params.radius_m,
                            segment_areas=segments["area_id"].to_numpy(), threads=threads)
    hv = hazard_visits(hazards["x"].to_numpy(dtype="float64"),
                       hazards["y"].to_numpy(dtype="float64"), fixes, radius=reach,
                       gap_s=params.gap_s)
    polygons = inputs.community_polygons
    shares = area_coverage(np.array([polygons[i] for i in sorted(polygons)]), steps,
                           radius=params.radius_m)
    return _results(inputs, cal, end.timestamp(), visits, hv,
                    dict(zip(sorted(polygons), shares.tolist())),
                    params=params, rules=rules, counts=(len(fixes), n_steps))


def analyse_days(inputs: WindowInputs, streets: Streets, days: list[DayVisits], *,
                 params: AnalysisParams, rules: Rules) -> WindowResults:
    """The window of whole ``days`` (consecutive), composed from their stored visits: the
    same results as :func:`analyse_window` of the same window, for a window of any length.
    ``inputs`` (without fixes) give the scope: its segments, hazards and communities."""
    return analyse_spans(inputs, streets, [span_of_day(streets, d) for d in days],
                         params=params, rules=rules)


def analyse_spans(inputs: WindowInputs, streets: Streets, spans: list[Span], *,
                  params: AnalysisParams, rules: Rules) -> WindowResults:
    """The window made of consecutive ``spans`` (days and months rolled up)."""
    span = roll_up(streets, spans) if len(spans) > 1 else spans[0]
    cal = streets.calendar(day_bounds(span.first, streets.timezone)[0],
                           day_bounds(span.last, streets.timezone)[1])
    visits = span_visits(streets, span)
    seg_idx = _positions(streets.segment_ids, inputs.segments["id"], "street segment")
    h = span.hazards  # by hazard id: to the scope's hazards, others (or since removed) out
    index = pd.Index(inputs.hazards["id"].to_numpy()).get_indexer(h.hazard)
    keep = index >= 0
    hv = Visits(index[keep], h.volunteer[keep], h.start[keep], h.end[keep])
    polygons = inputs.community_polygons
    ids = sorted(polygons)
    shares = shares_near(np.array([polygons[i] for i in ids]), streets.grid, span.cells,
                         radius=params.radius_m) if streets.grid is not None else \
        np.zeros(len(ids))
    if not np.array_equal(seg_idx, np.arange(streets.n_seg)):  # a scope: its streets only
        visits = visits.take(seg_idx, inputs.segments["area_id"].unique())
    return _results(inputs, cal, float(cal.midnights[-1]), visits, hv,
                    dict(zip(ids, shares.tolist())), params=params, rules=rules,
                    counts=(span.fixes, span.steps))


def _positions(ids: np.ndarray, wanted: pd.Series, what: str) -> np.ndarray:
    """Where each of ``wanted`` stands in ``ids`` (all must)."""
    pos = pd.Index(ids).get_indexer(wanted.to_numpy())
    if (pos < 0).any():
        raise InputError(f"a {what} of the scope is not among the streets the days were "
                         "analysed against")
    return pos


def _results(inputs: WindowInputs, cal: Calendar, t_end: float, visits: SegmentVisits,
             hv: Visits,
             shares: dict[int, float], *, params: AnalysisParams, rules: Rules,
             counts: tuple[int, int]) -> WindowResults:
    """Compliance, gaps and the per-area roll-ups of a window's visits."""
    dwell_min = params.inspection_dwell_min or rules.dwell_min
    segments, hazards = inputs.segments, inputs.hazards
    hazard_rules = [rules.categories.get(c, rules.categories["other"])
                    for c in hazards["category"]]
    comp = judge(hazard_rules, (hazards["status"] == "cleared").to_numpy(), hv, cal,
                 dwell_min=dwell_min, window_end=t_end)
    stale = np.isnan(visits.last_visit) | \
        (visits.last_visit < t_end - params.stale_days * 86400)
    gap_keys = find_gaps(segments["id"].to_numpy(), segments["node_from"].to_numpy(),
                         segments["node_to"].to_numpy(), segments["area_id"].to_numpy(), stale)
    seg_frame = _segment_frame(segments, visits, gap_keys)
    haz_frame = pd.DataFrame({
        "hazard_id": hazards["id"],
        "status": np.array(STATUSES)[comp.status], "inspections": comp.inspections,
        "passes": comp.passes, "last_inspection": utc_times(comp.last_inspection),
        "first_inspection": utc_times(comp.first_inspection),
        "last_inspector_id": np.where(comp.last_inspector < 0, None, comp.last_inspector),
        "last_pass": utc_times(comp.last_pass), "due_days": comp.due_days,
        "missed_days": comp.missed_days})
    chains = _ancestors(inputs.areas)
    area_frame, daily = _area_frames(segments, visits, hazards, comp.status, gap_keys,
                                     inputs.areas, chains, cal, t_end)
    area_frame["area_coverage"] = [shares.get(int(a)) if level == "community" else None
                                   for a, level in zip(area_frame["area_id"],
                                                       area_frame["level"])]
    total = float(segments["length_m"].sum())
    stats = {"fixes": counts[0], "steps": counts[1], "segments": len(segments),
             "street_m": round(total, 1), "covered_m": round(float(visits.covered_m.sum()), 1),
             "coverage": float(visits.covered_m.sum() / total) if total else None,
             "hazards": len(hazards), "hazards_overdue": int((comp.status == 1).sum()),
             "hazards_never": int((comp.status == 2).sum())}
    return WindowResults(seg_frame, haz_frame, area_frame, daily, stats)


def utc_times(values: np.ndarray) -> list[dt.datetime | None]:
    """Epoch seconds (NaN: none) as aware UTC datetimes."""
    return [None if np.isnan(v) else dt.datetime.fromtimestamp(float(v), dt.UTC) for v in values]


def _ancestors(areas: pd.DataFrame) -> dict[int, list[int]]:
    parent = dict(zip(areas["id"], areas["parent_id"]))
    chains: dict[int, list[int]] = {}
    for aid in areas["id"]:  # areas number in the hundreds
        chain, cur = [], aid
        while cur is not None and not pd.isna(cur) and cur not in chain:
            chain.append(int(cur))
            cur = parent.get(cur)
        chains[int(aid)] = chain
    return chains


def _explode(frame: pd.DataFrame, chains: dict[int, list[int]], col: str = "area_id"
             ) -> pd.DataFrame:
    """One row per (row, ancestor area) so sums per area include sub-areas."""
    up = pd.DataFrame([(a, anc) for a, chain in chains.items() for anc in chain],
                      columns=[col, "area"])
    return frame.merge(up, on=col, how="inner")


def _recency(last: np.ndarray, length: np.ndarray, end: float) -> pd.DataFrame:
    return pd.DataFrame(recency_lengths((end - last) / 86400, length))


def _scope_box(segments: pd.DataFrame, hazards: pd.DataFrame, polygons: dict[int, Any],
               margin: float) -> tuple[float, float, float, float] | None:
    """The extent of a scope's streets, hazards and communities, widened by ``margin``
    (None: an empty scope)."""
    points = shapely.points(hazards["x"].to_numpy(dtype="float64"),
                            hazards["y"].to_numpy(dtype="float64"))
    geoms = list(segments["geom"]) + list(points) + list(polygons.values())
    if not geoms:
        return None
    x0, y0, x1, y1 = shapely.total_bounds(np.array(geoms))
    return x0 - margin, y0 - margin, x1 + margin, y1 + margin


def _in_box(box: tuple[float, float, float, float] | None, ax: np.ndarray, ay: np.ndarray,
            bx: np.ndarray, by: np.ndarray) -> np.ndarray:
    """Which pieces from (ax, ay) to (bx, by) have an extent that meets ``box``."""
    if box is None:
        return np.zeros(len(ax), dtype=bool)
    x0, y0, x1, y1 = box
    return (np.maximum(ax, bx) >= x0) & (np.minimum(ax, bx) <= x1) & \
        (np.maximum(ay, by) >= y0) & (np.minimum(ay, by) <= y1)


def _segment_frame(segments: pd.DataFrame, v: SegmentVisits,
                   gap_keys: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "segment_id": segments["id"], "covered_m": v.covered_m,
        "covered_patrol_m": v.covered_kind_m[0], "covered_passive_m": v.covered_kind_m[1],
        "covered_day_m": v.covered_band_m[0], "covered_night_m": v.covered_band_m[1],
        "last_visit": utc_times(v.last_visit),
        "last_patrol_visit": utc_times(v.last_patrol_visit),
        "passes_patrol": v.passes[0], "passes_passive": v.passes[1],
        "dwell_patrol_s": v.dwell_s[0], "dwell_passive_s": v.dwell_s[1],
        "gap_key": np.where(gap_keys == "", None, gap_keys)})


def _area_frames(segments: pd.DataFrame, v: SegmentVisits, hazards: pd.DataFrame,
                 status: np.ndarray, gap_keys: np.ndarray, areas: pd.DataFrame,
                 chains: dict[int, list[int]], cal: Calendar, t_end: float
                 ) -> tuple[pd.DataFrame, pd.DataFrame]:
    seg = pd.DataFrame({
        "area_id": segments["area_id"].to_numpy(), "total_m": segments["length_m"].to_numpy(),
        "covered_m": v.covered_m, "covered_patrol_m": v.covered_kind_m[0],
        "covered_passive_m": v.covered_kind_m[1], "covered_day_m": v.covered_band_m[0],
        "covered_night_m": v.covered_band_m[1], "segments": 1,
        "segments_visited": (~np.isnan(v.last_visit)).astype(int)})
    recency = _recency(v.last_visit, segments["length_m"].to_numpy(), t_end)
    seg = pd.concat([seg, recency.add_prefix("rec_")], axis=1)
    sums = _explode(seg, chains).drop(columns="area_id").groupby("area").sum()
    # active volunteers: distinct volunteers whose paths visited the area's streets
    sv = pd.DataFrame({"area_id": v.area_volunteer[:, 0], "volunteer": v.area_volunteer[:, 1]})
    active = _explode(sv, chains).groupby("area")["volunteer"].nunique()
    hz = pd.DataFrame({"area_id": hazards["area_id"].to_numpy(), "hazards": 1,
                       "hazards_compliant": (status == 0).astype(int),
                       "hazards_overdue": (status == 1).astype(int),
                       "hazards_never": (status == 2).astype(int)})
    hz_sums = _explode(hz, chains).drop(columns="area_id").groupby("area").sum()
    gk = pd.DataFrame({"area_id": segments["area_id"].to_numpy(), "gap": gap_keys,
                       "len": segments["length_m"].to_numpy()})
    gk = gk[gk["gap"] != ""]
    gx = _explode(gk, chains)
    gaps = gx.groupby("area").agg(gaps=("gap", "nunique"), gap_m=("len", "sum"))
    frame = sums.join([active.rename("active_volunteers"), hz_sums, gaps], how="left")
    frame = frame.fillna(0)
    levels = dict(zip(areas["id"], areas["level"]))
    rec_cols = [c for c in frame.columns if c.startswith("rec_")]
    out = pd.DataFrame({
        "area_id": frame.index.astype(int),
        "level": [levels[a] for a in frame.index],
        **{c: frame[c].to_numpy() for c in (
            "total_m", "covered_m", "covered_patrol_m", "covered_passive_m", "covered_day_m",
            "covered_night_m")},
        **{c: frame[c].astype(int).to_numpy() for c in (
            "segments", "segments_visited", "active_volunteers", "hazards", "hazards_compliant",
            "hazards_overdue", "hazards_never", "gaps")},
        "gap_m": frame["gap_m"].to_numpy(),
        "recency": [json.dumps({c[4:]: round(float(r[c]), 1) for c in rec_cols})
                    for _, r in frame[rec_cols].iterrows()]})
    return out, _area_daily(segments, v.covered_daily, chains, cal)


def _area_daily(segments: pd.DataFrame, daily: AreaDaily, chains: dict[int, list[int]],
                cal: Calendar) -> pd.DataFrame:
    """Covered metres per area (with its sub-areas) and day: the areas' own metres summed up
    their chains by one product with the membership of areas in areas."""
    own = daily.area_ids
    pairs = _explode(pd.DataFrame({"own": np.arange(len(own)), "area_id": own}), chains)
    rows, index = pd.factorize(pairs["area"], sort=True)
    member = sparse.csr_matrix((np.ones(len(pairs)), (rows, pairs["own"].to_numpy())),
                               shape=(len(index), len(own)))
    days = cal.days
    per_day = np.asarray(member @ daily.m)  # (areas, days)
    length = pd.Series(segments["length_m"].to_numpy(dtype="float64")).groupby(
        segments["area_id"].to_numpy()).sum().reindex(own, fill_value=0.0)
    total = member @ length.to_numpy()
    return pd.DataFrame({"area_id": np.repeat(index.to_numpy(), days),
                         "day": np.tile(np.array(cal.dates[:days], dtype=object), len(index)),
                         "covered_m": per_day.ravel(), "total_m": np.repeat(total, days)})
