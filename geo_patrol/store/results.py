"""Analysis results: written once per run (replacing an earlier run of the same question) and
read by the CLI, pages and exports without recomputing."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import NotFoundError
from geo_patrol.paging import PageOf, Paging
from geo_patrol.store.bulk import copy_rows
from geo_patrol.store.geoframes import read_geo
from geo_patrol.store.paging import page_of
from geo_patrol.store.places import nearest_piece
from geo_patrol.store.scope import Within, in_scope, scope_params


def start_run(conn: Connection, *, key: str, start: dt.datetime, end: dt.datetime,
              area_id: int | None, params: dict[str, Any]) -> tuple[int, bool]:
    """A new run row, after deleting an earlier run with the same key; (id, replaced)."""
    replaced = conn.execute(sa.text("DELETE FROM analysis_runs WHERE key = :k"),
                            {"k": key}).rowcount > 0
    run_id = conn.execute(sa.text(
        "INSERT INTO analysis_runs (key, window_start, window_end, area_id, params, seconds, "
        "stats) VALUES (:k, :s, :e, :a, CAST(:p AS jsonb), 0, '{}'::jsonb) RETURNING id"),
        {"k": key, "s": start, "e": end, "a": area_id,
         "p": json.dumps(params, default=str)}).scalar_one()
    return int(run_id), replaced


def finish_run(conn: Connection, run_id: int, seconds: float, stats: dict[str, Any]) -> None:
    conn.execute(sa.text("UPDATE analysis_runs SET seconds = :s, stats = CAST(:j AS jsonb) "
                         "WHERE id = :id"),
                 {"s": seconds, "j": json.dumps(stats, default=float), "id": run_id})


def write_frame(conn: Connection, table: str, frame: pd.DataFrame) -> int:
    """COPY a frame whose columns are the table's."""
    clean = frame.astype(object).where(frame.notna(), None)
    return copy_rows(conn, table, list(frame.columns), clean.itertuples(index=False, name=None))


def refresh_statistics(conn: Connection) -> None:
    """Sample the result tables again after a run's rows went in (within its transaction):
    without it the planner still counts a new run's 100,000 segment rows as a few hundred,
    and a tile reads every row of the run instead of the tile's."""
    conn.execute(sa.text("ANALYZE segment_results, hazard_results, area_results, area_daily"))


def write_gaps(conn: Connection, run_id: int, *, context_m: float, hazard_weight: float,
               incident_weight: float, incidents_since: dt.datetime) -> int:
    """Gap rows from the run's segment gap keys, with nearby hazards and incidents (PostGIS)."""
    return conn.execute(sa.text("""
        WITH g AS (
            SELECT r.gap_key, min(s.area_id) AS area_id, sum(s.length_m) AS length_m,
                   count(*) AS segments, ST_Multi(ST_Collect(s.geom)) AS geom,
                   ST_Collect(s.geom_m) AS geom_m
            FROM segment_results r JOIN street_segments s ON s.id = r.segment_id
            WHERE r.run_id = :run AND r.gap_key IS NOT NULL GROUP BY r.gap_key),
        h AS (
            SELECT g.gap_key, count(DISTINCT hz.id) AS hazards,
                   count(DISTINCT hz.id) FILTER (WHERE hr.status IN ('overdue', 'never_visited'))
                       AS overdue
            FROM g JOIN hazards hz ON NOT hz.proposed AND ST_DWithin(hz.geom_m, g.geom_m, :d)
            LEFT JOIN hazard_results hr ON hr.hazard_id = hz.id AND hr.run_id = :run
            GROUP BY g.gap_key),
        i AS (
            SELECT g.gap_key, count(DISTINCT x.id) AS incidents
            FROM g JOIN incidents x ON ST_DWithin(x.geom_m, g.geom_m, :d)
            WHERE x.occurred_on IS NULL OR x.occurred_on >= CAST(:since AS date)
            GROUP BY g.gap_key)
        INSERT INTO gap_results (run_id, gap_key, area_id, length_m, segments, hazards,
                                 hazards_overdue, incidents, priority, geom)
        SELECT :run, g.gap_key, g.area_id, g.length_m, g.segments, coalesce(h.hazards, 0),
               coalesce(h.overdue, 0), coalesce(i.incidents, 0),
               g.length_m / 1000.0 * (1 + :hw * coalesce(h.overdue, 0)
                                      + :iw * coalesce(i.incidents, 0)),
               g.geom
        FROM g LEFT JOIN h USING (gap_key) LEFT JOIN i USING (gap_key)"""),
        {"run": run_id, "d": context_m, "hw": hazard_weight, "iw": incident_weight,
         "since": incidents_since}).rowcount


