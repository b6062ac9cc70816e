"""Instants of a table (stored in UTC) shown in a city's time zone."""

from __future__ import annotations

import pandas as pd


def local_times(frame: pd.DataFrame, tz: str, *columns: str) -> pd.DataFrame:
    """``columns`` of ``frame`` as timestamps in the time zone ``tz`` (converted in place)."""
    for col in columns:
        frame[col] = pd.to_datetime(frame[col], utc=True).dt.tz_convert(tz)
    return frame
