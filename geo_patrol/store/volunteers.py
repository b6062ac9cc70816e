"""Volunteers and teams: upsert by volunteer number, duplicates caught by keyed ID hash."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import N_, InputError
from geo_patrol.ingest.problems import Problems
from geo_patrol.privacy import Vault
from geo_patrol.store.scope import in_scope, scope_params


def community_ids(conn: Connection, names: Sequence[str]) -> dict[str, int]:
    """Stored communities (or finer/coarser named areas) by name."""
    rows = conn.execute(sa.text(
        "SELECT DISTINCT ON (name) name, id FROM areas WHERE name = ANY(:names) "
        "ORDER BY name, CASE level WHEN 'community' THEN 0 WHEN 'grid' THEN 1 "
        "WHEN 'station' THEN 2 ELSE 3 END"), {"names": list(names)})
    return {r.name: r.id for r in rows}


def store_volunteers(conn: Connection, roster: pd.DataFrame, *, vault: Vault, upload_id: int,
                     source: str) -> tuple[int, int]:
    """Insert new volunteers and update known ones (same number); returns (inserted, updated)."""
    problems = Problems(source)  # every row the database refuses, named at once
    names = sorted(set(roster["community"].dropna()) - {""})
    found = community_ids(conn, names)
    rows = roster.index.to_numpy()
    problems.flag((roster["community"].notna() & (roster["community"] != "")
                   & ~roster["community"].isin(list(found))).to_numpy(), rows, "community",
                  N_("No community named %(value)s is loaded."),
                  lambda i: {"value": str(roster["community"].iloc[i])[:40]})
    hashes = [vault.keyed_hash(v) if isinstance(v, str) and v else None
              for v in roster["id_number"]]
    known = conn.execute(sa.text(
        "SELECT id_hash, number FROM volunteers WHERE id_hash = ANY(:h)"),
        {"h": [h for h in hashes if h is not None]}).all()
    owner = {bytes(h): n for h, n in known}
    taken = np.array([h is not None and owner.get(h, number) != number
                      for number, h in zip(roster["number"], hashes)], dtype=bool)
    problems.flag(taken, rows, "id_number",
                  N_("This ID number is already registered as volunteer %(value)s."),
                  lambda i: {"value": str(owner[hashes[i]])[:40]})
    problems.raise_if_any()
    existing = set(conn.execute(sa.text("SELECT number FROM volunteers WHERE number = ANY(:n)"),
                                {"n": roster["number"].tolist()}).scalars())
    params = [
        {"number": r.number, "name": r.name, "phone": r.phone,
         "cipher": vault.encrypt(r.id_number) if r.id_number else None, "hash": h,
         "occupation": r.occupation, "skills": r.skills, "duties": r.duties,
         "community": found.get(r.community) if r.community else None, "active": r.active,
         "upload": upload_id}
        for r, h in zip(roster.itertuples(), hashes)]
    conn.execute(sa.text(
        "INSERT INTO volunteers (number, name, phone, id_cipher, id_hash, occupation, skills, "
        "duties, community_id, active, upload_id) VALUES (:number, :name, :phone, :cipher, "
        ":hash, :occupation, :skills, :duties, :community, :active, :upload) "
        "ON CONFLICT (number) DO UPDATE SET name = EXCLUDED.name, phone = EXCLUDED.phone, "
        "id_cipher = EXCLUDED.id_cipher, id_hash = EXCLUDED.id_hash, "
        "occupation = EXCLUDED.occupation, skills = EXCLUDED.skills, duties = EXCLUDED.duties, "
        "community_id = EXCLUDED.community_id, active = EXCLUDED.active, "
        "upload_id = EXCLUDED.upload_id"), params)
    teams = sorted({t for ts in roster["teams"] for t in ts})
    if teams:
        conn.execute(sa.text("INSERT INTO teams (name) SELECT unnest(CAST(:t AS text[])) "
                             "ON CONFLICT (name) DO NOTHING"), {"t": teams})
    conn.execute(sa.text(
        "DELETE FROM volunteer_teams USING volunteers v WHERE v.id = volunteer_id "
        "AND v.number = ANY(:n)"), {"n": roster["number"].tolist()})
    pairs = [(r.number, t) for r in roster.itertuples() for t in r.teams]
    if pairs:
        conn.execute(sa.text(
            "INSERT INTO volunteer_teams (volunteer_id, team_id) SELECT v.id, t.id "
            "FROM unnest(CAST(:n AS text[]), CAST(:t AS text[])) AS p(number, team) "
            "JOIN volunteers v ON v.number = p.number JOIN teams t ON t.name = p.team "
            "ON CONFLICT DO NOTHING"),
            {"n": [p[0] for p in pairs], "t": [p[1] for p in pairs]})
    inserted = len(roster) - len(existing)
    return inserted, len(existing)


def volunteer_ids(conn: Connection, numbers: Sequence[str]) -> pd.DataFrame:
    """``id, number, occupation`` of the volunteers with these numbers (index: number)."""
    numbers = list(numbers)
    if len(numbers) > 1000:  # a whole city's file: reading the registry is cheaper
        rows = conn.execute(sa.text("SELECT number, id, occupation FROM volunteers")).all()
    else:
        rows = conn.execute(sa.text(
            "SELECT number, id, occupation FROM volunteers WHERE number = ANY(:n)"),
            {"n": numbers}).all()
    frame = pd.DataFrame(rows, columns=["number", "id", "occupation"]).set_index("number")
    return frame[frame.index.isin(numbers)]


def volunteer_number(conn: Connection, volunteer_id: int) -> str:
    """The roster number of a volunteer id."""
    number = conn.execute(sa.text("SELECT number FROM volunteers WHERE id = :i"),
                          {"i": volunteer_id}).scalar()
    if number is None:
        raise InputError(f"no volunteer with id {volunteer_id}")
    return str(number)


def volunteer_community(conn: Connection, volunteer_id: int) -> int | None:
    """The community a volunteer lives in (``None``: none recorded)."""
    community = conn.execute(sa.text("SELECT community_id FROM volunteers WHERE id = :i"),
                             {"i": volunteer_id}).scalar()
    return None if community is None else int(community)


def busiest_community(conn: Connection) -> str | None:
    """The community most volunteers live in."""
    return conn.execute(sa.text(
        "SELECT a.name FROM areas a JOIN volunteers v ON v.community_id = a.id "
        "WHERE a.level = 'community' GROUP BY a.id ORDER BY count(*) DESC, a.name "
        "LIMIT 1")).scalar()


def most_active_patroller(conn: Connection) -> str | None:
    """The roster number of the volunteer with the most patrol tracks."""
    return conn.execute(sa.text(
        "SELECT v.number FROM volunteers v JOIN tracks t ON t.volunteer_id = v.id "
        "WHERE t.kind = 'patrol' GROUP BY v.number ORDER BY count(*) DESC, v.number "
        "LIMIT 1")).scalar()


def volunteer_pool(conn: Connection, window_end: object, tz: str,
                   slots: dict[str, tuple[int, int]], *,
                   within: frozenset[int] | None = None) -> pd.DataFrame:
    """Active volunteers (of the communities ``within``, if given) with their home position,
    the skills they hold a current certificate in at ``window_end`` (``certified``) and the
    patrols they started per local time slot in the 4 weeks before it."""
    slot_sql = ", ".join(
        f"count(*) FILTER (WHERE extract(hour FROM t.started_at AT TIME ZONE :tz) "
        f">= {int(lo)} AND extract(hour FROM t.started_at AT TIME ZONE :tz) < {int(hi)}) "
        f"AS {name}" for name, (lo, hi) in slots.items() if name.isidentifier())
    names = [name for name in slots if name.isidentifier()]
    counts = ", ".join(f"coalesce(p.{name}, 0) AS {name}" for name in names)
    # set-based: each community's point once, the certificates and the patrols grouped once
    # (not a function call and a grouping of outlines per volunteer)
    return pd.read_sql_query(sa.text(f"""
        WITH spot AS (
            SELECT id, ST_PointOnSurface(geom) AS p FROM areas),
        held AS (
            SELECT volunteer_id, CAST(array_agg(DISTINCT skill ORDER BY skill) AS text[])
                       AS skills
            FROM certificate_passes
            CROSS JOIN (SELECT (CAST(:end AS timestamptz) AT TIME ZONE :tz)::date AS day) d
            WHERE held_on <= d.day AND (ends_on IS NULL OR ends_on > d.day)
            GROUP BY volunteer_id),
        patrols AS (
            SELECT t.volunteer_id, {slot_sql}
            FROM tracks t
            WHERE t.kind = 'patrol'
              AND t.started_at >= CAST(:end AS timestamptz) - interval '28 days'
              AND t.started_at < CAST(:end AS timestamptz)
            GROUP BY t.volunteer_id)
        SELECT v.id, v.number, v.name, v.occupation, v.duties, v.skills,
               coalesce(h.skills, CAST('{{}}' AS text[])) AS certified,
               ST_X(s.p) AS lon, ST_Y(s.p) AS lat, {counts}
        FROM volunteers v LEFT JOIN spot s ON s.id = v.community_id
        LEFT JOIN held h ON h.volunteer_id = v.id
        LEFT JOIN patrols p ON p.volunteer_id = v.id
        WHERE v.active AND {in_scope('v.community_id')}
        ORDER BY v.number"""), conn,  # noqa: S608
        params={"tz": tz, "end": window_end, **scope_params(within)})
