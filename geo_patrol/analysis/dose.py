"""The patrol dose at hot spots: minutes of presence at each place per local day and time
slot, from volunteers' clean fixes, by the one definition of a stay
(:func:`~geo_patrol.analysis.visits.place_visits`, :meth:`~geo_patrol.analysis.visits.Visits.stays`:
a hazard's inspection, a task's stop and a hot spot's dose are the same runs), set against
a plan and against Koper's curve (a stop of 10 to 15 minutes deters longest).

Pure: places and fixes (metric) in, tables out.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo_patrol.analysis.paths import Fixes
from geo_patrol.analysis.visits import place_visits

#: Koper (1995): the residual deterrence of a stop grows up to 10–15 minutes, then falls.
KOPER_MIN = (10.0, 15.0)

CELL_COLUMNS = ["place", "day", "slot", "stays", "koper_stays", "long_stays", "minutes"]


def slot_of(hours: np.ndarray, slots: dict[str, tuple[int, int]]) -> np.ndarray:
    """The slot name of each local hour (``""`` outside every slot)."""
    out = np.full(len(hours), "", dtype=object)
    for name, (lo, hi) in slots.items():
        out[(hours >= lo) & (hours < hi)] = name
    return out


def stays_at(px: np.ndarray, py: np.ndarray, fixes: Fixes, *, radius_m: float, gap_s: float,
             dwell_min: float) -> pd.DataFrame:
    """The stays at each place (``place`` its index): ``volunteer, start, end`` (epoch s)
    and ``minutes``."""
    visits = place_visits(np.asarray(px, dtype=float), np.asarray(py, dtype=float), fixes,
                          radius=radius_m, gap_s=gap_s)
    keep = visits.stays(dwell_min)
    return pd.DataFrame({"place": visits.hazard[keep].astype(np.int64),
                         "volunteer": visits.volunteer[keep].astype(np.int64),
                         "start": visits.start[keep], "end": visits.end[keep],
                         "minutes": visits.minutes[keep]})


def dose_cells(stays: pd.DataFrame, *, timezone: str, slots: dict[str, tuple[int, int]],
               koper_min: tuple[float, float] = KOPER_MIN) -> pd.DataFrame:
    """Per place, local day and slot of the stays' starts: the stays, those of Koper's
    length (``koper_min[0]`` minutes or more, up to ``koper_min[1]``), those longer, and the
    minutes some volunteer was there (overlapping stays of several volunteers count once)."""
    if stays.empty:
        return pd.DataFrame(columns=CELL_COLUMNS)
    zone = ZoneInfo(timezone)
    local = pd.to_datetime(stays["start"], unit="s", utc=True).dt.tz_convert(zone)
    frame = stays.assign(day=local.dt.date, slot=slot_of(local.dt.hour.to_numpy(), slots))
    frame = frame.sort_values(["place", "day", "slot", "start"]).reset_index(drop=True)
    # the union of each cell's stays: a new run where a stay starts after all before it end
    key = ["place", "day", "slot"]
    reach = frame.groupby(key, sort=False)["end"].cummax()
    before = reach.groupby([frame[k] for k in key], sort=False).shift(1)
    run = (before.isna() | (frame["start"] > before)).cumsum()
    runs = frame.assign(run=run, reach=reach).groupby(key + ["run"], sort=False).agg(
        a=("start", "min"), b=("reach", "max"))
    union = ((runs["b"] - runs["a"]) / 60.0).groupby(level=key, sort=False).sum()
    lo, hi = koper_min
    out = frame.groupby(key, sort=False).agg(
        stays=("minutes", "size"),
        koper_stays=("minutes", lambda m: int(((m >= lo) & (m <= hi)).sum())),
        long_stays=("minutes", lambda m: int((m > hi).sum())))
    out["minutes"] = union.reindex(out.index).to_numpy()
    return out.reset_index()[CELL_COLUMNS]


def week_of(day: dt.date) -> dt.date:
    """The Monday of ``day``'s week."""
    return day - dt.timedelta(days=day.weekday())


def against_plan(cells: pd.DataFrame, plan: pd.DataFrame) -> pd.DataFrame:
    """The dose measured (``cells``) beside the dose planned (``plan``: ``place, day, slot,
    planned_stops, planned_min``), per place, day and slot of either: ``delivered_min`` is
    the minutes measured up to those planned in the same cell (presence in another slot or
    on another day does not make up for a missed one)."""
    key = ["place", "day", "slot"]
    both = pd.merge(plan, cells, on=key, how="outer")
    for col in ("planned_stops", "stays", "koper_stays", "long_stays"):
        both[col] = both[col].fillna(0).astype(int)
    for col in ("planned_min", "minutes"):
        both[col] = both[col].fillna(0.0).astype(float)
    both["delivered_min"] = np.minimum(both["minutes"], both["planned_min"])
    return both.sort_values(key).reset_index(drop=True)


def by_week(table: pd.DataFrame) -> pd.DataFrame:
    """:func:`against_plan`'s rows summed per place and week (weeks from Monday), with the
    share of the planned minutes delivered (``NaN`` where nothing was planned)."""
    cols = ["planned_stops", "planned_min", "stays", "koper_stays", "long_stays", "minutes",
            "delivered_min"]
    if table.empty:
        return pd.DataFrame(columns=["place", "week", *cols, "share"])
    week = table["day"].map(week_of)
    out = table.assign(week=week).groupby(["place", "week"], as_index=False)[cols].sum()
    out["share"] = np.where(out["planned_min"] > 0,
                            out["delivered_min"] / out["planned_min"].where(
                                out["planned_min"] > 0, 1.0), np.nan)
    return out
