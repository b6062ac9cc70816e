"""Patrol tasks, the fixes that check them, the points ledger and payouts."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import NotFoundError
from geo_patrol.paging import PageOf, Paging
from geo_patrol.store.paging import page_of
from geo_patrol.store.places import nearest_piece
from geo_patrol.store.scope import Within, in_scope, scope_params

TASK_COLUMNS = ("rota_walk_id", "kind", "community_id", "day", "window_start", "window_end",
                "minutes", "length_m", "segment_ids", "hazard_ids", "hotspot_segment_id",
                "points", "offered_to", "wkt")


def walks_of(conn: Connection, rota_id: int) -> pd.DataFrame:
    """A rota's walks with their lines as WKT, for tasks."""
    return pd.read_sql_query(sa.text("""
        SELECT w.id AS rota_walk_id, w.kind, w.community_id, w.day, w.slot, w.starts_at,
               w.minutes, w.length_m, w.segment_ids, w.hazard_ids, w.hotspot_segment_id,
               w.volunteer_id AS offered_to, ST_AsText(w.geom) AS wkt
        FROM rota_walks w WHERE w.rota_id = :r ORDER BY w.day, w.starts_at, w.id"""), conn,
        params={"r": rota_id})


_INSERT_TASK = """
    INSERT INTO tasks (rota_walk_id, kind, community_id, day, window_start, window_end,
                       minutes, length_m, segment_ids, hazard_ids, hotspot_segment_id,
                       points, offered_to, state, verdict, created_by, geom)
    VALUES (:rota_walk_id, :kind, :community_id, :day, :window_start, :window_end,
            :minutes, :length_m, :segment_ids, :hazard_ids, :hotspot_segment_id, :points,
            :offered_to, 'offered', '{}', :by, ST_GeomFromText(:wkt, 4326))"""


def create_tasks(conn: Connection, rows: list[dict[str, Any]], *, by: str) -> int:
    """Store tasks (a rota's walk once: one already offered is skipped); returns how many."""
    if not rows:
        return 0
    result = conn.execute(sa.text(_INSERT_TASK + " ON CONFLICT (rota_walk_id) DO NOTHING"),
                          [{k: r[k] for k in TASK_COLUMNS} | {"by": by} for r in rows])
    return int(result.rowcount)


def create_task(conn: Connection, row: dict[str, Any], *, by: str) -> int:
    """Store one task; returns its id."""
    return int(conn.execute(sa.text(_INSERT_TASK + " RETURNING id"),
                            {k: row[k] for k in TASK_COLUMNS} | {"by": by}).scalar_one())


def set_offered_to(conn: Connection, task_id: int, volunteer_id: int | None) -> None:
    conn.execute(sa.text("UPDATE tasks SET offered_to = :v WHERE id = :t"),
                 {"v": volunteer_id, "t": task_id})


def active_volunteer(conn: Connection, number: str, within: Within = None) -> int | None:
    """The id of the active volunteer with this roster number (of the communities
    ``within``, when a scope is given: one outside it is not found, as one unknown)."""
    return conn.execute(sa.text(
        f"SELECT id FROM volunteers WHERE number = :n AND active "
        f"AND {in_scope('community_id')}"), {"n": number, **scope_params(within)}).scalar()


def volunteer_home(conn: Connection, volunteer_id: int) -> dict[str, Any] | None:
    """An active volunteer's community and its point (metric ``x, y``) as their home."""
    row = conn.execute(sa.text("""
        SELECT v.id, v.community_id, ST_X(ST_Transform(ST_PointOnSurface(a.geom),
               (SELECT value::int FROM deployment WHERE key = 'metric_srid'))) AS x,
               ST_Y(ST_Transform(ST_PointOnSurface(a.geom),
               (SELECT value::int FROM deployment WHERE key = 'metric_srid'))) AS y
        FROM volunteers v LEFT JOIN areas a ON a.id = v.community_id
        WHERE v.id = :v AND v.active"""), {"v": volunteer_id}).mappings().first()
    return dict(row) if row else None


