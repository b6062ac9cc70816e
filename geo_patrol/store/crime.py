"""Incidents and street segments read for crime analysis, in the deployment's metric CRS.

Incidents belong to the community they lie in; a scope is an area's subtree, optionally cut
to a user's communities (``within``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.store.db import metric_srid
from geo_patrol.store.geoframes import read_geo
from geo_patrol.store.scope import in_scope, scope_params

_SCOPE = f"""(CAST(:area AS integer) IS NULL OR a.id IN (SELECT area_subtree(:area)))
            AND {in_scope('a.id')}"""


def incident_frame(conn: Connection, *, area_id: int | None, within: frozenset[int] | None,
                   until: dt.date | None, tz: str) -> pd.DataFrame:
    """Incidents in scope up to ``until`` (undated ones too): ``id, category, day,
    local`` (local time of occurrence, ``NaT`` when unknown), ``x, y`` (metres),
    ``community_id``."""
    frame = pd.read_sql_query(sa.text(f"""
        SELECT i.id, i.category, i.occurred_on AS day,
               (i.occurred_at AT TIME ZONE :tz) AS local,
               ST_X(i.geom_m) AS x, ST_Y(i.geom_m) AS y, a.id AS community_id
        FROM incidents i JOIN areas a ON a.level = 'community'
             AND ST_Intersects(a.geom_m, i.geom_m)
        WHERE {_SCOPE}
          AND (CAST(:until AS date) IS NULL OR i.occurred_on IS NULL
               OR i.occurred_on <= :until)
        ORDER BY i.id"""), conn,
        params={"area": area_id, **scope_params(within), "until": until, "tz": tz})
    return frame.drop_duplicates("id").reset_index(drop=True)


def last_incident_day(conn: Connection, *, area_id: int | None,
                      within: frozenset[int] | None) -> dt.date | None:
    """The latest dated incident in scope."""
    return conn.execute(sa.text(f"""
        SELECT max(i.occurred_on) FROM incidents i JOIN areas a ON a.level = 'community'
             AND ST_Intersects(a.geom_m, i.geom_m) WHERE {_SCOPE}"""),
        {"area": area_id, **scope_params(within)}).scalar()


def segment_frame(conn: Connection, *, area_id: int | None,
                  within: frozenset[int] | None) -> Any:
    """Street segments in scope (metric geometry): ``id, node_from, node_to, length_m, name,
    cross_a, cross_b`` (the cross streets of its piece), ``community_id, geom``."""
    srid = metric_srid(conn)
    return read_geo(sa.text(f"""
        SELECT g.id, g.node_from, g.node_to, g.length_m, g.name, p.cross_a, p.cross_b,
               g.area_id AS community_id, g.geom_m AS geom
        FROM street_segments g JOIN areas a ON a.id = g.area_id
        LEFT JOIN street_pieces p ON p.id = g.piece_id
        WHERE {_SCOPE} ORDER BY g.id"""), conn,
        params={"area": area_id, **scope_params(within)}, crs=srid)


def data_stamp(conn: Connection) -> tuple:
    """Changes whenever incidents or streets are loaded (counts and highest ids)."""
    return tuple(conn.execute(sa.text(
        "SELECT (SELECT count(*) FROM incidents), (SELECT max(id) FROM incidents), "
        "(SELECT count(*) FROM street_segments), (SELECT max(id) FROM street_segments)")
    ).one())


def districts(conn: Connection) -> pd.DataFrame:
    """``id, name`` of every district."""
    return pd.read_sql_query(sa.text(
        "SELECT id, name FROM areas WHERE level = 'district' ORDER BY code NULLS LAST, name"),
        conn)


def community_names(conn: Connection) -> dict[int, str]:
    """Community id → name."""
    return dict(conn.execute(sa.text(
        "SELECT id, name FROM areas WHERE level = 'community'")).all())
