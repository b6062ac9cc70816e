"""One analysis run: read a window's fixes and the streets/hazards in scope, compute visits,
coverage, compliance and gaps, and store the results (replacing the same question's last run).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo_patrol.analysis.area import area_coverage
from geo_patrol.analysis.compliance import STATUSES, hazard_visits, judge
from geo_patrol.analysis.gaps import find_gaps
from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes, build_steps, read_fixes
from geo_patrol.analysis.visits import Calendar, SegmentVisits, segment_visits
from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.settings import Settings
from geo_patrol.store import results as store
from geo_patrol.store.uploads import Timer

log = logging.getLogger(__name__)
RECENCY_BINS = ((0, 1, "0-1"), (1, 3, "1-3"), (3, 7, "3-7"), (7, float("inf"), "7+"))


@dataclass
class RunSummary:
    """What a run did; ``coverage`` is the share of street length visited in scope."""

    run_id: int
    replaced: bool
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)


def find_area(conn: Connection, name_or_id: str | int, level: str | None = None) -> dict:
    """An area by id or name (optionally of one level)."""
    row = conn.execute(sa.text(
        "SELECT id, name, level FROM areas WHERE (CAST(:id AS integer) IS NOT NULL AND id = :id) "
        "OR (name = :name AND (CAST(:level AS text) IS NULL OR level = :level)) "
        "ORDER BY id LIMIT 1"),
        {"id": int(name_or_id) if str(name_or_id).isdigit() else None,
         "name": str(name_or_id), "level": level}).mappings().first()
    if row is None:
        what = f"{level} " if level else "area "
        raise NotFoundError(f"no {what}{name_or_id!r}")
    return dict(row)


def _scope_ids(conn: Connection, area_id: int | None) -> list[int] | None:
    if area_id is None:
        return None
    return list(conn.execute(sa.text(
        "WITH RECURSIVE s AS (SELECT id FROM areas WHERE id = :a UNION ALL "
        "SELECT a.id FROM areas a JOIN s ON a.parent_id = s.id) SELECT id FROM s"),
        {"a": area_id}).scalars())


def _segments(conn: Connection, scope: list[int] | None) -> pd.DataFrame:
    rows = conn.execute(sa.text(
        "SELECT id, node_from, node_to, coalesce(area_id, -1) AS area_id, length_m, "
        "ST_AsBinary(geom_m) AS wkb FROM street_segments "
        "WHERE CAST(:scope AS integer[]) IS NULL OR area_id = ANY(:scope) ORDER BY id"),
        {"scope": scope}).all()
    frame = pd.DataFrame(rows, columns=["id", "node_from", "node_to", "area_id", "length_m",
                                        "wkb"])
    frame["geom"] = shapely.from_wkb(frame.pop("wkb").map(bytes)) if len(frame) else []
    return frame


def _hazards(conn: Connection, scope: list[int] | None) -> pd.DataFrame:
    return pd.read_sql_query(sa.text(
        "SELECT id, category, status, coalesce(community_id, -1) AS area_id, "
        "ST_X(geom_m) AS x, ST_Y(geom_m) AS y FROM hazards "
        "WHERE CAST(:scope AS integer[]) IS NULL OR community_id = ANY(:scope) ORDER BY id"),
        conn, params={"scope": scope})


def _ancestors(conn: Connection) -> tuple[pd.DataFrame, dict[int, list[int]]]:
    areas = pd.read_sql_query(sa.text("SELECT id, parent_id, level FROM areas"), conn)
    parent = dict(zip(areas["id"], areas["parent_id"]))
    chains: dict[int, list[int]] = {}
    for aid in areas["id"]:  # areas number in the hundreds
        chain, cur = [], aid
        while cur is not None and not pd.isna(cur) and cur not in chain:
            chain.append(int(cur))
            cur = parent.get(cur)
        chains[int(aid)] = chain
    return areas, chains


def _explode(frame: pd.DataFrame, chains: dict[int, list[int]], col: str = "area_id"
             ) -> pd.DataFrame:
    """One row per (row, ancestor area) so sums per area include sub-areas."""
    up = pd.DataFrame([(a, anc) for a, chain in chains.items() for anc in chain],
                      columns=[col, "area"])
    return frame.merge(up, on=col, how="inner")


def _recency(last: np.ndarray, length: np.ndarray, end: float) -> pd.DataFrame:
    age = (end - last) / 86400
    cols = {label: np.where((age >= lo) & (age < hi), length, 0.0)
            for lo, hi, label in RECENCY_BINS}
    cols["never"] = np.where(np.isnan(last), length, 0.0)
    return pd.DataFrame(cols)


def run_key(start: dt.datetime, end: dt.datetime, area_id: int | None,
            params: AnalysisParams) -> str:
    text = json.dumps({"start": start.isoformat(), "end": end.isoformat(), "area": area_id,
                       "params": params.as_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def analyze(engine: Engine, start: dt.datetime, end: dt.datetime, *,
            area: str | int | None = None, params: AnalysisParams | None = None,
            settings: Settings | None = None, threads: int = 2) -> RunSummary:
    """Analyse ``start <= t < end`` (aware datetimes) for the whole city or one area."""
    settings = settings or Settings.from_env()
    params = params or AnalysisParams(gap_s=settings.track_gap_s,
                                      max_speed_kmh=settings.max_speed_kmh)
    if start.tzinfo is None or end.tzinfo is None:
        raise InputError("the window's start and end need a time zone")
    if end <= start:
        raise InputError(f"the window ends ({end:%Y-%m-%d %H:%M}) before it starts "
                         f"({start:%Y-%m-%d %H:%M})")
    if end - start > dt.timedelta(days=92):
        raise InputError("windows are at most 92 days long")
    rules = settings.rules
    dwell_min = params.inspection_dwell_min or rules.dwell_min
    reach = params.inspection_radius_m or rules.radius_m
    timer = Timer()
    with engine.begin() as conn:
        area_row = find_area(conn, area) if area is not None else None
        area_id = area_row["id"] if area_row else None
        scope = _scope_ids(conn, area_id)
        segments = _segments(conn, scope)
        hazards = _hazards(conn, scope)
        fixes = read_fixes(conn, start, end)
        if scope is not None and len(fixes):
            fixes = _near(fixes, segments, hazards, params.radius_m + reach)
        steps = build_steps(fixes, gap_s=params.gap_s, max_speed_kmh=params.max_speed_kmh)
        cal = Calendar.for_window(start, end, settings.timezone, params.day_starts,
                                  params.night_starts)
        visits = segment_visits(segments["geom"].to_numpy(), steps, cal,
                                radius=params.radius_m, threads=threads)
        t_end = end.timestamp()
        hv = hazard_visits(hazards["x"].to_numpy(dtype="float64"),
                           hazards["y"].to_numpy(dtype="float64"), fixes,
                           radius=reach, gap_s=params.gap_s)
        hazard_rules = [rules.categories.get(c, rules.categories["other"])
                        for c in hazards["category"]]
        comp = judge(hazard_rules, (hazards["status"] == "cleared").to_numpy(), hv, cal,
                     dwell_min=dwell_min, window_end=t_end)
        stale = np.isnan(visits.last_visit) | \
            (visits.last_visit < t_end - params.stale_days * 86400)
        gap_keys = find_gaps(segments["id"].to_numpy(), segments["node_from"].to_numpy(),
                             segments["node_to"].to_numpy(), segments["area_id"].to_numpy(),
                             stale)
        run_id, replaced = store.start_run(conn, key=run_key(start, end, area_id, params),
                                           start=start, end=end, area_id=area_id,
                                           params=params.as_dict())
        seg_frame = _segment_frame(run_id, segments, visits, gap_keys)
        store.write_frame(conn, "segment_results", seg_frame)
        haz_frame = pd.DataFrame({
            "run_id": run_id, "hazard_id": hazards["id"],
            "status": np.array(STATUSES)[comp.status], "inspections": comp.inspections,
            "passes": comp.passes, "last_inspection": store.utc_times(comp.last_inspection),
            "last_inspector_id": np.where(comp.last_inspector < 0, None, comp.last_inspector),
            "last_pass": store.utc_times(comp.last_pass), "due_days": comp.due_days,
            "missed_days": comp.missed_days})
        store.write_frame(conn, "hazard_results", haz_frame)
        areas, chains = _ancestors(conn)
        area_frame, daily = _area_frames(run_id, segments, visits, hazards, comp.status,
                                         gap_keys, areas, chains, cal, t_end)
        area_frame["area_coverage"] = _community_area_coverage(conn, area_frame, steps,
                                                               params.radius_m)
        store.write_frame(conn, "area_results", area_frame)
        store.write_frame(conn, "area_daily", daily)
        n_gaps = store.write_gaps(
            conn, run_id, context_m=params.gap_context_m, hazard_weight=params.hazard_weight,
            incident_weight=params.incident_weight,
            incidents_since=end - dt.timedelta(days=params.incident_days))
        total = float(segments["length_m"].sum())
        stats = {"fixes": len(fixes), "steps": len(steps), "segments": len(segments),
                 "street_m": round(total, 1), "covered_m": round(float(visits.covered_m.sum()), 1),
                 "coverage": float(visits.covered_m.sum() / total) if total else None,
                 "hazards": len(hazards), "hazards_overdue": int((comp.status == 1).sum()),
                 "hazards_never": int((comp.status == 2).sum()), "gaps": n_gaps}
        seconds = timer.seconds
        store.finish_run(conn, run_id, seconds, stats)
    log.info("run %s: %s in %.1f s", run_id, stats, seconds)
    return RunSummary(run_id, replaced, seconds, stats)


def _community_area_coverage(conn: Connection, frame: pd.DataFrame, steps: Any,
                             radius: float) -> list[float | None]:
    """Share of each community's ground within ``radius`` of a path (None for other levels)."""
    ids = frame.loc[frame["level"] == "community", "area_id"].astype(int).tolist()
    if not ids:
        return [None] * len(frame)
    rows = conn.execute(sa.text("SELECT id, ST_AsBinary(geom_m) FROM areas WHERE id = ANY(:i)"),
                        {"i": ids}).all()
    polys = dict(zip([r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows])))
    shares = area_coverage(np.array([polys[i] for i in ids]), steps, radius=radius)
    by_id = dict(zip(ids, shares.tolist()))
    return [by_id.get(int(a)) for a in frame["area_id"]]


