"""Read-side queries of the registries: volunteers (masked), reports, uploads."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.paging import PageOf, Paging
from geo_patrol.privacy import Vault, mask_name, mask_phone
from geo_patrol.store.accounts import audit
from geo_patrol.store.paging import page_of
from geo_patrol.store.scope import in_scope, scope_params


def _volunteer_sql(within_column: str = "v.community_id") -> str:
    return f"""
        SELECT v.id, v.number, v.name, v.phone, v.occupation, a.name AS community,
               v.active, array_to_string(v.duties, '、') AS duties, v.duties AS duty_keys,
               array_to_string(v.skills, '、') AS skills,
               certified_skills(v.id, coalesce(CAST(:on AS date), current_date)) AS certified,
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
          AND (CAST(:q AS text) IS NULL OR v.number ILIKE '%' || :q || '%'
               OR v.name ILIKE '%' || :q || '%')
          AND {in_scope(within_column)}
          AND (CAST(:one AS integer) IS NULL OR v.id = :one)"""


def _masked(frame: pd.DataFrame) -> pd.DataFrame:
    frame["name"] = frame["name"].map(mask_name)
    frame["phone"] = frame["phone"].map(lambda p: mask_phone(p) if isinstance(p, str) else None)
    return frame


def volunteer_table(conn: Connection, *, community: str | None = None,
                    occupation: str | None = None, team: str | None = None,
                    duty: str | None = None, limit: int = 500,
                    within: frozenset[int] | None = None, volunteer_id: int | None = None,
                    on: dt.date | None = None) -> pd.DataFrame:
    """Volunteers with patrol hours (tracks) and reports, skills as declared on the roster
    and skills certified by training (current on ``on``, today by default); names and phones
    masked, ID numbers never read. ``within`` limits to volunteers of those communities,
    ``volunteer_id`` to one."""
    frame = pd.read_sql_query(sa.text(_volunteer_sql() + " ORDER BY v.number LIMIT :limit"),
                              conn, params={
        "community": community, "occupation": occupation, "team": team, "duty": duty,
        "q": None, "limit": limit, **scope_params(within), "one": volunteer_id, "on": on})
    return _masked(frame)


#: The columns the volunteer register may be sorted by.
VOLUNTEER_SORTS = {"number": "q.number", "community": "q.community",
                   "occupation": "q.occupation", "patrol_hours": "q.patrol_hours",
                   "passive_hours": "q.passive_hours", "reports": "q.reports"}
#: Its filters: a community, occupation, team or duty, and a number or name (``q``).
VOLUNTEER_FILTERS = ("q", "community", "occupation", "team", "duty")


def volunteer_page(conn: Connection, paging: Paging, *, within: frozenset[int] | None = None,
                   on: dt.date | None = None) -> PageOf:
    """One page of the volunteer register (:func:`volunteer_table`'s columns, masked),
    filtered by :data:`VOLUNTEER_FILTERS` and sorted by :data:`VOLUNTEER_SORTS`."""
    page = page_of(conn, _volunteer_sql(), {
        **{k: paging.filter(k) for k in VOLUNTEER_FILTERS}, **scope_params(within),
        "one": None, "on": on}, paging, sortable=VOLUNTEER_SORTS, order="q.number",
        tie="q.id")
    _masked(page.rows)
    return page


_REPORT_SQL = """
        SELECT r.id, r.external_id, r.reported_at, r.category, r.text, r.verification,
               r.reward, v.number AS volunteer, v.name AS volunteer_name,
               h.name AS hazard, r.hazard_id, a.name AS community, r.community_id,
               r.outcome, r.answer, r.triaged_at, r.duplicate_of, s.name AS station,
               l.points, ST_X(r.geom) AS lon, ST_Y(r.geom) AS lat,
               CASE r.verification WHEN 'pending' THEN 0 WHEN 'verified' THEN 1 ELSE 2 END
                   AS queue_rank
        FROM reports r JOIN volunteers v ON v.id = r.volunteer_id
        LEFT JOIN hazards h ON h.id = r.hazard_id
        LEFT JOIN areas a ON a.id = r.community_id
        LEFT JOIN areas s ON s.id = r.station_id
        LEFT JOIN points_ledger l ON l.source = 'report' AND l.item_id = r.id
        WHERE (CAST(:v AS text) IS NULL OR r.verification = :v)
          AND {scope}
          AND (CAST(:one AS integer) IS NULL OR r.volunteer_id = :one)"""


def report_table(conn: Connection, *, verification: str | None = None,
                 limit: int = 500, within: frozenset[int] | None = None,
                 volunteer_id: int | None = None) -> pd.DataFrame:
    """Volunteers' reports, pending first (the verification queue); reporters masked.
    ``within`` limits to reports inside those communities, ``volunteer_id`` to one
    reporter's. With each: its triage (outcome, answer, when), the earlier report it was
    merged into, the hazard it added and the points it earned."""
    frame = pd.read_sql_query(sa.text(
        _REPORT_SQL.format(scope=in_scope("r.community_id"))
        + " ORDER BY queue_rank, r.reported_at DESC, r.id DESC LIMIT :limit"), conn,
        params={"v": verification, "limit": limit, **scope_params(within),
                "one": volunteer_id})
    frame["volunteer_name"] = frame["volunteer_name"].map(mask_name)
    return frame.drop(columns="queue_rank")


#: The columns the report queue may be sorted by.
REPORT_SORTS = {"id": "q.id", "reported_at": "q.reported_at", "category": "q.category",
                "community": "q.community", "verification": "q.queue_rank",
                "points": "q.points"}
#: Its filters: a status, a category, and a text, community or reporter's number (``q``).
REPORT_FILTERS = ("verification", "category", "q")


def report_page(conn: Connection, paging: Paging, *,
                within: frozenset[int] | None = None) -> PageOf:
    """One page of the report queue (:func:`report_table`'s columns, reporters masked),
    pending first and newest first unless sorted by :data:`REPORT_SORTS`, filtered by
    :data:`REPORT_FILTERS`."""
    sql = _REPORT_SQL.format(scope=in_scope("r.community_id")) + """
          AND (CAST(:category AS text) IS NULL OR r.category = :category)
          AND (CAST(:q AS text) IS NULL OR r.text ILIKE '%' || :q || '%'
               OR a.name ILIKE '%' || :q || '%' OR v.number ILIKE '%' || :q || '%'
               OR CAST(r.id AS text) = ltrim(:q, '#'))"""
    page = page_of(conn, sql, {
        "v": paging.filter("verification"), "category": paging.filter("category"),
        "q": paging.filter("q"), **scope_params(within), "one": None}, paging,
        sortable=REPORT_SORTS, order="q.queue_rank, q.reported_at DESC", tie="q.id DESC")
    page.rows["volunteer_name"] = page.rows["volunteer_name"].map(mask_name)
    return PageOf(page.rows.drop(columns="queue_rank"), page.total, paging)


def reward_ledger(conn: Connection, paging: Paging,
                  within: frozenset[int] | None = None) -> PageOf:
    """One page of the rewards of verified reports per volunteer (names masked), largest
    first (then by roster number)."""
    page = page_of(conn, f"""
        SELECT v.id, v.number, v.name, count(*) AS reports, sum(r.reward) AS reward
        FROM reports r JOIN volunteers v ON v.id = r.volunteer_id
        WHERE r.verification = 'verified'
          AND {in_scope('v.community_id')}
        GROUP BY v.id, v.number, v.name""", scope_params(within), paging,
        sortable={}, order="coalesce(q.reward, 0) DESC, q.number", tie="q.id")
    page.rows["name"] = page.rows["name"].map(mask_name)
    return page


def upload_table(conn: Connection, limit: int = 50) -> pd.DataFrame:
    return pd.read_sql_query(sa.text(
        "SELECT id, kind, filename, loaded_at, rows_stored, rows_flagged FROM uploads "
        "ORDER BY loaded_at DESC, id DESC LIMIT :n"), conn, params={"n": limit})


#: The columns the list of uploads may be sorted by, and its filters.
UPLOAD_SORTS = {"loaded": "q.loaded_at", "kind": "q.kind", "file": "q.filename",
                "rows": "q.rows_stored", "flagged": "q.rows_flagged"}
UPLOAD_FILTERS = ("kind", "q")


def upload_page(conn: Connection, paging: Paging) -> PageOf:
    """One page of the uploads, newest first unless sorted otherwise."""
    return page_of(conn, """
        SELECT id, kind, filename, loaded_at, rows_stored, rows_flagged FROM uploads
        WHERE (CAST(:kind AS text) IS NULL OR kind = :kind)
          AND (CAST(:q AS text) IS NULL OR filename ILIKE '%' || :q || '%')""",
        {k: paging.filter(k) for k in UPLOAD_FILTERS}, paging, sortable=UPLOAD_SORTS,
        order="q.loaded_at DESC", tie="q.id DESC")


MIN_REASON = 8


def unmask_volunteer(engine: Engine, volunteer_id: int, *, actor: str, reason: str,
                     vault: Vault, within: frozenset[int] | None = None) -> dict:
    """A volunteer's name, phone and ID number in clear, for a stated reason that is written
    to the audit log in the same transaction (no log entry, no data)."""
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON:
        raise InputError(f"give the reason for unmasking (at least {MIN_REASON} characters)")
    with engine.begin() as conn:
        row = conn.execute(sa.text(
            "SELECT v.id, v.number, v.name, v.phone, v.id_cipher, a.name AS community "
            "FROM volunteers v LEFT JOIN areas a ON a.id = v.community_id "
            f"WHERE v.id = :i AND {in_scope('v.community_id')}"),
            {"i": volunteer_id, **scope_params(within)}).mappings().first()
        if row is None:
            raise NotFoundError(f"no volunteer {volunteer_id}")
        audit(conn, actor, "unmask", f"volunteer {row['number']}", reason=reason,
              details={"fields": ["name", "phone", "id_number"]})
    return {"id": row["id"], "number": row["number"], "name": row["name"],
            "phone": row["phone"], "community": row["community"],
            "id_number": vault.decrypt(row["id_cipher"]) if row["id_cipher"] else None}
