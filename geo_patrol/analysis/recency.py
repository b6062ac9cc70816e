"""Days since a street's last visit, in bins: the one definition that tables, folium maps and
the vector-tile style all use, so a street has the same bin everywhere.

A bin holds ``lo <= days < hi``: a street visited exactly 1 day before the window's end is in
"1-3", exactly 3 days in "3-7", exactly 7 days in "7+".
"""

from __future__ import annotations

import numpy as np

#: (lower edge, upper edge, label) in days, half-open ``[lo, hi)``.
BINS: tuple[tuple[float, float, str], ...] = (
    (0.0, 1.0, "0-1"), (1.0, 3.0, "1-3"), (3.0, 7.0, "3-7"), (7.0, float("inf"), "7+"))
#: The label of streets not visited in the window.
NEVER = "never"
LABELS: tuple[str, ...] = tuple(label for _, _, label in BINS) + (NEVER,)
#: Inner edges (1, 3, 7): ``searchsorted(EDGES, days, side="right")`` is the bin index.
EDGES = np.array([hi for _, hi, _ in BINS[:-1]])


def recency_bin(days: np.ndarray | float | None) -> np.ndarray:
    """Index into :data:`LABELS` for each value of ``days`` (NaN or None: never visited)."""
    values = np.atleast_1d(np.asarray(days, dtype="float64"))
    index = np.searchsorted(EDGES, np.maximum(values, 0.0), side="right")
    return np.where(np.isnan(values), len(BINS), index)


def recency_label(days: float | None) -> str:
    """The label of one value of ``days``."""
    return LABELS[int(recency_bin(np.nan if days is None else days)[0])]


def recency_lengths(days: np.ndarray, length_m: np.ndarray) -> dict[str, np.ndarray]:
    """Per label, the length of each street that falls in the bin (0 elsewhere)."""
    index = recency_bin(days)
    return {label: np.where(index == i, length_m, 0.0) for i, label in enumerate(LABELS)}