def find_run(conn: Connection, run_id: int | None = None) -> dict[str, Any]:
    """A run (the latest when ``run_id`` is None) as a dict."""
    row = conn.execute(sa.text(
        "SELECT r.*, a.name AS area_name FROM analysis_runs r LEFT JOIN areas a "
        "ON a.id = r.area_id WHERE (CAST(:id AS integer) IS NULL OR r.id = :id) "
        "ORDER BY r.created_at DESC, r.id DESC LIMIT 1"), {"id": run_id}).mappings().first()
    if row is None:
        raise NotFoundError("no analysis run" if run_id is None else f"no analysis run {run_id}")
    return dict(row)


#: Days from a segment's last visit to its run's window end (NULL: not visited); the one SQL
#: expression behind the community map, the briefing and the vector tiles.
_DAYS_SINCE = "extract(epoch FROM (run.window_end - r.last_visit)) / 86400.0"

def area_table(conn: Connection, run_id: int, *, level: str | None = None,
               parent_id: int | None = None, within: Within = None) -> pd.DataFrame:
    """Per-area coverage of a run (optionally one level, the children of one area, or only
    the areas ``within`` a user's scope)."""
    return pd.read_sql_query(sa.text(f"""
        SELECT a.id AS area_id, a.name, a.level, a.code, p.name AS parent, r.total_m,
               r.covered_m, r.covered_patrol_m, r.covered_passive_m, r.covered_day_m,
               r.covered_night_m, r.segments, r.segments_visited, r.active_volunteers,
               r.hazards, r.hazards_compliant, r.hazards_overdue, r.hazards_never, r.gaps,
               r.gap_m, r.recency, r.area_coverage,
               CASE WHEN r.total_m > 0 THEN r.covered_m / r.total_m END AS coverage
        FROM area_results r JOIN areas a ON a.id = r.area_id
        LEFT JOIN areas p ON p.id = a.parent_id
        WHERE r.run_id = :run AND (CAST(:level AS text) IS NULL OR a.level = :level)
          AND (CAST(:parent AS integer) IS NULL OR a.parent_id = :parent)
          AND {in_scope('a.id')}
        ORDER BY coverage NULLS LAST, a.name"""), conn,
        params={"run": run_id, "level": level, "parent": parent_id, **scope_params(within)})


def gap_table(conn: Connection, run_id: int, *, area_id: int | None = None,
              limit: int = 50, within: Within = None) -> pd.DataFrame:
    """Gaps of a run, highest priority first (optionally within one area and its children)."""
    return pd.read_sql_query(sa.text(f"""
        SELECT g.gap_key, g.street, g.cross_a, g.cross_b, a.name AS area, g.length_m,
               g.segments, g.hazards, g.hazards_overdue, g.incidents, g.priority
        FROM gap_results g LEFT JOIN areas a ON a.id = g.area_id
        WHERE g.run_id = :run AND (CAST(:area AS integer) IS NULL
                                   OR g.area_id IN (SELECT area_subtree(:area)))
          AND {in_scope('g.area_id')}
        ORDER BY g.priority DESC, g.gap_key LIMIT :limit"""), conn,
        params={"run": run_id, "area": area_id, "limit": limit, **scope_params(within)})


