"""Training from the gaps: the share trained per community and course, and the next batches
(分批轮训) proposed from who is untrained or expiring.

Pure functions of the standings the store gives (one row per volunteer and course, see
:func:`geo_patrol.store.training.standings`).
"""

from __future__ import annotations

import pandas as pd

#: Standings that put a volunteer on the next batch, most urgent first.
DUE = ("untrained", "expired", "expiring")
STATUS_COLUMNS = ["community", "course", "skill", "duty", "volunteers", "current", "expiring",
                  "expired", "untrained", "share_current"]
BATCH_COLUMNS = ["batch", "community", "occupation", "number", "name", "standing",
                 "expires_on"]


def training_status(standings: pd.DataFrame) -> pd.DataFrame:
    """Per community and course: volunteers it is for, how many are current (expiring ones
    included), expiring, expired and untrained, and the share current."""
    if standings.empty:
        return pd.DataFrame(columns=STATUS_COLUMNS)
    counts = pd.crosstab([standings["community"], standings["course"]],
                         standings["standing"]).reindex(
        columns=["current", "expiring", "expired", "untrained"], fill_value=0)
    keys = standings.groupby(["community", "course"])[["skill", "duty"]].first()
    out = keys.join(counts).reset_index()
    out["current"] = out["current"] + out["expiring"]
    out["volunteers"] = out["current"] + out["expired"] + out["untrained"]
    out["share_current"] = (out["current"] / out["volunteers"]).round(4)
    return out[STATUS_COLUMNS]


def propose_batches(standings: pd.DataFrame, *, size: int = 30) -> pd.DataFrame:
    """The next batches of one course: every volunteer due (untrained, expired or expiring),
    grouped by home community and then by trade, in batches of at most ``size`` (a room).

    Each community's trades are packed largest first: a trade larger than a room fills whole
    batches, the rest share batches (first fit), so a batch holds one community and as few
    trades as the room allows. Untrained volunteers come before expiring ones within a trade.
    """
    if size < 1:
        raise ValueError("a batch holds at least one volunteer")
    due = standings[standings["standing"].isin(DUE)].copy()
    if due.empty:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    due["urgency"] = due["standing"].map({s: i for i, s in enumerate(DUE)})
    rows: list[pd.DataFrame] = []
    batch_no = 0
    for community, people in due.groupby("community", sort=True):
        trades = sorted(people.groupby("occupation"), key=lambda kv: (-len(kv[1]), kv[0]))
        bins: list[list[pd.DataFrame]] = []
        room: list[int] = []
        for _, group in trades:
            group = group.sort_values(["urgency", "expires_on", "number"])
            while len(group) >= size:
                bins.append([group.iloc[:size]])
                room.append(0)
                group = group.iloc[size:]
            if group.empty:
                continue
            for i, free in enumerate(room):
                if free >= len(group):
                    bins[i].append(group)
                    room[i] -= len(group)
                    break
            else:
                bins.append([group])
                room.append(size - len(group))
        for parts in bins:
            batch_no += 1
            rows.append(pd.concat(parts).assign(batch=batch_no, community=community))
    out = pd.concat(rows, ignore_index=True)
    return out[BATCH_COLUMNS]
