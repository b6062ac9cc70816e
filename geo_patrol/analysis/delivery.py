"""Was a patrol task delivered? Checked against the volunteer's own fixes in its window.

Pure: the route (metric lines), its stops (metric points) and the fixes in, a
:class:`Verdict` out. Only fixes that passed the fix checks count (flagged jumps, poor
accuracy, duplicates and out-of-order fixes do not), and on a walking task no fix reached
faster than walking pace (a device carried in a car or a moved mock position does not walk a
street). A street of the route is walked where it lies within ``radius_m`` of the path
joining the counted fixes (pieces more than ``gap_s`` apart are not joined); a stop is made
by a stay of ``dwell_min`` within ``stop_radius_m``, as an inspection in compliance.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

STATES = ("delivered", "partly", "missed")


@dataclass(frozen=True)
class Verdict:
    state: str
    walked_share: float
    stops_made: int
    stops: int
    fixes: int  # fixes that counted
    too_fast: int  # fixes dropped as faster than walking

    def as_dict(self) -> dict[str, object]:
        return {"state": self.state, "walked_share": round(self.walked_share, 4),
                "stops_made": self.stops_made, "stops": self.stops, "fixes": self.fixes,
                "too_fast": self.too_fast}


def walking_fixes(x: np.ndarray, y: np.ndarray, t: np.ndarray, ok: np.ndarray, *,
                  max_kmh: float) -> tuple[np.ndarray, int]:
    """Indices (in time order) of the fixes that count: passed the checks and reached at no
    more than ``max_kmh`` from the previous one that counted; and how many were too fast."""
    order = np.argsort(t, kind="stable")
    keep, fast = [], 0
    last = None
    for i in order[np.asarray(ok, bool)[order]]:
        if last is not None:
            dt_s = max(float(t[i] - t[last]), 1e-6)
            if np.hypot(x[i] - x[last], y[i] - y[last]) / dt_s * 3.6 > max_kmh:
                fast += 1
                continue
        keep.append(i)
        last = i
    return np.asarray(keep, dtype=np.int64), fast


def _path(x: np.ndarray, y: np.ndarray, t: np.ndarray, gap_s: float) -> object:
    """The counted fixes joined into lines, broken where they are more than ``gap_s``
    apart; single fixes as points."""
    if not len(x):
        return shapely.GeometryCollection()
    cuts = np.flatnonzero(np.diff(t) > gap_s) + 1
    parts = []
    for lo, hi in zip(np.r_[0, cuts], np.r_[cuts, len(x)]):
        xy = np.column_stack([x[lo:hi], y[lo:hi]])
        parts.append(shapely.LineString(xy) if len(xy) > 1 else shapely.Point(xy[0]))
    return shapely.GeometryCollection(parts)


def _stayed(x: np.ndarray, y: np.ndarray, t: np.ndarray, px: float, py: float, *,
            radius: float, minutes: float, gap_s: float) -> bool:
    """Whether the fixes stay within ``radius`` of the point for ``minutes`` on end."""
    inside = np.hypot(x - px, y - py) <= radius
    start = None
    for i in range(len(t)):
        if inside[i] and start is not None and t[i] - t[i - 1] <= gap_s:
            if t[i] - t[start] >= minutes * 60:
                return True
        elif inside[i]:
            start = i
        else:
            start = None
    return False


def verify(route: np.ndarray, stops: np.ndarray, x: np.ndarray, y: np.ndarray, t: np.ndarray,
           ok: np.ndarray, *, radius_m: float, delivered_share: float, partly_share: float,
           max_walk_kmh: float, dwell_min: float, stop_radius_m: float,
           gap_s: float = 120.0) -> Verdict:
    """The verdict on one task: ``route`` its street lines, ``stops`` [k, 2] its stops (all
    in metres), ``x, y, t`` (seconds) the volunteer's fixes in its window and ``ok`` which
    passed the fix checks."""
    x, y, t = (np.asarray(v, float) for v in (x, y, t))
    idx, fast = walking_fixes(x, y, t, np.asarray(ok, bool), max_kmh=max_walk_kmh)
    x, y, t = x[idx], y[idx], t[idx]
    lines = shapely.union_all(np.asarray(route)) if len(route) else shapely.LineString()
    total = float(shapely.length(lines))
    walked = 0.0
    if len(idx) and total > 0:
        area = shapely.buffer(_path(x, y, t, gap_s), radius_m)
        walked = float(shapely.length(shapely.intersection(lines, area))) / total
    stops = np.asarray(stops, float).reshape(-1, 2)
    made = sum(_stayed(x, y, t, px, py, radius=stop_radius_m, minutes=dwell_min, gap_s=gap_s)
               for px, py in stops)
    if walked >= delivered_share and made == len(stops):
        state = "delivered"
    elif walked >= partly_share or made > 0:
        state = "partly"
    else:
        state = "missed"
    return Verdict(state, walked, int(made), len(stops), int(len(idx)), fast)
