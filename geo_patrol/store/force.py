"""The force: patrols of the last weeks (when each volunteer walked) and the hours the
planner set per community, weekday and time slot."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.store.scope import in_scope, scope_params

_SCOPE = f"""(CAST(:area AS integer) IS NULL OR a.id IN (SELECT area_subtree(:area)))
            AND {in_scope('a.id')}"""


def communities(conn: Connection, *, area_id: int | None,
                within: frozenset[int] | None) -> pd.DataFrame:
    """``community_id, community, volunteers`` (active, on the roster) in scope."""
    return pd.read_sql_query(sa.text(f"""
        SELECT a.id AS community_id, a.name AS community,
               (SELECT count(*) FROM volunteers v WHERE v.community_id = a.id AND v.active)
                   AS volunteers
        FROM areas a WHERE a.level = 'community' AND {_SCOPE}
        ORDER BY a.code NULLS LAST, a.name"""), conn,
        params={"area": area_id, **scope_params(within)})


def patrol_spans(conn: Connection, *, start: dt.datetime, end: dt.datetime, tz: str,
                 area_id: int | None, within: frozenset[int] | None) -> pd.DataFrame:
    """Deliberate patrols that started in [start, end) by volunteers of the communities in
    scope: ``volunteer_id, community_id, start, end`` (local wall-clock times)."""
    return pd.read_sql_query(sa.text(f"""
        SELECT t.volunteer_id, v.community_id,
               (t.started_at AT TIME ZONE :tz) AS start, (t.ended_at AT TIME ZONE :tz) AS end
        FROM tracks t JOIN volunteers v ON v.id = t.volunteer_id
        JOIN areas a ON a.id = v.community_id
        WHERE t.kind = 'patrol' AND t.started_at >= :start AND t.started_at < :end
          AND {_SCOPE}"""), conn,
        params={"start": start, "end": end, "tz": tz, "area": area_id,
                **scope_params(within)})


def set_hours(conn: Connection) -> pd.DataFrame:
    """Every hours figure the planner set: ``community_id, weekday, slot, hours, set_by``."""
    return pd.read_sql_query(sa.text(
        "SELECT community_id, weekday, slot, hours, set_by, set_at FROM force_hours"), conn)


def store_hours(conn: Connection, community_id: int, weekday: int, slot: str,
                hours: float | None, by: str) -> None:
    """Set (or, with ``None``, clear) the hours of one community, weekday and slot."""
    if hours is None:
        conn.execute(sa.text("DELETE FROM force_hours WHERE community_id = :c AND weekday = :w "
                             "AND slot = :s"), {"c": community_id, "w": weekday, "s": slot})
        return
    conn.execute(sa.text(
        "INSERT INTO force_hours (community_id, weekday, slot, hours, set_by) "
        "VALUES (:c, :w, :s, :h, :by) ON CONFLICT (community_id, weekday, slot) "
        "DO UPDATE SET hours = EXCLUDED.hours, set_by = EXCLUDED.set_by, set_at = now()"),
        {"c": community_id, "w": weekday, "s": slot, "h": hours, "by": by})


def idle_on_duty(conn: Connection, community_ids: list[int], *, duty: str,
                 since: dt.datetime) -> dict[int, int]:
    """Per community: active volunteers whose roster duties include ``duty`` and who started
    no patrol since ``since`` (the force a shortfall could call on first)."""
    rows = conn.execute(sa.text("""
        SELECT v.community_id, count(*) FROM volunteers v
        WHERE v.active AND v.community_id = ANY(CAST(:ids AS integer[]))
          AND :duty = ANY(v.duties)
          AND NOT EXISTS (SELECT 1 FROM tracks t WHERE t.volunteer_id = v.id
                          AND t.kind = 'patrol' AND t.started_at >= :since)
        GROUP BY v.community_id"""), {"ids": list(community_ids), "duty": duty,
                                       "since": since}).all()
    return {int(c): int(n) for c, n in rows}
