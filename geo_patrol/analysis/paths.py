"""Patrol paths: a window's clean fixes joined into steps.

A step joins two consecutive clean fixes of one volunteer at most ``gap_s`` apart with a
plausible speed, within one local day (paths are cut at midnight, so that each day's steps are
its own and whole days compose into any window). A fix with no step on either side is kept as a zero-length step, so a
lone fix still visits what is within reach.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Fixes:
    """Clean fixes of a window, sorted by volunteer and time (t in epoch seconds)."""

    volunteer: np.ndarray
    kind: np.ndarray  # 0 patrol, 1 passive
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    @classmethod
    def empty(cls) -> Fixes:
        return cls(np.zeros(0, "int32"), np.zeros(0, "int8"), np.zeros(0), np.zeros(0),
                   np.zeros(0))

    def take(self, keep: np.ndarray) -> Fixes:
        """The fixes selected by ``keep`` (a mask or indices), in their order."""
        return Fixes(self.volunteer[keep], self.kind[keep], self.t[keep], self.x[keep],
                     self.y[keep])


@dataclass
class Steps:
    """Straight pieces of patrol paths from (ax, ay) at t0 to (bx, by) at t1."""

    volunteer: np.ndarray
    kind: np.ndarray
    t0: np.ndarray
    t1: np.ndarray
    ax: np.ndarray
    ay: np.ndarray
    bx: np.ndarray
    by: np.ndarray

    def __len__(self) -> int:
        return len(self.t0)

    def take(self, keep: np.ndarray) -> Steps:
        """The steps selected by ``keep`` (a mask or indices), in their order."""
        return Steps(self.volunteer[keep], self.kind[keep], self.t0[keep], self.t1[keep],
                     self.ax[keep], self.ay[keep], self.bx[keep], self.by[keep])


def build_steps(fixes: Fixes, *, gap_s: float = 120.0, max_speed_kmh: float = 200.0,
                breaks: np.ndarray | None = None) -> Steps:
    """Join consecutive fixes into steps (vectorised); no step crosses a time in ``breaks``
    (the local midnights, epoch seconds, sorted)."""
    n = len(fixes)
    if n == 0:
        z = np.zeros(0)
        return Steps(np.zeros(0, "int32"), np.zeros(0, "int8"), z, z, z, z, z, z)
    same = fixes.volunteer[1:] == fixes.volunteer[:-1]
    dt_s = np.diff(fixes.t)
    dist = np.hypot(np.diff(fixes.x), np.diff(fixes.y))
    link = same & (dt_s <= gap_s) & (dist <= max_speed_kmh / 3.6 * np.maximum(dt_s, 1e-9))
    if breaks is not None and len(breaks):
        part = np.searchsorted(breaks, fixes.t, side="right")
        link &= part[1:] == part[:-1]
    i = np.flatnonzero(link)
    linked = np.zeros(n, dtype=bool)
    linked[i] = True
    linked[i + 1] = True
    lone = np.flatnonzero(~linked)
    a = np.concatenate([i, lone])
    b = np.concatenate([i + 1, lone])
    order = np.lexsort((fixes.t[a], fixes.volunteer[a]))
    a, b = a[order], b[order]
    return Steps(fixes.volunteer[a], fixes.kind[a], fixes.t[a], fixes.t[b], fixes.x[a],
                 fixes.y[a], fixes.x[b], fixes.y[b])


def spikes(fixes: Fixes, *, max_speed_kmh: float) -> np.ndarray:
    """Which fixes are reached from the previous fix of their volunteer faster than
    ``max_speed_kmh`` and left to the next one as fast: a jump out and back, or the middle of
    a ride. The fixes either side of them are then joined by :func:`build_steps` as any
    others (a spike dropped leaves its neighbours one step)."""
    n = len(fixes)
    fast = np.zeros(n + 1, dtype=bool)  # fast[i]: the link into fix i
    if n > 1:
        same = fixes.volunteer[1:] == fixes.volunteer[:-1]
        dist = np.hypot(np.diff(fixes.x), np.diff(fixes.y))
        fast[1:n] = same & (dist > max_speed_kmh / 3.6 * np.maximum(np.diff(fixes.t), 1e-6))
    return fast[:n] & fast[1:]
