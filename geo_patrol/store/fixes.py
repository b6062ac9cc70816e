"""Patrol fixes and tracks: binary COPY into day partitions, indexed after the load.

A day without a partition gets a fresh table, filled with ``COPY ... (FORMAT BINARY)``
(rows encoded with numpy, no per-row Python), then indexed, then attached to
``patrol_fixes``. A day that already has data is copied through the parent.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import psycopg
import shapely
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

from geo_patrol.ingest.fixes import CleanFixes
from geo_patrol.store.bulk import copy_rows, driver_connection
from geo_patrol.store.days import forget_days

_PG_EPOCH_US = 946_684_800_000_000  # 2000-01-01 in µs since 1970-01-01
_HEADER = b"PGCOPY\n\xff\r\n\x00" + np.array([0, 0], dtype=">i4").tobytes()
_TRAILER = np.array([-1], dtype=">i2").tobytes()
_EWKB_POINT = np.dtype([("order", "u1"), ("type", "<u4"), ("srid", "<u4"), ("x", "<f8"),
                        ("y", "<f8")])
FIX_COLUMNS = ("volunteer_id", "upload_id", "track_id", "t", "accuracy_m", "speed_mps", "flags",
               "geom_m")
_CHUNK = 500_000


def _row_dtype(with_accuracy: bool, with_speed: bool) -> np.dtype:
    fields: list[tuple[str, object]] = [
        ("nfields", ">i2"),
        ("l_vid", ">i4"), ("vid", ">i4"),
        ("l_upload", ">i4"), ("upload", ">i4"),
        ("l_track", ">i4"), ("track", ">i8"),
        ("l_t", ">i4"), ("t", ">i8"),
        ("l_acc", ">i4")]
    if with_accuracy:
        fields.append(("acc", ">f8"))
    fields.append(("l_speed", ">i4"))
    if with_speed:
        fields.append(("speed", ">f8"))
    fields += [("l_flags", ">i4"), ("flags", ">i2"), ("l_geom", ">i4"), ("geom", _EWKB_POINT)]
    return np.dtype(fields)


def encode_binary_copy(fixes: CleanFixes, idx: np.ndarray, *, upload_id: int,
                       track_ids: np.ndarray, srid: int) -> list[bytes]:
    """The binary COPY rows (no header) of the fixes at ``idx``, in chunks."""
    chunks = []
    has_acc = ~np.isnan(fixes.accuracy[idx])
    has_speed = ~np.isnan(fixes.speed[idx])
    for wa in (True, False):
        for ws in (True, False):
            sel = idx[(has_acc == wa) & (has_speed == ws)]
            for start in range(0, len(sel), _CHUNK):
                part = sel[start:start + _CHUNK]
                rec = np.zeros(len(part), dtype=_row_dtype(wa, ws))
                rec["nfields"] = len(FIX_COLUMNS)
                rec["l_vid"], rec["vid"] = 4, fixes.volunteer_id[part]
                rec["l_upload"], rec["upload"] = 4, upload_id
                rec["l_track"], rec["track"] = 8, track_ids[fixes.track[part]]
                rec["l_t"], rec["t"] = 8, fixes.t[part] - _PG_EPOCH_US
                if wa:
                    rec["l_acc"], rec["acc"] = 8, fixes.accuracy[part]
                else:
                    rec["l_acc"] = -1
                if ws:
                    rec["l_speed"], rec["speed"] = 8, fixes.speed[part]
                else:
                    rec["l_speed"] = -1
                rec["l_flags"], rec["flags"] = 2, fixes.flags[part]
                rec["l_geom"] = _EWKB_POINT.itemsize
                g = rec["geom"]
                g["order"], g["type"], g["srid"] = 1, 0x20000001, srid
                g["x"], g["y"] = fixes.x[part], fixes.y[part]
                chunks.append(rec.tobytes())
    return chunks


def _copy_binary(conn: Connection, table: str, chunks: list[bytes]) -> None:
    query = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, FIX_COLUMNS)))
    with driver_connection(conn).cursor() as cur, cur.copy(query) as copy:
        copy.write(_HEADER)
        for chunk in chunks:
            copy.write(chunk)
        copy.write(_TRAILER)


def day_bounds(t: np.ndarray, tz: str) -> list[tuple[dt.date, int, int]]:
    """The local days (``tz``) the times fall on, with each day's UTC bounds in µs."""
    zone = ZoneInfo(tz)
    first = dt.datetime.fromtimestamp(int(t.min()) / 1e6, zone).date()
    last = dt.datetime.fromtimestamp(int(t.max()) / 1e6, zone).date()
    out = []
    day = first
    while day <= last:
        start = dt.datetime.combine(day, dt.time(), zone)
        end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone)
        out.append((day, int(start.timestamp() * 1e6), int(end.timestamp() * 1e6)))
        day += dt.timedelta(days=1)
    return out