def _hazard_sql() -> str:
    return f"""
        SELECT h.id AS hazard_id, h.external_id, h.name, h.category, h.status AS hazard_status,
               a.name AS area, r.status, r.inspections, r.passes, r.last_inspection,
               v.number AS inspector_number, v.name AS inspector_name, r.last_pass,
               r.due_days, r.missed_days, np.street, np.cross_a, np.cross_b,
               CASE r.status WHEN 'never_visited' THEN 0 WHEN 'overdue' THEN 1
                    WHEN 'compliant' THEN 2 ELSE 3 END AS status_rank
        FROM hazard_results r JOIN hazards h ON h.id = r.hazard_id
        LEFT JOIN areas a ON a.id = h.community_id
        LEFT JOIN volunteers v ON v.id = r.last_inspector_id
        {nearest_piece('h.geom_m')}
        WHERE r.run_id = :run
          AND (CAST(:area AS integer) IS NULL OR h.community_id IN (SELECT area_subtree(:area)))
          AND (CAST(:status AS text) IS NULL OR r.status = :status)
          AND (CAST(:category AS text) IS NULL OR h.category = :category)
          AND (CAST(:q AS text) IS NULL OR h.name ILIKE '%' || :q || '%'
               OR a.name ILIKE '%' || :q || '%')
          AND {in_scope('h.community_id')}"""


def hazard_table(conn: Connection, run_id: int, *, area_id: int | None = None,
                 status: str | None = None, within: Within = None) -> pd.DataFrame:
    """Hazard compliance of a run, worst first (never visited, overdue by missed days...)."""
    return pd.read_sql_query(sa.text(
        _hazard_sql() + " ORDER BY status_rank, r.missed_days DESC, h.name"), conn,
        params={"run": run_id, "area": area_id, "status": status, "category": None,
                "q": None, **scope_params(within)}).drop(columns="status_rank")


#: The columns the hazard list may be sorted by, and its filters.
HAZARD_SORTS = {"name": "q.name", "community": "q.area", "category": "q.category",
                "status": "q.status_rank", "inspections": "q.inspections",
                "passes": "q.passes", "missed": "q.missed_days",
                "last": "q.last_inspection"}
HAZARD_FILTERS = ("category", "status", "q")


def hazard_page(conn: Connection, run_id: int, paging: Paging, *,
                within: Within = None) -> PageOf:
    """One page of a run's hazard compliance, worst first unless sorted otherwise."""
    return page_of(conn, _hazard_sql(), {
        "run": run_id, "area": None, **{k: paging.filter(k) for k in HAZARD_FILTERS},
        **scope_params(within)}, paging, sortable=HAZARD_SORTS,
        order="q.status_rank, q.missed_days DESC, q.name", tie="q.hazard_id")


def _gdf(conn: Connection, query: str, params: dict[str, Any]) -> Any:
    return read_geo(sa.text(query), conn, params=params, crs=4326)


def area_layer(conn: Connection, run_id: int, *, level: str, parent_id: int | None = None,
               within: Within = None) -> Any:
    """Areas of a level with their coverage (simplified outlines, WGS-84)."""
    return _gdf(conn, f"""
        SELECT a.id AS area_id, a.name, a.level, coalesce(r.total_m, 0) AS total_m,
               coalesce(r.covered_m, 0) AS covered_m,
               CASE WHEN r.total_m > 0 THEN r.covered_m / r.total_m END AS coverage,
               coalesce(r.hazards_overdue + r.hazards_never, 0) AS hazards_overdue,
               coalesce(r.gaps, 0) AS gaps, coalesce(r.active_volunteers, 0) AS volunteers,
               ST_SimplifyPreserveTopology(a.geom, 0.00005) AS geom
        FROM areas a LEFT JOIN area_results r ON r.area_id = a.id AND r.run_id = :run
        WHERE a.level = :level
          AND (CAST(:parent AS integer) IS NULL OR a.id IN (SELECT area_subtree(:parent)))
          AND {in_scope('a.id')}
        ORDER BY a.name""", {"run": run_id, "level": level, "parent": parent_id,
                             **scope_params(within)})


def segment_layer(conn: Connection, run_id: int, area_id: int) -> Any:
    """An area's street segments with days since their last visit at the window's end."""
    return _gdf(conn, f"""
        SELECT g.id, coalesce(g.name, '') AS name, g.highway, g.length_m, r.covered_m,
               r.passes_patrol, r.passes_passive,
               {_DAYS_SINCE} AS days,
               r.gap_key, ST_SnapToGrid(g.geom, 0.000001) AS geom
        FROM street_segments g JOIN segment_results r ON r.segment_id = g.id AND r.run_id = :run
        JOIN analysis_runs run ON run.id = r.run_id
        WHERE g.area_id IN (SELECT area_subtree(:area))""", {"run": run_id, "area": area_id})


