"""Bulk writes with PostgreSQL COPY through the psycopg 3 connection under SQLAlchemy."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import psycopg
from psycopg import sql
from sqlalchemy.engine import Connection


def driver_connection(conn: Connection) -> psycopg.Connection:
    """The psycopg connection under a SQLAlchemy connection (same transaction)."""
    raw = conn.connection.driver_connection
    assert isinstance(raw, psycopg.Connection)
    return raw


def number_array(values: np.ndarray | Sequence[float]) -> str:
    """Numbers as one PostgreSQL array literal (``'{1,2,3}'``), for a parameter cast to an
    array type (``%s::bigint[]``): one text value to send, where a list is adapted an element
    at a time. Floats are written exactly (``repr``); NaN as ``nan``."""
    return "{" + ",".join(map(str, np.asarray(values).tolist())) + "}"


def copy_rows(conn: Connection, table: str, columns: Sequence[str],
              rows: Iterable[Sequence[object]]) -> int:
    """COPY rows into ``table`` within the current transaction; returns the row count.

    Geometry columns take hex EWKB strings (``shapely.to_wkb(..., hex=True, include_srid=True)``).
    """
    query = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
    n = 0
    with driver_connection(conn).cursor() as cur, cur.copy(query) as copy:
        for row in rows:
            copy.write_row(row)
            n += 1
    return n