def partition_name(day: dt.date) -> str:
    return f"patrol_fixes_p{day:%Y%m%d}"


def _ts(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat()


def store_fixes(conn: Connection, fixes: CleanFixes, *, upload_id: int, track_ids: np.ndarray,
                srid: int, tz: str, meanwhile: Callable[[], None] | None = None,
                known: set[str] | None = None, forget: bool = True) -> dict[str, int]:
    """COPY the fixes into their day partitions, creating and indexing new days.

    The new partitions' indexes are built by the server while ``meanwhile`` runs here (the
    statements are sent without waiting), so Python work and the index build overlap.
    ``known``: partitions a caller has seen committed (not looked up again; those found here
    are added); ``forget=False``: the caller forgets the days' stored visits itself.
    """
    raw = driver_connection(conn)
    stats = {"days": 0, "new_days": 0}
    finishing: list[sql.Composable] = []
    written: list[dt.date] = []
    for day, start, end in day_bounds(fixes.t, tz):
        idx = np.flatnonzero((fixes.t >= start) & (fixes.t < end))
        if not len(idx):
            continue
        stats["days"] += 1
        written.append(day)
        name = partition_name(day)
        chunks = encode_binary_copy(fixes, idx, upload_id=upload_id, track_ids=track_ids,
                                    srid=srid)
        if known is not None and name in known:
            _copy_binary(conn, "patrol_fixes", chunks)
            continue
        if not _partition_exists(conn, name):
            # one loader at a time creates a given day's partition
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(current_schema() || :n))"),
                         {"n": name})
        if _partition_exists(conn, name):
            if known is not None:  # committed by someone else: it stays
                known.add(name)
            _copy_binary(conn, "patrol_fixes", chunks)
            continue
        stats["new_days"] += 1
        if not finishing:
            conn.execute(sa.text("SET LOCAL maintenance_work_mem = '512MB'"))  # index builds
        lo, hi = sql.Literal(_ts(start)), sql.Literal(_ts(end))
        ident = sql.Identifier(name)
        # the city's CHECK comes along, so attaching proves the city without a scan
        raw.execute(sql.SQL("CREATE TABLE {} (LIKE patrol_fixes INCLUDING DEFAULTS "
                            "INCLUDING CONSTRAINTS)").format(ident))
        # the CHECK matching the bounds lets ATTACH skip scanning the new partition
        raw.execute(sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK (t >= {} AND t < {})").format(
            ident, sql.Identifier(f"{name}_t_check"), lo, hi))
        _copy_binary(conn, name, chunks)
        finishing += [
            sql.SQL("CREATE INDEX {} ON {} USING gist (geom_m)").format(
                sql.Identifier(f"{name}_geom_m_idx"), ident),
            sql.SQL("ALTER TABLE patrol_fixes ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})"
                    ).format(ident, lo, hi),
            sql.SQL("ANALYZE {}").format(ident)]
    if forget:
        forget_days(conn, written)  # their stored visits no longer hold every fix
    if finishing:
        _run_while(raw, sql.SQL("; ").join(finishing).as_string(raw), meanwhile)
    elif meanwhile is not None:
        meanwhile()
    return stats


def _partition_exists(conn: Connection, name: str) -> bool:
    # pg_class read with this statement's snapshot: to_regclass would answer from the session's
    # catalog cache, which an advisory lock does not refresh, and miss a partition another
    # loader committed while this one waited
    return bool(conn.execute(sa.text(
        "SELECT EXISTS (SELECT 1 FROM pg_class WHERE relname = :n AND relnamespace ="
        " (SELECT oid FROM pg_namespace WHERE nspname = current_schema()))"),
        {"n": name}).scalar_one())


def _run_while(raw: psycopg.Connection, statements: str, meanwhile: Callable[[], None] | None
               ) -> None:
    """Send ``statements`` and run ``meanwhile`` before waiting for the server to finish."""
    pg = raw.pgconn
    pg.send_query(statements.encode())
    error: Exception | None = None
    try:
        if meanwhile is not None:
            meanwhile()
    except Exception as exc:  # finish reading the results before re-raising
        error = exc
    failed = None
    while (res := pg.get_result()) is not None:
        if res.status == psycopg.pq.ExecStatus.FATAL_ERROR and failed is None:
            failed = psycopg.errors.lookup(res.error_field(psycopg.pq.DiagnosticField.SQLSTATE)
                                           .decode())(res.get_error_message())
    if error is not None:
        raise error
    if failed is not None:
        raise failed


