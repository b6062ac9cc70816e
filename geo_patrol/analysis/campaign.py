"""A campaign's progress toward zero (隐患清零): per district and category, hazards found,
visited at least once, rectified, cleared and still open; the burn-down day by day; the
units never visited. Pure functions of the hazards' dates and status changes.

- **found**: the hazard's first ledger entry (before the campaign: found on its first day);
- **visited**: the first patrol inspection inside the period (a stay of the inspection
  dwell, from the analysis runs) or the first recheck in the ledger, whichever is first;
- **rectified / cleared**: the status on a day is the last change on or before it; a hazard
  rectified or cleared is resolved, and one that reopens counts as open again.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

RESOLVED = ("rectified", "cleared")


def with_dates(hazards: pd.DataFrame, start: dt.date) -> pd.DataFrame:
    """``hazards`` with ``found`` and ``visited`` days (see the module's definitions)."""
    out = hazards.copy()
    found = pd.to_datetime(out["found_on"]).dt.date
    out["found"] = [max(f, start) if isinstance(f, dt.date) else start for f in found]
    firsts = pd.concat([pd.to_datetime(out["inspected_on"]), pd.to_datetime(out["rechecked_on"])
                        .where(pd.to_datetime(out["rechecked_on"]).dt.date >= start)], axis=1)
    visited = firsts.min(axis=1)
    out["visited"] = [v.date() if not pd.isna(v) else None for v in visited]
    return out


def status_on(changes: pd.DataFrame, days: list[dt.date]) -> pd.DataFrame:
    """Each hazard's status at the end of each day (rows: hazards, columns: days; empty
    before its first change)."""
    if changes.empty:
        return pd.DataFrame(columns=days)
    frame = changes.assign(day=pd.to_datetime(changes["day"]).dt.date)
    last = frame.groupby(["hazard_id", "day"])["status"].last().unstack("day")
    cols = sorted(set(last.columns) | set(days))
    return last.reindex(columns=cols).ffill(axis=1).reindex(columns=days)


def burn_down(hazards: pd.DataFrame, changes: pd.DataFrame, start: dt.date,
              end: dt.date) -> pd.DataFrame:
    """Per day of the campaign: hazards found so far, visited at least once, rectified,
    cleared and still open (found and not resolved)."""
    days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
    if hazards.empty:
        return pd.DataFrame({"day": days, "found": 0, "visited": 0, "rectified": 0,
                             "cleared": 0, "open": 0})
    status = status_on(changes, days).reindex(hazards["hazard_id"])
    found = np.array([[f <= d for d in days] for f in hazards["found"]])
    visited = np.array([[v is not None and v <= d for d in days] for v in hazards["visited"]])
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
