"""Live positions: devices, refusals, positions as they arrive, today's live coverage and
call-outs. The only SQL of the live loop; :mod:`geo_patrol.services.live` calls it."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from psycopg import sql
from sqlalchemy.engine import Connection

from geo_patrol.store.areas import community_at_sql
from geo_patrol.store.bulk import driver_connection, number_array
from geo_patrol.store.days import queue_forget_days
from geo_patrol.store.places import nearest_piece
from geo_patrol.store.scope import Within, in_scope, meets_scope, scope_params
from geo_patrol.vocab import FLAG_MOCK

#: One transaction at a time writes positions (flags and tracks follow each volunteer's
#: previous fix), and one at a time advances the live coverage.
INTAKE_LOCK = 0x6770_0001
COVERAGE_LOCK = 0x6770_0002
#: One check at a time raises and clears the "no movement during a patrol" alarms.
STILL_LOCK = 0x6770_0003


def secret_digest(secret: str) -> str:
    """How a device secret is stored (secrets are long random tokens: SHA-256 suffices)."""
    return hashlib.sha256(secret.encode()).hexdigest()


# -- devices ----------------------------------------------------------------------------------

def add_device(conn: Connection, device_id: str, volunteer_id: int,
               secret_sha256: str | None) -> bool:
    """Register (or re-bind) a device; ``True`` when it is new."""
    row = conn.execute(sa.text(
        "INSERT INTO devices (device_id, volunteer_id, secret_sha256) VALUES (:d, :v, :s) "
        "ON CONFLICT (device_id) DO UPDATE SET volunteer_id = :v, secret_sha256 = :s, "
        "disabled_at = NULL RETURNING (xmax = 0)"),
        {"d": device_id, "v": volunteer_id, "s": secret_sha256}).scalar_one()
    return bool(row)


#: A device whose volunteer lies in the scope's communities.
_DEVICE_IN_SCOPE = meets_scope(
    "SELECT v.community_id FROM volunteers v WHERE v.id = devices.volunteer_id")


def set_device_secret(conn: Connection, device_id: str, secret_sha256: str,
                      within: Within = None) -> bool:
    """A new secret digest for an active device (of a volunteer of the communities
    ``within``); ``False`` when there is none."""
    return conn.execute(sa.text(
        "UPDATE devices SET secret_sha256 = :s WHERE device_id = :d AND disabled_at IS NULL "
        f"AND {_DEVICE_IN_SCOPE}"),
        {"d": device_id, "s": secret_sha256, **scope_params(within)}).rowcount > 0


def remove_device(conn: Connection, device_id: str, within: Within = None) -> bool:
    """Disable a device (its positions stay) of a volunteer of the communities ``within``;
    ``False`` when there is none."""
    return conn.execute(sa.text(
        "UPDATE devices SET disabled_at = now() WHERE device_id = :d AND disabled_at IS NULL "
        f"AND {_DEVICE_IN_SCOPE}"),
        {"d": device_id, **scope_params(within)}).rowcount > 0


def device_holder(conn: Connection, device_id: str) -> dict[str, object] | None:
    """Who a device id is registered to, active or disabled: ``volunteer_id``, ``number``,
    ``community_id``, ``active`` (``None``: no such device in this city)."""
    row = conn.execute(sa.text(
        "SELECT d.volunteer_id, v.number, v.community_id, d.disabled_at IS NULL AS active "
        "FROM devices d JOIN volunteers v ON v.id = d.volunteer_id WHERE d.device_id = :d"),
        {"d": device_id}).mappings().first()
    return None if row is None else dict(row)


def cities_holding(conn: Connection, device_id: str) -> list[str]:
    """The names of the deployment's other cities in which ``device_id`` is an active
    device (each city's tables are its own schema; the connection's is this city's)."""
    keys = conn.execute(sa.text(
        "SELECT key FROM public.cities WHERE 'city_' || key <> current_schema() "
        "AND to_regclass(format('%I.devices', 'city_' || key)) IS NOT NULL ORDER BY key"
    )).scalars().all()
    held = []
    for key in keys:
        query = sql.SQL("SELECT 1 FROM {}.devices WHERE device_id = %s AND disabled_at IS NULL"
                        ).format(sql.Identifier(f"city_{key}"))
        with driver_connection(conn).cursor() as cur:
            cur.execute(query, (device_id,))
            if cur.fetchone() is not None:
                held.append(key)
    if not held:
        return []
    return list(conn.execute(sa.text(
        "SELECT name FROM public.cities WHERE key = ANY(:k) ORDER BY key"),
        {"k": held}).scalars())


def device_registry(conn: Connection, device: str | None = None
                    ) -> dict[str, tuple[int, int, str | None, str]]:
    """Active devices (only ``device`` when given): device id -> (row id, volunteer id,
    secret digest, occupation)."""
    rows = conn.execute(sa.text(
        "SELECT d.device_id, d.id, d.volunteer_id, d.secret_sha256, v.occupation FROM devices d "
        "JOIN volunteers v ON v.id = d.volunteer_id WHERE d.disabled_at IS NULL "
        "AND (CAST(:device AS text) IS NULL OR d.device_id = :device)"),
        {"device": device}).all()
    return {r[0]: (int(r[1]), int(r[2]), r[3], r[4]) for r in rows}


def device_table(conn: Connection, within: Iterable[int] | None) -> pd.DataFrame:
    """Registered devices with their volunteer, last position time and today's count."""
    return pd.read_sql_query(sa.text(
        "SELECT d.device_id, v.number, v.name, a.name AS community, d.created_at, "
        "d.disabled_at, d.secret_sha256 IS NOT NULL AS has_secret, "
        "(SELECT max(t) FROM live_positions p WHERE p.device_id = d.id) AS last_seen "
        "FROM devices d JOIN volunteers v ON v.id = d.volunteer_id "
        "LEFT JOIN areas a ON a.id = v.community_id "
        f"WHERE {in_scope('v.community_id')} "
        "ORDER BY d.disabled_at NULLS FIRST, v.number, d.device_id"),
        conn, params=scope_params(within))


# -- refusals ---------------------------------------------------------------------------------

#: Refused requests are counted under at most this many claimed devices a day and reason;
#: the rest under no device (``""``): requests naming random devices cannot grow the table.
REFUSED_DEVICES_PER_DAY = 1000


def count_refusals(conn: Connection, rows: Sequence[tuple[dt.date, str, str, int, dt.datetime]]
                   ) -> None:
    """Add refused requests: (day, reason, claimed device, count, last time); a device not
    yet counted that day is counted under ``""`` once :data:`REFUSED_DEVICES_PER_DAY` are."""
    if not rows:
        return
    conn.execute(sa.text("""
        WITH n AS (
            SELECT d, r, v, sum(c) AS c, max(t) AS t
            FROM unnest(CAST(:d AS date[]), CAST(:r AS text[]), CAST(:v AS text[]),
                        CAST(:c AS integer[]), CAST(:t AS timestamptz[])) AS u(d, r, v, c, t)
            GROUP BY d, r, v),
        k AS (
            SELECT n.*, EXISTS (SELECT FROM intake_refusals x
                                WHERE x.day = n.d AND x.reason = n.r AND x.device = n.v) AS known,
                   (SELECT count(*) FROM intake_refusals x
                    WHERE x.day = n.d AND x.reason = n.r) AS held
            FROM n),
        m AS (
            SELECT d, r, c, t,
                   CASE WHEN known OR held + row_number() OVER (PARTITION BY d, r, known
                                                                ORDER BY v) <= :cap
                        THEN v ELSE '' END AS named
            FROM k)
        INSERT INTO intake_refusals (day, reason, device, count, last_at)
        SELECT d, r, named, sum(c)::int, max(t) FROM m GROUP BY d, r, named
        ON CONFLICT (day, reason, device) DO UPDATE SET
            count = intake_refusals.count + excluded.count,
            last_at = greatest(intake_refusals.last_at, excluded.last_at)"""),
        {"d": [r[0] for r in rows], "r": [r[1] for r in rows], "v": [r[2] for r in rows],
         "c": [r[3] for r in rows], "t": [r[4] for r in rows],
         "cap": REFUSED_DEVICES_PER_DAY})


def refusal_table(conn: Connection, since: dt.date, within: Within = None) -> pd.DataFrame:
    """Refusals since a day: reason, device, count, last time, most refused first (a flood
    of one-off requests cannot push a device under attack off the list), with ``total``,
    every refusal of that reason; only of devices registered to volunteers of the
    communities ``within`` when a scope is given (unknown devices belong to nobody's)."""
    return pd.read_sql_query(sa.text(f"""
        WITH r AS (
            SELECT i.reason, i.device, sum(i.count)::int AS count, max(i.last_at) AS last_at
            FROM intake_refusals i
            WHERE i.day >= :since AND {meets_scope(
                "SELECT v.community_id FROM devices d JOIN volunteers v "
                "ON v.id = d.volunteer_id WHERE d.device_id = i.device")}
            GROUP BY i.reason, i.device)
        SELECT reason, device, count, last_at,
               sum(count) OVER (PARTITION BY reason)::int AS total
        FROM r ORDER BY count DESC, last_at DESC LIMIT 200"""), conn,
        params={"since": since, **scope_params(within)})


# -- intake -----------------------------------------------------------------------------------

#: A µs count since the epoch (a bigint parameter) as a timestamptz, exactly.
_AT_US = "(timestamptz 'epoch' + {} * interval '1 microsecond')"
_US_OF = "(extract(epoch FROM {}) * 1000000)::bigint"
_STORED_KEYS = (
    f"SELECT p.volunteer_id, {_US_OF.format('p.t')} FROM live_positions p "
    "JOIN unnest(%s::integer[], %s::bigint[]) AS k(v, t) "
    f"ON p.volunteer_id = k.v AND p.t = {_AT_US.format('k.t')}")
_PREVIOUS = (
    f"SELECT k.v, {_US_OF.format('a.t')}, a.track_id, {_US_OF.format('c.t')}, c.lon, c.lat, "
    "c.x, c.y, c.track_id FROM unnest(%s::integer[]) AS k(v) "
    "CROSS JOIN LATERAL (SELECT t, track_id FROM live_positions WHERE volunteer_id = k.v "
    "  ORDER BY t DESC LIMIT 1) a "
    "LEFT JOIN LATERAL (SELECT t, lon, lat, x, y, track_id FROM live_positions "
    "  WHERE volunteer_id = k.v AND flags = 0 ORDER BY t DESC LIMIT 1) c ON true")
_PREVIOUS_COLUMNS = ["volunteer_id", "t", "track_id", "clean_t", "lon", "lat", "x", "y",
                     "clean_track"]


#: The intake's lookups of stored positions and the live coverage's statements are planned
#: for the tables as they are, every time: a statement their long-lived connections
#: prepared while ``live_positions`` was empty (a new deployment, the live tables pruned)
#: would otherwise keep a plan that scans the table whole, at every batch as it fills,
#: until autovacuum analysed it again (a batch of 20 took 0.5 s).
_PLANNED_EACH_TIME = "SET LOCAL plan_cache_mode = force_custom_plan"
#: The plans kept again (the rest of a batch: rows by id, planning them costs more than
#: it could save).
_PLANS_KEPT = "SET LOCAL plan_cache_mode = DEFAULT"


def plan_each_time(conn: Connection) -> None:
    """This transaction's statements planned anew at each execution
    (:data:`_PLANNED_EACH_TIME`)."""
    conn.exec_driver_sql(_PLANNED_EACH_TIME)


def open_batch(conn: Connection, volunteer_ids: np.ndarray, t_us: np.ndarray
               ) -> tuple[set[tuple[int, int]], dict[str, np.ndarray]]:
    """Take the intake lock, then read which of these positions are stored already
    ((volunteer id, µs) of re-sent ones) and each of their volunteers' last stored position
    (t, track) and last clean one (t, lon, lat, x, y, track), by column, NaN for none (a
    batch's frame would cost more than its reading): the lock and the two reads sent at once
    and run in order, one round trip (the reads see whatever the batch before committed).

    The two reads are planned anew each time (:data:`_PLANNED_EACH_TIME`)."""
    raw = driver_connection(conn)
    with raw.cursor() as keys, raw.cursor() as previous:
        with raw.pipeline():
            raw.execute("SELECT pg_advisory_xact_lock(%s)", (INTAKE_LOCK,))
            raw.execute(_PLANNED_EACH_TIME)
            keys.execute(_STORED_KEYS, (number_array(volunteer_ids), number_array(t_us)))
            previous.execute(_PREVIOUS, (number_array(np.unique(volunteer_ids)),))
            raw.execute(_PLANS_KEPT)
        known = {(int(a), int(b)) for a, b in keys.fetchall()}
        # every column is a number (µs since the epoch are exact in a float64)
        table = np.array(previous.fetchall(), dtype="float64").reshape(
            -1, len(_PREVIOUS_COLUMNS))
    return known, {c: table[:, i] for i, c in enumerate(_PREVIOUS_COLUMNS)}


def file_batch(conn: Connection, *, new_tracks: int,
               uploads: Sequence[tuple[dt.date, bool, int, int]], days: Iterable[dt.date],
               extend: Sequence[tuple[int, int, int, int, float]]
               ) -> tuple[np.ndarray, dict[tuple[dt.date, bool], int]]:
    """A batch's bookkeeping in one round trip (statements sent at once): ``new_tracks``
    ids from the tracks sequence; the live upload of each (day, proven, stored, flagged)
    with its running counts (as :func:`live_upload`); the days' stored visits forgotten;
    the tracks of ``extend`` continued (as :func:`extend_tracks`). Returns the new track
    ids and each (day, proven)'s upload id."""
    raw = driver_connection(conn)
    cursors = []
    with raw.cursor() as ids:
        with raw.pipeline():
            if new_tracks:
                ids.execute("SELECT nextval('tracks_id_seq') FROM generate_series(1, %s)",
                            (new_tracks,))
            for day, proven, stored, flagged in uploads:
                cur = raw.cursor()
                cursors.append(((day, proven), cur))
                cur.execute(_LIVE_UPLOAD, _live_upload_params(day, stored, flagged, proven))
            queue_forget_days(raw, days)
            if extend:
                raw.execute(_EXTEND_TRACKS, _extend_params(extend))
        track_ids = np.array([r[0] for r in ids.fetchall()] if new_tracks else [],
                             dtype="int64")
    upload_ids = {}
    for key, cur in cursors:
        upload_ids[key] = int(cur.fetchone()[0])
        cur.close()
    return track_ids, upload_ids


_POSITION_COLUMNS = ("volunteer_id", "t", "device_id", "lon", "lat", "x", "y", "speed_mps",
                     "heading", "accuracy_m", "battery_pct", "moving", "flags", "track_id",
                     "attrs")


def store_positions(conn: Connection, columns: Mapping[str, np.ndarray]) -> None:
    """COPY new positions (arrays of :data:`_POSITION_COLUMNS`, ``t`` in µs; NaN and None
    stored as NULL), in PostgreSQL's binary format (no text to parse on the server)."""
    query = sql.SQL("COPY live_positions ({}) FROM STDIN (FORMAT BINARY)").format(
        sql.SQL(", ").join(map(sql.Identifier, _POSITION_COLUMNS)))
    cols: list[list[object]] = []
    for c in _POSITION_COLUMNS[:-1]:
        values = np.asarray(columns[c])
        if c == "t":
            cols.append(_times(values))
        elif values.dtype.kind == "f":
            cols.append(_nullable(values))
        elif values.dtype == object:
            cols.append([None if v is None or v != v else v for v in values.tolist()])
        else:
            cols.append(values.tolist())
    cols.append(list(columns["attrs"]))  # dicts, sent as jsonb
    with driver_connection(conn).cursor() as cur, cur.copy(query) as copy:
        copy.set_types(_POSITION_TYPES)
        for row in zip(*cols):
            copy.write_row(row)


#: The database types of :data:`_POSITION_COLUMNS`, for the binary COPY.
_POSITION_TYPES = ("int4", "timestamptz", "int4", "float8", "float8", "float8", "float8",
                   "float8", "float8", "float8", "float8", "bool", "int2", "int8", "jsonb")


def _nullable(values: np.ndarray) -> list[float | None]:
    """Floats as Python numbers, NaN as ``None``."""
    out = values.tolist()
    if np.isnan(values).any():
        return [None if v != v else v for v in out]
    return out



def live_upload(conn: Connection, day: dt.date, stored: int, flagged: int, *,
                proven: bool) -> int:
    """The upload row live positions of a local day are filed under, with running counts:
    one for phones that proved themselves with their device secret (``proof = 'phone'``),
    one for the others (``'none'``: coverage, never points)."""
    return int(driver_connection(conn).execute(
        _LIVE_UPLOAD, _live_upload_params(day, stored, flagged, proven)).fetchone()[0])


_LIVE_UPLOAD = (
    "INSERT INTO uploads (kind, filename, sha256, size_bytes, rows_stored, rows_flagged, "
    "options, summary, proof) VALUES ('live', %(name)s, %(sha)s, 0, %(n)s, %(f)s, "
    "'{}'::jsonb, '{}'::jsonb, %(proof)s) ON CONFLICT (sha256) DO UPDATE SET "
    "rows_stored = uploads.rows_stored + %(n)s, rows_flagged = uploads.rows_flagged + %(f)s "
    "RETURNING id")


def _live_upload_params(day: dt.date, stored: int, flagged: int, proven: bool
                        ) -> dict[str, object]:
    tag = "" if proven else ":unproven"
    return {"name": f"live {day.isoformat()}{'' if proven else ' (no device secret)'}",
            "sha": hashlib.sha256(f"live:{day.isoformat()}{tag}".encode()).hexdigest(),
            "n": stored, "f": flagged, "proof": "phone" if proven else "none"}


def extend_tracks(conn: Connection, rows: Sequence[tuple[int, int, int, int, float]]) -> None:
    """Continue tracks: (id, last µs, new fixes, new flagged, added metres). Their lines are
    drawn once they end (:func:`close_tracks`), not rewritten with every position; a track
    that goes on after it was drawn (a phone's buffer arriving late) is drawn again."""
    if not rows:
        return
    driver_connection(conn).execute(_EXTEND_TRACKS, _extend_params(rows))


_EXTEND_TRACKS = (
    "UPDATE tracks t SET ended_at = greatest(t.ended_at, u.ended), n_fixes = t.n_fixes + u.n, "
    "n_flagged = t.n_flagged + u.f, length_m = t.length_m + u.m, geom = NULL "
    f"FROM (SELECT id, {_AT_US.format('e')} AS ended, n, f, m FROM unnest(%s::bigint[], "
    "  %s::bigint[], %s::integer[], %s::integer[], %s::float8[]) AS x(id, e, n, f, m)) u "
    "WHERE t.id = u.id")


def _extend_params(rows: Sequence[tuple[int, int, int, int, float]]) -> tuple[str, ...]:
    return tuple(number_array([r[i] for r in rows]) for i in range(5))


def close_tracks(conn: Connection, ended_before: dt.datetime) -> int:
    """Draw the lines of live tracks that have ended (no position since ``ended_before``)
    from their clean positions. A track the intake is extending right now is left for the
    next time (skipped, not waited for: the two never wait on each other's rows)."""
    ids = conn.execute(sa.text(
        "SELECT tr.id FROM tracks tr JOIN uploads u ON u.id = tr.upload_id "
        "WHERE u.kind = 'live' AND tr.geom IS NULL AND tr.ended_at < :before "
        "AND tr.ended_at > :before - interval '1 day' AND tr.n_fixes > tr.n_flagged + 1 "
        "ORDER BY tr.id FOR UPDATE OF tr SKIP LOCKED"),
        {"before": ended_before}).scalars().all()
    if not ids:
        return 0
    return conn.execute(sa.text(
        "UPDATE tracks t SET geom = l.line FROM ("
        "  SELECT p.track_id, ST_MakeLine(ST_SetSRID(ST_MakePoint(p.lon, p.lat), 4326) "
        "    ORDER BY p.t) AS line, count(*) AS n FROM live_positions p "
        "  WHERE p.flags = 0 AND p.track_id = ANY(:ids) GROUP BY p.track_id) l "
        "WHERE t.id = l.track_id AND l.n >= 2"), {"ids": list(ids)}).rowcount


def _times(t_us: np.ndarray) -> list[dt.datetime]:
    return [dt.datetime.fromtimestamp(int(v) / 1e6, dt.UTC) for v in t_us]


# -- the force now ----------------------------------------------------------------------------

def last_positions(conn: Connection, since: dt.datetime, within: Iterable[int] | None
                   ) -> pd.DataFrame:
    """Each volunteer's last position since ``since`` (not one the phone said was mocked),
    with who they are."""
    return pd.read_sql_query(sa.text(
        "SELECT p.volunteer_id, v.number, v.name, v.occupation, v.community_id, "
        "a.name AS community, p.t, p.lon, p.lat, p.speed_mps, p.moving, p.battery_pct, "
        "p.accuracy_m FROM (SELECT DISTINCT ON (volunteer_id) * FROM live_positions "
        "WHERE t >= :since AND flags & :mock = 0 ORDER BY volunteer_id, t DESC) p "
        "JOIN volunteers v ON v.id = p.volunteer_id LEFT JOIN areas a ON a.id = v.community_id "
        f"WHERE {in_scope('v.community_id')} "
        "ORDER BY p.t DESC"),
        conn, params={"since": since, "mock": FLAG_MOCK, **scope_params(within)})


def trails(conn: Connection, volunteer_ids: Sequence[int], since: dt.datetime) -> pd.DataFrame:
    """Clean positions since ``since`` of these volunteers, in time order."""
    return pd.read_sql_query(sa.text(
        "SELECT volunteer_id, t, lon, lat FROM live_positions WHERE t >= :since "
        "AND flags = 0 AND volunteer_id = ANY(:v) ORDER BY volunteer_id, t"),
        conn, params={"since": since, "v": list(volunteer_ids)})


# -- live coverage ----------------------------------------------------------------------------

def lock_coverage(conn: Connection) -> bool:
    """Take the coverage lock for this transaction unless another process holds it."""
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"),
                             {"k": COVERAGE_LOCK}).scalar_one())


