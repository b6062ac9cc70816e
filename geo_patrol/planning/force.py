"""The force a rota can count on: volunteer-hours per community, weekday and time slot.

From past patrols: each patrol's hours inside each slot of its day (a patrol across two
slots counts in both, for the part in each), summed per community, weekday and slot and
divided by the weeks looked at; the volunteers who gave them, likewise per week. Hours the
planner set replace what the patrols show for that community, weekday and slot.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

COLUMNS = ["community_id", "community", "weekday", "slot", "observed_hours", "volunteers",
           "set_hours", "hours"]


def slot_hours(spans: pd.DataFrame, slots: dict[str, tuple[int, int]], weeks: float
               ) -> pd.DataFrame:
    """``community_id, weekday, slot, observed_hours, volunteers`` (both per week) from
    ``spans`` (``volunteer_id, community_id, start, end`` in local time)."""
    rows = []
    if len(spans):
        start = pd.to_datetime(spans["start"])
        end = pd.to_datetime(spans["end"])
        day = start.dt.normalize()
        for name, (lo, hi) in slots.items():
            s_lo = day + pd.to_timedelta(lo, unit="h")
            s_hi = day + pd.to_timedelta(hi, unit="h")
            overlap = (np.minimum(end, s_hi) - np.maximum(start, s_lo)).dt.total_seconds()
            part = spans.assign(weekday=start.dt.day_of_week, slot=name,
                                hours=np.clip(overlap.to_numpy(), 0, None) / 3600)
            rows.append(part[part["hours"] > 0])
    if not rows or all(r.empty for r in rows):
        return pd.DataFrame(columns=["community_id", "weekday", "slot", "observed_hours",
                                     "volunteers"])
    parts = pd.concat(rows)
    parts = parts.assign(date=pd.to_datetime(parts["start"]).dt.date)
    keys = ["community_id", "weekday", "slot"]
    hours = parts.groupby(keys)["hours"].sum().rename("observed_hours")
    # a volunteer counts once per day and slot, however many patrols they split it into
    people = parts.drop_duplicates([*keys, "volunteer_id", "date"]).groupby(keys).size()
    out = pd.concat([hours, people.rename("volunteers")], axis=1).reset_index()
    out["observed_hours"] = (out["observed_hours"] / weeks).round(2)
    out["volunteers"] = (out["volunteers"] / weeks).round(2)
    return out


def force_table(communities: pd.DataFrame, observed: pd.DataFrame, planner_set: pd.DataFrame,
                slots: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Every community × weekday × slot in scope: observed hours and volunteers per week,
    the hours the planner set (if any) and the hours to plan with."""
    grid = pd.MultiIndex.from_product(
        [communities["community_id"], range(7), list(slots)],
        names=["community_id", "weekday", "slot"]).to_frame(index=False)
    out = grid.merge(communities[["community_id", "community"]], on="community_id")
    out = out.merge(observed, on=["community_id", "weekday", "slot"], how="left")
    out = out.merge(planner_set[["community_id", "weekday", "slot", "hours"]].rename(
        columns={"hours": "set_hours"}), on=["community_id", "weekday", "slot"], how="left")
    out[["observed_hours", "volunteers"]] = out[["observed_hours", "volunteers"]].fillna(0.0)
    out["hours"] = out["set_hours"].where(out["set_hours"].notna(), out["observed_hours"])
    return out[COLUMNS]


def weekly(force: pd.DataFrame, slots: dict[str, tuple[int, int]]) -> pd.DataFrame:
    """Per community: hours a week in each slot and in all, and the roster's size."""
    if force.empty:
        return pd.DataFrame(columns=["community_id", "community", *slots, "total"])
    table = force.pivot_table(index=["community_id", "community"], columns="slot",
                              values="hours", aggfunc="sum", fill_value=0.0)
    table = table.reindex(columns=list(slots), fill_value=0.0).round(1)
    table["total"] = table.sum(axis=1).round(1)
    return table.reset_index()