def verified_duplicates(conn: Connection) -> list[int]:
    """Reports verified as true that repeat an earlier report."""
    return [int(r[0]) for r in conn.execute(sa.text(
        "SELECT id FROM reports WHERE verification = 'verified' AND duplicate_of IS NOT NULL "
        "ORDER BY id"))]


def _proves(deadline: str) -> str:
    """The one rule of proof of work, as SQL over a fix ``f`` and its upload ``u``: a fix
    proves work when the command loaded it from a file, or when a phone that proved itself
    with its device secret sent it no later than ``deadline`` plus ``:grace`` seconds (phones
    buffer while offline); a later position, a phone without a secret or a volunteer's own
    file count for coverage, never for points."""
    return (f"(u.proof = 'import' OR (u.proof = 'phone' AND coalesce(f.received_at, f.t) "
            f"<= {deadline} + make_interval(secs => :grace)))")


def verified_unpaid_reports(conn: Connection, *, tz: str, minutes: float, radius_m: float,
                            grace_s: float, report_ids: list[int] | None = None
                            ) -> list[tuple[int, int, dt.date, bool, str, str | None]]:
    """First reports verified as true and not paid yet (of ``report_ids``, when given):
    (id, volunteer, local day, whether a clean fix of the reporter that proves presence
    (:func:`_proves`) lies within ``radius_m`` of it within ``minutes`` and none of its
    photos' EXIF puts it elsewhere, category, outcome of triage)."""
    return [tuple(r) for r in conn.execute(sa.text(f"""
        SELECT r.id, r.volunteer_id, (r.reported_at AT TIME ZONE :tz)::date AS day,
               EXISTS (SELECT 1 FROM patrol_fixes f JOIN uploads u ON u.id = f.upload_id
                       WHERE f.volunteer_id = r.volunteer_id AND f.flags = 0
                       AND f.t BETWEEN r.reported_at - make_interval(secs => :s)
                                   AND r.reported_at + make_interval(secs => :s)
                       AND ST_DWithin(f.geom_m, r.geom_m, :d)
                       AND {_proves("r.reported_at + make_interval(secs => :s)")})
               AND NOT EXISTS (SELECT 1 FROM report_media m WHERE m.report_id = r.id
                               AND m.exif_check = 'far') AS matches,
               r.category, r.outcome
        FROM reports r WHERE r.verification = 'verified' AND r.duplicate_of IS NULL
          AND coalesce(r.id = ANY(CAST(:ids AS integer[])), true)
          AND NOT EXISTS (SELECT 1 FROM points_ledger l WHERE l.source = 'report'
                          AND l.item_id = r.id)
        ORDER BY r.id"""), {"tz": tz, "s": float(minutes) * 60, "d": radius_m,
                            "grace": float(grace_s), "ids": report_ids})]


def task_table(conn: Connection, *, volunteer_id: int | None = None,
               offered_for: tuple[int, int | None] | None = None,
               within: frozenset[int] | None = None, since: dt.date | None = None,
               until: dt.date | None = None, states: tuple[str, ...] | None = None,
               task_id: int | None = None) -> Any:
    """Tasks (WGS-84 lines, metric start point ``x, y``) with the community's name and the
    taker's roster number and name (the caller masks): a volunteer's own
    (``volunteer_id``), those a volunteer may take (``offered_for``: their id and community),
    or those of the communities ``within``."""
    return gpd.read_postgis(sa.text(f"""
        SELECT t.id, t.rota_walk_id, t.kind, t.community_id, a.name AS community, t.day,
               t.window_start, t.window_end, t.minutes, t.length_m, t.segment_ids,
               t.hazard_ids, t.hotspot_segment_id, t.points, t.offered_to, t.volunteer_id,
               v.number, v.name, t.state, t.accepted_at, t.checked_at, t.verdict,
               ST_X(ST_Transform(ST_StartPoint(t.geom),
                    (SELECT value::int FROM deployment WHERE key = 'metric_srid'))) AS x,
               ST_Y(ST_Transform(ST_StartPoint(t.geom),
                    (SELECT value::int FROM deployment WHERE key = 'metric_srid'))) AS y,
               t.geom
        FROM tasks t LEFT JOIN areas a ON a.id = t.community_id
        LEFT JOIN volunteers v ON v.id = t.volunteer_id
        WHERE (CAST(:task AS integer) IS NULL OR t.id = :task)
          AND (CAST(:vol AS integer) IS NULL OR t.volunteer_id = :vol)
          AND (CAST(:me AS integer) IS NULL OR (t.state = 'offered' AND (t.offered_to = :me
               OR (t.offered_to IS NULL AND t.community_id = :home))))
          AND {in_scope('t.community_id')}
          AND (CAST(:since AS date) IS NULL OR t.day >= :since)
          AND (CAST(:until AS date) IS NULL OR t.day <= :until)
          AND (CAST(:states AS text[]) IS NULL OR t.state = ANY(CAST(:states AS text[])))
        ORDER BY t.day, t.window_start, t.id"""), conn, geom_col="geom", params={
        "task": task_id, "vol": volunteer_id,
        "me": offered_for[0] if offered_for else None,
        "home": offered_for[1] if offered_for else None,
        **scope_params(within), "since": since, "until": until,
        "states": list(states) if states else None})