def cursor(conn: Connection, name: str = "coverage") -> int:
    return int(conn.execute(sa.text("SELECT seq FROM live_cursor WHERE name = :n"),
                            {"n": name}).scalar_one_or_none() or 0)


def coverage_behind(conn: Connection, name: str = "coverage") -> int:
    """Positions stored that the live coverage has not taken in yet."""
    return int(conn.execute(sa.text(
        "SELECT count(*) FROM live_positions WHERE seq > "
        "coalesce((SELECT seq FROM live_cursor WHERE name = :n), 0)"), {"n": name}).scalar_one())


def set_cursor(conn: Connection, seq: int, name: str = "coverage") -> None:
    conn.execute(sa.text(
        "INSERT INTO live_cursor (name, seq) VALUES (:n, :s) "
        "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq"), {"n": name, "s": seq})


def new_clean_fixes(conn: Connection, after: int, limit: int) -> pd.DataFrame:
    """Positions that arrived after ``seq`` ``after`` (oldest first, at most ``limit``), with
    their flags and their track's kind."""
    return pd.read_sql_query(sa.text(
        "SELECT p.seq, p.volunteer_id, extract(epoch FROM p.t)::float8 AS t, p.x, p.y, p.flags, "
        "coalesce(tr.kind, 'patrol') AS kind FROM live_positions p "
        "LEFT JOIN tracks tr ON tr.id = p.track_id "
        "WHERE p.seq > :after ORDER BY p.seq LIMIT :limit"),
        conn, params={"after": after, "limit": limit})


