"""Hazard compliance: inspection visits (a stay within reach) and passes, judged by each
category's rule (every N days, or every school day inside time windows). What a visit and a
stay are is :mod:`geo_patrol.analysis.visits`'s."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from geo_patrol.analysis.visits import Calendar, Visits, near_pairs, place_visits
from geo_patrol.rules import VisitRule

__all__ = ["STATUSES", "Compliance", "Visits", "hazard_visits", "judge", "near_pairs"]

STATUSES = ("compliant", "overdue", "never_visited", "cleared")


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


#: A hazard is a place: its visits are any place's (:func:`place_visits`), the very runs
#: that make a task's stop.
hazard_visits = place_visits


def judge(rules: list[VisitRule], cleared: np.ndarray, visits: Visits, cal: Calendar, *,
          dwell_min: float, window_end: float) -> Compliance:
    """Each hazard's status under its rule for the window (``rules[i]`` is hazard i's)."""
    n = len(rules)
    inspection = visits.stays(dwell_min)
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
