"""Boundary polygons (districts, police station areas, communities) from GeoJSON, GeoPackage
or Shapefile, validated and converted to WGS-84."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyogrio.errors import DataSourceError, DataLayerError

from geo_patrol.crs import WGS84, DeclaredCRS, geometries_to_wgs84, parse_crs, utm_crs_for
from geo_patrol.errors import CRSError, InputError, InvalidGeometryError

log = logging.getLogger(__name__)

#: Columns of a boundary set.
NAME, CODE, PARENT = "name", "code", "parent_name"


@dataclass(frozen=True)
class Repair:
    """One polygon that ``repair=True`` made valid, and what that cost in area."""

    feature: int
    name: str
    reason: str
    area_before_m2: float
    area_after_m2: float

    @property
    def area_change_pct(self) -> float:
        if self.area_before_m2 == 0:
            return 0.0
        return 100.0 * (self.area_after_m2 - self.area_before_m2) / self.area_before_m2


@dataclass
class BoundarySet:
    """Validated boundaries in WGS-84: a GeoDataFrame with ``name``, ``code``, ``parent_name``."""

    frame: gpd.GeoDataFrame
    source: str
    crs: str
    repairs: list[Repair] = field(default_factory=list)


def read_vector_file(path: Path | str) -> gpd.GeoDataFrame:
    """Read any vector file pyogrio understands, turning driver errors into an InputError."""
    p = Path(path)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # geometries GEOS cannot build (e.g. unclosed rings) come back as None, and GDAL's
            # warning says why
            frame = gpd.read_file(p, engine="pyogrio", on_invalid="ignore")
        frame.attrs["read_warnings"] = [str(w.message).split(". ")[0] for w in caught]
        return frame
    except (DataSourceError, DataLayerError, ValueError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        msg = f"cannot read as a vector file: {first}"
        raise InputError(msg, source=str(p)) from None


def resolve_crs(frame: gpd.GeoDataFrame, declared: str, source: str) -> DeclaredCRS:
    """The CRS to read ``frame`` in: the declared one, or the file's own for ``file``."""
    if declared.lower() == "file":
        if frame.crs is None:
            msg = "the file declares no CRS: pass --crs wgs84|cgcs2000|gcj02|bd09|EPSG:<code>"
            raise CRSError(msg, source=source)
        return parse_crs(frame.crs)
    return parse_crs(declared)


def _polygonal(geom: shapely.Geometry) -> shapely.MultiPolygon:
    # make_valid may return a collection with slivers of lines or points: keep the polygons.
    parts = shapely.get_parts(shapely.get_parts(geom))
    return shapely.multipolygons(parts[shapely.get_type_id(parts) == 3])


def _label(i: int, names: pd.Series) -> str:
    return f"feature {i + 1} ({names.iloc[i]})"


def _metric_areas(geoms: np.ndarray, crs: DeclaredCRS) -> np.ndarray:
    wgs = geometries_to_wgs84(geoms, crs)
    centre = shapely.centroid(shapely.union_all(shapely.envelope(wgs)))
    series = gpd.GeoSeries(wgs, crs=WGS84).to_crs(utm_crs_for(centre.x, centre.y))
    return series.area.to_numpy()