def clean_before(conn: Connection, firsts: pd.DataFrame) -> pd.DataFrame:
    """Per (volunteer, first new t in epoch s, day start in epoch s): the clean position just
    before it on the same local day, if any."""
    rows = conn.execute(sa.text(
        "SELECT k.v, extract(epoch FROM c.t)::float8, c.x, c.y, coalesce(tr.kind, 'patrol') "
        "FROM unnest(CAST(:v AS integer[]), CAST(:t AS float8[]), CAST(:d AS float8[])) "
        "AS k(v, t, d) CROSS JOIN LATERAL (SELECT t, x, y, track_id FROM live_positions "
        "  WHERE volunteer_id = k.v AND flags = 0 AND t < to_timestamp(k.t) "
        "  AND t >= to_timestamp(k.d) ORDER BY t DESC LIMIT 1) c "
        "LEFT JOIN tracks tr ON tr.id = c.track_id"),
        {"v": number_array(firsts["volunteer_id"].to_numpy()),
         "t": number_array(firsts["t"].to_numpy()),
         "d": number_array(firsts["day_start"].to_numpy())}).all()
    return pd.DataFrame(rows, columns=["volunteer_id", "t", "x", "y", "kind"])


def day_cover(conn: Connection, day: dt.date) -> pd.DataFrame:
    """Every segment's stored intervals on ``day`` (segment_id, atoms, starts, ends, last)."""
    return pd.read_sql_query(sa.text(
        "SELECT segment_id, atoms, starts, ends, extract(epoch FROM last_visit)::float8 AS last "
        "FROM live_cover WHERE day = :d"), conn, params={"d": day})