def _near(fixes: Fixes, segments: pd.DataFrame, hazards: pd.DataFrame, reach: float) -> Fixes:
    """Only the fixes near the scope's streets or hazards (for one area's run)."""
    geoms = list(segments["geom"]) + list(shapely.points(hazards["x"], hazards["y"]))
    if not geoms:
        return Fixes(*(a[:0] for a in (fixes.volunteer, fixes.kind, fixes.t, fixes.x, fixes.y)))
    x0, y0, x1, y1 = shapely.total_bounds(np.array(geoms))
    keep = (fixes.x >= x0 - reach) & (fixes.x <= x1 + reach) & (fixes.y >= y0 - reach) & \
        (fixes.y <= y1 + reach)
    return Fixes(fixes.volunteer[keep], fixes.kind[keep], fixes.t[keep], fixes.x[keep],
                 fixes.y[keep])


def _segment_frame(run_id: int, segments: pd.DataFrame, v: SegmentVisits,
                   gap_keys: np.ndarray) -> pd.DataFrame:
    return pd.DataFrame({
        "run_id": run_id, "segment_id": segments["id"], "covered_m": v.covered_m,
        "covered_patrol_m": v.covered_kind_m[0], "covered_passive_m": v.covered_kind_m[1],
        "covered_day_m": v.covered_band_m[0], "covered_night_m": v.covered_band_m[1],
        "last_visit": store.utc_times(v.last_visit),
        "last_patrol_visit": store.utc_times(v.last_patrol_visit),
        "passes_patrol": v.passes[0], "passes_passive": v.passes[1],
        "dwell_patrol_s": v.dwell_s[0], "dwell_passive_s": v.dwell_s[1],
        "gap_key": np.where(gap_keys == "", None, gap_keys)})


