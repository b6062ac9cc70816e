"""Checks and conversion of point coordinates read from files (bad-input catalogue 4-6)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from geo_patrol.crs import DeclaredCRS, lonlat_to_wgs84, parse_crs
from geo_patrol.errors import N_, CRSError, InputError
from geo_patrol.ingest.problems import Problems

#: Margin (degrees, about 20 km) around the stored areas inside which points are accepted.
EXTENT_MARGIN_DEG = 0.2


def _where(rows: np.ndarray, mask: np.ndarray, unit: str) -> str:
    idx = np.flatnonzero(mask)
    first = f"{unit} {rows[idx[0]]}"
    return first if len(idx) == 1 else f"{first} (and {len(idx) - 1} more)"


def to_float(values: pd.Series | Sequence[object], name: str, rows: np.ndarray, *,
             source: str, unit: str = "row", required: bool = True,
             problems: Problems | None = None) -> np.ndarray:
    """Parse a text column as floats; blanks are NaN (an error when ``required``). With
    ``problems``, every bad row is noted there (and left NaN) instead of refusing the first."""
    s = pd.Series(values, copy=False)
    if not pd.api.types.is_numeric_dtype(s):
        s = s.astype(object).map(lambda v: None if v is None else str(v).strip())
        s = s.replace({"": None, "nan": None, "None": None})
    out = pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64")
    bad = np.isnan(out) & s.notna().to_numpy()
    if problems is not None:
        problems.flag(bad, rows, name, N_("“%(value)s” is not a number."),
                      lambda i: {"value": str(s.iloc[i])[:40]})
        if required:
            problems.flag(np.isnan(out) & ~bad, rows, name, N_("The %(column)s is missing."),
                          lambda i: {"column": name})
        return out
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        msg = f"{name} {s.iloc[i]!r} is not a number"
        raise InputError(msg, source=source, location=_where(rows, bad, unit))
    if required and np.isnan(out).any():
        msg = f"{name} is missing"
        raise InputError(msg, source=source, location=_where(rows, np.isnan(out), unit))
    return out


def _plain(value: object) -> object:
    return value.item() if hasattr(value, "item") else value


def is_geographic(crs: DeclaredCRS) -> bool:
    return crs.is_offset or (crs.proj is not None and crs.proj.is_geographic)


def points_to_wgs84(
    x: np.ndarray,
    y: np.ndarray,
    crs: str | DeclaredCRS,
    rows: np.ndarray,
    *,
    source: str,
    unit: str = "row",
    extent: tuple[float, float, float, float] | None = None,
    problems: Problems | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Check coordinates in the declared CRS and convert them to WGS-84 lon/lat.

    Refuses NaN/inf, out-of-range values, (0, 0), metres in a degrees field, swapped
    lat/lon and, when ``extent`` (the deployment's WGS-84 bounds) is given, points far
    outside it, each with the first offending row and a hint. With ``problems``, every bad
    point is noted there as the ``position`` of its row instead (rows noted before are
    skipped; their lon/lat come back NaN) and the caller refuses the file.
    """
    declared = parse_crs(crs)
    x = np.asarray(x, dtype="float64")
    y = np.asarray(y, dtype="float64")

    def fail(message: str, mask: np.ndarray, shown: str | None = None,
             reason: str | None = None) -> None:
        """Refuse the first row of ``mask`` (``shown`` is what a page says), or note each
        row of it in ``problems`` (``reason`` says why, of a row)."""
        if problems is not None:
            problems.flag(mask & ~problems.bad(rows), rows, "position",
                          reason or N_("(%(x)s, %(y)s) is not a position in this city."),
                          lambda i: {"x": f"{x[i]:g}", "y": f"{y[i]:g}"})
            return
        i = int(np.flatnonzero(mask)[0])
        words = {"shown": shown, "values": {"row": _plain(rows[i]), "x": f"{x[i]:g}",
                                            "y": f"{y[i]:g}"}} if shown and unit == "row" else {}
        raise InputError(message, source=source, location=_where(rows, mask, unit), **words)

    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        fail("coordinate is NaN or infinite", bad,
             N_("Row %(row)s: the coordinates are not finite numbers."),
             N_("The coordinates are missing or not finite numbers."))
    if is_geographic(declared):
        metres = (np.abs(x) > 1000) | (np.abs(y) > 1000)
        if metres.any():
            fail(f"({x[metres][0]:.1f}, {y[metres][0]:.1f}) looks like projected metres in a "
                 "degrees field: declare the file's CRS with --crs EPSG:<code>", metres,
                 N_("Row %(row)s: (%(x)s, %(y)s) looks like metres, not degrees: choose the "
                    "file's coordinate system under “More”."),
                 N_("(%(x)s, %(y)s) looks like metres, not degrees: choose the file's "
                    "coordinate system under “More”."))
        swapped = (np.abs(y) > 90) & (np.abs(x) <= 90)
        if swapped.any():
            fail(f"latitude {y[swapped][0]} is out of range: longitude and latitude look "
                 "swapped", swapped,
                 N_("Row %(row)s: latitude %(y)s lies outside -90 to 90: longitude and "
                    "latitude look swapped."),
                 N_("Latitude %(y)s lies outside -90 to 90: longitude and latitude look "
                    "swapped."))
        out = (np.abs(x) > 180) | (np.abs(y) > 90)
        if out.any():
            fail("longitude or latitude out of range", out,
                 N_("Row %(row)s: longitude or latitude out of range."),
                 N_("(%(x)s, %(y)s): longitude or latitude out of range."))
        zero = (x == 0) & (y == 0)
        if zero.any():
            fail("(0, 0) is not a real position (a fix without a signal?)", zero,
                 N_("Row %(row)s: (0, 0) is not a real position (a fix without a signal?)."),
                 N_("(0, 0) is not a real position (a fix without a signal?)."))
    noted = problems.bad(rows) if problems is not None else np.zeros(len(x), dtype=bool)
    try:
        lon, lat = lonlat_to_wgs84(np.where(noted, np.nan, x), np.where(noted, np.nan, y),
                                   declared)
    except Exception as exc:  # pyproj errors on impossible projected values
        raise CRSError(f"cannot be converted from {declared}: {exc}", source=source) from None
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    bad = (~(np.isfinite(lon) & np.isfinite(lat)) | (np.abs(lat) > 90)) & ~noted
    if bad.any():
        fail(f"cannot be converted from {declared} (is the declared CRS right?)", bad, None,
             N_("(%(x)s, %(y)s) cannot be converted from the chosen coordinate system: is it "
                "the file's?"))
    if extent is not None:
        x0, y0, x1, y1 = extent
        m = EXTENT_MARGIN_DEG

        def inside(a: np.ndarray, b: np.ndarray) -> np.ndarray:
            return (a >= x0 - m) & (a <= x1 + m) & (b >= y0 - m) & (b <= y1 + m)

        with np.errstate(invalid="ignore"):
            outside = ~inside(lon, lat) & np.isfinite(lon) & np.isfinite(lat)
        if outside.any():
            i = int(np.flatnonzero(outside)[0])
            if inside(lat[outside], lon[outside]).all():
                hint = "longitude and latitude look swapped"
            else:
                hint = (f"the deployment covers ({x0:.3f}, {y0:.3f}) .. ({x1:.3f}, {y1:.3f}); "
                        "is the declared CRS right?")
            fail(f"({lon[i]:.5f}, {lat[i]:.5f}) is far outside the deployment area: {hint}",
                 outside, N_("Row %(row)s: (%(x)s, %(y)s) is far outside this city: are the "
                             "coordinate system and the order of longitude and latitude right?"),
                 N_("(%(x)s, %(y)s) is far outside this city: are the coordinate system and "
                    "the order of longitude and latitude right?"))
    return lon, lat