def drop_cover(conn: Connection, day: dt.date, segment_ids: Sequence[int]) -> None:
    """Take out these segments' rows of ``day`` (in the caller's transaction), to be stored
    again merged with new intervals by :func:`store_cover`."""
    if segment_ids:
        conn.execute(sa.text(
            "DELETE FROM live_cover c USING unnest(CAST(:s AS bigint[])) AS k(id) "
            "WHERE c.day = :d AND c.segment_id = k.id"),
            {"d": day, "s": number_array(segment_ids, int)})


def store_cover(conn: Connection, day: dt.date, frame: pd.DataFrame) -> None:
    """Store segments' merged intervals (segment_id, atoms, starts, ends, covered_m, last),
    their earlier rows taken out first by :func:`drop_cover`."""
    if frame.empty:
        return
    query = sql.SQL("COPY live_cover (day, segment_id, atoms, starts, ends, covered_m, "
                    "last_visit) FROM STDIN")
    # COPY's text lines written here: numbers and arrays need no escaping, and psycopg's
    # dumpers would go through every element of every array in Python
    lines = "".join(
        f"{day.isoformat()}\t{int(seg)}\t{number_array(atoms, int)}\t"
        f"{number_array(starts, float)}\t{number_array(ends, float)}\t{float(covered)!r}\t"
        f"{dt.datetime.fromtimestamp(last, dt.UTC).isoformat()}\n"
        for seg, atoms, starts, ends, covered, last in zip(
            frame["segment_id"].tolist(), frame["atoms"], frame["starts"], frame["ends"],
            frame["covered_m"].tolist(), frame["last"].tolist()))
    with driver_connection(conn).cursor() as cur, cur.copy(query) as copy:
        copy.write(lines.encode())


def live_coverage(conn: Connection, day: dt.date, within: Iterable[int] | None) -> pd.DataFrame:
    """Today's live coverage per community: street length, covered length, visited segments."""
    return pd.read_sql_query(sa.text(
        "SELECT a.id AS area_id, a.name, sum(s.length_m) AS total_m, "
        "coalesce(sum(c.covered_m), 0) AS covered_m, count(c.segment_id)::int AS visited, "
        "max(c.last_visit) AS last_visit "
        "FROM areas a JOIN street_segments s ON s.area_id = a.id "
        "LEFT JOIN live_cover c ON c.segment_id = s.id AND c.day = :d "
        f"WHERE a.level = 'community' AND {in_scope('a.id')} "
        "GROUP BY a.id, a.name ORDER BY a.name"),
        conn, params={"d": day, **scope_params(within)})


def covered_segments(conn: Connection, day: dt.date, within: Iterable[int] | None
                     ) -> pd.DataFrame:
    """Segments visited today (WGS-84 lines as GeoJSON text) with their covered share."""
    return pd.read_sql_query(sa.text(
        "SELECT s.id, ST_AsGeoJSON(s.geom, 5) AS geometry, c.covered_m / s.length_m AS share, "
        "c.last_visit FROM live_cover c JOIN street_segments s ON s.id = c.segment_id "
        f"WHERE c.day = :d AND {in_scope('s.area_id')}"),
        conn, params={"d": day, **scope_params(within)})


def prune_live(conn: Connection, before: dt.datetime) -> dict[str, int]:
    """Retention of the live tables: positions, coverage and refused requests' counts older
    than ``before``."""
    positions = conn.execute(sa.text("DELETE FROM live_positions WHERE t < :b"),
                             {"b": before}).rowcount
    cover = conn.execute(sa.text("DELETE FROM live_cover WHERE day < CAST(:b AS date)"),
                         {"b": before}).rowcount
    refusals = conn.execute(sa.text(
        "DELETE FROM intake_refusals WHERE day < CAST(:b AS date)"), {"b": before}).rowcount
    return {"positions": int(positions), "cover": int(cover), "refusals": int(refusals)}


# -- call-outs --------------------------------------------------------------------------------

def on_duty_positions(conn: Connection, since: dt.datetime, bounds_m: tuple[float, ...] | None,
                      on: dt.date) -> pd.DataFrame:
    """The last clean position since ``since`` of every volunteer with an active account of
    the roster (metric x, y), optionally within a metric box, with the skills they hold a
    current certificate in on ``on`` (``skills_held``)."""
    box = "" if bounds_m is None else "AND x BETWEEN :x0 AND :x1 AND y BETWEEN :y0 AND :y1"
    params: dict[str, object] = {"since": since, "on": on}
    if bounds_m is not None:
        params |= dict(zip(("x0", "y0", "x1", "y1"), bounds_m))
    return pd.read_sql_query(sa.text(
        "SELECT p.volunteer_id, v.number, v.name, v.community_id, p.t, p.x, p.y, "
        "certified_skills(v.id, CAST(:on AS date)) AS skills_held "
        "FROM (SELECT DISTINCT ON (volunteer_id) volunteer_id, t, x, y FROM live_positions "
        f"WHERE t >= :since AND flags = 0 {box} ORDER BY volunteer_id, t DESC) p "  # noqa: S608
        "JOIN volunteers v ON v.id = p.volunteer_id WHERE v.active"), conn, params=params)