def hazard_layer(conn: Connection, run_id: int, area_id: int | None = None,
                 category: str | None = None, status: str | None = None,
                 within: Within = None) -> Any:
    """Hazards with their compliance; inspectors only as a masked name."""
    return _gdf(conn, f"""
        SELECT h.id, h.external_id, h.name, h.category, h.status AS hazard_status,
               a.name AS area, coalesce(r.status, 'never_visited') AS status,
               coalesce(r.inspections, 0) AS inspections, coalesce(r.passes, 0) AS passes,
               r.last_inspection, v.name AS inspector, r.due_days, r.missed_days,
               np.street, np.cross_a, np.cross_b, h.geom
        FROM hazards h LEFT JOIN hazard_results r ON r.hazard_id = h.id AND r.run_id = :run
        LEFT JOIN areas a ON a.id = h.community_id
        LEFT JOIN volunteers v ON v.id = r.last_inspector_id
        {nearest_piece('h.geom_m')}
        WHERE NOT h.proposed
          AND (CAST(:area AS integer) IS NULL OR h.community_id IN (SELECT area_subtree(:area)))
          AND (CAST(:cat AS text) IS NULL OR h.category = :cat)
          AND (CAST(:status AS text) IS NULL OR r.status = :status)
          AND {in_scope('h.community_id')}
        ORDER BY h.name""", {"run": run_id, "area": area_id, "cat": category, "status": status,
                             **scope_params(within)})


def gap_layer(conn: Connection, run_id: int, area_id: int | None = None, limit: int = 500,
              within: Within = None) -> Any:
    """Gaps (highest priority first) with their geometry."""
    return _gdf(conn, f"""
        SELECT g.gap_key, g.street, g.cross_a, g.cross_b, a.name AS area, g.length_m,
               g.hazards, g.hazards_overdue, g.incidents, g.priority,
               ST_SnapToGrid(g.geom, 0.000001) AS geom
        FROM gap_results g LEFT JOIN areas a ON a.id = g.area_id
        WHERE g.run_id = :run AND (CAST(:area AS integer) IS NULL
                                   OR g.area_id IN (SELECT area_subtree(:area)))
          AND {in_scope('g.area_id')}
        ORDER BY g.priority DESC LIMIT :limit""", {"run": run_id, "area": area_id,
                                                  "limit": limit, **scope_params(within)})


def incident_hexbins(conn: Connection, area_id: int | None, since: dt.date,
                     size_m: float = 250.0) -> Any:
    """Incidents since a date counted in hexagons (never as individual points)."""
    srid = conn.execute(sa.text("SELECT value::int FROM deployment WHERE key = 'metric_srid'")
                        ).scalar_one_or_none()
    if srid is None:
        return gpd.GeoDataFrame({"n": []}, geometry=gpd.GeoSeries([], crs=4326)).rename_geometry(
            "geom")
    return _gdf(conn, """
        WITH scope AS (SELECT ST_Union(geom_m) AS g FROM areas
                  WHERE CAST(:area AS integer) IS NULL OR id IN (SELECT area_subtree(:area))),
        pts AS (SELECT i.geom_m FROM incidents i, scope
                WHERE (i.occurred_on IS NULL OR i.occurred_on >= :since)
                  AND (CAST(:area AS integer) IS NULL OR ST_Intersects(i.geom_m, scope.g))),
        ext AS (SELECT ST_SetSRID(ST_Extent(geom_m), :srid) AS e FROM pts)
        SELECT count(*) AS n, ST_Transform(h.geom, 4326) AS geom
        FROM ext, ST_HexagonGrid(:size, ext.e) AS h JOIN pts ON ST_Intersects(pts.geom_m, h.geom)
        GROUP BY h.geom""", {"area": area_id, "since": since, "size": size_m, "srid": srid})


