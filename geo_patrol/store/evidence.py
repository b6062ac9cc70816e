"""What the evidence of patrols is read from: the hot spots' places (a segment's middle)
and the clean fixes near them in a window."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.store.db import metric_srid


def segment_places(conn: Connection, segment_ids: list[int]) -> pd.DataFrame:
    """``id, street, cross_a, cross_b, community_id, length_m`` and the metric middle
    ``x, y`` of each segment (as a task's stop at a hot spot)."""
    return pd.read_sql_query(sa.text("""
        SELECT g.id, g.name AS street, p.cross_a, p.cross_b, g.area_id AS community_id,
               g.length_m, ST_X(m.p) AS x, ST_Y(m.p) AS y
        FROM street_segments g LEFT JOIN street_pieces p ON p.id = g.piece_id,
             LATERAL (SELECT ST_LineInterpolatePoint(ST_LineMerge(g.geom_m), 0.5) AS p) m
        WHERE g.id = ANY(:ids) ORDER BY g.id"""), conn,
        params={"ids": [int(i) for i in segment_ids]})


def segment_lines(conn: Connection, segment_ids: list[int]) -> gpd.GeoDataFrame:
    """``id`` and the line (WGS 84) of each segment, for a map."""
    return gpd.read_postgis(sa.text(
        "SELECT g.id, g.geom FROM street_segments g WHERE g.id = ANY(:ids) ORDER BY g.id"),
        conn, geom_col="geom", params={"ids": [int(i) for i in segment_ids]}, crs=4326)


def fixes_near(conn: Connection, x: list[float], y: list[float], *, radius_m: float,
               start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """The clean fixes (those that passed the fix checks) with ``start <= t < end`` within
    ``radius_m`` of any of the points ``x, y`` (metric): ``volunteer_id``, epoch seconds
    ``t`` and metric ``x, y``, sorted by volunteer and time."""
    return pd.read_sql_query(sa.text("""
        SELECT f.volunteer_id, extract(epoch FROM f.t)::float8 AS t,
               ST_X(f.geom_m) AS x, ST_Y(f.geom_m) AS y
        FROM patrol_fixes f,
             (SELECT ST_SetSRID(ST_Collect(ST_MakePoint(q.x, q.y)), :srid) AS g
              FROM unnest(CAST(:x AS float8[]), CAST(:y AS float8[])) q(x, y)) p
        WHERE f.t >= :a AND f.t < :b AND f.flags = 0 AND ST_DWithin(f.geom_m, p.g, :r)
        ORDER BY f.volunteer_id, f.t"""), conn,
        params={"a": start, "b": end, "x": [float(v) for v in x], "y": [float(v) for v in y],
                "r": float(radius_m), "srid": metric_srid(conn) or 0})
