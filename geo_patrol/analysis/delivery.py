"""Was a patrol task delivered? Checked against the volunteer's own fixes in its window.

Pure: the tasks' routes (metric lines), their stops (metric points) and the fixes in, a
:class:`Verdict` per task out. Walked and stayed mean what they mean on the map: the path is
:func:`~geo_patrol.analysis.paths.build_steps`'s, a street of the route is walked where it
lies within ``params.radius_m`` of the path (:func:`~geo_patrol.analysis.visits.walked_m`,
coverage's ``covered_m``) and a stop is made by a stay near it
(:func:`~geo_patrol.analysis.visits.place_visits`, a hazard's inspection), all from the one
:class:`~geo_patrol.analysis.params.AnalysisParams` built from the city's settings.

Only fixes that passed the fix checks count. A walking task adds one rule of its own: no
step faster than walking pace (``max_walk_kmh``) walks a street, and a fix reached and left
that fast (a jump out and back, the middle of a ride) is dropped, so a device carried in a
car or a moved mock position does not walk a street, and fixes jumping between a stop and
somewhere else make no stay there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes, build_steps, spikes
from geo_patrol.analysis.visits import place_visits, walked_m
from geo_patrol.rules import Rules

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


@dataclass
class TaskPlaces:
    """The routes and stops of tasks checked together (metric), each line and stop with the
    position of its task."""

    lines: np.ndarray      # LineStrings
    line_task: np.ndarray
    stops: np.ndarray      # (k, 2)
    stop_task: np.ndarray
    n_tasks: int

    @classmethod
    def of(cls, routes: list[tuple[np.ndarray, np.ndarray]]) -> TaskPlaces:
        """From each task's street lines and its stops ``[k, 2]``."""
        lines = [np.asarray(r, dtype=object).reshape(-1) for r, _ in routes]
        stops = [np.asarray(s, dtype=float).reshape(-1, 2) for _, s in routes]
        n = len(routes)
        return cls(np.concatenate(lines) if n else np.zeros(0, dtype=object),
                   np.repeat(np.arange(n), [len(v) for v in lines]),
                   np.concatenate(stops) if n else np.zeros((0, 2)),
                   np.repeat(np.arange(n), [len(v) for v in stops]), n)


def task_fixes(x: np.ndarray, y: np.ndarray, t: np.ndarray, ok: np.ndarray
               ) -> tuple[np.ndarray, Fixes]:
    """One task's fixes that passed the checks, in time order (as :class:`Fixes` of task 0),
    and their indices in the input."""
    x, y, t = (np.asarray(v, dtype=float) for v in (x, y, t))
    order = np.argsort(t, kind="stable")
    order = order[np.asarray(ok, dtype=bool)[order]]
    return order.astype(np.int64), Fixes(np.zeros(len(order), "int32"),
                                          np.zeros(len(order), "int8"), t[order], x[order],
                                          y[order])


def walking_fixes(x: np.ndarray, y: np.ndarray, t: np.ndarray, ok: np.ndarray, *,
                  max_kmh: float) -> tuple[np.ndarray, int]:
    """Indices (in time order) of the fixes that count on a walking task: passed the checks
    and not reached and left faster than ``max_kmh`` (:func:`spikes`); and how many were too
    fast."""
    order, fixes = task_fixes(x, y, t, ok)
    fast = spikes(fixes, max_speed_kmh=max_kmh)
    return order[~fast], int(fast.sum())


def verify_tasks(places: TaskPlaces, fixes: Fixes, *, params: AnalysisParams, rules: Rules,
                 breaks: np.ndarray | None = None) -> list[Verdict]:
    """The verdicts on tasks checked together. ``fixes`` are the clean fixes of each task's
    taker in its window, ``volunteer`` holding the task's position, sorted by it and time;
    ``breaks`` the local midnights that cut paths, as on the map."""
    n = places.n_tasks
    rule = rules.delivery
    fast = spikes(fixes, max_speed_kmh=rule.max_walk_kmh)
    walking = fixes.take(~fast)
    steps = build_steps(walking, gap_s=params.gap_s,
                        max_speed_kmh=min(params.max_speed_kmh, rule.max_walk_kmh),
                        breaks=breaks)
    line_task = places.line_task
    total = np.bincount(line_task, weights=shapely.length(places.lines), minlength=n)
    walked = np.bincount(line_task, weights=walked_m(places.lines, steps,
                                                     radius=params.radius_m,
                                                     line_owner=line_task), minlength=n)
    share = np.divide(walked, total, out=np.zeros(n), where=total > 0)
    # the stays, as a hazard's inspection, of the same fixes the streets count: a fix
    # reached and left faster than walking pace is a jump, not a moment at the stop
    visits = place_visits(places.stops[:, 0], places.stops[:, 1], walking,
                          radius=params.stay_radius_m(rules), gap_s=params.gap_s)
    own = visits.volunteer == places.stop_task[visits.hazard]
    made_stop = np.zeros(len(places.stop_task), dtype=bool)
    made_stop[visits.hazard[own & visits.stays(params.stay_min(rules))]] = True
    made = np.bincount(places.stop_task, weights=made_stop, minlength=n).astype("int64")
    stops = np.bincount(places.stop_task, minlength=n)
    counted = np.bincount(walking.volunteer.astype("int64"), minlength=n)
    too_fast = np.bincount(fixes.volunteer[fast].astype("int64"), minlength=n)
    delivered = (share >= rule.delivered_share) & (made == stops)
    partly = (share >= rule.partly_share) | (made > 0)
    state = np.where(delivered, 0, np.where(partly, 1, 2))
    return [Verdict(STATES[s], float(w), int(m), int(k), int(c), int(f))
            for s, w, m, k, c, f in zip(state, share, made, stops, counted, too_fast)]


def verify(route: np.ndarray, stops: np.ndarray, x: np.ndarray, y: np.ndarray, t: np.ndarray,
           ok: np.ndarray, *, params: AnalysisParams, rules: Rules,
           breaks: np.ndarray | None = None) -> Verdict:
    """The verdict on one task: ``route`` its street lines, ``stops`` [k, 2] its stops (all
    in metres), ``x, y, t`` (seconds) the volunteer's fixes in its window and ``ok`` which
    passed the fix checks."""
    _, fixes = task_fixes(x, y, t, ok)
    return verify_tasks(TaskPlaces.of([(route, stops)]), fixes, params=params, rules=rules,
                        breaks=breaks)[0]