def daily_series(conn: Connection, run_id: int, area_id: int) -> pd.DataFrame:
    return pd.read_sql_query(sa.text(
        "SELECT day, covered_m, total_m, CASE WHEN total_m > 0 THEN covered_m / total_m END "
        "AS coverage FROM area_daily WHERE run_id = :run AND area_id = :area ORDER BY day"),
        conn, params={"run": run_id, "area": area_id})


def previous_run(conn: Connection, run_id: int) -> dict[str, Any] | None:
    """The latest run of the period just before a run's: as long (to the hour), over the same
    area, ending when it starts or earlier (``None`` when no such period was analysed)."""
    row = conn.execute(sa.text("""
        SELECT p.* FROM analysis_runs r JOIN analysis_runs p
          ON p.area_id IS NOT DISTINCT FROM r.area_id AND p.window_end <= r.window_start
         AND abs(extract(epoch FROM (p.window_end - p.window_start)
                                  - (r.window_end - r.window_start))) < 3600
        WHERE r.id = :run ORDER BY p.window_end DESC, p.created_at DESC, p.id DESC
        LIMIT 1"""), {"run": run_id}).mappings().first()
    return dict(row) if row else None


def list_runs(conn: Connection, limit: int = 20) -> pd.DataFrame:
    return pd.read_sql_query(sa.text(
        "SELECT r.id, r.window_start, r.window_end, r.created_at, r.seconds, a.name AS area, "
        "(r.stats->>'coverage')::float AS coverage FROM analysis_runs r "
        "LEFT JOIN areas a ON a.id = r.area_id ORDER BY r.created_at DESC LIMIT :n"),
        conn, params={"n": limit})


def track_layer(conn: Connection, area_id: int | None, day: dt.date, *, tz: str,
                volunteer_id: int | None = None) -> Any:
    """Tracks of one local day inside an area (clipped to it: nothing beyond the area
    leaves), or walked by one volunteer; simplified (about 5 m), without who walked them."""
    if area_id is None and volunteer_id is None:
        raise ValueError("track_layer needs an area or a volunteer")
    return _gdf(conn, """
        WITH srid AS (SELECT value::int AS v FROM deployment WHERE key = 'metric_srid'),
        scope AS (SELECT geom FROM areas WHERE id = :area),
        day AS (
            SELECT t.kind, t.started_at, t.ended_at,
                   CASE WHEN CAST(:area AS integer) IS NULL THEN t.geom
                        ELSE ST_Intersection(t.geom, (SELECT geom FROM scope)) END AS geom
            FROM tracks t
            WHERE t.geom IS NOT NULL
              AND t.started_at >= CAST(:day AS date)::timestamp AT TIME ZONE :tz
              AND t.started_at < (CAST(:day AS date) + 1)::timestamp AT TIME ZONE :tz
              AND (CAST(:area AS integer) IS NULL
                   OR ST_Intersects(t.geom, (SELECT geom FROM scope)))
              AND (CAST(:vol AS integer) IS NULL OR t.volunteer_id = :vol))
        SELECT d.kind, d.started_at, d.ended_at,
               round(ST_Length(ST_Transform(d.geom, srid.v))) AS length_m,
               ST_Transform(ST_Simplify(ST_Transform(d.geom, srid.v), 5), 4326) AS geom
        FROM day d, srid WHERE NOT ST_IsEmpty(d.geom)""",
        {"area": area_id, "day": day, "tz": tz, "vol": volunteer_id})


@dataclass
class AreaLayers:
    """What a map of one area shows: the area, its communities, hazards, gaps, incidents."""

    area: Any
    communities: Any
    hazards: Any
    gaps: Any
    incident_bins: Any


def area_layers(conn: Connection, run: dict[str, Any], area_id: int, *, level: str,
                gap_limit: int = 500, incident_days: int = 90,
                with_inspectors: bool = True, within: Within = None) -> AreaLayers:
    """The layers of one area for a run (``NotFoundError`` when the area has none)."""
    area = area_layer(conn, run["id"], level=level)
    area = area[area["area_id"] == area_id]
    if area.empty:
        raise NotFoundError(f"no {level} {area_id}")
    communities = area_layer(conn, run["id"], level="community", parent_id=area_id,
                             within=within) if level != "community" else area
    hazards = hazard_layer(conn, run["id"], area_id)
    if not with_inspectors:
        hazards["inspector"] = None
    since = (run["window_end"] - dt.timedelta(days=incident_days)).date()
    return AreaLayers(area, communities, hazards, gap_layer(conn, run["id"], area_id, gap_limit),
                      incident_hexbins(conn, area_id, since))


