"""Result exports: GeoJSON, GeoPackage and CSV (CSV cells escaped against formula injection)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd

from geo_patrol.clock import localise_frame
from geo_patrol.errors import InputError

FORMATS = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3",
           "csv": "text/csv"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def table_csv(table: pd.DataFrame, *, tz: str) -> bytes:
    """A table as CSV for Excel: UTF-8 with BOM (Chinese text opens right), times in the
    city's zone ``tz``, cells that a spreadsheet would run as formulas escaped."""
    buf = io.StringIO()
    localise_frame(table, tz).apply(lambda col: col.map(escape_cell)).to_csv(buf, index=False)
    return buf.getvalue().encode("utf-8-sig")


def export_bytes(frame: gpd.GeoDataFrame, fmt: str, *, tz: str) -> bytes:
    """The layer encoded as ``fmt`` (geojson, gpkg, csv with WKT geometry; times in the city's
    zone ``tz``)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table["wkt"] = frame.geometry.to_wkt()
        return table_csv(table, tz=tz)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"layer.{fmt}"
        frame.to_file(path, driver="GPKG" if fmt == "gpkg" else "GeoJSON", engine="pyogrio")
        return path.read_bytes()
