"""Demand per street segment from a stored run: stale length, overdue hazards, incidents."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Connection


def segment_demand(conn: Connection, run_id: int, area_id: int | None = None, *,
                   hazard_weight: float = 1.0, incident_weight: float = 0.25,
                   reach_m: float = 50.0, incident_days: int = 90) -> gpd.GeoDataFrame:
    """Segments in scope with ``weight`` = km not patrolled + hazard_weight x overdue hazards
    + incident_weight x recent incidents within ``reach_m``."""
    frame = gpd.read_postgis(sa.text("""
        WITH RECURSIVE s AS (SELECT id FROM areas WHERE id = :area UNION ALL
                             SELECT x.id FROM areas x JOIN s ON x.parent_id = s.id),
        run AS (SELECT window_end FROM analysis_runs WHERE id = :run)
        SELECT g.id, g.node_from, g.node_to, g.length_m,
               (g.length_m - r.covered_m) / 1000.0 AS stale_km,
               (SELECT count(*) FROM hazards h JOIN hazard_results hr ON hr.hazard_id = h.id
                AND hr.run_id = :run AND hr.status IN ('overdue', 'never_visited')
                WHERE ST_DWithin(h.geom_m, g.geom_m, :reach)) AS hazards,
               (SELECT count(*) FROM incidents i, run WHERE ST_DWithin(i.geom_m, g.geom_m, :reach)
                AND (i.occurred_on IS NULL OR i.occurred_on >= (run.window_end -
                     make_interval(days => :days))::date)) AS incidents,
               ST_LineInterpolatePoint(g.geom, 0.5) AS geom
        FROM street_segments g JOIN segment_results r ON r.segment_id = g.id AND r.run_id = :run
        WHERE CAST(:area AS integer) IS NULL OR g.area_id IN (SELECT id FROM s)
        ORDER BY g.id"""), conn, geom_col="geom",
        params={"run": run_id, "area": area_id, "reach": reach_m, "days": incident_days})
    frame["weight"] = frame["stale_km"] + hazard_weight * frame["hazards"] + \
        incident_weight * frame["incidents"]
    return frame


def dense_nodes(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graph node ids as 0..n-1: (node ids, from index, to index)."""
    ids, inverse = np.unique(np.concatenate([frame["node_from"], frame["node_to"]]),
                             return_inverse=True)
    n = len(frame)
    return ids, inverse[:n], inverse[n:]


def node_points(frame: gpd.GeoDataFrame, conn: Connection) -> dict[int, tuple[float, float]]:
    """WGS-84 positions of the segment end nodes (from the segments' geometry)."""
    rows = conn.execute(sa.text(
        "SELECT node_from, ST_X(ST_StartPoint(geom)), ST_Y(ST_StartPoint(geom)), node_to, "
        "ST_X(ST_EndPoint(geom)), ST_Y(ST_EndPoint(geom)) FROM street_segments "
        "WHERE id = ANY(:ids)"), {"ids": frame["id"].tolist()}).all()
    out: dict[int, tuple[float, float]] = {}
    for a, ax, ay, b, bx, by in rows:
        out[int(a)] = (ax, ay)
        out[int(b)] = (bx, by)
    return out
