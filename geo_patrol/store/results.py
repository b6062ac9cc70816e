"""Analysis results: written once per run (replacing an earlier run of the same question) and
read by the CLI, pages and exports without recomputing."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import NotFoundError
from geo_patrol.store.bulk import copy_rows


def _ts(values: np.ndarray) -> list[dt.datetime | None]:
    return [None if np.isnan(v) else dt.datetime.fromtimestamp(float(v), dt.UTC) for v in values]


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
            FROM g JOIN hazards hz ON ST_DWithin(hz.geom_m, g.geom_m, :d)
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


def area_table(conn: Connection, run_id: int, *, level: str | None = None,
               parent_id: int | None = None) -> pd.DataFrame:
    """Per-area coverage of a run (optionally one level, or the children of one area)."""
    return pd.read_sql_query(sa.text("""
        SELECT a.id AS area_id, a.name, a.level, a.code, p.name AS parent, r.total_m,
               r.covered_m, r.covered_patrol_m, r.covered_passive_m, r.covered_day_m,
               r.covered_night_m, r.segments, r.segments_visited, r.active_volunteers,
               r.hazards, r.hazards_compliant, r.hazards_overdue, r.hazards_never, r.gaps,
               r.gap_m, r.recency,
               CASE WHEN r.total_m > 0 THEN r.covered_m / r.total_m END AS coverage
        FROM area_results r JOIN areas a ON a.id = r.area_id
        LEFT JOIN areas p ON p.id = a.parent_id
        WHERE r.run_id = :run AND (CAST(:level AS text) IS NULL OR a.level = :level)
          AND (CAST(:parent AS integer) IS NULL OR a.parent_id = :parent)
        ORDER BY coverage NULLS LAST, a.name"""), conn,
        params={"run": run_id, "level": level, "parent": parent_id})


def gap_table(conn: Connection, run_id: int, *, area_id: int | None = None,
              limit: int = 50) -> pd.DataFrame:
    """Gaps of a run, highest priority first (optionally within one area and its children)."""
    return pd.read_sql_query(sa.text("""
        WITH RECURSIVE scope AS (
            SELECT id FROM areas WHERE id = :area
            UNION ALL SELECT a.id FROM areas a JOIN scope s ON a.parent_id = s.id)
        SELECT g.gap_key, a.name AS area, g.length_m, g.segments, g.hazards,
               g.hazards_overdue, g.incidents, g.priority
        FROM gap_results g LEFT JOIN areas a ON a.id = g.area_id
        WHERE g.run_id = :run AND (CAST(:area AS integer) IS NULL
                                   OR g.area_id IN (SELECT id FROM scope))
        ORDER BY g.priority DESC, g.gap_key LIMIT :limit"""), conn,
        params={"run": run_id, "area": area_id, "limit": limit})


def hazard_table(conn: Connection, run_id: int, *, area_id: int | None = None,
                 status: str | None = None) -> pd.DataFrame:
    """Hazard compliance of a run, worst first (never visited, overdue by missed days...)."""
    return pd.read_sql_query(sa.text("""
        WITH RECURSIVE scope AS (
            SELECT id FROM areas WHERE id = :area
            UNION ALL SELECT a.id FROM areas a JOIN scope s ON a.parent_id = s.id)
        SELECT h.id AS hazard_id, h.external_id, h.name, h.category, h.status AS hazard_status,
               a.name AS area, r.status, r.inspections, r.passes, r.last_inspection,
               v.number AS inspector_number, v.name AS inspector_name, r.last_pass,
               r.due_days, r.missed_days
        FROM hazard_results r JOIN hazards h ON h.id = r.hazard_id
        LEFT JOIN areas a ON a.id = h.community_id
        LEFT JOIN volunteers v ON v.id = r.last_inspector_id
        WHERE r.run_id = :run
          AND (CAST(:area AS integer) IS NULL OR h.community_id IN (SELECT id FROM scope))
          AND (CAST(:status AS text) IS NULL OR r.status = :status)
        ORDER BY CASE r.status WHEN 'never_visited' THEN 0 WHEN 'overdue' THEN 1
                 WHEN 'compliant' THEN 2 ELSE 3 END, r.missed_days DESC, h.name"""), conn,
        params={"run": run_id, "area": area_id, "status": status})