#: The columns the task list may be sorted by, and its filters.
TASK_SORTS = {"day": "q.window_start", "community": "q.community", "points": "q.points",
              "state": "q.shown_state", "length": "q.length_m"}
TASK_FILTERS = ("state", "community", "day")


def task_page(conn: Connection, paging: Paging, *, within: Within = None,
              since: dt.date | None = None, until: dt.date | None = None,
              now: dt.datetime) -> PageOf:
    """One page of the task list (no routes), with ``shown_state``: an offer whose window
    closed before ``now`` untaken is ``expired`` (it can no longer be taken), else the state.
    Filters: ``state`` (a shown state), ``community`` (a name, or part of one) and ``day``
    (one day instead of ``since``..``until``)."""
    day = paging.filter("day")
    sql = f"""
        SELECT t.id, t.kind, t.community_id, a.name AS community, t.day, t.window_start,
               t.window_end, t.minutes, t.length_m, t.points, t.volunteer_id, v.number, v.name,
               t.state, t.verdict,
               CASE WHEN t.state = 'offered' AND t.window_end <= :now THEN 'expired'
                    ELSE t.state END AS shown_state
        FROM tasks t LEFT JOIN areas a ON a.id = t.community_id
        LEFT JOIN volunteers v ON v.id = t.volunteer_id
        WHERE {in_scope('t.community_id')}
          AND (CAST(:day AS date) IS NOT NULL OR CAST(:since AS date) IS NULL
               OR t.day >= :since)
          AND (CAST(:day AS date) IS NOT NULL OR CAST(:until AS date) IS NULL
               OR t.day <= :until)
          AND (CAST(:day AS date) IS NULL OR t.day = :day)
          AND (CAST(:community AS text) IS NULL OR a.name LIKE '%' || :community || '%')"""
    state = paging.filter("state")
    if state is not None:
        sql = f"SELECT * FROM ({sql}) s WHERE s.shown_state = :state"  # noqa: S608
    return page_of(conn, sql, {**scope_params(within), "since": since, "until": until,
                               "day": day, "community": paging.filter("community"),
                               "state": state, "now": now},
                   paging, sortable=TASK_SORTS, order="q.window_start", tie="q.id")


def lock_task(conn: Connection, task_id: int) -> dict[str, Any]:
    row = conn.execute(sa.text("SELECT * FROM tasks WHERE id = :id FOR UPDATE"),
                       {"id": task_id}).mappings().first()
    if row is None:
        raise NotFoundError(f"no task {task_id}")
    return dict(row)


def set_taker(conn: Connection, task_id: int, volunteer_id: int | None, state: str, *,
              at: dt.datetime) -> None:
    """The task's taker and state; ``at`` is when it was taken (its work counts from then)."""
    conn.execute(sa.text("""
        UPDATE tasks SET volunteer_id = :v, state = :s,
               accepted_at = CASE WHEN CAST(:v AS integer) IS NULL THEN NULL ELSE :at END
        WHERE id = :id"""), {"v": volunteer_id, "s": state, "id": task_id, "at": at})


