"""Volunteers walking the tasks they took, as their phones record it, with the compliance of
real volunteers: most walk their task's loop in its window and make its stops, some stop
short, some never set out. Written as the app's CSV export (GCJ-02), to be loaded through
the ordinary track loader and checked like any other fixes.

Pure and deterministic: the tasks and a random generator in, fixes and the CSV text out.
Coordinates are metric (the demo's UTM 49N, :class:`geo_patrol.demo.generate.Frame`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import shapely

from geo_patrol.demo.generate import TZ, Frame

#: What a volunteer who took a task does with it: walks it all, stops short, or skips it.
COMPLIANCE = {"walked": 0.7, "short": 0.17, "skipped": 0.13}


@dataclass(frozen=True)
class TaskWalk:
    """A task as its taker sees it: the route (metric line in walking order), its stops
    (hazards and the hot spot, metric) and its window (epoch seconds)."""

    number: str  # the taker's roster number
    route: np.ndarray  # (n, 2)
    stops: np.ndarray  # (k, 2)
    window_start: float
    window_end: float


@dataclass(frozen=True)
class Walked:
    number: str
    behaviour: str  # a key of COMPLIANCE
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray


def path_fixes(route: np.ndarray, stops: np.ndarray, dwell_s: np.ndarray, *, share: float,
               speed: float, step: float, t0: float
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fixes every ``step`` seconds of a walk at ``speed`` m/s along the first ``share`` of
    ``route`` from ``t0``, stepping aside to each stop on the way and staying ``dwell_s``
    there (noise free)."""
    route = np.asarray(route, dtype=float).reshape(-1, 2)
    along = np.r_[0.0, np.cumsum(np.hypot(*np.diff(route, axis=0).T))]
    cut = share * along[-1]
    line = shapely.LineString(route) if len(route) > 1 else None
    at = np.array([line.project(shapely.Point(s)) for s in stops]) if line is not None \
        and len(stops) else np.zeros(len(stops))
    events = sorted([(float(a), 0, i) for i, a in enumerate(along) if a <= cut]
                    + [(float(a), 1, i) for i, a in enumerate(at) if a <= cut])
    if share < 1 and len(route) > 1:
        end = line.interpolate(cut)
        events.append((cut, 2, 0))
    xs, ys, ts = [], [], []
    t = t0
    last: tuple[float, float] | None = None

    def go(x: float, y: float, stay: float = 0.0) -> None:
        nonlocal t, last
        if last is not None:
            t += float(np.hypot(x - last[0], y - last[1])) / speed
        xs.append(x)
        ys.append(y)
        ts.append(t)
        if stay > 0:  # the same place again when leaving
            t += stay
            xs.append(x)
            ys.append(y)
            ts.append(t)
        last = (x, y)

    for a, kind, i in events:
        if kind == 0:
            go(*route[i])
        elif kind == 1:
            on = line.interpolate(a) if line is not None else shapely.Point(stops[i])
            go(on.x, on.y)
            go(float(stops[i][0]), float(stops[i][1]), float(dwell_s[i]))
            go(on.x, on.y)
        else:
            go(end.x, end.y)
    if not ts:
        return np.zeros(0), np.zeros(0), np.zeros(0)
    tk, xk, yk = np.array(ts), np.array(xs), np.array(ys)
    sample = t0 + np.arange(int((tk[-1] - t0) // step) + 1) * step
    return np.interp(sample, tk, xk), np.interp(sample, tk, yk), sample


def walk_tasks(tasks: list[TaskWalk], rng: np.random.Generator, *, dwell_min: float,
               stop_min: float) -> list[Walked]:
    """Each task walked (or not) by its taker: whether, how far and when drawn from ``rng``
    (:data:`COMPLIANCE`); a hazard stayed at ``dwell_min`` and more, a hot spot's stop
    ``stop_min`` give or take a few minutes; a phone's noise of a few metres."""
    out = []
    names, p = list(COMPLIANCE), np.array(list(COMPLIANCE.values()))
    for task in tasks:
        behaviour = names[int(rng.choice(len(names), p=p / p.sum()))]
        speed = rng.uniform(1.1, 1.4)
        step = float(rng.choice([10.0, 15.0]))
        share = 1.0 if behaviour == "walked" else rng.uniform(0.1, 0.6)
        dwell = 60 * (dwell_min + rng.uniform(1, 4, len(task.stops)))  # seconds
        if len(task.stops):  # the last stop of a hot-spot task is the hot spot
            dwell[-1] = max(dwell[-1], 60 * (stop_min + rng.uniform(-3, 1)))
        if behaviour == "short":
            dwell = dwell * rng.uniform(0.2, 0.6)
        if behaviour == "skipped":
            out.append(Walked(task.number, behaviour, *(np.zeros(0),) * 3))
            continue
        x, y, t = path_fixes(task.route, task.stops, dwell, share=share, speed=speed,
                             step=step, t0=0.0)
        span = float(t[-1]) if len(t) else 0.0
        room = max(task.window_end - task.window_start - span - 300.0, 0.0)
        t = t + task.window_start + 60.0 + rng.uniform(0, room)
        keep = t < task.window_end
        x, y, t = x[keep], y[keep], t[keep]
        out.append(Walked(task.number, behaviour, t, x + rng.normal(0, 2.5, len(x)),
                          y + rng.normal(0, 2.5, len(y))))
    return out


def walks_csv(walked: list[Walked], frame: Frame, rng: np.random.Generator) -> str:
    """The walks as the app exports them: roster number, local time, GCJ-02 position and
    accuracy, in time order per volunteer."""
    lines = ["编号,定位时间,经度,纬度,精度"]
    for w in sorted(walked, key=lambda w: (w.number, w.t[0] if len(w.t) else 0.0)):
        if not len(w.t):
            continue
        lon, lat = frame.gcj(w.x, w.y)
        acc = rng.choice([5, 8, 10], len(w.t))
        lines += [f"{w.number},{dt.datetime.fromtimestamp(float(s), TZ).isoformat()},"
                  f"{a:.7f},{b:.7f},{c}" for s, a, b, c in zip(w.t, lon, lat, acc)]
    return "\n".join(lines) + "\n"