def read_boundaries(
    path: Path | str,
    *,
    crs: str,
    name_field: str = "name",
    code_field: str | None = None,
    parent_field: str | None = None,
    repair: bool = False,
) -> BoundarySet:
    """Read boundary polygons and convert them to WGS-84.

    Parameters
    ----------
    path
        GeoJSON, GeoPackage or Shapefile.
    crs
        Declared CRS of the coordinates (``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``,
        ``EPSG:n``), or ``file`` to trust the CRS the file itself declares.
    name_field, code_field, parent_field
        Attributes holding the area name, an optional code (e.g. adcode) and the name of the
        parent area.
    repair
        Make invalid polygons valid instead of refusing the file; each repair is reported.

    Raises
    ------
    InvalidGeometryError
        A polygon is invalid and ``repair`` is false; the message names every such feature.
    InputError
        The file cannot be read, a field is missing, or a geometry is not a polygon.
    """
    source = str(path)
    frame = read_vector_file(path)
    if frame.empty:
        msg = "no features"
        raise InputError(msg, source=source)
    declared = resolve_crs(frame, crs, source)
    for option, fld in (("--name-field", name_field), ("--code-field", code_field),
                        ("--parent-field", parent_field)):
        if fld is not None and fld not in frame.columns:
            fields = ", ".join(c for c in frame.columns if c != frame.geometry.name)
            msg = f"no field {fld!r} for {option}; the file has: {fields}"
            raise InputError(msg, source=source)

    names = frame[name_field].astype("string").str.strip()
    blank = names.isna() | (names == "")
    if blank.any():
        i = int(np.flatnonzero(blank.to_numpy())[0])
        msg = f"empty {name_field!r}"
        raise InputError(msg, source=source, location=f"feature {i + 1}")

    geoms = frame.geometry.to_numpy()
    types = shapely.get_type_id(geoms)
    bad_type = ~np.isin(types, (3, 6))  # Polygon, MultiPolygon
    if bad_type.any():
        i = int(np.flatnonzero(bad_type)[0])
        if geoms[i] is None:
            why = "; ".join(frame.attrs.get("read_warnings", [])) or "missing"
            msg = f"unreadable or missing geometry ({why})"
        else:
            msg = f"a {geoms[i].geom_type} where a polygon is expected"
        raise InputError(msg, source=source, location=_label(i, names))

    reasons = shapely.is_valid_reason(geoms)
    invalid = np.flatnonzero(reasons != "Valid Geometry")
    repairs: list[Repair] = []
    if invalid.size and not repair:
        listed = "; ".join(f"{_label(i, names)}: {reasons[i]}" for i in invalid)
        msg = (f"{invalid.size} invalid polygon(s), nothing stored: {listed} "
               "(use --repair to make them valid)")
        raise InvalidGeometryError(msg, source=source)
    if invalid.size:
        fixed = np.array([_polygonal(g) for g in shapely.make_valid(geoms[invalid])],
                         dtype=object)
        before = _metric_areas(geoms[invalid], declared)
        after = _metric_areas(fixed, declared)
        geoms = geoms.copy()
        geoms[invalid] = fixed
        repairs = [Repair(int(i) + 1, str(names.iloc[i]), str(reasons[i]), float(b), float(a))
                   for i, b, a in zip(invalid, before, after)]
        for r in repairs:
            log.warning("repaired feature %d (%s): %s; area %+.4f%%", r.feature, r.name,
                        r.reason, r.area_change_pct)

    wgs = geometries_to_wgs84(geoms, declared)
    bounds = shapely.bounds(wgs)
    out_of_range = (~np.isfinite(bounds).all(axis=1)
                    | (np.abs(bounds[:, [0, 2]]) > 180).any(axis=1)
                    | (np.abs(bounds[:, [1, 3]]) > 90).any(axis=1))
    if out_of_range.any():
        i = int(np.flatnonzero(out_of_range)[0])
        msg = (f"coordinates out of range after reading as {declared}: is the declared CRS "
               "right? (projected metres read as degrees look like this)")
        raise CRSError(msg, source=source, location=_label(i, names))
    still_invalid = ~shapely.is_valid(wgs)
    if still_invalid.any():
        i = int(np.flatnonzero(still_invalid)[0])
        msg = f"invalid after conversion to WGS-84: {shapely.is_valid_reason(wgs[i])}"
        raise InvalidGeometryError(msg, source=source, location=_label(i, names))

    polys = np.flatnonzero(shapely.get_type_id(wgs) == 3)
    if polys.size:
        wgs[polys] = shapely.multipolygons(wgs[polys], indices=np.arange(polys.size))
    out = gpd.GeoDataFrame(
        {
            NAME: names.astype(str).to_numpy(),
            CODE: (frame[code_field].astype("string").to_numpy() if code_field
                   else np.full(len(frame), None, dtype=object)),
            PARENT: (frame[parent_field].astype("string").str.strip().to_numpy()
                     if parent_field else np.full(len(frame), None, dtype=object)),
        },
        geometry=gpd.GeoSeries(wgs, crs=WGS84),
    )
    exact = out[[NAME, PARENT]].astype(str).duplicated()
    if exact.any():
        i = int(np.flatnonzero(exact.to_numpy())[0])
        msg = f"area name {out[NAME].iloc[i]!r} appears twice under the same parent"
        raise InputError(msg, source=source, location=f"feature {i + 1}")
    return BoundarySet(out, source, declared.name, repairs)
