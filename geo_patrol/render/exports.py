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
from geo_patrol.render.i18n import CSV_HEADERS, label, term

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


#: Sources of points, as a payout line names them.
POINT_SOURCES = {"task": ("任务", "task"), "report": ("线索", "report")}


def _point_items(items: Any, lang: str) -> Any:
    """``task 12; report 5`` in the reader's language (``任务 12；线索 5``)."""
    if not isinstance(items, str):
        return items
    zh = lang.startswith("zh")
    parts = []
    for item in items.split("; "):
        source, _, number = item.partition(" ")
        word = POINT_SOURCES.get(source, (source, source))[0 if zh else 1]
        parts.append(f"{word} {number}".strip())
    return ("；" if zh else "; ").join(parts)


def localised_table(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """A rota or payout table for a person's CSV: headers of :data:`CSV_HEADERS` and the
    values of its vocabularies (time slot, kind of walk, sources of points) in ``lang``."""
    zh = lang.startswith("zh")
    out = table.copy()
    if "slot" in out:
        out["slot"] = out["slot"].map(lambda v: term("slot", v, lang))
    if "kind" in out:
        out["kind"] = out["kind"].map(lambda v: label(f"walk_{v}", lang) if v else v)
    if "items" in out:
        out["items"] = out["items"].map(lambda v: _point_items(v, lang))
    return out.rename(columns={k: v[0 if zh else 1] for k, v in CSV_HEADERS.items()})
