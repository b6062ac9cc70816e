"""Hazard compliance: inspection visits (a dwell within reach) and passes, judged by each
category's rule (every N days, or every school day inside time windows)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo_patrol.analysis.paths import Fixes
from geo_patrol.analysis.visits import Calendar
from geo_patrol.rules import VisitRule

STATUSES = ("compliant", "overdue", "never_visited", "cleared")


@dataclass
class Visits:
    """Runs of one volunteer's consecutive fixes within reach of a hazard."""

    hazard: np.ndarray
    volunteer: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def minutes(self) -> np.ndarray:
        return (self.end - self.start) / 60


@dataclass
class Compliance:
    """Arrays aligned with the hazards judged."""

    status: np.ndarray  # index into STATUSES
    inspections: np.ndarray
    passes: np.ndarray
    last_inspection: np.ndarray  # epoch seconds or NaN
    last_inspector: np.ndarray  # volunteer id or -1
    last_pass: np.ndarray
    due_days: np.ndarray
    missed_days: np.ndarray
    first_inspection: np.ndarray  # epoch seconds (the stay's start) or NaN


def near_pairs(px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray,
               radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All (p, q) index pairs within ``radius``: a hash join on ``radius``-sized grid cells
    (each q registered in its 3 x 3 neighbourhood), then exact distances. Suits many p
    (fixes) and fewer q (hazards)."""
    if not len(px) or not len(qx):
        empty = np.zeros(0, dtype="int64")
        return empty, empty
    span = 1 << 31

    def cell(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.floor(x / radius).astype("int64") * span + np.floor(y / radius).astype("int64")

    home = cell(qx, qy)
    keys = np.concatenate([home + dx * span + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    owner = np.tile(np.arange(len(qx)), 9)
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order]
    pc = cell(px, py)
    lo = np.searchsorted(keys, pc, side="left")
    hi = np.searchsorted(keys, pc, side="right")
    count = hi - lo
    p_idx = np.repeat(np.arange(len(px)), count)
    offset = np.arange(len(p_idx)) - np.repeat(np.cumsum(count) - count, count)
    q_idx = owner[np.repeat(lo, count) + offset]
    close = np.hypot(px[p_idx] - qx[q_idx], py[p_idx] - qy[q_idx]) <= radius
    return p_idx[close], q_idx[close]


def hazard_visits(hx: np.ndarray, hy: np.ndarray, fixes: Fixes, *, radius: float,
                  gap_s: float) -> Visits:
    """Visits to each hazard: consecutive fixes of a volunteer within ``radius``, joined while
    at most ``gap_s`` apart."""
    f_idx, h_idx = near_pairs(fixes.x, fixes.y, hx, hy, radius)
    order = np.lexsort((fixes.t[f_idx], fixes.volunteer[f_idx], h_idx))
    f_idx, h_idx = f_idx[order], h_idx[order]
    vol, t = fixes.volunteer[f_idx], fixes.t[f_idx]
    new = np.ones(len(f_idx), dtype=bool)
    new[1:] = (h_idx[1:] != h_idx[:-1]) | (vol[1:] != vol[:-1]) | (np.diff(t) > gap_s)
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(f_idx)) - 1
    if not len(first):
        last = first
    return Visits(h_idx[first], vol[first], t[first], t[last])


def judge(rules: list[VisitRule], cleared: np.ndarray, visits: Visits, cal: Calendar, *,
          dwell_min: float, window_end: float) -> Compliance:
    """Each hazard's status under its rule for the window (``rules[i]`` is hazard i's)."""
    n = len(rules)
    inspection = visits.minutes >= dwell_min
    insp_h = visits.hazard[inspection]
    inspections = np.bincount(insp_h, minlength=n)
    passes = np.bincount(visits.hazard[~inspection], minlength=n)
    last_inspection = np.full(n, np.nan)
    last_inspector = np.full(n, -1, dtype="int64")
    if inspection.any():
        order = np.lexsort((visits.end[inspection], insp_h))
        h, e, v = insp_h[order], visits.end[inspection][order], visits.volunteer[inspection][order]
        tail = np.flatnonzero(np.r_[h[1:] != h[:-1], True])
        last_inspection[h[tail]] = e[tail]
        last_inspector[h[tail]] = v[tail]
    first_inspection = np.full(n, np.nan)
    if inspection.any():
        np.fmin.at(first_inspection, insp_h, visits.start[inspection])
    last_pass = np.full(n, np.nan)
    if (~inspection).any():
        np.fmax.at(last_pass, visits.hazard[~inspection], visits.end[~inspection])
    every = np.array([r.every_days for r in rules], dtype="float64")
    school = np.array([r.school_days_only for r in rules], dtype=bool)
    due = np.zeros(n, dtype="int64")
    missed = np.zeros(n, dtype="int64")
    # periodic rules: one due date per `every` days of the window, met by the last inspection
    age_days = (window_end - last_inspection) / 86400
    periodic_ok = ~np.isnan(age_days) & (age_days <= every)
    # school rules: each school day needs an inspection overlapping one of the windows
    weekday = np.array([d.weekday() for d in cal.dates])
    school_days = np.flatnonzero(weekday < 5)
    if school.any() and len(school_days):
        ok_pairs = _in_windows(rules, visits, inspection, cal)
        met = np.zeros((n, cal.days), dtype=bool)
        if len(ok_pairs):
            met[ok_pairs[:, 0], ok_pairs[:, 1]] = True
        due[school] = len(school_days)
        missed[school] = (~met[np.ix_(np.flatnonzero(school), school_days)]).sum(axis=1)
    due[~school] = np.maximum(1, np.floor(cal.days / every[~school])).astype("int64")
    missed[~school] = np.where(periodic_ok[~school], 0, due[~school])
    status = np.where(missed == 0, 0, 1)
    status = np.where((inspections == 0) & (passes == 0), 2, status)
    status = np.where(school & (len(school_days) == 0), 0, status)
    status = np.where(cleared, 3, status)
    return Compliance(status, inspections, passes, last_inspection, last_inspector, last_pass,
                      due, missed, first_inspection)


def _in_windows(rules: list[VisitRule], visits: Visits, inspection: np.ndarray,
                cal: Calendar) -> np.ndarray:
    """(hazard, day) pairs with an inspection overlapping one of the hazard's windows."""
    out = []
    idx = np.flatnonzero(inspection)
    h = visits.hazard[idx]
    windows = {r.windows for r in rules if r.school_days_only}
    for spec in windows:
        mine = np.array([r.school_days_only and r.windows == spec for r in rules])[h]
        if not mine.any():
            continue
        s, e, hh = visits.start[idx][mine], visits.end[idx][mine], h[mine]
        day = cal.day_of(s)
        base = cal.midnights[day]
        for a, b in spec:
            ws = base + a.hour * 3600 + a.minute * 60
            we = base + b.hour * 3600 + b.minute * 60
            hit = (s < we) & (e > ws)
            out.append(np.column_stack([hh[hit], day[hit]]))
    return np.concatenate(out) if out else np.zeros((0, 2), dtype="int64")
