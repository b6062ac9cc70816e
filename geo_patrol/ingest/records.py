"""Point records (hazard ledgers, reports, incidents) from CSV/XLSX or vector files."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo_patrol.crs import DeclaredCRS
from geo_patrol.errors import N_, CRSError, InputError
from geo_patrol.ingest.boundaries import read_vector_file, resolve_crs
from geo_patrol.ingest.points import to_float
from geo_patrol.ingest.problems import Problems
from geo_patrol.ingest.tables import map_columns, read_table, refuse_formulas

#: Shapely's geometry type ids by the names a file's reader sees.
_GEOMETRY_NAMES = {t.value: t.name.title().replace("string", "String").replace("collection",
                                                                                "Collection")
                   for t in shapely.GeometryType if t.value >= 0}
VECTOR_SUFFIXES = (".geojson", ".json", ".gpkg", ".shp", ".zip", ".fgb")
XY_COLUMNS = {"lon": ("lng", "longitude", "x", "经度"), "lat": ("latitude", "y", "纬度")}


@dataclass
class PointRecords:
    """Canonical text columns, coordinates in ``crs`` and the row/feature labels."""

    frame: pd.DataFrame  # text columns, index = row/feature number
    x: np.ndarray
    y: np.ndarray
    crs: DeclaredCRS | str
    unit: str

    @property
    def rows(self) -> np.ndarray:
        return self.frame.index.to_numpy()


def read_point_records(
    path: Path | str,
    columns: Mapping[str, Sequence[str]],
    *,
    required: Sequence[str] = (),
    crs: str | None,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
    sheet: str | None = None,
    problems: Problems | None = None,
) -> PointRecords:
    """Read point records: a table with lon/lat columns, or a vector file of points.

    ``crs`` may be ``file`` (or ``None``) for vector files that declare theirs; tables need
    it declared. With ``problems``, every bad coordinate of a table is noted there.
    """
    p = Path(path)
    source = str(p)
    name = p.name.lower()
    if name.endswith(VECTOR_SUFFIXES):
        frame = read_vector_file(p)
        if frame.empty:
            raise InputError("no features", source=source)
        declared = resolve_crs(frame, crs or "file", source)
        geoms = frame.geometry.to_numpy()
        kinds = shapely.get_type_id(geoms)
        bad = (kinds != shapely.GeometryType.POINT) | shapely.is_empty(geoms)
        if bad.any() and problems is not None:  # each feature that is not a point, named
            problems.unit = "feature"
            names = shapely.get_type_id(geoms)
            problems.flag(bad, np.arange(1, len(geoms) + 1), "position",
                          N_("The geometry (%(kind)s) is not a point."),
                          lambda i: {"kind": _GEOMETRY_NAMES.get(int(names[i]), "-")})
        elif bad.any():
            i = int(np.flatnonzero(bad)[0])
            msg = "geometry is not a point"
            raise InputError(msg, source=source, location=f"feature {i + 1}")
        props = pd.DataFrame(frame.drop(columns=frame.geometry.name))
        text = props.apply(lambda c: c.map(_text))
        text.index = pd.RangeIndex(1, len(text) + 1)
        mapped = map_columns(text, columns, mapping=mapping, required=required, source=source)
        xy = np.where(bad, None, geoms)  # not a point: no coordinates (NaN)
        return PointRecords(mapped, shapely.get_x(xy), shapely.get_y(xy), declared,
                            "feature")
    if crs is None or crs.lower() == "file":
        msg = "declare the coordinates' CRS with --crs wgs84|gcj02|bd09|EPSG:<code>"
        raise CRSError(msg, source=source)
    table = read_table(p, encoding=encoding, sheet=sheet)
    if table.empty:
        raise InputError("no rows", source=source)
    mapped = map_columns(table, {**columns, **XY_COLUMNS}, mapping=mapping,
                         required=(*required, "lon", "lat"), source=source)
    mapped = mapped.apply(lambda c: c.astype(str).str.strip())
    rows = mapped.index.to_numpy()
    x = to_float(mapped.pop("lon"), "longitude", rows, source=source, problems=problems)
    y = to_float(mapped.pop("lat"), "latitude", rows, source=source, problems=problems)
    return PointRecords(mapped, x, y, crs, "row")


def _text(value: object) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if hasattr(value, "isoformat"):
        return value.isoformat()  # type: ignore[no-any-return]
    return str(value).strip()


def content_keys(parts: pd.DataFrame, prefix: str) -> np.ndarray:
    """A stable key per row from its content, ranked among identical rows of the file."""
    joined = parts.astype(str).agg("\x1f".join, axis=1)
    digest = joined.map(lambda s: hashlib.sha1(s.encode()).hexdigest()[:20])
    rank = joined.groupby(joined).cumcount()
    return (prefix + digest + ":" + rank.astype(str)).to_numpy()


def refuse_formula_cells(records: PointRecords, columns: Sequence[str], source: str,
                         problems: Problems | None = None) -> None:
    refuse_formulas(records.frame, columns, source, problems)
