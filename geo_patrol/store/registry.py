"""Read-side queries of the registries: volunteers (masked), reports, uploads."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.privacy import mask_name, mask_phone


def volunteer_table(conn: Connection, *, community: str | None = None,
                    occupation: str | None = None, team: str | None = None,
                    duty: str | None = None, limit: int = 500) -> pd.DataFrame:
    """Volunteers with patrol hours (tracks) and reports; names and phones masked, ID numbers
    never read."""
    frame = pd.read_sql_query(sa.text("""
        SELECT v.id, v.number, v.name, v.phone, v.occupation, a.name AS community,
               v.active, array_to_string(v.duties, '、') AS duties,
               (SELECT string_agg(t.name, '、' ORDER BY t.name) FROM volunteer_teams vt
                JOIN teams t ON t.id = vt.team_id WHERE vt.volunteer_id = v.id) AS teams,
               coalesce((SELECT round(sum(extract(epoch FROM ended_at - started_at)) / 3600.0, 1)
                         FROM tracks WHERE volunteer_id = v.id AND kind = 'patrol'), 0)
                   AS patrol_hours,
               coalesce((SELECT round(sum(extract(epoch FROM ended_at - started_at)) / 3600.0, 1)
                         FROM tracks WHERE volunteer_id = v.id AND kind = 'passive'), 0)
                   AS passive_hours,
               (SELECT count(*) FROM reports r WHERE r.volunteer_id = v.id) AS reports
        FROM volunteers v LEFT JOIN areas a ON a.id = v.community_id
        WHERE (CAST(:community AS text) IS NULL OR a.name = :community)
          AND (CAST(:occupation AS text) IS NULL OR v.occupation = :occupation)
          AND (CAST(:duty AS text) IS NULL OR :duty = ANY(v.duties))
          AND (CAST(:team AS text) IS NULL OR EXISTS (
                SELECT 1 FROM volunteer_teams vt JOIN teams t ON t.id = vt.team_id
                WHERE vt.volunteer_id = v.id AND t.name = :team))
        ORDER BY v.number LIMIT :limit"""), conn,
        params={"community": community, "occupation": occupation, "team": team, "duty": duty,
                "limit": limit})
    frame["name"] = frame["name"].map(mask_name)
    frame["phone"] = frame["phone"].map(lambda p: mask_phone(p) if isinstance(p, str) else None)
    return frame


def report_table(conn: Connection, *, verification: str | None = None,
                 limit: int = 500) -> pd.DataFrame:
    """Volunteers' reports, pending first (the verification queue); reporters masked."""
    frame = pd.read_sql_query(sa.text("""
        SELECT r.id, r.external_id, r.reported_at, r.category, r.text, r.verification,
               r.reward, v.number AS volunteer, v.name AS volunteer_name,
               h.name AS hazard, a.name AS community
        FROM reports r JOIN volunteers v ON v.id = r.volunteer_id
        LEFT JOIN hazards h ON h.id = r.hazard_id
        LEFT JOIN LATERAL (SELECT name FROM areas x WHERE x.level = 'community'
                           AND ST_Intersects(x.geom, r.geom) LIMIT 1) a ON true
        WHERE CAST(:v AS text) IS NULL OR r.verification = :v
        ORDER BY CASE r.verification WHEN 'pending' THEN 0 WHEN 'verified' THEN 1 ELSE 2 END,
                 r.reported_at DESC LIMIT :limit"""), conn,
        params={"v": verification, "limit": limit})
    frame["volunteer_name"] = frame["volunteer_name"].map(mask_name)
    return frame


def reward_ledger(conn: Connection) -> pd.DataFrame:
    """Rewards of verified reports per volunteer (masked), largest first."""
    frame = pd.read_sql_query(sa.text("""
        SELECT v.number, v.name, count(*) AS reports, sum(r.reward) AS reward
        FROM reports r JOIN volunteers v ON v.id = r.volunteer_id
        WHERE r.verification = 'verified' GROUP BY v.number, v.name
        ORDER BY reward DESC, v.number"""), conn)
    frame["name"] = frame["name"].map(mask_name)
    return frame


def upload_table(conn: Connection, limit: int = 50) -> pd.DataFrame:
    return pd.read_sql_query(sa.text(
        "SELECT id, kind, filename, loaded_at, rows_stored, rows_flagged FROM uploads "
        "ORDER BY loaded_at DESC, id DESC LIMIT :n"), conn, params={"n": limit})
