"""Each local day's stored visits (``day_visits``) and each month's roll-up of them
(``month_visits``): read, written (replacing the day or month) and forgotten when fixes of a
day arrive (a day forgotten takes its month along)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Connection


@dataclass
class StoredDay:
    day: dt.date
    streets_key: str
    visits: bytes
    fixes: int


def read_days(conn: Connection, first: dt.date, last: dt.date) -> dict[dt.date, StoredDay]:
    """The stored days from ``first`` to ``last`` (inclusive)."""
    rows = conn.execute(sa.text(
        "SELECT day, streets_key, visits, fixes FROM day_visits WHERE day BETWEEN :a AND :b"),
        {"a": first, "b": last}).all()
    return {r.day: StoredDay(r.day, r.streets_key, bytes(r.visits), r.fixes) for r in rows}


def write_day(conn: Connection, day: StoredDay) -> None:
    """Store a day's visits, replacing what the day held (and forgetting its month)."""
    _forget_months(conn, [day.day])
    conn.execute(sa.text(
        "INSERT INTO day_visits (day, streets_key, visits, fixes) VALUES (:d, :k, :v, :f) "
        "ON CONFLICT (day) DO UPDATE SET streets_key = excluded.streets_key, "
        "visits = excluded.visits, fixes = excluded.fixes, analysed_at = now()"),
        {"d": day.day, "k": day.streets_key, "v": day.visits, "f": day.fixes})


def forget_days(conn: Connection, days: Iterable[dt.date]) -> None:
    """Days whose fixes changed: their stored visits (and their months') are redone when
    next needed."""
    days = list(days)
    _forget_months(conn, days)
    conn.execute(sa.text("DELETE FROM day_visits WHERE day = ANY(:d)"), {"d": days})


def queue_forget_days(raw: psycopg.Connection, days: Iterable[dt.date]) -> None:
    """:func:`forget_days` as one statement on a psycopg connection (sent without waiting
    when the connection is in pipeline mode)."""
    days = sorted(set(days))
    if days:
        raw.execute("WITH m AS (DELETE FROM month_visits WHERE month = ANY(%s)) "
                    "DELETE FROM day_visits WHERE day = ANY(%s)",
                    (sorted({d.replace(day=1) for d in days}), days))


def _forget_months(conn: Connection, days: list[dt.date]) -> None:
    conn.execute(sa.text("DELETE FROM month_visits WHERE month = ANY(:m)"),
                 {"m": sorted({d.replace(day=1) for d in days})})


def read_months(conn: Connection, months: list[dt.date]) -> dict[dt.date, StoredDay]:
    """The stored roll-ups of these months (by their first day)."""
    rows = conn.execute(sa.text(
        "SELECT month, streets_key, visits, fixes FROM month_visits WHERE month = ANY(:m)"),
        {"m": months}).all()
    return {r.month: StoredDay(r.month, r.streets_key, bytes(r.visits), r.fixes) for r in rows}


def write_month(conn: Connection, month: StoredDay) -> None:
    """Store a month's roll-up (``month.day``: its first day), replacing the one it had."""
    conn.execute(sa.text(
        "INSERT INTO month_visits (month, streets_key, visits, fixes) VALUES (:d, :k, :v, :f) "
        "ON CONFLICT (month) DO UPDATE SET streets_key = excluded.streets_key, "
        "visits = excluded.visits, fixes = excluded.fixes, analysed_at = now()"),
        {"d": month.day, "k": month.streets_key, "v": month.visits, "f": month.fixes})
