"""What one analysis window reads: the streets and hazards in scope and the clean fixes of the
window, as plain arrays and frames."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.store.models import PATROL_KINDS
from geo_patrol.store.scope import in_scope, scope_params

_FIX_ROW = np.dtype([("vid", ">i4"), ("track", ">i8"), ("t", ">f8"), ("x", ">f8"),
                     ("y", ">f8")])


def read_segments(conn: Connection, scope: list[int] | None) -> pd.DataFrame:
    """Street segments of the areas in ``scope`` (all when ``None``) with metric lines."""
    rows = conn.execute(sa.text(
        "SELECT id, node_from, node_to, coalesce(area_id, -1) AS area_id, length_m, "
        "ST_AsBinary(geom_m) AS wkb FROM street_segments "
        f"WHERE {in_scope('area_id')} ORDER BY id"),
        scope_params(scope)).all()
    # plain tuples: pandas would probe every Row for array attributes
    frame = pd.DataFrame(list(map(tuple, rows)), columns=[
        "id", "node_from", "node_to", "area_id", "length_m", "wkb"])
    frame["geom"] = shapely.from_wkb(frame.pop("wkb").map(bytes)) if len(frame) else []
    return frame


def read_hazards(conn: Connection, scope: list[int] | None) -> pd.DataFrame:
    """Hazards in scope (proposals under review left out) with metric x and y."""
    return pd.read_sql_query(sa.text(
        "SELECT id, category, status, coalesce(community_id, -1) AS area_id, "
        "ST_X(geom_m) AS x, ST_Y(geom_m) AS y FROM hazards WHERE NOT proposed "
        f"AND {in_scope('community_id')} ORDER BY id"),
        conn, params=scope_params(scope))


def read_fixes(conn: Connection, start: dt.datetime, end: dt.datetime
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unflagged fixes with ``start <= t < end``: volunteer, kind (0 patrol, 1 passive),
    t (epoch s), x, y (metric), sorted by volunteer and time.

    Each day partition comes back as one blob of fixed-size binary records built by the
    server (``string_agg`` of the ``*send`` functions), read with one ``numpy.frombuffer``.
    """
    parts = conn.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'patrol_fixes'::regclass ORDER BY c.relname")).scalars().all()
    # a partition holds one local day: only those that may overlap the window are read
    lo = f"patrol_fixes_p{start - dt.timedelta(days=1):%Y%m%d}"
    hi = f"patrol_fixes_p{end + dt.timedelta(days=1):%Y%m%d}"
    blobs = []
    for name in (p for p in parts if lo <= p <= hi):
        blob = conn.execute(sa.text(
            f"SELECT string_agg(int4send(volunteer_id) || int8send(track_id) || "  # noqa: S608
            f"float8send(extract(epoch FROM t)::float8) || float8send(ST_X(geom_m)) || "
            f"float8send(ST_Y(geom_m)), ''::bytea) FROM {name} "
            f"WHERE t >= :a AND t < :b AND flags = 0"), {"a": start, "b": end}).scalar_one()
        if blob:
            blobs.append(np.frombuffer(blob, dtype=_FIX_ROW))
    rec = np.concatenate(blobs) if blobs else np.zeros(0, dtype=_FIX_ROW)
    vid = rec["vid"].astype("int32")
    track = rec["track"].astype("int64")
    t = rec["t"].astype("float64")
    order = np.lexsort((t, vid))
    kinds = _track_kinds(conn, np.unique(track))
    kind = kinds[np.searchsorted(kinds["track"], track[order])]["kind"] if len(track) else \
        np.zeros(0, dtype="int8")
    return (vid[order], np.asarray(kind, dtype="int8"), t[order],
            rec["x"].astype("float64")[order], rec["y"].astype("float64")[order])


def _track_kinds(conn: Connection, tracks: np.ndarray) -> np.ndarray:
    rows = conn.execute(sa.text("SELECT id, kind FROM tracks WHERE id = ANY(:ids) ORDER BY id"),
                        {"ids": tracks.tolist()}).all()
    out = np.zeros(len(rows), dtype=[("track", "int64"), ("kind", "int8")])
    out["track"] = [r[0] for r in rows]
    out["kind"] = [PATROL_KINDS.index(r[1]) for r in rows]
    return out
