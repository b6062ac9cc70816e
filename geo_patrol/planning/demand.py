"""Demand per street segment from a stored run: stale length, overdue hazards, incidents."""

from __future__ import annotations

import geopandas as gpd
import sqlalchemy as sa
from sqlalchemy.engine import Connection


def segment_demand(conn: Connection, run_id: int, area_id: int | None = None, *,
                   hazard_weight: float = 1.0, incident_weight: float = 0.25,
                   reach_m: float = 50.0, incident_days: int = 90) -> gpd.GeoDataFrame:
    """Segments in scope (their lines, WGS-84) with ``weight`` = km not patrolled
    + hazard_weight x overdue hazards + incident_weight x recent incidents within ``reach_m``.

    Each overdue (or never visited) hazard counts once, on its nearest segment in reach;
    ``hazard_ids`` lists them, so a plan can say which it would inspect.
    """
    frame = gpd.read_postgis(sa.text("""
        WITH RECURSIVE s AS (SELECT id FROM areas WHERE id = :area UNION ALL
                             SELECT x.id FROM areas x JOIN s ON x.parent_id = s.id),
        seg AS MATERIALIZED (
            SELECT g.id FROM street_segments g
            WHERE CAST(:area AS integer) IS NULL OR g.area_id IN (SELECT id FROM s)),
        overdue AS (
            SELECT near.id AS segment_id, array_agg(h.id ORDER BY h.id) AS hazard_ids
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
               coalesce(i.incidents, 0) AS incidents, g.geom
        FROM seg JOIN street_segments g ON g.id = seg.id
        JOIN segment_results r ON r.segment_id = g.id AND r.run_id = :run
        LEFT JOIN overdue o ON o.segment_id = g.id
        LEFT JOIN recent i ON i.segment_id = g.id
        ORDER BY g.id"""), conn, geom_col="geom",
        params={"run": run_id, "area": area_id, "reach": reach_m, "days": incident_days})
    frame["hazards"] = frame["hazard_ids"].map(len)
    frame["weight"] = frame["stale_km"] + hazard_weight * frame["hazards"] + \
        incident_weight * frame["incidents"]
    return frame
