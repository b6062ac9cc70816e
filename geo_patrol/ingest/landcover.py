"""Water, green areas and buildings of a local OSM file (XML, ``.osm.bz2`` or ``.osm.pbf``)
through osmnx's feature reader: what the base map draws under the streets."""

from __future__ import annotations

import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import osmnx as ox
import pandas as pd
from osmnx._errors import InsufficientResponseError

from geo_patrol.crs import WGS84
from geo_patrol.ingest._xml import screen_xml
from geo_patrol.ingest.streets import pbf_to_xml

#: The OSM tags read, by the kind of land they mark.
WATER = {"natural": {"water", "wetland", "bay"}, "waterway": {"riverbank", "dock"},
         "landuse": {"reservoir", "basin"}}
GREEN = {"leisure": {"park", "garden", "nature_reserve", "pitch", "playground"},
         "landuse": {"grass", "forest", "meadow", "recreation_ground", "village_green",
                     "orchard", "cemetery"},
         "natural": {"wood", "grassland", "scrub", "heath"}}
#: What osmnx is asked for (``True``: any value).
TAGS: dict[str, bool | list[str]] = {
    "building": True, "water": True,
    **{k: sorted(WATER.get(k, set()) | GREEN.get(k, set())) for k in {*WATER, *GREEN}}}
LAND_COLUMNS = ["kind", "name", "geometry"]


def _empty() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"kind": [], "name": []}, geometry=[], crs=WGS84)


def _any_of(features: pd.DataFrame, values: dict[str, set[str]]) -> np.ndarray:
    hit = np.zeros(len(features), dtype=bool)
    for key, allowed in values.items():
        if key in features:
            hit |= features[key].isin(allowed).to_numpy()
    return hit


def read_land_cover(path: Path | str) -> gpd.GeoDataFrame:
    """The polygons of water (``natural=water``, rivers' areas, reservoirs), green areas
    (parks, gardens, grass, woods) and buildings of a local OSM file, WGS-84, columns
    :data:`LAND_COLUMNS`; none for a file without them (a streets-only extract)."""
    p = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        if p.name.lower().endswith(".pbf"):
            xml = Path(tmp) / "land.osm"
            pbf_to_xml(p, xml, frozenset(TAGS), relations=True)
        else:
            screen_xml(p)
            xml = p
        try:
            features = ox.features_from_xml(xml, tags=TAGS)
        except InsufficientResponseError:
            return _empty()
    features = features[features.geom_type.isin(["Polygon", "MultiPolygon"])]
    if features.empty:
        return _empty()
    water = _any_of(features, WATER)
    if "water" in features:
        water |= features["water"].notna().to_numpy()
    green = _any_of(features, GREEN)
    building = (features["building"].notna() & (features["building"] != "no")).to_numpy() \
        if "building" in features else np.zeros(len(features), dtype=bool)
    kind = np.select([water, green, building], ["water", "green", "building"], default="")
    name = features["name"] if "name" in features else pd.Series(None, index=features.index)
    out = gpd.GeoDataFrame({"kind": kind, "name": name.where(name.notna(), None).to_numpy()},
                           geometry=features.geometry.to_numpy(), crs=features.crs)
    out = out[out["kind"] != ""].to_crs(WGS84)
    return out.reset_index(drop=True)[LAND_COLUMNS]
