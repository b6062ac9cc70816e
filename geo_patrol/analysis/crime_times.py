"""When crime happens: the hour × weekday matrix, the weekday profile of dated-only records
and the trend by week. Pure functions of dates and local times."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Below this share of incidents with a time of day, the hours are not shown (dates only).
MIN_TIMED_SHARE = 0.5


@dataclass(frozen=True)
class Rhythm:
    """Counts by weekday (Monday = 0) and hour, or by weekday alone when the records carry
    dates only; the trend by ISO week (Monday of the week → incidents)."""

    timed_share: float
    hours_known: bool
    by_hour: np.ndarray  # 7 x 24 (timed incidents only), zeros when hours are unknown
    by_weekday: np.ndarray  # 7 (every dated incident)
    weeks: pd.Series
    dated: int
    undated: int


def rhythm(day: pd.Series, local: pd.Series) -> Rhythm:
    """``day``: each incident's local date (``None`` when unknown); ``local``: its local
    time of occurrence (``NaT`` when only the date is known)."""
    dated = pd.to_datetime(pd.Series(day), errors="coerce")
    at = pd.to_datetime(pd.Series(local), errors="coerce")
    n_dated = int(dated.notna().sum())
    timed = at.notna()
    share = float(timed.sum() / n_dated) if n_dated else 0.0
    known = share >= MIN_TIMED_SHARE
    by_hour = np.zeros((7, 24), dtype=np.int64)
    if known:
        np.add.at(by_hour, (at[timed].dt.day_of_week.to_numpy(), at[timed].dt.hour.to_numpy()), 1)
    d = dated.dropna()
    by_weekday = np.bincount(d.dt.day_of_week.to_numpy(), minlength=7).astype(np.int64)
    if len(d):
        monday = (d - pd.to_timedelta(d.dt.day_of_week, unit="D")).dt.date
        first, last = min(monday), max(monday)
        index = [first + dt.timedelta(weeks=k) for k in range((last - first).days // 7 + 1)]
        weeks = monday.value_counts().reindex(index, fill_value=0).astype(np.int64)
    else:
        weeks = pd.Series(dtype=np.int64)
    return Rhythm(share, known, by_hour, by_weekday, weeks, n_dated,
                  int(len(dated) - n_dated))
