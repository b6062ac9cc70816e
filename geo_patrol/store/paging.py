"""One page of a query, sorted by a column chosen from a fixed list and cut with LIMIT and
OFFSET in PostgreSQL, with the number of rows of all pages from the same query."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.paging import PageOf, Paging


def page_of(conn: Connection, sql: str, params: Mapping[str, object], paging: Paging, *,
            sortable: Mapping[str, str], order: str, tie: str) -> PageOf:
    """Page ``paging`` of the rows of ``sql`` (a SELECT whose output columns the other
    arguments name as ``q.column``). ``sortable`` maps the sort keys a page may ask for to
    expressions over ``q``; ``order`` is the order without one; ``tie`` makes every order
    total (so that a row is on exactly one page)."""
    if paging.sort is not None:
        direction = "DESC" if paging.descending else "ASC"
        order = f"{sortable[paging.sort]} {direction} NULLS LAST"
    query = (f"SELECT q.*, count(*) OVER () AS total_rows_ FROM ({sql}) q "  # noqa: S608
             f"ORDER BY {order}, {tie} LIMIT :limit_ OFFSET :offset_")
    frame = pd.read_sql_query(sa.text(query), conn, params={
        **params, "limit_": paging.size, "offset_": paging.offset})
    if len(frame):
        total = int(frame["total_rows_"].iloc[0])
    else:  # past the last page: the count alone
        total = int(conn.execute(sa.text(f"SELECT count(*) FROM ({sql}) q"),  # noqa: S608
                                 dict(params)).scalar() or 0)
    return PageOf(frame.drop(columns="total_rows_"), total, paging)
