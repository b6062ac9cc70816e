"""The force now: who is out, in which state, and the trail each has walked lately."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from geo_patrol.ingest.volunteers import PASSIVE_OCCUPATIONS
from geo_patrol.settings import Settings
from geo_patrol.store import live as live_store

if TYPE_CHECKING:
    from geo_patrol.store.db import Database


@dataclass
class ForceNow:
    """The volunteers seen lately, their state and trails (``people``: names shown)."""

    volunteers: pd.DataFrame
    trails: pd.DataFrame
    counts: dict[str, int]
    at: dt.datetime


def live_state(frame: pd.DataFrame, now: dt.datetime, *, offline_after: dt.timedelta
               ) -> np.ndarray:
    """patrolling / passive / idle / offline for each last position."""
    age = (pd.Timestamp(now) - pd.to_datetime(frame["t"], utc=True)).dt.total_seconds()
    moving = frame["moving"].fillna(False).astype(bool) | \
        (frame["speed_mps"].fillna(0).astype(float) > 0.5)
    passive = frame["occupation"].isin(PASSIVE_OCCUPATIONS)
    return np.select([age > offline_after.total_seconds(), ~moving, passive],
                     ["offline", "idle", "passive"], "patrolling")


def force_now(db: Database, settings: Settings, *, within: frozenset[int] | None,
              now: dt.datetime | None = None, trail_min: float = 30.0,
              hours: float = 12.0) -> ForceNow:
    """Who is out now: each volunteer's last position (of the last ``hours``), their state and
    the trail of the last ``trail_min`` minutes, limited to ``within`` communities."""
    now = now or dt.datetime.now(dt.UTC)
    with db.connect() as conn:
        last = live_store.last_positions(conn, now - dt.timedelta(hours=hours), within)
        trail = live_store.trails(conn, last["volunteer_id"].astype(int).tolist(),
                                  now - dt.timedelta(minutes=trail_min))
    last["state"] = live_state(last, now, offline_after=dt.timedelta(
        minutes=settings.live_offline_min)) if len(last) else []
    counts = {s: int((last["state"] == s).sum()) for s in
              ("patrolling", "passive", "idle", "offline")}
    return ForceNow(last, trail, counts, now)
