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


def number_array(values: np.ndarray | Sequence[float], kind: type | None = None) -> str:
    """Numbers as one PostgreSQL array literal (``'{1, 2, 3}'``): a parameter cast to an
    array type (``%s::bigint[]``) or a COPY text field, written in one call where psycopg
    adapts a list an element at a time. Floats are written exactly (``repr``), NaN as
    ``nan``. With ``kind`` (``int``, ``float``: a list's elements are taken as of one type),
    a list whose first element is of another type is converted first."""
    if kind is None or isinstance(values, np.ndarray):
        items = np.asarray(values, dtype=kind).tolist()
    else:
        items = values if isinstance(values, list) else list(values)
        if items and type(items[0]) is not kind:
            items = [kind(v) for v in items]
    return "{" + repr(items)[1:-1] + "}"


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