def candidates_near(conn: Connection, box_m: tuple[float, ...], on: dt.date,
                    since: dt.datetime, recent: dt.datetime) -> pd.DataFrame:
    """Every volunteer whose last clean position since ``since`` lies in a metric box: their
    roster record (occupation, active), that position (x, y, t), their median speed over
    positions after ``recent`` (m/s, NULL when none sent one), whether they have raised an
    SOS still open (``in_sos``) and the skills they hold a current certificate in on
    ``on``."""
    return pd.read_sql_query(sa.text(
        "SELECT p.volunteer_id, v.number, v.name, v.community_id, v.occupation, v.active, "
        "p.t, p.x, p.y, (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY r.speed_mps) "
        "  FROM live_positions r WHERE r.volunteer_id = p.volunteer_id AND r.t >= :recent "
        "  AND r.flags = 0) AS speed_mps, "
        "EXISTS (SELECT 1 FROM callouts s WHERE s.raised_by = v.id AND s.kind = 'sos' "
        "  AND s.closed_at IS NULL) AS in_sos, "
        "certified_skills(v.id, CAST(:on AS date)) AS skills_held "
        "FROM (SELECT DISTINCT ON (volunteer_id) volunteer_id, t, x, y FROM live_positions "
        "WHERE t >= :since AND flags = 0 ORDER BY volunteer_id, t DESC) p "
        "JOIN volunteers v ON v.id = p.volunteer_id "
        "WHERE p.x BETWEEN :x0 AND :x1 AND p.y BETWEEN :y0 AND :y1"),
        conn, params={"since": since, "recent": recent, "on": on,
                      **dict(zip(("x0", "y0", "x1", "y1"), map(float, box_m)))})


def last_position(conn: Connection, volunteer_id: int) -> tuple[float, float] | None:
    """A volunteer's last clean live position (WGS-84 lon, lat)."""
    row = conn.execute(sa.text(
        "SELECT lon, lat FROM live_positions WHERE volunteer_id = :v AND flags = 0 "
        "ORDER BY t DESC LIMIT 1"), {"v": volunteer_id}).one_or_none()
    return None if row is None else (float(row[0]), float(row[1]))


def store_callout(conn: Connection, *, category: str, note: str | None, lon: float, lat: float,
                  srid: int, community_id: int | None, user_id: int | None,
                  targets: pd.DataFrame, skill: str | None = None,
                  skill_required: bool = False, kind: str = "callout",
                  raised_by: int | None = None, ring_size: int = 5, ring_s: float = 60.0,
                  rings: int = 1, left_out: pd.DataFrame | None = None) -> int:
    """A call-out and its ranked targets (``ring``, ``mode``, ``walk_m``, ``eta_s``,
    ``certified``), every one ``waiting`` until their ring is sent; with the volunteers
    left out and why."""
    callout_id = int(conn.execute(sa.text(
        "INSERT INTO callouts (category, note, skill, skill_required, community_id, created_by, "
        "kind, raised_by, ring_size, ring_s, rings, geom, geom_m) VALUES (:c, :n, :s, :sr, :a, "
        ":u, :k, :rb, :rz, :rs, :rn, ST_SetSRID(ST_MakePoint(:x, :y), 4326), "
        "ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), 4326), :srid)) RETURNING id"),
        {"c": category, "n": note, "s": skill, "sr": skill_required, "a": community_id,
         "u": user_id, "k": kind, "rb": raised_by, "rz": ring_size, "rs": ring_s,
         "rn": rings, "x": lon, "y": lat, "srid": srid}).scalar_one())
    if len(targets):
        conn.execute(sa.text(
            "INSERT INTO callout_targets (callout_id, volunteer_id, rank, walk_m, eta_s, "
            "certified, ring, mode, status) SELECT :id, *, 'waiting' FROM unnest("
            "CAST(:v AS integer[]), CAST(:r AS integer[]), CAST(:w AS float8[]), "
            "CAST(:e AS float8[]), CAST(:c AS boolean[]), CAST(:g AS integer[]), "
            "CAST(:m AS text[]))"),
            {"id": callout_id, "v": targets["volunteer_id"].astype(int).tolist(),
             "r": list(range(1, len(targets) + 1)), "w": targets["walk_m"].tolist(),
             "e": targets["eta_s"].tolist(),
             "c": targets["certified"].astype(bool).tolist(),
             "g": targets["ring"].astype(int).tolist(), "m": targets["mode"].tolist()})
    if left_out is not None and len(left_out):
        conn.execute(sa.text(
            "INSERT INTO callout_left_out (callout_id, volunteer_id, reason, mode, eta_s, "
            "seen_at) SELECT :id, * FROM unnest(CAST(:v AS integer[]), CAST(:r AS text[]), "
            "CAST(:m AS text[]), CAST(:e AS float8[]), CAST(:t AS timestamptz[]))"),
            {"id": callout_id, "v": left_out["volunteer_id"].astype(int).tolist(),
             "r": left_out["reason"].tolist(), "m": left_out["mode"].tolist(),
             "e": [None if e != e or e == float("inf") else float(e)
                   for e in left_out["eta_s"]],
             "t": [None if t is pd.NaT else t for t in left_out["t"]]})
    return callout_id


def mark_sent(conn: Connection, callout_id: int, volunteer_ids: Sequence[int]) -> int:
    """The call reached these targets now: sent (a waiting target), its time recorded."""
    return conn.execute(sa.text(
        "UPDATE callout_targets SET sent_at = now(), status = CASE WHEN status = 'waiting' "
        "THEN 'sent' ELSE status END WHERE callout_id = :c AND volunteer_id = ANY(:v)"),
        {"c": callout_id, "v": [int(v) for v in volunteer_ids]}).rowcount


def lock_callout(conn: Connection, callout_id: int) -> dict | None:
    """A call-out's row, locked for this transaction (``None`` when there is none)."""
    row = conn.execute(sa.text(
        "SELECT id, kind, ring, ring_size, ring_s, rings, closed_at, escalated_at, "
        "acknowledged_at, lead_id, raised_by, community_id FROM callouts WHERE id = :id "
        "FOR UPDATE"), {"id": callout_id}).mappings().one_or_none()
    return None if row is None else dict(row)


def ring_targets(conn: Connection, callout_id: int, ring: int) -> list[int]:
    """The volunteers of a ring still waiting for their call."""
    return list(conn.execute(sa.text(
        "SELECT volunteer_id FROM callout_targets WHERE callout_id = :c AND ring = :r "
        "AND status = 'waiting' ORDER BY rank"), {"c": callout_id, "r": ring}).scalars())


def accepted_count(conn: Connection, callout_id: int) -> int:
    return int(conn.execute(sa.text(
        "SELECT count(*) FROM callout_targets WHERE callout_id = :c "
        "AND status IN ('accepted', 'on_way', 'arrived')"), {"c": callout_id}).scalar_one())


def called_targets(conn: Connection, callout_id: int) -> list[int]:
    """Those who were sent the call and did not decline it."""
    return list(conn.execute(sa.text(
        "SELECT volunteer_id FROM callout_targets WHERE callout_id = :c AND sent_at IS NOT NULL "
        "AND status <> 'declined'"), {"c": callout_id}).scalars())


def called_ids(conn: Connection, callout_id: int) -> list[int]:
    """Every volunteer a call-out has reached so far."""
    return list(conn.execute(sa.text(
        "SELECT volunteer_id FROM callout_targets WHERE callout_id = :c "
        "AND sent_at IS NOT NULL ORDER BY rank"), {"c": callout_id}).scalars())


def set_ring(conn: Connection, callout_id: int, ring: int) -> None:
    conn.execute(sa.text("UPDATE callouts SET ring = :r WHERE id = :c"),
                 {"r": ring, "c": callout_id})


def escalate_callout(conn: Connection, callout_id: int) -> bool:
    """The station's group and the command alerted: ``False`` when already done."""
    return conn.execute(sa.text(
        "UPDATE callouts SET escalated_at = now() WHERE id = :c AND escalated_at IS NULL"),
        {"c": callout_id}).rowcount > 0


