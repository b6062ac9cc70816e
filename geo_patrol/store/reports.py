"""Volunteers' reports from the street: their photos, their triage (verify, reject, merge,
hazard, station), duplicates proposed by place, time and category, and the command's
figures."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import NotFoundError
from geo_patrol.store.scope import Within, in_scope, scope_params

#: Outcomes of triage that verify a report as true.
TRUE_OUTCOMES = ("verified", "hazard", "station")


def report_by_key(conn: Connection, key: str, volunteer_id: int) -> int | None:
    """The report a volunteer's phone already sent under ``key`` (sent again: stored once)."""
    return conn.execute(sa.text(
        "SELECT id FROM reports WHERE external_id = :k AND volunteer_id = :v"),
        {"k": key, "v": volunteer_id}).scalar()


def add_media(conn: Connection, report_id: int, rows: list[dict[str, Any]]) -> None:
    """The photos (and video) of a report (one row each; the same file twice is kept
    once); ``kind`` is ``photo`` unless a row says ``video``."""
    if rows:
        conn.execute(sa.text("""
            INSERT INTO report_media (report_id, sha256, kind, mime, bytes, width, height,
                                      exif_at, exif_lon, exif_lat, exif_check)
            VALUES (:report, :sha256, :kind, :mime, :bytes, :width, :height, :exif_at,
                    :exif_lon, :exif_lat, :exif_check)
            ON CONFLICT ON CONSTRAINT report_media_item_key DO NOTHING"""),
            [{"report": report_id, "kind": "photo", **r} for r in rows])


def metric_point(conn: Connection, lon: float, lat: float, srid: int) -> tuple[float, float]:
    """A WGS-84 point in the city's metric CRS."""
    x, y = conn.execute(sa.text(
        "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, "
        ":lat), 4326), :srid) AS p) s"), {"lon": lon, "lat": lat, "srid": srid}).one()
    return float(x), float(y)


def media_item(conn: Connection, media_id: int, *, within: Within = None,
               volunteer_id: int | None = None) -> dict[str, Any]:
    """A photo's hash, if its report lies in the communities ``within`` (or is the
    volunteer's own); :class:`NotFoundError` otherwise, as for a photo that does not exist."""
    row = conn.execute(sa.text(f"""
        SELECT m.id, m.sha256, m.report_id, m.kind, m.mime FROM report_media m
        JOIN reports r ON r.id = m.report_id
        WHERE m.id = :m AND {in_scope('r.community_id')}
          AND (CAST(:v AS integer) IS NULL OR r.volunteer_id = :v)"""),
        {"m": media_id, "v": volunteer_id, **scope_params(within)}).mappings().first()
    if row is None:
        raise NotFoundError(f"no photo {media_id}")
    return dict(row)


