"""Campaigns stored and their hazards read back with the dates their progress is told by:
found, first visited (a patrol inspection of an analysis run, or a recheck in the ledger),
and each status change."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import N_, InputError, NotFoundError
from geo_patrol.store.geoframes import read_geo
from geo_patrol.store.places import nearest_piece
from geo_patrol.store.scope import in_scope, meets_scope, scope_params

#: A campaign's districts and all their sub-areas (of the outer query's campaign ``c``).
_CAMPAIGN_AREAS = ("SELECT sub FROM campaign_districts dd, LATERAL area_subtree(dd.area_id) sub "
                   "WHERE dd.campaign_id = c.id")


def create_campaign(conn: Connection, *, name: str, starts_on: dt.date, ends_on: dt.date,
                    district_ids: list[int], categories: list[str], by: str) -> int:
    """Store a campaign over districts (checked to be districts); its id."""
    found = set(conn.execute(sa.text(
        "SELECT id FROM areas WHERE level = 'district' AND id = ANY(:ids)"),
        {"ids": district_ids}).scalars())
    missing = sorted(set(district_ids) - found)
    if missing:
        raise InputError(f"not a district: {', '.join(map(str, missing))}", field="district",
                         values={}, shown=N_("Choose the districts from the list."))
    if conn.execute(sa.text("SELECT 1 FROM campaigns WHERE name = :n"), {"n": name}).first():
        raise InputError(f"a campaign named {name!r} exists already", field="name",
                         values={"name": name},
                         shown=N_("A campaign named “%(name)s” exists already: choose another "
                                  "name."))
    cid = conn.execute(sa.text(
        "INSERT INTO campaigns (name, starts_on, ends_on, categories, created_by) "
        "VALUES (:n, :s, :e, :c, :by) RETURNING id"),
        {"n": name, "s": starts_on, "e": ends_on, "c": categories, "by": by}).scalar_one()
    conn.execute(sa.text("INSERT INTO campaign_districts (campaign_id, area_id) "
                         "VALUES (:c, :a)"), [{"c": cid, "a": a} for a in sorted(found)])
    return int(cid)


def campaign_table(conn: Connection, *, within: frozenset[int] | None = None) -> pd.DataFrame:
    """Every campaign (newest first) with its districts' names; for a user bound to
    communities, only campaigns over their districts."""
    return pd.read_sql_query(sa.text(f"""
        SELECT c.id, c.name, c.starts_on, c.ends_on, c.categories, c.created_by,
               array_agg(a.name ORDER BY a.code NULLS LAST, a.name) AS districts,
               array_agg(a.id ORDER BY a.code NULLS LAST, a.name) AS district_ids
        FROM campaigns c JOIN campaign_districts d ON d.campaign_id = c.id
        JOIN areas a ON a.id = d.area_id
        WHERE {meets_scope(_CAMPAIGN_AREAS)}
        GROUP BY c.id ORDER BY c.starts_on DESC, c.id DESC"""), conn,
        params=scope_params(within))


def find_campaign(conn: Connection, name_or_id: str | int) -> dict[str, Any]:
    row = conn.execute(sa.text(
        "SELECT id, name, starts_on, ends_on, categories FROM campaigns "
        "WHERE (CAST(:id AS integer) IS NOT NULL AND id = :id) OR name = :name "
        "ORDER BY id LIMIT 1"),
        {"id": int(name_or_id) if str(name_or_id).isdigit() else None,
         "name": str(name_or_id)}).mappings().first()
    if row is None:
        raise NotFoundError(f"no campaign {name_or_id}")
    districts = list(conn.execute(sa.text(
        "SELECT area_id FROM campaign_districts WHERE campaign_id = :c ORDER BY area_id"),
        {"c": row["id"]}).scalars())
    return {**row, "district_ids": districts}


def campaign_hazards(conn: Connection, campaign_id: int, *, tz: str,
                     within: frozenset[int] | None = None) -> pd.DataFrame:
    """The campaign's hazards (its categories, in its districts, accepted proposals only):
    ``hazard_id, name, category, status, district_id, district, community, found_on,
    inspected_on`` (first patrol inspection of any run inside the period),
    ``rechecked_on`` (first ledger entry after the one that found it)."""
    return pd.read_sql_query(sa.text(f"""
        WITH c AS (SELECT * FROM campaigns WHERE id = :c),
        scope AS (SELECT d.area_id AS district_id, sub AS area_id
                  FROM campaign_districts d, LATERAL area_subtree(d.area_id) sub
                  WHERE d.campaign_id = :c),
        hist AS (SELECT hazard_id, (changed_at AT TIME ZONE :tz)::date AS day,
                        row_number() OVER (PARTITION BY hazard_id ORDER BY changed_at, id) AS k
                 FROM hazard_status_history)
        SELECT h.id AS hazard_id, h.name, h.category, h.status, s.district_id,
               dist.name AS district, com.name AS community,
               (SELECT day FROM hist WHERE hist.hazard_id = h.id AND k = 1) AS found_on,
               (SELECT min((r.first_inspection AT TIME ZONE :tz)::date)
                FROM hazard_results r WHERE r.hazard_id = h.id
                  AND (r.first_inspection AT TIME ZONE :tz)::date
                      BETWEEN (SELECT starts_on FROM c) AND (SELECT ends_on FROM c))
                   AS inspected_on,
               (SELECT min(day) FROM hist WHERE hist.hazard_id = h.id AND k > 1)
                   AS rechecked_on
        FROM hazards h JOIN scope s ON s.area_id = h.community_id
        JOIN areas dist ON dist.id = s.district_id
        JOIN areas com ON com.id = h.community_id
        WHERE NOT h.proposed AND h.category::text = ANY((SELECT categories FROM c)::text[])
          AND {in_scope('h.community_id')}
        ORDER BY dist.name, h.category, h.name"""), conn,
        params={"c": campaign_id, "tz": tz, **scope_params(within)})


def status_changes(conn: Connection, hazard_ids: list[int], *, tz: str) -> pd.DataFrame:
    """``hazard_id, day, status`` of every status change of those hazards, in order."""
    return pd.read_sql_query(sa.text(
        "SELECT hazard_id, (changed_at AT TIME ZONE :tz)::date AS day, status "
        "FROM hazard_status_history WHERE hazard_id = ANY(:ids) ORDER BY changed_at, id"),
        conn, params={"ids": list(hazard_ids), "tz": tz})


def school_windows(conn: Connection, run_id: int, hazard_ids: list[int]) -> pd.DataFrame:
    """Per school-rule hazard of a run: school days due and missed (checked in a window)."""
    return pd.read_sql_query(sa.text(
        "SELECT r.hazard_id, r.due_days, r.missed_days FROM hazard_results r "
        "JOIN hazards h ON h.id = r.hazard_id WHERE r.run_id = :run "
        "AND r.hazard_id = ANY(:ids) AND (h.visit_rule ->> 'school_days_only')::boolean"),
        conn, params={"run": run_id, "ids": list(hazard_ids)})


def unit_places(conn: Connection, campaign_id: int, hazard_ids: list[int], *, tz: str) -> Any:
    """Where the campaign's units are, for its map (WGS-84 points): ``hazard_id``, the
    nearest street piece's ``street, cross_a, cross_b`` and ``last_check``, the last time it
    was checked inside the period (a patrol inspection of an analysis run, or a recheck in
    the ledger after the entry that found it; None: not checked)."""
    return read_geo(sa.text(f"""
        WITH c AS (SELECT * FROM campaigns WHERE id = :c),
        hist AS (SELECT hazard_id, changed_at,
                        row_number() OVER (PARTITION BY hazard_id ORDER BY changed_at, id) AS k
                 FROM hazard_status_history WHERE hazard_id = ANY(:ids))
        SELECT h.id AS hazard_id, np.street, np.cross_a, np.cross_b,
               greatest(
                 (SELECT max(r.last_inspection) FROM hazard_results r, c
                  WHERE r.hazard_id = h.id AND (r.last_inspection AT TIME ZONE :tz)::date
                        BETWEEN c.starts_on AND c.ends_on),
                 (SELECT max(changed_at) FROM hist, c
                  WHERE hist.hazard_id = h.id AND k > 1
                    AND (changed_at AT TIME ZONE :tz)::date BETWEEN c.starts_on AND c.ends_on))
                   AS last_check,
               h.geom
        FROM hazards h {nearest_piece('h.geom_m')}
        WHERE h.id = ANY(:ids) ORDER BY h.id"""), conn,
        params={"c": campaign_id, "tz": tz, "ids": [int(i) for i in hazard_ids]},
        crs=4326)


def campaign_outline(conn: Connection, campaign_id: int, *,
                     within: frozenset[int] | None = None) -> Any:
    """The communities of the campaign's districts (those in ``within``, if given), their
    outlines simplified (WGS-84): ``area_id, name, district, geom``."""
    return read_geo(sa.text(f"""
        SELECT a.id AS area_id, a.name, dist.name AS district,
               ST_SimplifyPreserveTopology(a.geom, 0.0001) AS geom
        FROM campaign_districts d JOIN areas dist ON dist.id = d.area_id,
             LATERAL area_subtree(d.area_id) sub JOIN areas a ON a.id = sub
        WHERE d.campaign_id = :c AND a.level = 'community' AND {in_scope('a.id')}
        ORDER BY a.name"""), conn, params={"c": campaign_id, **scope_params(within)},
        crs=4326)