def segment_demand_rows(conn: Connection, run_id: int, area_id: int | None = None, *,
                        reach_m: float = 50.0, incident_days: int = 90) -> Any:
    """Segments in scope (their lines, WGS-84) with their coverage in a run, the overdue
    hazards nearest to each (within ``reach_m``) and the recent incidents near each.

    Each overdue (or never visited) hazard counts once, on its nearest segment in reach.
    """
    with _without_jit(conn):
        return _segment_demand_rows(conn, run_id, area_id, reach_m, incident_days)


@contextmanager
def _without_jit(conn: Connection) -> Iterator[None]:
    """The block's statements planned without JIT compilation, the setting restored after.

    The planner's estimates for the nearest-street joins are far above what they cost (a
    probe of the spatial index is priced as a scan of it), so PostgreSQL compiles the whole
    statement: on a city's district that took 0.75 s of a 1.3 s query that runs in 0.45 s
    without it."""
    was = conn.execute(sa.text("SELECT current_setting('jit')")).scalar_one()
    conn.execute(sa.text("SELECT set_config('jit', 'off', true)"))
    yield  # a failed statement: the transaction's rollback restores it
    conn.execute(sa.text("SELECT set_config('jit', :was, true)"), {"was": was})


def _segment_demand_rows(conn: Connection, run_id: int, area_id: int | None, reach_m: float,
                         incident_days: int) -> Any:
    return read_geo(sa.text("""
        WITH seg AS MATERIALIZED (
            SELECT g.id FROM street_segments g
            WHERE CAST(:area AS integer) IS NULL OR g.area_id IN (SELECT area_subtree(:area))),
        overdue AS (
            SELECT near.id AS segment_id, array_agg(h.id ORDER BY h.id) AS hazard_ids,
                   array_agg(h.category ORDER BY h.id) AS hazard_categories
            FROM hazards h JOIN hazard_results hr ON hr.hazard_id = h.id AND hr.run_id = :run
                 AND hr.status IN ('overdue', 'never_visited')
            CROSS JOIN LATERAL (SELECT g.id FROM street_segments g
                                WHERE ST_DWithin(h.geom_m, g.geom_m, :reach)
                                ORDER BY h.geom_m <-> g.geom_m LIMIT 1) near
            GROUP BY near.id),
        recent AS (
            SELECT g.id AS segment_id, count(*) AS incidents
            FROM incidents i JOIN street_segments g ON ST_DWithin(i.geom_m, g.geom_m, :reach)
            JOIN seg ON seg.id = g.id
            WHERE i.occurred_on IS NULL OR i.occurred_on >= (
                SELECT (window_end - make_interval(days => :days))::date
                FROM analysis_runs WHERE id = :run)
            GROUP BY g.id)
        SELECT g.id, g.node_from, g.node_to, g.length_m, g.highway, g.area_id, r.covered_m,
               (g.length_m - r.covered_m) / 1000.0 AS stale_km,
               coalesce(o.hazard_ids, '{}') AS hazard_ids,
               coalesce(o.hazard_categories, '{}') AS hazard_categories,
               coalesce(i.incidents, 0) AS incidents, g.geom
        FROM seg JOIN street_segments g ON g.id = seg.id
        JOIN segment_results r ON r.segment_id = g.id AND r.run_id = :run
        LEFT JOIN overdue o ON o.segment_id = g.id
        LEFT JOIN recent i ON i.segment_id = g.id
        ORDER BY g.id"""), conn, crs=4326,
        params={"run": run_id, "area": area_id, "reach": reach_m, "days": incident_days})


def last_visits(conn: Connection, run_id: int, area_id: int) -> pd.DataFrame:
    """``id, last_visit`` of every segment in an area's subtree, as a run found them."""
    return pd.read_sql_query(sa.text(
        "SELECT g.id, r.last_visit FROM street_segments g JOIN segment_results r "
        "ON r.segment_id = g.id AND r.run_id = :run "
        "WHERE g.area_id IN (SELECT area_subtree(:area)) ORDER BY g.id"), conn,
        params={"run": run_id, "area": area_id})


