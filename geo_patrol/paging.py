"""One page of a long table: which rows (page and size), in which order (a column key and a
direction) and which filters, asked for by a page and answered by the store."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

#: Rows on one page of a table unless a page asks for another size.
PAGE_SIZE = 50
#: The furthest page a request may ask for (deeper pages are filtered, not paged to).
MAX_PAGE = 100_000


@dataclass(frozen=True)
class Paging:
    """Page ``page`` (from 1) of ``size`` rows sorted by the column key ``sort`` (the
    table's own order when ``None``), ``descending`` or not, with ``filters`` by key."""

    page: int = 1
    size: int = PAGE_SIZE
    sort: str | None = None
    descending: bool = False
    filters: Mapping[str, str] = field(default_factory=dict)

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def filter(self, key: str) -> str | None:
        return self.filters.get(key) or None


@dataclass(frozen=True)
class PageOf:
    """The rows of one page, the number of rows in all pages and how they were asked for."""

    rows: Any  # a DataFrame
    total: int
    paging: Paging

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.paging.size))

    @property
    def first(self) -> int:
        """The number of the page's first row (from 1; 0 on an empty page)."""
        return self.paging.offset + 1 if len(self.rows) else 0

    @property
    def last(self) -> int:
        return self.paging.offset + len(self.rows)

    def __iter__(self):  # noqa: ANN204  (rows as named tuples, like a DataFrame's)
        return self.rows.itertuples()

    def __len__(self) -> int:
        return len(self.rows)


def page_frame(frame: Any, paging: Paging, *, sortable: Mapping[str, str],
               order: list[str], filters: Mapping[str, str] | None = None) -> PageOf:
    """Page ``paging`` of a table worked out in full (a summary, not a query): filtered
    where a filter's column (``filters`` maps its key to the column) equals the value
    asked for, sorted by the column ``sortable`` names for the sort key (else by
    ``order``), the other columns of ``order`` breaking ties."""
    for key, column in (filters or {}).items():
        if paging.filter(key):
            frame = frame[frame[column].astype(str) == paging.filters[key]]
    by = list(order)
    ascending = [True] * len(by)
    if paging.sort is not None:
        column = sortable[paging.sort]
        by = [column, *[c for c in by if c != column]]
        ascending = [not paging.descending] + [True] * (len(by) - 1)
    frame = frame.sort_values(by, ascending=ascending, kind="stable", na_position="last")
    return PageOf(frame.iloc[paging.offset:paging.offset + paging.size].reset_index(drop=True),
                  len(frame), paging)
