"""Patrol paths: a window's clean fixes read with binary COPY and joined into steps.

A step joins two consecutive clean fixes of one volunteer at most ``gap_s`` apart with a
plausible speed. A fix with no step on either side is kept as a zero-length step, so a
lone fix still visits what is within reach.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

from geo_patrol.store.bulk import driver_connection
from geo_patrol.store.models import PATROL_KINDS

_FIX_ROW = np.dtype([("n", ">i2"), ("l1", ">i4"), ("vid", ">i4"), ("l2", ">i4"), ("track", ">i8"),
                     ("l3", ">i4"), ("t", ">f8"), ("l4", ">i4"), ("x", ">f8"), ("l5", ">i4"),
                     ("y", ">f8")])
_HEADER_LEN = 19


@dataclass
class Fixes:
    """Clean fixes of a window, sorted by volunteer and time (t in epoch seconds)."""

    volunteer: np.ndarray
    kind: np.ndarray  # 0 patrol, 1 passive
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.t)


@dataclass
class Steps:
    """Straight pieces of patrol paths from (ax, ay) at t0 to (bx, by) at t1."""

    volunteer: np.ndarray
    kind: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray

    def __len__(self) -> int:
        return len(self.t0)


def read_fixes(conn: Connection, start: dt.datetime, end: dt.datetime,
               volunteers: list[int] | None = None) -> Fixes:
    """Unflagged fixes with ``start <= t < end`` (metric coordinates), with their track's kind."""
    where = sql.SQL("f.t >= {} AND f.t < {} AND f.flags = 0").format(
        sql.Literal(start), sql.Literal(end))
    if volunteers is not None:
        where = sql.SQL("{} AND f.volunteer_id = ANY({})").format(where, sql.Literal(volunteers))
    query = sql.SQL(
        "COPY (SELECT f.volunteer_id, f.track_id, extract(epoch FROM f.t)::float8, "
        "ST_X(f.geom_m), ST_Y(f.geom_m) FROM patrol_fixes f WHERE {}) TO STDOUT "
        "(FORMAT BINARY)").format(where)
    buf = bytearray()
    with driver_connection(conn).cursor() as cur, cur.copy(query) as copy:
        for block in copy:
            buf += block
    body = memoryview(buf)[_HEADER_LEN:len(buf) - 2] if len(buf) > _HEADER_LEN + 2 else b""
    rec = np.frombuffer(body, dtype=_FIX_ROW)
    vid = rec["vid"].astype("int32")
    track = rec["track"].astype("int64")
    t = rec["t"].astype("float64")
    order = np.lexsort((t, vid))
    kinds = _track_kinds(conn, np.unique(track))
    kind = kinds[np.searchsorted(kinds["track"], track[order])]["kind"] if len(track) else \
        np.zeros(0, dtype="int8")
    return Fixes(vid[order], np.asarray(kind, dtype="int8"), t[order],
                 rec["x"].astype("float64")[order], rec["y"].astype("float64")[order])


def _track_kinds(conn: Connection, tracks: np.ndarray) -> np.ndarray:
    rows = conn.execute(sa.text("SELECT id, kind FROM tracks WHERE id = ANY(:ids) ORDER BY id"),
                        {"ids": tracks.tolist()}).all()
    out = np.zeros(len(rows), dtype=[("track", "int64"), ("kind", "int8")])
    out["track"] = [r[0] for r in rows]
    out["kind"] = [PATROL_KINDS.index(r[1]) for r in rows]
    return out


def build_steps(fixes: Fixes, *, gap_s: float = 120.0, max_speed_kmh: float = 200.0) -> Steps:
    """Join consecutive fixes into steps (vectorised)."""
    n = len(fixes)
    if n == 0:
        z = np.zeros(0)
        return Steps(np.zeros(0, "int32"), np.zeros(0, "int8"), z, z, z, z, z, z)
    same = fixes.volunteer[1:] == fixes.volunteer[:-1]
    dt_s = np.diff(fixes.t)
    dist = np.hypot(np.diff(fixes.x), np.diff(fixes.y))
    link = same & (dt_s <= gap_s) & (dist <= max_speed_kmh / 3.6 * np.maximum(dt_s, 1e-9))
    i = np.flatnonzero(link)
    linked = np.zeros(n, dtype=bool)
    linked[i] = True
    linked[i + 1] = True
    lone = np.flatnonzero(~linked)
    a = np.concatenate([i, lone])
    b = np.concatenate([i + 1, lone])
    order = np.lexsort((fixes.t[a], fixes.volunteer[a]))
    a, b = a[order], b[order]
    return Steps(fixes.volunteer[a], fixes.kind[a], fixes.t[a], fixes.t[b], fixes.x[a],
                 fixes.y[a], fixes.x[b], fixes.y[b])