def same_work_held(conn: Connection, task_id: int, volunteer_id: int) -> int | None:
    """Another task the volunteer holds (taken, not yet checked) at an overlapping time for
    some of the same work (a street, a hazard or the hot spot): one walk is paid once. The
    volunteer's row is locked until the transaction ends, so two takes at once are checked
    one after the other."""
    conn.execute(sa.text("SELECT 1 FROM volunteers WHERE id = :v FOR UPDATE"),
                 {"v": volunteer_id})
    return conn.execute(sa.text("""
        SELECT o.id FROM tasks t JOIN tasks o ON o.id <> t.id
        WHERE t.id = :t AND o.volunteer_id = :v AND o.state = 'accepted'
          AND o.window_start < t.window_end AND t.window_start < o.window_end
          AND (o.segment_ids && t.segment_ids OR o.hazard_ids && t.hazard_ids
               OR o.hotspot_segment_id = t.hotspot_segment_id)
        ORDER BY o.id LIMIT 1"""), {"t": task_id, "v": volunteer_id}).scalar()


def same_hazard_task(conn: Connection, hazard_id: int, window_start: dt.datetime) -> int | None:
    """A task made by hand for this hazard in this window that still stands (not withdrawn
    and not expired)."""
    return conn.execute(sa.text("""
        SELECT id FROM tasks
        WHERE rota_walk_id IS NULL AND hazard_ids = ARRAY[CAST(:h AS integer)]
          AND window_start = :a AND state NOT IN ('withdrawn', 'expired')
        ORDER BY id LIMIT 1"""), {"h": hazard_id, "a": window_start}).scalar()


def due_for_check(conn: Connection, before: dt.datetime,
                  within: frozenset[int] | None = None) -> list[int]:
    """Accepted tasks whose window has closed (of the communities ``within``)."""
    return [int(r[0]) for r in conn.execute(sa.text(
        "SELECT id FROM tasks WHERE state = 'accepted' AND window_end <= :t "
        f"AND {in_scope('community_id')} ORDER BY id"),
        {"t": before, **scope_params(within)})]


def fixes_in_windows(conn: Connection, windows: list[tuple[int, dt.datetime, dt.datetime]],
                     *, grace_s: float) -> pd.DataFrame:
    """The clean fixes (those that passed the fix checks) of each (volunteer, start, end)
    window in [start, end), in one query: ``item`` (the window's position in ``windows``),
    metric ``x, y``, epoch seconds ``t`` and ``proves`` (the fix proves work: see
    :func:`_proves`, the window's end the deadline), sorted by item and time."""
    return pd.read_sql_query(sa.text(f"""
        SELECT w.item - 1 AS item, ST_X(f.geom_m) AS x, ST_Y(f.geom_m) AS y,
               extract(epoch FROM f.t)::float8 AS t, {_proves("w.b")} AS proves
        FROM unnest(CAST(:v AS integer[]), CAST(:a AS timestamptz[]),
                    CAST(:b AS timestamptz[])) WITH ORDINALITY AS w(volunteer_id, a, b, item)
        JOIN patrol_fixes f ON f.volunteer_id = w.volunteer_id AND f.t >= w.a AND f.t < w.b
        JOIN uploads u ON u.id = f.upload_id
        WHERE f.flags = 0
        ORDER BY w.item, f.t"""), conn, params={
        "v": [int(v) for v, _, _ in windows], "a": [a for _, a, _ in windows],
        "b": [b for _, _, b in windows], "grace": float(grace_s)})


