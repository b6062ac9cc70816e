"""Hand-built worlds in local metres around a point in Baotou, written as real files."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pyproj

from benchmarks._common import METRIC

ORIGIN = (109.84, 40.62)
_to_metric = pyproj.Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)
_to_wgs = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)
OX, OY = _to_metric.transform(*ORIGIN)


def lonlat(x: float | np.ndarray, y: float | np.ndarray):
    """WGS-84 of local metres east/north of the origin."""
    return _to_wgs.transform(np.asarray(x) + OX, np.asarray(y) + OY)


def write_osm(path: Path, ways: list[tuple[str, list[tuple[float, float]]]]) -> Path:
    """An OSM XML file with one residential way per (name, [(x, y), ...]); shared points are
    shared nodes."""
    nodes: dict[tuple[float, float], int] = {}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6">']
    body = []
    for w, (name, pts) in enumerate(ways, start=1):
        refs = []
        for p in pts:
            if p not in nodes:
                nodes[p] = len(nodes) + 1
            refs.append(nodes[p])
        body.append(f'<way id="{w}">' + "".join(f'<nd ref="{r}"/>' for r in refs) +
                    f'<tag k="highway" v="residential"/><tag k="name" v="{name}"/></way>')
    for (x, y), nid in nodes.items():
        lon, lat = lonlat(x, y)
        lines.append(f'<node id="{nid}" lat="{lat:.9f}" lon="{lon:.9f}"/>')
    path.write_text("\n".join(lines + body + ["</osm>"]), encoding="utf-8")
    return path


def write_area(path: Path, name: str, x0: float, y0: float, x1: float, y1: float) -> Path:
    ring = [lonlat(x, y) for x, y in ((x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0))]
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": name},
        "geometry": {"type": "Polygon", "coordinates": [[[float(a), float(b)] for a, b in ring]]}}]}
    path.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    return path


def write_walk(path: Path, volunteer: str, points: list[tuple[float, float]],
               start: dt.datetime, step_s: float) -> Path:
    """A CSV track: one fix per point, ``step_s`` apart, from ``start`` (aware)."""
    lines = ["volunteer,time,lon,lat,accuracy"]
    for i, (x, y) in enumerate(points):
        lon, lat = lonlat(x, y)
        t = start + dt.timedelta(seconds=step_s * i)
        lines.append(f"{volunteer},{t.isoformat()},{float(lon):.9f},{float(lat):.9f},5")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_hazards(path: Path, rows: list[tuple[str, str, str, float, float]]) -> Path:
    """A hazard ledger CSV of (id, name, category, x, y)."""
    lines = ["id,name,category,lon,lat"]
    for hid, name, cat, x, y in rows:
        lon, lat = lonlat(x, y)
        lines.append(f"{hid},{name},{cat},{float(lon):.9f},{float(lat):.9f}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
