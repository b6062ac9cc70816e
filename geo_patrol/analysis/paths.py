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
from sqlalchemy.engine import Connection

from geo_patrol.store.models import PATROL_KINDS

_FIX_ROW = np.dtype([("vid", ">i4"), ("track", ">i8"), ("t", ">f8"), ("x", ">f8"),
                     ("y", ">f8")])


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


def read_fixes(conn: Connection, start: dt.datetime, end: dt.datetime) -> Fixes:
    """Unflagged fixes with ``start <= t < end`` (metric coordinates), with their track's kind.

    Each day partition comes back as one blob of fixed-size binary records built by the
    server (``string_agg`` of the ``*send`` functions), read with one ``numpy.frombuffer``.
    """
    parts = conn.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'patrol_fixes'::regclass ORDER BY c.relname")).scalars().all()
    blobs = []
    for name in parts:
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