def _area_frames(run_id: int, segments: pd.DataFrame, v: SegmentVisits, hazards: pd.DataFrame,
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
    sv = pd.DataFrame({"area_id": segments["area_id"].to_numpy()[v.seg_volunteer[:, 0]],
                       "volunteer": v.seg_volunteer[:, 1]}) if len(v.seg_volunteer) else \
        pd.DataFrame({"area_id": pd.Series(dtype=int), "volunteer": pd.Series(dtype=int)})
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
        "run_id": run_id, "area_id": frame.index.astype(int),
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
    daily_seg = pd.DataFrame(v.covered_daily_m.T, columns=range(cal.days))
    daily_seg["area_id"] = segments["area_id"].to_numpy()
    daily_seg["total_m"] = segments["length_m"].to_numpy()
    per_area = _explode(daily_seg, chains).drop(columns="area_id").groupby("area").sum()
    daily = per_area.drop(columns="total_m").stack().rename("covered_m").reset_index()
    daily.columns = ["area_id", "day", "covered_m"]
    daily["total_m"] = per_area["total_m"].reindex(daily["area_id"]).to_numpy()
    daily["day"] = [cal.dates[d] for d in daily["day"]]
    daily.insert(0, "run_id", run_id)
    return out, daily[["run_id", "area_id", "day", "covered_m", "total_m"]]