def acknowledge_callout(conn: Connection, callout_id: int, user_id: int) -> str | None:
    """An officer owns an alarm; the owner's name when another acknowledged it first."""
    done = conn.execute(sa.text(
        "UPDATE callouts SET acknowledged_by = :u, acknowledged_at = now() WHERE id = :c "
        "AND acknowledged_at IS NULL AND closed_at IS NULL"),
        {"u": user_id, "c": callout_id}).rowcount
    if done:
        return None
    return conn.execute(sa.text(
        "SELECT coalesce(u.username, '') FROM callouts c LEFT JOIN users u "
        "ON u.id = c.acknowledged_by WHERE c.id = :c"), {"c": callout_id}).scalar_one()


def close_callout(conn: Connection, callout_id: int, outcome: str, user_id: int | None) -> bool:
    """Closed with an outcome; ``False`` when it was closed already."""
    return conn.execute(sa.text(
        "UPDATE callouts SET closed_at = now(), outcome = :o, closed_by = :u WHERE id = :c "
        "AND closed_at IS NULL"), {"o": outcome, "u": user_id, "c": callout_id}).rowcount > 0


def open_sos(conn: Connection, volunteer_id: int) -> int | None:
    """The open SOS a volunteer raised, if any."""
    return conn.execute(sa.text(
        "SELECT id FROM callouts WHERE raised_by = :v AND kind = 'sos' AND closed_at IS NULL "
        "ORDER BY id DESC LIMIT 1"), {"v": volunteer_id}).scalar_one_or_none()


def sos_raised(conn: Connection, volunteer_id: int, since: dt.datetime) -> int:
    """How many SOS a volunteer raised since ``since`` (withdrawn and closed ones too)."""
    return int(conn.execute(sa.text(
        "SELECT count(*) FROM callouts WHERE raised_by = :v AND kind = 'sos' "
        "AND created_at >= :s"), {"v": volunteer_id, "s": since}).scalar_one())


def own_sos(conn: Connection, volunteer_id: int) -> pd.DataFrame:
    """The open SOS a volunteer raised (at most one row): when, whether an officer has taken
    it (who, when), and how many volunteers were called, are coming (accepted, on the way
    or arrived) and have arrived."""
    return pd.read_sql_query(sa.text(
        "SELECT c.id, c.created_at, c.acknowledged_at IS NOT NULL AS taken, c.acknowledged_at, "
        "(SELECT u.username FROM users u WHERE u.id = c.acknowledged_by) AS officer, "
        "count(t.volunteer_id) FILTER (WHERE t.sent_at IS NOT NULL) AS called, "
        "count(t.volunteer_id) FILTER (WHERE t.status IN ('accepted', 'on_way', 'arrived')) "
        "AS coming, count(t.volunteer_id) FILTER (WHERE t.status = 'arrived') AS arrived "
        "FROM callouts c LEFT JOIN callout_targets t ON t.callout_id = c.id "
        "WHERE c.raised_by = :v AND c.kind = 'sos' AND c.closed_at IS NULL "
        "GROUP BY c.id ORDER BY c.id DESC LIMIT 1"), conn, params={"v": volunteer_id})


def ended_sos(conn: Connection, volunteer_id: int, within_min: float) -> pd.DataFrame:
    """The SOS a volunteer raised that was closed in the last ``within_min`` minutes (at
    most one row, the latest): when, how, by whom."""
    return pd.read_sql_query(sa.text(
        "SELECT c.id, c.closed_at, c.outcome, u.username AS closed_by FROM callouts c "
        "LEFT JOIN users u ON u.id = c.closed_by WHERE c.raised_by = :v AND c.kind = 'sos' "
        "AND c.closed_at > now() - make_interval(secs => :s) ORDER BY c.closed_at DESC "
        "LIMIT 1"), conn, params={"v": volunteer_id, "s": within_min * 60})


# -- no movement during a patrol ---------------------------------------------------------------

#: A move: a clean position of the alarm's volunteer, received after it was raised (and
#: taken at most a few minutes before: a phone's late buffer from earlier is no move), farther
#: than the radius from where it was raised.
_MOVED_SINCE = (
    "EXISTS (SELECT 1 FROM live_positions q WHERE q.volunteer_id = a.raised_by "
    "AND q.flags = 0 AND q.t > a.created_at - interval '5 minutes' "
    "AND q.received_at > a.created_at "
    "AND (q.x - ST_X(a.geom_m)) ^ 2 + (q.y - ST_Y(a.geom_m)) ^ 2 > :r * :r)")


def lock_still(conn: Connection) -> bool:
    """Take the stillness check's lock for this transaction unless another check holds it."""
    return bool(conn.execute(sa.text("SELECT pg_try_advisory_xact_lock(:k)"),
                             {"k": STILL_LOCK}).scalar_one())


#: Where a volunteer stopped (``c``: their last clean position), a WGS-84 point.
_STOPPED_AT = "ST_SetSRID(ST_MakePoint(c.lon, c.lat), 4326)"


def raise_still(conn: Connection, *, still_s: float, radius_m: float, fresh: dt.datetime,
                srid: int) -> list[dict]:
    """One statement for every device: a "no movement" alarm (``kind = 'still'``) for each
    active volunteer with a device whose last clean position (since ``fresh``) is on a patrol
    track that has gone on for ``still_s`` seconds, with none of its positions of those
    last ``still_s`` seconds farther than ``radius_m`` from it. Not raised twice for one
    stop: an alarm of this track the volunteer has not moved away from since (open or
    closed) stands for it. Filed under the community where the volunteer stopped (else
    their own). The new alarms (id, volunteer, community)."""
    rows = conn.execute(sa.text(f"""
        WITH cur AS (
            SELECT p.* FROM (SELECT DISTINCT volunteer_id FROM devices
                             WHERE disabled_at IS NULL) d
            CROSS JOIN LATERAL (
                SELECT volunteer_id, t, lon, lat, x, y, track_id FROM live_positions
                WHERE volunteer_id = d.volunteer_id AND flags = 0
                ORDER BY t DESC LIMIT 1) p
            WHERE p.t >= :fresh),
        still AS (
            SELECT c.*, coalesce({community_at_sql(_STOPPED_AT)}, v.community_id)
                AS community_id
            FROM cur c
            JOIN volunteers v ON v.id = c.volunteer_id AND v.active
            JOIN tracks tr ON tr.id = c.track_id AND tr.kind = 'patrol'
             AND tr.started_at <= c.t - make_interval(secs => :s)
            WHERE NOT EXISTS (
                SELECT 1 FROM live_positions q WHERE q.volunteer_id = c.volunteer_id
                AND q.flags = 0 AND q.t >= c.t - make_interval(secs => :s) AND q.t <= c.t
                AND (q.x - c.x) ^ 2 + (q.y - c.y) ^ 2 > :r * :r)
            AND NOT EXISTS (
                SELECT 1 FROM callouts a WHERE a.kind = 'still'
                AND a.raised_by = c.volunteer_id AND a.created_at >= tr.started_at
                AND NOT {_MOVED_SINCE}))
        INSERT INTO callouts (category, kind, raised_by, community_id, ring_size, ring_s,
                              rings, geom, geom_m)
        SELECT 'still', 'still', volunteer_id, community_id, 0, 0, 0,
               ST_SetSRID(ST_MakePoint(lon, lat), 4326),
               ST_SetSRID(ST_MakePoint(x, y), :srid)
        FROM still ORDER BY volunteer_id
        RETURNING id, raised_by AS volunteer_id, community_id"""),
        {"s": float(still_s), "r": float(radius_m), "fresh": fresh, "srid": int(srid)})
    return [dict(r) for r in rows.mappings()]