def hazard_rota_rows(conn: Connection, run_id: int, area_id: int, *,
                     reach_m: float = 50.0) -> pd.DataFrame:
    """``id, category, last_inspection, segment_id`` of the hazards of an area's subtree that
    still need inspections (not cleared, not proposed), with the street segment nearest to
    each within ``reach_m`` (none: it cannot be reached from the streets)."""
    return pd.read_sql_query(sa.text("""
        SELECT h.id, h.category, hr.last_inspection, near.id AS segment_id
        FROM hazards h JOIN hazard_results hr ON hr.hazard_id = h.id AND hr.run_id = :run
        LEFT JOIN LATERAL (SELECT g.id FROM street_segments g
                           WHERE ST_DWithin(h.geom_m, g.geom_m, :reach)
                             AND g.area_id IN (SELECT area_subtree(:area))
                           ORDER BY h.geom_m <-> g.geom_m LIMIT 1) near ON true
        WHERE h.community_id IN (SELECT area_subtree(:area)) AND NOT h.proposed
          AND hr.status <> 'cleared'
        ORDER BY h.id"""), conn,
        params={"run": run_id, "area": area_id, "reach": reach_m})


def hazard_counts(conn: Connection, run_id: int, area_id: int) -> tuple[int, int]:
    """(hazards, compliant hazards) of an area and its sub-areas in a run."""
    row = conn.execute(sa.text("""
        SELECT count(*), count(*) FILTER (WHERE r.status = 'compliant')
        FROM hazard_results r JOIN hazards h ON h.id = r.hazard_id
        WHERE r.run_id = :r AND h.community_id IN (SELECT area_subtree(:a))"""),
        {"a": area_id, "r": run_id}).one()
    return int(row[0]), int(row[1])


def busiest_district(conn: Connection, run_id: int) -> int:
    """The district with the most patrolled street length in a run."""
    table = area_table(conn, run_id, level="district")
    if table.empty:
        raise NotFoundError("the run has no district results")
    return int(table.sort_values("covered_m", ascending=False).iloc[0]["area_id"])



def segment_tile(conn: Connection, run_id: int, z: int, x: int, y: int, *,
                 within: Within = None, bin_edges: Sequence[float] | None = None) -> bytes:
    """One Mapbox vector tile of a run's street segments with ``days`` since their last
    visit, unrounded (so the style bins them as the tables do); with ``bin_edges`` (the
    recency bins' lower edges, ascending) one collected feature per bin instead, its
    ``days`` the bin's lower edge (negative days in the first bin, NULL: never visited)."""
    segments = f"""
        SELECT s.geom, ({_DAYS_SINCE})::float8 AS days
        FROM b, street_segments s
        JOIN segment_results r ON r.segment_id = s.id AND r.run_id = :run
        JOIN analysis_runs run ON run.id = r.run_id
        WHERE s.geom && ST_Transform(b.env, 4326)
          AND {in_scope('s.area_id')}"""
    rows = """
        SELECT ST_AsMVTGeom(ST_Transform(geom, 3857), (SELECT env FROM b), 4096, 16, true)
                   AS geom, days
        FROM seg""" if bin_edges is None else """
        SELECT ST_AsMVTGeom(ST_Transform(ST_Collect(geom), 3857), (SELECT env FROM b), 4096,
                            16, true) AS geom, edge AS days
        FROM (SELECT geom, CASE WHEN days IS NOT NULL
                                THEN edges[greatest(width_bucket(days, edges), 1)] END AS edge
              FROM seg, CAST(:edges AS float8[]) AS edges) binned
        GROUP BY edge"""
    tile = conn.execute(sa.text(f"""
        WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
        seg AS ({segments}),
        rows AS ({rows})
        SELECT ST_AsMVT(rows, 'segments', 4096, 'geom') FROM rows"""),  # noqa: S608
        {"z": z, "x": x, "y": y, "run": run_id, **scope_params(within),
         "edges": None if bin_edges is None else list(bin_edges)}).scalar_one()
    return bytes(tile or b"")
