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
BATCH_COLUMNS = ["batch", "station", "community", "occupation", "number", "name", "standing",
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
    per police station (``station``; a community with none is its own station), in rooms of
    ``size``.

    A station's due volunteers are seated community by community, each community's trades
    largest first (untrained before expired before expiring within a trade), and the rooms
    are filled in that order: every room of a station is full but its last, and a batch
    holds as few communities and trades as filling it allows.
    """
    if size < 1:
        raise ValueError("a batch holds at least one volunteer")
    due = standings[standings["standing"].isin(DUE)].copy()
    if due.empty:
        return pd.DataFrame(columns=BATCH_COLUMNS)
    if "station" not in due:
        due["station"] = None
    due["room_key"] = due["station"].where(due["station"].notna(), due["community"])
    due["urgency"] = due["standing"].map({s: i for i, s in enumerate(DUE)})
    due["trade_size"] = due.groupby(["room_key", "community", "occupation"])["number"] \
        .transform("size")
    due["expires_sort"] = pd.to_datetime(due["expires_on"], errors="coerce")
    due = due.sort_values(["room_key", "community", "trade_size", "occupation", "urgency",
                           "expires_sort", "number"],
                          ascending=[True, True, False, True, True, True, True],
                          na_position="first")
    seat = due.groupby("room_key", sort=False).cumcount()
    first = (seat // size).to_numpy()
    station_no = pd.factorize(due["room_key"])[0]
    # batches numbered across stations: a station's rooms follow the one before
    rooms = pd.Series(first).groupby(station_no).max().add(1).cumsum().shift(fill_value=0)
    due["batch"] = first + rooms.reindex(station_no).to_numpy() + 1
    return due[BATCH_COLUMNS].reset_index(drop=True)