def media_of(conn: Connection, report_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The photos of each report: id and how its EXIF compares with the reporter's track."""
    out: dict[int, list[dict[str, Any]]] = {}
    for row in conn.execute(sa.text(
            "SELECT id, report_id, kind, mime, exif_check FROM report_media "
            "WHERE report_id = ANY(:r) "
            "ORDER BY report_id, id"), {"r": [int(r) for r in report_ids]}).mappings():
        out.setdefault(int(row["report_id"]), []).append(dict(row))
    return out


def lock_report(conn: Connection, report_id: int, within: Within = None) -> dict[str, Any]:
    """A report to triage, locked, with its point in WGS-84; :class:`NotFoundError` when it
    lies outside the communities ``within``."""
    row = conn.execute(sa.text(f"""
        SELECT r.id, r.volunteer_id, r.category, r.text, r.verification, r.outcome,
               r.community_id, r.reported_at, r.hazard_id, ST_X(r.geom) AS lon,
               ST_Y(r.geom) AS lat
        FROM reports r WHERE r.id = :r AND {in_scope('r.community_id')} FOR UPDATE"""),
        {"r": report_id, **scope_params(within)}).mappings().first()
    if row is None:
        raise NotFoundError(f"no report {report_id}")
    return dict(row)


def set_outcome(conn: Connection, report_id: int, *, outcome: str, answer: str | None,
                by: str, duplicate_of: int | None = None, hazard_id: int | None = None,
                station_id: int | None = None) -> None:
    """Record what triage made of a report."""
    verification = "verified" if outcome in TRUE_OUTCOMES else outcome
    conn.execute(sa.text("""
        UPDATE reports SET outcome = :o, verification = :v, answer = :a, triaged_by = :by,
               triaged_at = now(), duplicate_of = coalesce(:d, duplicate_of),
               hazard_id = coalesce(:h, hazard_id), station_id = :s
        WHERE id = :r"""), {"o": outcome, "v": verification, "a": answer, "by": by,
                            "d": duplicate_of, "h": hazard_id, "s": station_id,
                            "r": report_id})


def station_of(conn: Connection, report_id: int) -> int | None:
    """The police station jurisdiction (派出所辖区) a report lies in, if one is stored."""
    return conn.execute(sa.text("""
        SELECT s.id FROM reports r JOIN areas s ON s.level = 'station'
         AND ST_Intersects(s.geom, r.geom) WHERE r.id = :r ORDER BY s.id LIMIT 1"""),
        {"r": report_id}).scalar()


def earlier_reports(conn: Connection, *, within: Within = None, radius_m: float,
                    hours: float) -> dict[int, int]:
    """Pending reports that look like an earlier one (a photo of it byte for byte, or the
    same category within ``radius_m`` and ``hours`` before): report id → the earliest such
    report, for triage to merge."""
    return {int(a): int(b) for a, b in conn.execute(sa.text(f"""
        SELECT r.id, coalesce(
                   (SELECT e.id FROM report_media mr
                    JOIN report_media me ON me.sha256 = mr.sha256 AND me.report_id <> r.id
                    JOIN reports e ON e.id = me.report_id AND e.verification <> 'merged'
                    WHERE mr.report_id = r.id AND (e.reported_at, e.id) < (r.reported_at, r.id)
                    ORDER BY e.reported_at, e.id LIMIT 1),
                   (SELECT e.id FROM reports e
                    WHERE e.id <> r.id AND e.category = r.category
                      AND e.verification <> 'merged'
                      AND (e.reported_at, e.id) < (r.reported_at, r.id)
                      AND e.reported_at >= r.reported_at
                          - make_interval(secs => CAST(:h AS float) * 3600)
                      AND ST_DWithin(e.geom_m, r.geom_m, :d)
                    ORDER BY e.reported_at, e.id LIMIT 1)) AS first
        FROM reports r WHERE r.verification = 'pending' AND {in_scope('r.community_id')}"""),
        {"d": radius_m, "h": hours, **scope_params(within)}) if b is not None}


def report_exists(conn: Connection, report_id: int, within: Within = None) -> bool:
    return conn.execute(sa.text(
        f"SELECT 1 FROM reports r WHERE r.id = :r AND {in_scope('r.community_id')}"),
        {"r": report_id, **scope_params(within)}).first() is not None


def reports_version(conn: Connection) -> tuple[int, int]:
    """What the report figures are read from, as the version of the reports (raised by every
    statement that adds, changes or removes reports) and the latest upload (areas)."""
    row = conn.execute(sa.text(
        "SELECT (SELECT coalesce(max(version), 0) FROM input_versions WHERE name = 'reports'), "
        "(SELECT coalesce(max(id), 0) FROM uploads)")).one()
    return int(row[0]), int(row[1])


def report_figures(conn: Connection, *, within: Within = None, since: dt.datetime,
                   until: dt.datetime, area_id: int | None = None) -> pd.DataFrame:
    """Per community and category, reports made in ``[since, until)``: how many, verified,
    rejected, merged, still pending, hazards they added, and the median hours to triage.
    No personal data (counts only). ``area_id`` keeps the communities inside one area."""
    return pd.read_sql_query(sa.text(f"""
        SELECT a.id AS community_id, a.name AS community, r.category, count(*) AS reports,
               count(*) FILTER (WHERE r.outcome IN ('verified', 'hazard', 'station')
                                OR (r.outcome IS NULL AND r.verification = 'verified'))
                   AS verified,
               count(*) FILTER (WHERE r.verification = 'rejected') AS rejected,
               count(*) FILTER (WHERE r.verification = 'merged') AS merged,
               count(*) FILTER (WHERE r.verification = 'pending') AS pending,
               count(*) FILTER (WHERE r.outcome = 'hazard' AND r.hazard_id IS NOT NULL)
                   AS hazards,
               percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM
                   r.triaged_at - coalesce(r.received_at, r.reported_at)) / 3600.0)
                   FILTER (WHERE r.triaged_at IS NOT NULL) AS triage_h
        FROM reports r JOIN areas a ON a.id = r.community_id
        WHERE r.reported_at >= :a AND r.reported_at < :b AND {in_scope('r.community_id')}
          AND (CAST(:area AS integer) IS NULL OR a.id IN (SELECT area_subtree(:area)))
        GROUP BY a.id, a.name, r.category ORDER BY a.name, r.category"""), conn,
        params={"a": since, "b": until, "area": area_id, **scope_params(within)})


def media_before(conn: Connection, before: dt.datetime) -> list[str]:
    """Hashes of photos whose reports are older than ``before`` and triaged; removed from
    the table in the same statement (their files go next)."""
    gone = [str(r[0]) for r in conn.execute(sa.text("""
        DELETE FROM report_media m USING reports r
        WHERE r.id = m.report_id AND r.reported_at < :t AND r.verification <> 'pending'
        RETURNING m.sha256"""), {"t": before})]
    still = set(conn.execute(sa.text(
        "SELECT sha256 FROM report_media WHERE sha256 = ANY(:s)"), {"s": gone}).scalars())
    return sorted(set(gone) - still)
