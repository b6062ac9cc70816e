"""Every bad value of a file, collected row by row before anything is stored, so one load
names them all (up to :data:`~geo_patrol.errors.MAX_ROW_PROBLEMS`), each with its row,
column and reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from geo_patrol.errors import MAX_ROW_PROBLEMS, RowErrors, RowProblem


class Problems:
    """The bad values found in ``source`` (rows numbered as the file's ``unit``)."""

    def __init__(self, source: str, unit: str = "row") -> None:
        self.source, self.unit = source, unit
        self.found: list[RowProblem] = []
        self.total = 0
        self.rows: set[object] = set()
        self.cells: set[tuple[object, str]] = set()  # one reason per row and column

    def flag(self, mask: np.ndarray, rows: np.ndarray, column: str, msgid: str,
             values: Callable[[int], dict[str, Any]] = lambda i: {}) -> None:
        """Each row of ``mask`` (positions into ``rows``) is wrong in ``column``; ``values``
        gives the message's values for a position."""
        for i in np.flatnonzero(np.asarray(mask, dtype=bool)):
            if self._noted(rows[i], column) and len(self.found) < MAX_ROW_PROBLEMS:
                self.found.append(RowProblem(_plain(rows[i]), column, msgid,
                                             values(int(i)), self.unit))

    def add(self, row: object, column: str, msgid: str, values: dict[str, Any]) -> None:
        """One bad value: ``column`` of ``row``."""
        if self._noted(row, column) and len(self.found) < MAX_ROW_PROBLEMS:
            self.found.append(RowProblem(_plain(row), column, msgid, values, self.unit))

    def _noted(self, row: object, column: str) -> bool:
        """Count ``column`` of ``row`` as bad; False when it was already (a line's vertices
        share their feature's number: its reason is said once)."""
        key = (_plain(row), column)
        if key in self.cells:
            return False
        self.cells.add(key)
        self.total += 1
        self.rows.add(row)
        return True

    def bad(self, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` are wrong already (a later check skips them)."""
        return np.array([r in self.rows for r in rows], dtype=bool)

    def raise_if_any(self) -> None:
        """Refuse the file, naming every bad value, when one was found."""
        if self.found:
            ordered = sorted(self.found, key=lambda p: (str(type(p.row)), p.row))
            raise RowErrors(ordered, source=self.source, total=self.total)


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value
