"""Each local day's stored visits (``day_visits``): read, written (replacing the day) and
forgotten when fixes of the day arrive."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

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
    """Store a day's visits, replacing what the day held."""
    conn.execute(sa.text(
        "INSERT INTO day_visits (day, streets_key, visits, fixes) VALUES (:d, :k, :v, :f) "
        "ON CONFLICT (day) DO UPDATE SET streets_key = excluded.streets_key, "
        "visits = excluded.visits, fixes = excluded.fixes, analysed_at = now()"),
        {"d": day.day, "k": day.streets_key, "v": day.visits, "f": day.fixes})


def forget_days(conn: Connection, days: Iterable[dt.date]) -> None:
    """Days whose fixes changed: their stored visits are redone when next needed."""
    conn.execute(sa.text("DELETE FROM day_visits WHERE day = ANY(:d)"), {"d": list(days)})