def existing_fix_keys(conn: Connection, volunteer_ids: np.ndarray, t: np.ndarray
                      ) -> set[tuple[int, int]]:
    """(volunteer id, µs) of fixes already stored for these volunteers in this time span."""
    rows = conn.execute(sa.text(
        "SELECT volunteer_id, (extract(epoch FROM t) * 1000000)::bigint FROM patrol_fixes "
        "WHERE volunteer_id = ANY(:v) AND t BETWEEN :a AND :b"),
        {"v": sorted({int(v) for v in np.unique(volunteer_ids)}),
         "a": dt.datetime.fromtimestamp(int(t.min()) / 1e6, dt.UTC),
         "b": dt.datetime.fromtimestamp(int(t.max()) / 1e6, dt.UTC)})
    return {(int(a), int(b)) for a, b in rows}


TRACK_COLUMNS = ("id", "volunteer_id", "upload_id", "kind", "started_at", "ended_at", "n_fixes",
                 "n_flagged", "length_m", "geom")


def allocate_track_ids(conn: Connection, n: int) -> np.ndarray:
    """``n`` new ids from the tracks sequence."""
    return np.array(conn.execute(sa.text(
        "SELECT nextval('tracks_id_seq') FROM generate_series(1, :n)"), {"n": n}).scalars().all(),
        dtype="int64")


def track_rows(fixes: CleanFixes, *, track_ids: np.ndarray, upload_id: int,
               kinds: np.ndarray) -> list[tuple[object, ...]]:
    """One ``tracks`` row per track (``kinds[i]`` for track i), geometry from clean fixes."""
    n = len(track_ids)
    tr = fixes.track
    first = np.searchsorted(tr, np.arange(n))
    last = np.searchsorted(tr, np.arange(n), side="right") - 1
    counts = last - first + 1
    good = fixes.flags == 0
    n_flagged = np.bincount(tr[~good], minlength=n)
    gi = np.flatnonzero(good)
    seg = np.zeros(n)
    if len(gi) > 1:
        same = tr[gi[1:]] == tr[gi[:-1]]
        d = np.hypot(np.diff(fixes.x[gi]), np.diff(fixes.y[gi]))
        np.add.at(seg, tr[gi[1:]][same], d[same])
    n_good = np.bincount(tr[gi], minlength=n)
    with_line = n_good[tr[gi]] >= 2
    lines = np.full(n, None, dtype=object)
    if with_line.any():
        pts = gi[with_line]
        which, dense = np.unique(tr[pts], return_inverse=True)
        lines[which] = shapely.linestrings(np.column_stack([fixes.lon[pts], fixes.lat[pts]]),
                                           indices=dense)
    hexes = shapely.to_wkb(shapely.set_srid(lines, 4326), hex=True, include_srid=True)
    starts = pd.to_datetime(fixes.t[first], unit="us", utc=True)
    ends = pd.to_datetime(fixes.t[last], unit="us", utc=True)
    return list(zip(track_ids.tolist(), fixes.volunteer_id[first].tolist(), [upload_id] * n,
                    kinds.tolist(), starts, ends, counts.tolist(), n_flagged.tolist(),
                    seg.tolist(), hexes.tolist()))


def store_track_rows(conn: Connection, rows: list[tuple[object, ...]]) -> None:
    copy_rows(conn, "tracks", TRACK_COLUMNS, rows)


def day_partitions(conn: Connection) -> list[tuple[str, dt.date]]:
    """The day partitions of ``patrol_fixes`` with their days, oldest first."""
    names = conn.execute(sa.text(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = 'patrol_fixes'::regclass ORDER BY c.relname")).scalars()
    return [(n, dt.datetime.strptime(n[-8:], "%Y%m%d").date()) for n in names]


def drop_fixes_before(conn: Connection, cutoff: dt.date, tz: str) -> dict[str, int]:
    """Retention: drop every day partition before ``cutoff`` (local days) and clear the
    geometry of tracks that started before it. Counts, lengths and every analysis result stay.
    """
    dropped = fixes = 0
    for name, day in day_partitions(conn):
        if day >= cutoff:
            continue
        fixes += conn.execute(sa.text(f'SELECT count(*) FROM "{name}"')).scalar_one()  # noqa: S608
        conn.execute(sa.text(f'ALTER TABLE patrol_fixes DETACH PARTITION "{name}"'))
        conn.execute(sa.text(f'DROP TABLE "{name}"'))
        dropped += 1
    tracks = conn.execute(sa.text(
        "UPDATE tracks SET geom = NULL WHERE geom IS NOT NULL "
        "AND started_at < CAST(:d AS date)::timestamp AT TIME ZONE :tz"),
        {"d": cutoff, "tz": tz}).rowcount
    return {"partitions": dropped, "fixes": int(fixes), "tracks": int(tracks)}