def task_geometry(conn: Connection, task: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """The task's streets (metric lines) and stops (metric points: its hazards, or the hot
    spot's middle)."""
    lines = [shapely.from_wkb(bytes(r[0])) for r in conn.execute(sa.text(
        "SELECT ST_AsBinary(geom_m) FROM street_segments WHERE id = ANY(:ids)"),
        {"ids": list(task["segment_ids"])})]
    stops = [(float(x), float(y)) for x, y in conn.execute(sa.text(
        "SELECT ST_X(geom_m), ST_Y(geom_m) FROM hazards WHERE id = ANY(:ids) ORDER BY id"),
        {"ids": list(task["hazard_ids"])})]
    if task["hotspot_segment_id"] is not None:
        stops += [(float(x), float(y)) for x, y in conn.execute(sa.text(
            "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_LineInterpolatePoint(ST_LineMerge("
            "geom_m), 0.5) AS p FROM street_segments WHERE id = :g) s"),
            {"g": task["hotspot_segment_id"]})]
    return np.array(lines, dtype=object), np.array(stops, dtype=float).reshape(-1, 2)


def record_verdict(conn: Connection, task_id: int, state: str, verdict: dict[str, Any]) -> None:
    conn.execute(sa.text("""
        UPDATE tasks SET state = :s, verdict = CAST(:v AS jsonb), checked_at = now()
        WHERE id = :id"""), {"s": state, "v": json.dumps(verdict), "id": task_id})


def add_points(conn: Connection, *, volunteer_id: int, source: str, item_id: int, points: int,
               earned_on: dt.date, note: str | None) -> bool:
    """One ledger entry per item: a second one for the same item is not added."""
    result = conn.execute(sa.text("""
        INSERT INTO points_ledger (volunteer_id, source, item_id, points, earned_on, note)
        VALUES (:v, :s, :i, :p, :d, :n) ON CONFLICT (source, item_id) DO NOTHING"""),
        {"v": volunteer_id, "s": source, "i": item_id, "p": points, "d": earned_on, "n": note})
    return bool(result.rowcount)


def ledger(conn: Connection, *, volunteer_id: int | None = None,
           within: frozenset[int] | None = None, since: dt.date | None = None,
           until: dt.date | None = None, unpaid: bool = False,
           payout_id: int | None = None) -> pd.DataFrame:
    """Ledger entries with the volunteer's number, name (the caller masks) and community."""
    return pd.read_sql_query(sa.text(f"""
        SELECT l.id, l.volunteer_id, v.number, v.name, a.name AS community, l.source,
               l.item_id, l.points, l.earned_on, l.note, l.payout_id
        FROM points_ledger l JOIN volunteers v ON v.id = l.volunteer_id
        LEFT JOIN areas a ON a.id = v.community_id
        WHERE (CAST(:vol AS integer) IS NULL OR l.volunteer_id = :vol)
          AND {in_scope('v.community_id')}
          AND (CAST(:since AS date) IS NULL OR l.earned_on >= :since)
          AND (CAST(:until AS date) IS NULL OR l.earned_on <= :until)
          AND (NOT :unpaid OR l.payout_id IS NULL)
          AND (CAST(:payout AS integer) IS NULL OR l.payout_id = :payout)
        ORDER BY l.earned_on, l.id"""), conn, params={
        "vol": volunteer_id, **scope_params(within), "since": since, "until": until,
        "unpaid": unpaid, "payout": payout_id})


def payout_table(conn: Connection, *, limit: int = 20) -> pd.DataFrame:
    """The latest payouts: number, period, points, who made it and when."""
    return pd.read_sql_query(sa.text(
        "SELECT id, period_start, period_end, points, created_by, created_at FROM payouts "
        "ORDER BY id DESC LIMIT :n"), conn, params={"n": limit})


def make_payout(conn: Connection, *, start: dt.date, end: dt.date, by: str) -> int:
    """A payout of every unpaid entry earned in [start, end]; the entries are marked paid
    in the same statement, so no entry is paid twice."""
    payout = conn.execute(sa.text("""
        INSERT INTO payouts (period_start, period_end, points, created_by)
        VALUES (:a, :b, 0, :by) RETURNING id"""), {"a": start, "b": end, "by": by}).scalar_one()
    points = conn.execute(sa.text("""
        WITH paid AS (UPDATE points_ledger SET payout_id = :p
                      WHERE payout_id IS NULL AND earned_on BETWEEN :a AND :b
                      RETURNING points)
        SELECT coalesce(sum(points), 0) FROM paid"""),
        {"p": payout, "a": start, "b": end}).scalar_one()
    conn.execute(sa.text("UPDATE payouts SET points = :n WHERE id = :p"),
                 {"n": int(points), "p": payout})
    return int(payout)


def dose(conn: Connection, *, within: frozenset[int] | None, since: dt.date,
         until: dt.date, rota_id: int | None = None) -> pd.DataFrame:
    """Per community and week: tasks, planned minutes (all tasks) and delivered minutes
    (each checked task's minutes × the share of its route walked); with ``rota_id``, only
    the tasks of that rota."""
    return pd.read_sql_query(sa.text(f"""
        SELECT t.community_id, a.name AS community,
               date_trunc('week', t.day)::date AS week, count(*) AS tasks,
               count(*) FILTER (WHERE t.state = 'delivered') AS delivered,
               count(*) FILTER (WHERE t.state = 'partly') AS partly,
               count(*) FILTER (WHERE t.state = 'missed') AS missed,
               round(sum(t.minutes)::numeric, 1) AS planned_min,
               round(coalesce(sum(t.minutes * (t.verdict->>'walked_share')::float)
                     FILTER (WHERE t.state IN ('delivered', 'partly', 'missed')), 0)::numeric,
                     1) AS delivered_min
        FROM tasks t LEFT JOIN areas a ON a.id = t.community_id
        WHERE t.day BETWEEN :a AND :b AND t.state <> 'withdrawn'
          AND (CAST(:rota AS integer) IS NULL OR t.rota_walk_id IN (
               SELECT w.id FROM rota_walks w WHERE w.rota_id = :rota))
          AND {in_scope('t.community_id')}
        GROUP BY t.community_id, a.name, week ORDER BY week, community"""), conn,
        params={"a": since, "b": until, **scope_params(within), "rota": rota_id})


def link_duplicate_reports(conn: Connection, *, radius_m: float, hours: float) -> int:
    """Link each report to the first earlier one of the same hazard, or of the same category
    within ``radius_m`` and ``hours``; returns how many were linked. Earlier means received
    earlier (a phone may back-date the time it says a report was made, so that time cannot
    put a report ahead of one already in), then made earlier (a file's reports all arrive
    at once); a rejected report is nobody's first, and a link to a report since rejected
    is made anew (a merge decided by triage stays). A report with a photo (or video) an
    earlier one has, byte for byte, is linked to it wherever and whenever it was made: the
    same picture is one finding, paid once."""
    conn.execute(sa.text("""
        UPDATE reports r SET duplicate_of = NULL FROM reports e
        WHERE r.duplicate_of = e.id AND e.verification = 'rejected'
          AND r.verification <> 'merged'"""))
    shared = conn.execute(sa.text("""
        WITH firsts AS (
            SELECT DISTINCT ON (r.id) r.id, e.id AS first
            FROM reports r
            JOIN report_media mr ON mr.report_id = r.id
            JOIN report_media me ON me.sha256 = mr.sha256 AND me.report_id <> r.id
            JOIN reports e ON e.id = me.report_id AND e.verification <> 'rejected'
            WHERE r.duplicate_of IS NULL
              AND (coalesce(e.received_at, e.reported_at), e.reported_at, e.id)
                  < (coalesce(r.received_at, r.reported_at), r.reported_at, r.id)
            ORDER BY r.id, coalesce(e.received_at, e.reported_at), e.reported_at, e.id)
        UPDATE reports r SET duplicate_of = f.first FROM firsts f WHERE f.id = r.id""")).rowcount
    result = conn.execute(sa.text("""
        WITH firsts AS (
            SELECT r.id, (SELECT e.id FROM reports e
                          WHERE e.id <> r.id AND e.category = r.category
                            AND e.verification <> 'rejected'
                            AND (coalesce(e.received_at, e.reported_at), e.reported_at, e.id)
                                < (coalesce(r.received_at, r.reported_at), r.reported_at, r.id)
                            AND e.reported_at >= r.reported_at
                                - make_interval(secs => CAST(:h AS float) * 3600)
                            AND ((r.hazard_id IS NOT NULL AND e.hazard_id = r.hazard_id)
                                 OR ST_DWithin(e.geom_m, r.geom_m, :d))
                          ORDER BY coalesce(e.received_at, e.reported_at), e.reported_at, e.id
                          LIMIT 1) AS first
            FROM reports r WHERE r.duplicate_of IS NULL)
        UPDATE reports r SET duplicate_of = f.first FROM firsts f
        WHERE f.id = r.id AND f.first IS NOT NULL"""), {"d": radius_m, "h": hours})
    return int(shared) + int(result.rowcount)


def rankings(conn: Connection, *, since: dt.date, until: dt.date,
             within: frozenset[int] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Points earned in [since, until] per community and per team (for commendations):
    points, volunteers who earned any, tasks delivered, reports paid."""
    params = {"a": since, "b": until, **scope_params(within)}
    scope = in_scope("v.community_id")

    def ranked(by: str, joins: str) -> pd.DataFrame:
        return pd.read_sql_query(sa.text(f"""
            SELECT {by}, sum(l.points) AS points, count(DISTINCT l.volunteer_id) AS volunteers,
                   count(*) FILTER (WHERE l.source = 'task') AS tasks,
                   count(*) FILTER (WHERE l.source = 'report') AS reports
            FROM points_ledger l JOIN volunteers v ON v.id = l.volunteer_id {joins}
            WHERE l.earned_on BETWEEN :a AND :b AND {scope}
            GROUP BY 1 ORDER BY points DESC, 1"""), conn, params=params)

    communities = ranked("a.name AS community", "JOIN areas a ON a.id = v.community_id")
    teams = ranked("tm.name AS team", "JOIN volunteer_teams vt ON vt.volunteer_id = v.id "
                   "JOIN teams tm ON tm.id = vt.team_id")
    return communities, teams


def free_volunteers(conn: Connection, community_id: int, start: dt.datetime,
                    end: dt.datetime) -> list[tuple[int, str]]:
    """Active volunteers of a community with no fix from ``start`` to ``end``: ``(id,
    number)`` by number."""
    return [(int(r[0]), str(r[1])) for r in conn.execute(sa.text("""
        SELECT v.id, v.number FROM volunteers v
        WHERE v.community_id = :c AND v.active AND NOT EXISTS (
            SELECT 1 FROM patrol_fixes f WHERE f.volunteer_id = v.id AND f.t >= :a
              AND f.t < :b)
        ORDER BY v.number"""), {"c": community_id, "a": start, "b": end})]


def hazard_street(conn: Connection, hazard_id: int, *, reach_m: float = 100.0
                  ) -> dict[str, Any] | None:
    """A hazard's community and the street segment nearest to it (within ``reach_m``)."""
    row = conn.execute(sa.text("""
        SELECT h.community_id, g.id AS segment_id, g.length_m, ST_AsText(g.geom) AS wkt
        FROM hazards h CROSS JOIN LATERAL (
            SELECT s.id, s.length_m, s.geom FROM street_segments s
            WHERE ST_DWithin(h.geom_m, s.geom_m, :r) ORDER BY h.geom_m <-> s.geom_m LIMIT 1) g
        WHERE h.id = :h AND NOT h.proposed"""), {"h": hazard_id, "r": reach_m}).mappings().first()
    return dict(row) if row else None


def task_sites(conn: Connection, hazard_ids: list[int], segment_id: int | None
               ) -> tuple[pd.DataFrame, dict[str, Any] | None]:
    """What a task visits: its hazards (id, name, category, lon, lat and the street and
    cross streets nearest each) and its hot-spot segment's middle (lon, lat, street and the
    cross streets of its stretch), if any."""
    hazards = pd.read_sql_query(sa.text(f"""
        SELECT h.id, h.name, h.category, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat,
               np.street, np.cross_a, np.cross_b
        FROM hazards h {nearest_piece('h.geom_m')}
        WHERE h.id = ANY(CAST(:ids AS integer[])) ORDER BY h.id"""), conn,
        params={"ids": [int(i) for i in hazard_ids]})
    site = None
    if segment_id is not None:
        row = conn.execute(sa.text("""
            SELECT ST_X(m) AS lon, ST_Y(m) AS lat, s.name AS street, p.cross_a, p.cross_b
            FROM (SELECT ST_LineInterpolatePoint(geom, 0.5) AS m, name, piece_id
                  FROM street_segments WHERE id = :s) s
            LEFT JOIN street_pieces p ON p.id = s.piece_id"""), {"s": segment_id}
        ).mappings().one_or_none()
        site = dict(row) if row is not None else None
    return hazards, site
