"""Repeats: the Knox test of near-repeat victimisation over space–time bands, with Monte
Carlo significance, and the alert areas it implies around new incidents.

Pure functions of arrays (metres and days); no database here.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class Knox:
    """Pairs of incidents per distance band (rows) and time band (columns): observed,
    expected under no space–time interaction (times shuffled among places), their ratio and
    the Monte Carlo p-value of an excess."""

    space_step: float
    time_step: int
    observed: np.ndarray
    expected: np.ndarray
    ratio: np.ndarray
    p: np.ndarray
    permutations: int
    incidents: int

    def significant(self, alpha: float = 0.05) -> np.ndarray:
        """Bands with more pairs than chance (p <= alpha and ratio > 1)."""
        return (self.p <= alpha) & (self.ratio > 1)

    def risk(self, alpha: float = 0.05) -> tuple[float, int] | None:
        """How far and how long the near-repeat risk lasts: the bands significant from the
        closest band outward, contiguously, in metres and days; ``None`` without excess at
        the same place and the first week."""
        sig = self.significant(alpha)
        if not sig[0, 0]:
            return None
        rows = int(np.argmin(np.append(sig[:, 0], False)))
        cols = int(np.argmin(np.append(sig[0, :], False)))
        return rows * self.space_step, cols * self.time_step


def knox(x: np.ndarray, y: np.ndarray, day: np.ndarray, *, space_step: float = 100.0,
         space_bands: int = 5, time_step: int = 7, time_bands: int = 4,
         permutations: int = 99, seed: int = 0) -> Knox:
    """Knox table for incidents at (``x``, ``y``) metres on ``day`` (integers, e.g. days
    since an epoch). Pairs closer than ``space_step * space_bands`` are found once (a k-d
    tree); each Monte Carlo replicate shuffles the days among the incidents and recounts."""
    n = len(x)
    shape = (space_bands, time_bands)
    if n < 2:
        zeros = np.zeros(shape)
        return Knox(space_step, time_step, zeros, zeros, zeros, np.ones(shape), permutations, n)
    reach = space_step * space_bands
    pairs = cKDTree(np.column_stack([x, y])).query_pairs(reach, output_type="ndarray")
    a, b = pairs[:, 0].astype(np.intp), pairs[:, 1].astype(np.intp)
    dist = np.hypot(x[a] - x[b], y[a] - y[b])
    keep = dist < reach
    a, b = a[keep], b[keep]
    t = np.asarray(day, dtype=np.int64)
    t = (t - t.min()).astype(np.int32)
    # a pair's cell: its distance band's row, its time band's column; one extra column
    # per row takes the pairs farther apart in time than the last band
    width = time_bands + 1
    offset = (dist[keep] // space_step).astype(np.int32) * width

    def table(times: np.ndarray) -> np.ndarray:
        gap = np.take(times, a)
        np.subtract(gap, np.take(times, b), out=gap)
        np.abs(gap, out=gap)
        np.floor_divide(gap, time_step, out=gap)
        np.minimum(gap, time_bands, out=gap)
        gap += offset
        counts = np.bincount(gap, minlength=space_bands * width)
        return counts.reshape(space_bands, width)[:, :time_bands].ravel().astype(float)

    observed = table(t)
    rng = np.random.default_rng(seed)
    cells = space_bands * time_bands
    total = np.zeros(cells)
    above = np.zeros(cells)
    # replicates drawn in order (reproducible), counted on two threads (numpy releases the
    # interpreter lock in these array operations)
    with ThreadPoolExecutor(max_workers=2) as pool:
        for sim in pool.map(table, (rng.permutation(t) for _ in range(permutations))):
            total += sim
            above += sim >= observed
    expected = total / permutations if permutations else np.zeros(cells)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(expected > 0, observed / expected, np.where(observed > 0, np.inf, 1.0))
    p = (above + 1) / (permutations + 1)
    return Knox(space_step, time_step, observed.reshape(shape), expected.reshape(shape),
                ratio.reshape(shape), p.reshape(shape), permutations, n)


@dataclass(frozen=True)
class Alert:
    """An area of raised risk around a recent incident, until it lapses."""

    incident_id: int
    x: float
    y: float
    radius_m: float
    day: dt.date
    until: dt.date


def alerts(ids: np.ndarray, x: np.ndarray, y: np.ndarray, days: list[dt.date],
           risk: tuple[float, int] | None, today: dt.date) -> list[Alert]:
    """An alert around each incident whose near-repeat window (``risk``: metres, days) is
    still open on ``today``; none when the test found no near-repeat pattern."""
    if risk is None:
        return []
    radius, span = risk
    out = []
    for i, xx, yy, d in zip(ids, x, y, days):
        until = d + dt.timedelta(days=span)
        if d <= today < until:
            out.append(Alert(int(i), float(xx), float(yy), radius, d, until))
    return out
