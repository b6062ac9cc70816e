"""A campaign's progress toward zero (隐患清零): per district and category, hazards found,
visited at least once, rectified, cleared and still open; the burn-down day by day; the
units never visited. Pure functions of the hazards' dates and status changes.

- **found**: the hazard's first ledger entry (before the campaign: found on its first day);
- **visited**: the first patrol inspection inside the period (a stay of the inspection
  dwell, from the analysis runs) or the first recheck in the ledger, whichever is first;
- **rectified / cleared**: the status on a day is the last change on or before it; a hazard
  rectified or cleared is resolved, and one that reopens counts as open again;
- each unit's **state** in the campaign now (:func:`unit_states`, its map's colours): rectified
  or cleared by its status now, else still open and visited, else still open and never
  visited: the rectified and cleared units are the table's, the two open states add up to
  its "still open".
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

RESOLVED = ("rectified", "cleared")
#: A unit's state in the campaign (:func:`unit_states`), from the most to the least urgent.
STATES = ("open_never_visited", "open_visited", "rectified", "cleared")


def days_of(values: object) -> np.ndarray:
    """Days (``datetime64[D]``, NaT where missing) of dates, instants, strings or ``None``:
    every comparison of days in this module is between arrays of this one type."""
    return pd.to_datetime(pd.Series(values, dtype=object)).to_numpy().astype("datetime64[D]")


def _dates(days: np.ndarray) -> list[dt.date | None]:
    """``datetime.date`` of each day, ``None`` where missing (the frames' plain form)."""
    return days.astype("datetime64[D]").astype(object).tolist()


def with_dates(hazards: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """``hazards`` with ``found`` and ``visited`` days (see the module's definitions)."""
    out = hazards.copy()
    first = np.datetime64(start, "D")
    found = days_of(out["found_on"])
    out["found"] = _dates(np.where(np.isnat(found) | (found < first), first, found))
    rechecked = days_of(out["rechecked_on"])
    rechecked[rechecked < first] = np.datetime64("NaT")
    out["visited"] = _dates(np.fmin(days_of(out["inspected_on"]), rechecked))
    return out


def status_on(changes: pd.DataFrame, days: list[dt.date]) -> pd.DataFrame:
    """Each hazard's status at the end of each day (rows: hazards, columns: days; empty
    before its first change)."""
    if changes.empty:
        return pd.DataFrame(columns=days)
    wanted = pd.DatetimeIndex(days_of(days))
    frame = changes.assign(day=days_of(changes["day"]))
    last = frame.groupby(["hazard_id", "day"])["status"].last().unstack("day")
    last.columns = pd.DatetimeIndex(last.columns)
    cols = last.columns.union(wanted)
    out = last.reindex(columns=cols).ffill(axis=1).reindex(columns=wanted)
    out.columns = list(days)
    return out


def burn_down(hazards: pd.DataFrame, changes: pd.DataFrame, start: dt.date,
              end: dt.date) -> pd.DataFrame:
    """Per day of the campaign: hazards found so far, visited at least once, rectified,
    cleared and still open (found and not resolved)."""
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    if hazards.empty:
        return pd.DataFrame({"day": days, "found": 0, "visited": 0, "rectified": 0,
                             "cleared": 0, "open": 0})
    status = status_on(changes, days).reindex(hazards["hazard_id"])
    day = days_of(days)[None, :]
    # NaT compares false: a hazard not found (or never visited) counts on no day
    found = days_of(hazards["found"])[:, None] <= day
    visited = days_of(hazards["visited"])[:, None] <= day
    st = status.to_numpy(dtype=object)
    rectified = (st == "rectified") & found
    cleared = (st == "cleared") & found
    return pd.DataFrame({"day": days, "found": found.sum(axis=0),
                         "visited": (visited & found).sum(axis=0),
                         "rectified": rectified.sum(axis=0), "cleared": cleared.sum(axis=0),
                         "open": (found & ~(rectified | cleared)).sum(axis=0)})


def progress_table(hazards: pd.DataFrame) -> pd.DataFrame:
    """Per district and category: found, visited, never visited, rectified, cleared, open
    (by each hazard's status now) and the share visited."""
    if hazards.empty:
        return pd.DataFrame(columns=["district", "category", "found", "visited",
                                     "never_visited", "rectified", "cleared", "open",
                                     "share_visited"])
    frame = hazards.assign(now=hazards["status"])
    frame["is_visited"] = frame["visited"].notna()
    out = frame.groupby(["district", "category"], as_index=False).agg(
        found=("hazard_id", "size"), visited=("is_visited", "sum"),
        rectified=("now", lambda s: int((s == "rectified").sum())),
        cleared=("now", lambda s: int((s == "cleared").sum())))
    out["never_visited"] = out["found"] - out["visited"]
    out["open"] = out["found"] - out["rectified"] - out["cleared"]
    out["share_visited"] = (out["visited"] / out["found"]).round(4)
    return out[["district", "category", "found", "visited", "never_visited", "rectified",
                "cleared", "open", "share_visited"]]


def unit_states(hazards: pd.DataFrame) -> list[str]:
    """Each unit's state (:data:`STATES`) from its ``status`` now and its ``visited`` day
    (:func:`with_dates`): resolved by its status, else still open, visited or never."""
    visited = ~np.isnat(days_of(hazards["visited"]))
    return [str(s) if s in RESOLVED else "open_visited" if v else "open_never_visited"
            for s, v in zip(hazards["status"], visited)]