def clear_still(conn: Connection, *, radius_m: float) -> list[dict]:
    """Open "no movement" alarms whose volunteer has moved since: closed (``resolved``, by
    nobody). The cleared alarms (id, volunteer, community)."""
    rows = conn.execute(sa.text(
        "UPDATE callouts a SET closed_at = now(), outcome = 'resolved' "
        f"WHERE a.kind = 'still' AND a.closed_at IS NULL AND {_MOVED_SINCE} "
        "RETURNING a.id, a.raised_by AS volunteer_id, a.community_id"),
        {"r": float(radius_m)})
    return [dict(r) for r in rows.mappings()]


def open_still(conn: Connection, volunteer_id: int) -> dict | None:
    """A volunteer's open "no movement" alarm (id, created_at), if any."""
    row = conn.execute(sa.text(
        "SELECT id, created_at FROM callouts WHERE raised_by = :v AND kind = 'still' "
        "AND closed_at IS NULL ORDER BY id DESC LIMIT 1"), {"v": volunteer_id}
    ).mappings().one_or_none()
    return None if row is None else dict(row)


def volunteer_area(conn: Connection, volunteer_id: int) -> int | None:
    return conn.execute(sa.text("SELECT community_id FROM volunteers WHERE id = :v"),
                        {"v": volunteer_id}).scalar_one_or_none()


_COUNTS = (
    "count(t.volunteer_id) FILTER (WHERE t.sent_at IS NOT NULL)::int AS called, "
    "count(*) FILTER (WHERE t.status = 'waiting')::int AS waiting, "
    "count(*) FILTER (WHERE t.status IN ('accepted', 'on_way', 'arrived'))::int AS accepted, "
    "count(*) FILTER (WHERE t.status IN ('on_way', 'arrived'))::int AS on_way, "
    "count(*) FILTER (WHERE t.status = 'declined')::int AS declined, "
    "count(*) FILTER (WHERE t.status = 'arrived')::int AS arrived ")


def callout_table(conn: Connection, within: Iterable[int] | None, limit: int = 50, *,
                  callout_id: int | None = None) -> pd.DataFrame:
    """Recent call-outs with their targets' states (they add up: ``accepted`` counts those
    on the way and arrived, ``on_way`` the arrived), place, lead and alarm state (only the
    call-out ``callout_id``, however old, when one is asked for)."""
    return pd.read_sql_query(sa.text(
        "SELECT c.id, c.kind, c.category, c.note, c.skill, c.skill_required, c.created_at, "
        "c.closed_at, c.outcome, c.escalated_at, c.acknowledged_at, c.ring, c.rings, "
        "a.name AS community, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, "
        "u.username AS called_by, ack.username AS owner, lead.number AS lead, "
        "raiser.number AS raised_by_number, raiser.name AS raised_by_name, "
        "np.street, np.cross_a, np.cross_b, "
        f"{_COUNTS}"
        "FROM callouts c LEFT JOIN callout_targets t ON t.callout_id = c.id "
        "LEFT JOIN areas a ON a.id = c.community_id LEFT JOIN users u ON u.id = c.created_by "
        "LEFT JOIN users ack ON ack.id = c.acknowledged_by "
        "LEFT JOIN volunteers lead ON lead.id = c.lead_id "
        f"LEFT JOIN volunteers raiser ON raiser.id = c.raised_by {nearest_piece('c.geom_m')} "
        f"WHERE {in_scope('c.community_id')} "
        "AND (CAST(:one AS integer) IS NULL OR c.id = :one) "
        "GROUP BY c.id, a.name, u.username, ack.username, lead.number, raiser.number, "
        "raiser.name, np.street, np.cross_a, np.cross_b "
        "ORDER BY c.created_at DESC LIMIT :limit"),
        conn, params={**scope_params(within), "limit": limit, "one": callout_id})


def open_alarms(conn: Connection, within: Iterable[int] | None) -> pd.DataFrame:
    """Open SOS (and stillness) alarms, oldest first, with their owner once acknowledged."""
    return pd.read_sql_query(sa.text(f"""
        SELECT c.id, c.kind, c.created_at, c.acknowledged_at, c.escalated_at,
               ack.username AS owner, v.number, v.name, np.street, np.cross_a, np.cross_b,
               ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat
        FROM callouts c
        LEFT JOIN users ack ON ack.id = c.acknowledged_by
        LEFT JOIN volunteers v ON v.id = c.raised_by {nearest_piece('c.geom_m')}
        WHERE c.kind IN ('sos', 'still') AND c.closed_at IS NULL
          AND {in_scope('c.community_id')}
        ORDER BY c.created_at"""), conn, params=scope_params(within))


def callout_targets(conn: Connection, callout_id: int, radius_m: float) -> pd.DataFrame:
    """Who a call-out called, best first, with ``seen_there``: whether an arrived one's own
    positions came within ``radius_m`` of it (not only their word)."""
    return pd.read_sql_query(sa.text(
        "SELECT t.volunteer_id, v.number, v.name, t.rank, t.ring, t.mode, t.walk_m, t.eta_s, "
        "t.status, t.certified, t.sent_at, t.answered_at, t.on_way_at, t.arrived_at, "
        "c.lead_id = t.volunteer_id AS lead, "
        f"t.status = 'arrived' AND EXISTS ({_SEEN_THERE}) AS seen_there "
        "FROM callout_targets t JOIN callouts c ON c.id = t.callout_id "
        "JOIN volunteers v ON v.id = t.volunteer_id WHERE t.callout_id = :id ORDER BY t.rank"),
        conn, params={"id": callout_id, "r": radius_m})


def callout_left_out(conn: Connection, callout_id: int) -> pd.DataFrame:
    """The volunteers near a call-out who were not called, and why, nearest first."""
    return pd.read_sql_query(sa.text(
        "SELECT l.volunteer_id, v.number, v.name, l.reason, l.mode, l.eta_s, l.seen_at "
        "FROM callout_left_out l JOIN volunteers v ON v.id = l.volunteer_id "
        "WHERE l.callout_id = :id ORDER BY l.eta_s NULLS LAST, v.number"),
        conn, params={"id": callout_id})


def callout_sites(conn: Connection, callout_id: int) -> tuple[dict, pd.DataFrame]:
    """A call-out's incident (category, note, place: its nearest street and cross streets,
    lon, lat) and each volunteer called so far with their walk, ETA, answer and last known
    position while the call-out is open, sent since it was raised (``lon``/``lat`` NULL
    when none: a closed call-out tracks nobody)."""
    incident = callout_incident(conn, callout_id)
    targets = pd.read_sql_query(sa.text("""
        SELECT t.rank, t.volunteer_id, v.number, v.name, v.community_id, t.walk_m, t.eta_s,
               t.mode, t.status, p.lon, p.lat, p.t AS seen_at
        FROM callout_targets t JOIN volunteers v ON v.id = t.volunteer_id
        JOIN callouts c ON c.id = t.callout_id
        LEFT JOIN LATERAL (SELECT lp.lon, lp.lat, lp.t FROM live_positions lp
                           WHERE lp.volunteer_id = t.volunteer_id AND c.closed_at IS NULL
                             AND lp.t >= c.created_at - interval '10 minutes'
                           ORDER BY lp.t DESC LIMIT 1) p ON true
        WHERE t.callout_id = :id AND t.sent_at IS NOT NULL ORDER BY t.rank"""),
        conn, params={"id": callout_id})
    return incident, targets


def callout_incident(conn: Connection, callout_id: int) -> dict:
    """A call-out's incident: kind, category, note, community, where (lon, lat) and its
    nearest street and cross streets."""
    return dict(conn.execute(sa.text(f"""
        SELECT c.id, c.kind, c.category, c.note, c.community_id, ST_X(c.geom) AS lon,
               ST_Y(c.geom) AS lat, np.street, np.cross_a, np.cross_b
        FROM callouts c {nearest_piece('c.geom_m')} WHERE c.id = :id"""),
        {"id": callout_id}).mappings().one())


