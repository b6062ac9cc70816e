"""One clock: instants are stored in UTC and shown, exported and named in a city's time zone.

Every page, map popup, table, CSV, briefing and file name turns an instant into text through
:func:`local_text`, and a period (a window ``[start, end)`` of instants) into the inclusive
local dates it was asked for through :func:`period_days`. The web's Jinja filters are thin
twins of these functions.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

#: Text styles of :func:`local_text`.
STYLES: dict[str, str] = {
    "minute": "%Y-%m-%d %H:%M",
    "second": "%Y-%m-%d %H:%M:%S",
    "short": "%m-%d %H:%M",
    "date": "%Y-%m-%d",
    "time": "%H:%M",
    "stamp": "%Y%m%d",
}

#: ``2026年3月15日`` (the day mark optional)
_DATE_ZH = re.compile(r"^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日?")

#: One microsecond: a window's end is exclusive, its last local date is the one just before.
_TICK = dt.timedelta(microseconds=1)


def _zone(tz: str | dt.tzinfo) -> dt.tzinfo:
    return ZoneInfo(tz) if isinstance(tz, str) else tz


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return type(value).__name__ == "NaTType"


def to_local(instant: Any, tz: str | dt.tzinfo) -> dt.datetime | None:
    """``instant`` (a timezone-aware ``datetime`` or pandas ``Timestamp``; a naive one is UTC,
    as the database stores it) in the zone ``tz``; ``None`` for a missing value."""
    if _missing(instant):
        return None
    if hasattr(instant, "to_pydatetime"):
        instant = instant.to_pydatetime()
    if not isinstance(instant, dt.datetime):
        msg = f"not an instant: {instant!r}"
        raise TypeError(msg)
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=dt.UTC)
    return instant.astimezone(_zone(tz))


def local_text(instant: Any, tz: str | dt.tzinfo, style: str = "minute") -> str:
    """``instant`` as local text in one of :data:`STYLES` (``""`` for a missing value).

    A plain ``date`` is a local date already and is printed as it is."""
    if _missing(instant):
        return ""
    if isinstance(instant, dt.date) and not isinstance(instant, dt.datetime):
        return instant.strftime(STYLES["date"] if style in ("minute", "second", "short")
                                else STYLES[style])
    local = to_local(instant, tz)
    assert local is not None
    return local.strftime(STYLES[style])


def local_date(instant: Any, tz: str | dt.tzinfo) -> dt.date | None:
    """The local date of ``instant``."""
    local = to_local(instant, tz)
    return None if local is None else local.date()


def period_days(start: Any, end: Any, tz: str | dt.tzinfo) -> tuple[dt.date, dt.date]:
    """The inclusive local dates of the window ``[start, end)``: a window analysed as
    2026-12-02..2026-12-04 gives ``(2026-12-02, 2026-12-04)``."""
    first, last = to_local(start, tz), to_local(end, tz)
    if first is None or last is None:
        msg = "a period needs a start and an end"
        raise ValueError(msg)
    return first.date(), max(first, last - _TICK).date()


def days_text(first: dt.date, last: dt.date) -> str:
    """Inclusive local dates as every page writes them: ``2026-12-02 – 2026-12-04`` (one
    date when they are one day)."""
    a, b = (local_text(d, "UTC", "date") for d in (first, last))
    return a if a == b else f"{a} – {b}"


def period_text(start: Any, end: Any, tz: str | dt.tzinfo) -> str:
    """``2026-12-02 – 2026-12-04`` (one date when the period is one day)."""
    return days_text(*period_days(start, end, tz))


def period_stamp(start: Any, end: Any, tz: str | dt.tzinfo) -> str:
    """A period in file names: ``20261202-20261204`` (one date for a one-day period)."""
    a, b = period_days(start, end, tz)
    return f"{a:%Y%m%d}" if a == b else f"{a:%Y%m%d}-{b:%Y%m%d}"


def days_of(start: Any, end: Any, tz: str | dt.tzinfo) -> list[dt.date]:
    """Every local date of the window ``[start, end)``, first to last."""
    a, b = period_days(start, end, tz)
    return [a + dt.timedelta(days=i) for i in range((b - a).days + 1)]


def parse_day(value: str) -> dt.date | None:
    """A date as people write it: ISO (``2026-03-15``, also with a time), ``2026/3/15``,
    ``2026.3.15`` or ``2026年3月15日``; ``None`` when it is none of those."""
    text = value.strip()
    m = _DATE_ZH.match(text)
    if m:
        text = f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}"
    text = re.sub(r"[/.]", "-", text.split("T")[0].split(" ")[0])
    parts = text.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    try:
        return dt.date(int(parts[0]), int(parts[1]), int(parts[2]))
    except ValueError:
        return None


def now_local(tz: str | dt.tzinfo, now: dt.datetime | None = None) -> dt.datetime:
    """The current instant (or ``now``) in the zone ``tz``."""
    return (now or dt.datetime.now(dt.UTC)).astimezone(_zone(tz))


def local_times(frame: pd.DataFrame, tz: str, *columns: str) -> pd.DataFrame:
    """``columns`` of ``frame`` (instants, naive ones UTC) as timestamps in the zone ``tz``,
    converted in place: a table the pages format with the ``localtime`` filter."""
    for col in columns:
        frame[col] = pd.to_datetime(frame[col], utc=True).dt.tz_convert(tz)
    return frame


def local_column(values: pd.Series, tz: str, style: str = "second") -> pd.Series:
    """A column of instants (naive ones are UTC) as local text in one of :data:`STYLES`, or
    as ISO 8601 with the local offset for ``style="iso"``; missing values stay ``None``."""
    stamps = pd.to_datetime(values, utc=True).dt.tz_convert(tz)
    if style == "iso":
        text = pd.Series([v.isoformat() if not pd.isna(v) else None for v in stamps],
                         index=values.index, dtype=object)
    else:
        text = stamps.dt.strftime(STYLES[style]).astype(object)
    return text.where(stamps.notna(), None)


def localise_frame(frame: pd.DataFrame, tz: str, style: str = "second") -> pd.DataFrame:
    """A copy of ``frame`` with every column of timezone-aware instants as local text (see
    :func:`local_column`): what a CSV or a GIS file shows."""
    out = frame.copy()
    for col in out.columns:
        if isinstance(out[col].dtype, pd.DatetimeTZDtype):
            out[col] = local_column(out[col], tz, style)
    return out
