"""Declared coordinate systems to WGS-84, including the Chinese GCJ-02 and BD-09 offsets.

GCJ-02 (AMap, Tencent) and BD-09 (Baidu) are not projections pyproj knows: they are
deliberate, non-linear offsets of WGS-84 latitude/longitude. The forward formulas are public;
the inverse is found by fixed-point iteration to well under a millimetre. Everything here is
vectorised over numpy arrays so millions of GPS fixes convert in one call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pyproj
import shapely
from pyproj.exceptions import CRSError as _ProjCRSError

from geo_patrol.errors import CRSError

WGS84 = "EPSG:4326"

_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_DLAT = 0.0060
_BD_DLON = 0.0065
_BD_XPI = np.pi * 3000.0 / 180.0
# GCJ-02 leaves points outside this rough box of China untouched, as the official code does.
_CHINA_BOX = (72.004, 0.8293, 137.8347, 55.8271)

_ALIASES = {
    "wgs84": WGS84,
    "wgs-84": WGS84,
    "epsg:4326": WGS84,
    "cgcs2000": "EPSG:4490",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
}


@dataclass(frozen=True)
class DeclaredCRS:
    """A CRS as the user declared it: a pyproj CRS, or one of the Chinese offsets."""

    name: str
    proj: pyproj.CRS | None = None

    @property
    def is_offset(self) -> bool:
        return self.proj is None

    def __str__(self) -> str:
        return self.name


def parse_crs(value: str | int | pyproj.CRS | DeclaredCRS) -> DeclaredCRS:
    """Read a CRS declaration: ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09``, ``EPSG:n``..."""
    if isinstance(value, DeclaredCRS):
        return value
    if isinstance(value, pyproj.CRS):
        return DeclaredCRS(value.to_string(), value)
    text = str(value).strip()
    key = _ALIASES.get(text.lower())
    if key in ("gcj02", "bd09"):
        return DeclaredCRS(key)
    try:
        proj = pyproj.CRS.from_user_input(key or text)
    except _ProjCRSError:
        msg = f"unknown CRS {text!r}: use wgs84, cgcs2000, gcj02, bd09 or EPSG:<code>"
        raise CRSError(msg) from None
    return DeclaredCRS(key or text, proj)


def _in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    x0, y0, x1, y1 = _CHINA_BOX
    return (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)


def _gcj_delta(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    x = lon - 105.0
    y = lat - 35.0
    waves_x = np.sin(6.0 * x * np.pi) + np.sin(2.0 * x * np.pi)
    dlat_m = (
        -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + (20.0 * waves_x
           + 20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)
           + 160.0 * np.sin(y / 12.0 * np.pi) + 320.0 * np.sin(y / 30.0 * np.pi)) * 2.0 / 3.0
    )
    dlon_m = (
        300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + (20.0 * waves_x
           + 20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)
           + 150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    )
    rad = np.radians(lat)
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    lat_deg_m = np.radians(_GCJ_A * (1.0 - _GCJ_EE) / magic**1.5)
    lon_deg_m = np.radians(_GCJ_A * np.cos(rad) / np.sqrt(magic))
    inside = _in_china(lon, lat)
    return np.where(inside, dlon_m / lon_deg_m, 0.0), np.where(inside, dlat_m / lat_deg_m, 0.0)


def wgs84_to_gcj02(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 to GCJ-02 (the forward, published transform)."""
    lon = np.asarray(lon, dtype="float64")
    lat = np.asarray(lat, dtype="float64")
    dlon, dlat = _gcj_delta(lon, lat)
    return lon + dlon, lat + dlat


def gcj02_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to BD-09 (Baidu's forward transform)."""
    x = np.asarray(lon, dtype="float64")
    y = np.asarray(lat, dtype="float64")
    r = np.hypot(x, y) + 0.00002 * np.sin(y * _BD_XPI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_XPI)
    return r * np.cos(theta) + _BD_DLON, r * np.sin(theta) + _BD_DLAT


def wgs84_to_bd09(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """WGS-84 to BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    lon: np.ndarray,
    lat: np.ndarray,
    *,
    tol_deg: float = 1e-10,
    max_iter: int = 30,
) -> tuple[np.ndarray, np.ndarray]:
    # The offsets are small and smooth, so x <- x - (f(x) - target) converges quickly.
    tx = np.asarray(lon, dtype="float64")
    ty = np.asarray(lat, dtype="float64")
    fx, fy = forward(tx, ty)
    x, y = tx - (fx - tx), ty - (fy - ty)
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        dx, dy = fx - tx, fy - ty
        x, y = x - dx, y - dy
        if not (np.nanmax(np.abs(dx), initial=0.0) > tol_deg
                or np.nanmax(np.abs(dy), initial=0.0) > tol_deg):
            break
    return x, y


def gcj02_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """GCJ-02 to WGS-84, the exact inverse of :func:`wgs84_to_gcj02` (sub-millimetre)."""
    return _invert(wgs84_to_gcj02, lon, lat)


def bd09_to_wgs84(lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """BD-09 to WGS-84, the exact inverse of :func:`wgs84_to_bd09`."""
    return _invert(wgs84_to_bd09, lon, lat)


def lonlat_to_wgs84(
    x: np.ndarray, y: np.ndarray, crs: str | DeclaredCRS
) -> tuple[np.ndarray, np.ndarray]:
    """Convert coordinate arrays in a declared CRS to WGS-84 longitude/latitude."""
    declared = parse_crs(crs)
    if declared.name == "gcj02":
        return gcj02_to_wgs84(x, y)
    if declared.name == "bd09":
        return bd09_to_wgs84(x, y)
    assert declared.proj is not None
    if declared.proj.equals(pyproj.CRS(WGS84), ignore_axis_order=True):
        return np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")
    tr = pyproj.Transformer.from_crs(declared.proj, WGS84, always_xy=True)
    return tr.transform(np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64"))


def geometries_to_wgs84(geoms: np.ndarray, crs: str | DeclaredCRS) -> np.ndarray:
    """Convert an array of shapely geometries from a declared CRS to WGS-84."""
    declared = parse_crs(crs)

    def _convert(coords: np.ndarray) -> np.ndarray:
        lon, lat = lonlat_to_wgs84(coords[:, 0], coords[:, 1], declared)
        return np.column_stack([lon, lat])

    return shapely.transform(np.asarray(geoms, dtype=object), _convert)


def utm_crs_for(lon: float, lat: float) -> str:
    """The UTM zone (WGS-84) that contains a point, as ``EPSG:326nn`` / ``EPSG:327nn``."""
    if not (np.isfinite(lon) and np.isfinite(lat)):
        msg = "cannot choose a metric CRS for data without finite coordinates"
        raise CRSError(msg)
    zone = int((lon + 180.0) // 6.0) % 60 + 1
    return f"EPSG:{(32600 if lat >= 0 else 32700) + zone}"


def epsg_code(crs: str) -> int:
    """The EPSG code of a projected CRS declaration (the metric CRS must have one)."""
    code = pyproj.CRS.from_user_input(crs).to_epsg()
    if code is None:
        msg = f"the metric CRS {crs!r} has no EPSG code"
        raise CRSError(msg)
    return code