def callout_area(conn: Connection, callout_id: int) -> int | None:
    row = conn.execute(sa.text("SELECT community_id FROM callouts WHERE id = :id"),
                       {"id": callout_id}).one_or_none()
    if row is None:
        raise LookupError(callout_id)
    return row[0]


def volunteer_callouts(conn: Connection, volunteer_id: int) -> pd.DataFrame:
    """A volunteer's call-outs of the last day that reached them, open ones first, newest
    first, with the place named by its street and cross streets, and the time of the
    volunteer's last position (``seen_at``)."""
    return pd.read_sql_query(sa.text(
        "SELECT c.id, c.kind, c.category, c.note, c.created_at, c.closed_at, c.outcome, "
        "(SELECT max(lp.t) FROM live_positions lp WHERE lp.volunteer_id = t.volunteer_id "
        " AND lp.flags = 0) AS seen_at, "
        "ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, t.status, t.walk_m, t.eta_s, t.mode, "
        "t.arrived_at, c.lead_id = t.volunteer_id AS lead, np.street, np.cross_a, np.cross_b, "
        "raiser.number AS raised_by_number "
        "FROM callout_targets t JOIN callouts c ON c.id = t.callout_id "
        f"LEFT JOIN volunteers raiser ON raiser.id = c.raised_by {nearest_piece('c.geom_m')} "
        "WHERE t.volunteer_id = :v AND t.sent_at IS NOT NULL "
        "AND c.created_at > now() - interval '1 day' "
        "ORDER BY c.closed_at IS NOT NULL, c.created_at DESC"),
        conn, params={"v": volunteer_id})


#: The answers a called volunteer gives, and the states each may follow.
ANSWERS = {"accepted": ("sent", "declined"), "declined": ("sent", "accepted", "on_way"),
           "on_way": ("sent", "accepted"), "arrived": ("accepted", "on_way")}


def answer_callout(conn: Connection, callout_id: int, volunteer_id: int, status: str) -> bool:
    """Accept, decline, on the way or arrived, on an open call-out that reached the
    volunteer; ``False`` otherwise. The first to accept (or set out, or arrive) leads; a
    lead who declines hands the lead to the next who accepted."""
    stamp = {"on_way": ", on_way_at = now()", "arrived": ", arrived_at = now()"}.get(status, "")
    done = conn.execute(sa.text(
        f"UPDATE callout_targets t SET status = :s, answered_at = now(){stamp} "
        "FROM callouts c WHERE c.id = t.callout_id AND c.closed_at IS NULL "
        "AND t.callout_id = :c AND t.volunteer_id = :v AND t.sent_at IS NOT NULL "
        "AND t.status = ANY(:from)"),
        {"s": status, "c": callout_id, "v": volunteer_id,
         "from": list(ANSWERS[status])}).rowcount > 0
    if done:
        _settle_lead(conn, callout_id)
    return done


def all_declined(conn: Connection, callout_id: int) -> bool:
    """Everyone the call-out has called so far declined it (its ring need not run out)."""
    return bool(conn.execute(sa.text(
        "SELECT NOT EXISTS (SELECT 1 FROM callout_targets WHERE callout_id = :c "
        "AND sent_at IS NOT NULL AND status <> 'declined')"), {"c": callout_id}).scalar_one())


def _settle_lead(conn: Connection, callout_id: int) -> None:
    """The lead: the first still accepting, by the time they answered."""
    conn.execute(sa.text(
        "UPDATE callouts c SET lead_id = (SELECT t.volunteer_id FROM callout_targets t "
        "WHERE t.callout_id = c.id AND t.status IN ('accepted', 'on_way', 'arrived') "
        "ORDER BY (t.volunteer_id = c.lead_id) DESC, t.answered_at NULLS LAST, t.rank "
        "LIMIT 1) WHERE c.id = :c"), {"c": callout_id})


#: The first of a target ``t``'s own clean positions within ``:r`` metres of its call-out
#: ``c`` since it was called (its key's range of ``live_positions``): where the volunteer
#: was seen there.
_SEEN_THERE = (
    "SELECT p.t FROM live_positions p "
    "WHERE p.volunteer_id = t.volunteer_id AND p.t >= t.sent_at AND p.flags = 0 "
    "AND (p.x - ST_X(c.geom_m)) ^ 2 + (p.y - ST_Y(c.geom_m)) ^ 2 <= :r * :r "
    "ORDER BY p.t LIMIT 1")


def mark_arrivals(conn: Connection, radius_m: float) -> int:
    """Targets sent the call (not declined) whose own positions came within ``radius_m`` of
    the incident after they were called: arrived, at the first such position."""
    done = conn.execute(sa.text(
        "UPDATE callout_targets t SET status = 'arrived', arrived_at = a.t FROM ("
        "  SELECT t.callout_id, t.volunteer_id, p.t FROM callout_targets t "
        "  JOIN callouts c ON c.id = t.callout_id AND c.closed_at IS NULL "
        # from the open targets only: no call-out open, no position read
        f"  CROSS JOIN LATERAL ({_SEEN_THERE}) p "
        "  WHERE t.status IN ('sent', 'accepted', 'on_way') AND t.sent_at IS NOT NULL) a "
        "WHERE t.callout_id = a.callout_id AND t.volunteer_id = a.volunteer_id "
        "RETURNING t.callout_id"), {"r": radius_m}).scalars().all()
    for callout_id in set(done):
        _settle_lead(conn, callout_id)
    return len(done)


def latest_callout(conn: Connection, kind: str, after: int = 0, *, closed: bool = False
                   ) -> int | None:
    """The newest call-out of ``kind`` with an id above ``after``, open ones only unless
    ``closed``."""
    return conn.execute(sa.text(
        "SELECT max(id) FROM callouts WHERE kind = :k AND id > :a "
        "AND (CAST(:closed AS boolean) OR closed_at IS NULL)"),
        {"k": kind, "a": after, "closed": closed}).scalar_one()


def first_called(conn: Connection, callout_id: int, count: int) -> list[tuple[int, str]]:
    """The first ``count`` volunteers a call-out reached (id, number), best first."""
    return [(int(r[0]), r[1]) for r in conn.execute(sa.text(
        "SELECT t.volunteer_id, v.number FROM callout_targets t JOIN volunteers v "
        "ON v.id = t.volunteer_id WHERE t.callout_id = :c AND t.sent_at IS NOT NULL "
        "ORDER BY t.rank LIMIT :n"), {"c": callout_id, "n": count})]


def fixes_for_replay(conn: Connection, start: dt.datetime, end: dt.datetime) -> pd.DataFrame:
    """Stored clean fixes of a time span with their volunteer numbers, WGS-84 (for replay)."""
    return pd.read_sql_query(sa.text("""
        SELECT v.number, extract(epoch FROM f.t)::float8 AS t,
               ST_X(ST_Transform(f.geom_m, 4326)) AS lon,
               ST_Y(ST_Transform(f.geom_m, 4326)) AS lat, f.accuracy_m, f.speed_mps
        FROM patrol_fixes f JOIN volunteers v ON v.id = f.volunteer_id
        WHERE f.t >= :a AND f.t < :b AND f.flags = 0
        ORDER BY f.t"""), conn, params={"a": start, "b": end})


def busiest_hour(conn: Connection) -> dt.datetime | None:
    """The start of the hour with the most fixes among stored file uploads (not live)."""
    return conn.execute(sa.text(
        "SELECT date_trunc('hour', t.started_at) FROM tracks t JOIN uploads u "
        "ON u.id = t.upload_id WHERE u.kind = 'tracks' GROUP BY 1 "
        "ORDER BY sum(t.n_fixes) DESC LIMIT 1")).scalar_one_or_none()
