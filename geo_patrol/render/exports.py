"""Result exports: GeoJSON, GeoPackage and CSV (CSV cells escaped against formula injection)."""

from __future__ import annotations

import io
import tempfile
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
from sqlalchemy.engine import Connection

from geo_patrol.errors import InputError
from geo_patrol.privacy import mask_name
from geo_patrol.store import results

LAYERS = ("communities", "gaps", "hazards")
FORMATS = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3",
           "csv": "text/csv"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value: Any) -> Any:
    """Text a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def result_layer(conn: Connection, run_id: int, layer: str,
                 within: frozenset[int] | None = None) -> gpd.GeoDataFrame:
    """A run's results (only of the communities ``within``, if given) as a GeoDataFrame,
    personal data masked."""
    if layer == "communities":
        frame = results.area_layer(conn, run_id, level="community", within=within)
    elif layer == "gaps":
        frame = results.gap_layer(conn, run_id, limit=100_000, within=within)
    elif layer == "hazards":
        frame = results.hazard_layer(conn, run_id, within=within)
        frame["inspector"] = frame["inspector"].map(mask_name)
    else:
        raise InputError(f"unknown layer {layer!r}: use one of {', '.join(LAYERS)}")
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = frame[col].astype(str).replace("NaT", None)
    return frame


def export_bytes(frame: gpd.GeoDataFrame, fmt: str) -> bytes:
    """The layer encoded as ``fmt`` (geojson, gpkg, csv with WKT geometry)."""
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    if fmt == "csv":
        table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        table["wkt"] = frame.geometry.to_wkt()
        table = table.apply(lambda col: col.map(escape_cell))
        buf = io.StringIO()
        table.to_csv(buf, index=False)
        return buf.getvalue().encode("utf-8-sig")  # BOM: Excel opens Chinese text right
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"layer.{fmt}"
        frame.to_file(path, driver="GPKG" if fmt == "gpkg" else "GeoJSON", engine="pyogrio")
        return path.read_bytes()
