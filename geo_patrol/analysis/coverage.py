"""Street coverage: which parts of which segments a window's patrol paths came within ``R`` of.

Street segments are cut into straight *atoms* (between their vertices). Each path step is a
straight piece too, so the part of an atom within ``R`` of a step is one interval, computed in
closed form (the step's capsule is convex: two end disks and a band). Candidate pairs come
from a bounding-box STRtree query; intervals are merged with sorted sweeps. Everything is
numpy, chunked by volunteer and run on two threads (GEOS and numpy release the GIL).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo_patrol.analysis.paths import Steps

_EPS = 1e-9


@dataclass
class Atoms:
    """Straight pieces of the street segments (``seg`` indexes the segment arrays)."""

    seg: np.ndarray
    x0: np.ndarray
    y0: np.ndarray
    x1: np.ndarray
    y1: np.ndarray
    length: np.ndarray
    tree: shapely.STRtree | None = None

    @classmethod
    def from_lines(cls, lines: np.ndarray, radius: float) -> Atoms:
        coords, idx = shapely.get_coordinates(lines, return_index=True)
        same = idx[1:] == idx[:-1]
        k = np.flatnonzero(same)
        x0, y0 = coords[k, 0], coords[k, 1]
        x1, y1 = coords[k + 1, 0], coords[k + 1, 1]
        length = np.hypot(x1 - x0, y1 - y0)
        keep = length > _EPS
        atoms = cls(idx[k][keep], x0[keep], y0[keep], x1[keep], y1[keep], length[keep])
        boxes = shapely.box(np.minimum(atoms.x0, atoms.x1) - radius,
                            np.minimum(atoms.y0, atoms.y1) - radius,
                            np.maximum(atoms.x0, atoms.x1) + radius,
                            np.maximum(atoms.y0, atoms.y1) + radius)
        atoms.tree = shapely.STRtree(boxes)
        return atoms


def _linear(alpha: np.ndarray, beta: np.ndarray, lo: float | np.ndarray,
            hi: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The t-interval where ``alpha + beta * t`` lies in ``[lo, hi]`` (empty: start > end)."""
    flat = np.abs(beta) < _EPS
    safe = np.where(flat, 1.0, beta)
    a = (lo - alpha) / safe
    b = (hi - alpha) / safe
    start = np.where(flat, np.where((alpha >= lo) & (alpha <= hi), -np.inf, np.inf),
                     np.minimum(a, b))
    end = np.where(flat, np.where((alpha >= lo) & (alpha <= hi), np.inf, -np.inf),
                   np.maximum(a, b))
    return start, end


def _disk(px: np.ndarray, py: np.ndarray, ux: np.ndarray, uy: np.ndarray, cx: np.ndarray,
          cy: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray]:
    wx, wy = px - cx, py - cy
    b = ux * wx + uy * wy
    disc = b * b - (wx * wx + wy * wy - r * r)
    root = np.sqrt(np.maximum(disc, 0))
    ok = disc >= 0
    return np.where(ok, -b - root, np.inf), np.where(ok, -b + root, -np.inf)


def capsule_intervals(px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray,
                      ax: np.ndarray, ay: np.ndarray, bx: np.ndarray, by: np.ndarray,
                      r: float) -> tuple[np.ndarray, np.ndarray]:
    """For each pair, the part ``[start, end]`` (metres from P) of segment PQ within ``r`` of
    segment AB; ``start > end`` when none is."""
    length = np.hypot(qx - px, qy - py)
    ux, uy = (qx - px) / length, (qy - py) / length
    s1, e1 = _disk(px, py, ux, uy, ax, ay, r)
    s2, e2 = _disk(px, py, ux, uy, bx, by, r)
    ab = np.hypot(bx - ax, by - ay)
    has_body = ab > _EPS
    vx = np.where(has_body, (bx - ax) / np.where(has_body, ab, 1), 0)
    vy = np.where(has_body, (by - ay) / np.where(has_body, ab, 1), 0)
    wx, wy = px - ax, py - ay
    sa, ea = _linear(wx * vx + wy * vy, ux * vx + uy * vy, 0.0, ab)
    sb, eb = _linear(-wx * vy + wy * vx, -ux * vy + uy * vx, -r, r)
    s3 = np.where(has_body, np.maximum(sa, sb), np.inf)
    e3 = np.where(has_body, np.minimum(ea, eb), -np.inf)
    # the capsule is convex: its trace on the line is one interval spanning the three pieces
    nonempty = [(s1, e1), (s2, e2), (s3, e3)]
    start = np.min([np.where(s <= e, s, np.inf) for s, e in nonempty], axis=0)
    end = np.max([np.where(s <= e, e, -np.inf) for s, e in nonempty], axis=0)
    return np.maximum(start, 0), np.minimum(end, length)


@dataclass
class Hits:
    """Non-empty (atom, step) intervals."""

    atom: np.ndarray
    step: np.ndarray
    start: np.ndarray
    end: np.ndarray


def hits_for(atoms: Atoms, steps: Steps, lo: int, hi: int, radius: float) -> Hits:
    """Intervals of the atoms within ``radius`` of steps ``lo..hi``."""
    sl = slice(lo, hi)
    lines = shapely.linestrings(np.stack([np.column_stack([steps.ax[sl], steps.ay[sl]]),
                                          np.column_stack([steps.bx[sl], steps.by[sl]])],
                                         axis=1))
    assert atoms.tree is not None
    s_idx, a_idx = atoms.tree.query(lines)
    s_idx = s_idx + lo
    start, end = capsule_intervals(atoms.x0[a_idx], atoms.y0[a_idx], atoms.x1[a_idx],
                                   atoms.y1[a_idx], steps.ax[s_idx], steps.ay[s_idx],
                                   steps.bx[s_idx], steps.by[s_idx], radius)
    keep = end - start > _EPS
    return Hits(a_idx[keep], s_idx[keep], start[keep], end[keep])


def merge_intervals(key: np.ndarray, start: np.ndarray, end: np.ndarray, *,
                    presorted: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of intervals per key: returns (key, start, end) of the disjoint pieces, sorted by
    key and start (``presorted``: the input already is)."""
    if len(key) == 0:
        return key, start, end
    if not presorted:
        order = np.lexsort((start, key))
        key, start, end = key[order], start[order], end[order]
    # the furthest end so far within each key, exactly (no offsets added): the union's pieces
    # do not depend on which other keys are merged alongside
    reach = pd.Series(end).groupby(key, sort=False).cummax().to_numpy()
    new = np.ones(len(key), dtype=bool)
    new[1:] = (key[1:] != key[:-1]) | (start[1:] > reach[:-1])
    first = np.flatnonzero(new)
    return key[first], start[first], np.maximum.reduceat(end, first)


def chunk_bounds(volunteer: np.ndarray, size: int) -> list[tuple[int, int]]:
    """Step ranges of about ``size`` that never split one volunteer's path."""
    n = len(volunteer)
    cuts = [0]
    while cuts[-1] < n:
        nxt = min(cuts[-1] + size, n)
        while nxt < n and volunteer[nxt] == volunteer[nxt - 1]:
            nxt += 1
        cuts.append(nxt)
    return list(zip(cuts[:-1], cuts[1:]))


def map_chunks(fn, bounds: list[tuple[int, int]], threads: int = 2) -> list:  # noqa: ANN001
    if threads <= 1 or len(bounds) <= 1:
        return [fn(lo, hi) for lo, hi in bounds]
    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(lambda b: fn(*b), bounds))
