"""Hazard ledgers, volunteers' reports and police incidents."""

from __future__ import annotations

import datetime as dt
import json

import geopandas as gpd
import numpy as np
import pytest
import sqlalchemy as sa

from geo_patrol.services.demo import BAOTOU_DISTRICTS
from geo_patrol.crs import wgs84_to_gcj02
from geo_patrol.errors import InputError
from geo_patrol.services.sources import (
    load_boundaries,
    load_hazards,
    load_incidents,
    load_reports,
    load_volunteers,
)
from tests.helpers import count, haversine_m, write_roster

LEDGER_HEADER = "编号,名称,类别,地址,经度,纬度,状态,检查日期,备注"


@pytest.fixture
def baotou(engine, settings):
    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                    code_field="adcode", settings=settings)


def _ledger(tmp_path, rows, name="ledger.csv", encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes("\n".join([LEDGER_HEADER, *rows]).encode(encoding))
    return path


def test_hazard_ledger_with_history(engine, settings, baotou, tmp_path):
    path = _ledger(tmp_path, [
        "H1,包钢三小,学校,昆都仑区钢铁大街,109.8230,40.6570,未整改,2026-11-01T09:00:00+08:00,",
        "H2,阿尔丁液化气站,液化气,青山区,109.8700,40.6600,open,2026-11-02T10:00:00+08:00,",
        "H2,阿尔丁液化气站,液化气,青山区,109.8700,40.6600,已整改,2026-11-20T10:00:00+08:00,复查",
        "H3,五金店(管制刀具),枪爆刀,东河区,110.0300,40.5900,已销号,2026-11-21T10:00:00+08:00,",
    ], encoding="gbk")
    result = load_hazards(engine, path, crs="wgs84", settings=settings)
    assert result.stored == 3 and result.details["status_changes"] == 4
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT h.external_id, h.category, h.status, h.visit_rule, a.name AS district "
            "FROM hazards h JOIN areas a ON a.id = h.community_id "
            "ORDER BY h.external_id")).all()
    assert [(r.category, r.status) for r in rows] == [
        ("school", "open"), ("gas_lpg", "rectified"), ("guns_explosives_knives", "cleared")]
    assert rows[0].visit_rule["windows"] == ["07:00-08:30", "16:00-18:00"]
    assert rows[1].visit_rule["every_days"] == 7
    assert [r.district for r in rows] == ["昆都仑区", "青山区", "东河区"]
    # a later ledger adds to the history; an older status does not overwrite a newer one
    later = _ledger(tmp_path, [
        "H2,阿尔丁液化气站,gas,青山区,109.8700,40.6600,cleared,2026-11-25T10:00:00+08:00,",
        "H1,包钢三小,school,昆都仑区钢铁大街,109.8230,40.6570,open,2026-10-01T09:00:00+08:00,",
    ], name="later.csv")
    again = load_hazards(engine, later, crs="wgs84", settings=settings)
    assert again.details == {"new": 0, "updated": 2, "status_changes": 2, "ledger_rows": 2}
    with engine.connect() as conn:
        status = dict(conn.execute(sa.text("SELECT external_id, status FROM hazards")).all())
    assert status == {"H1": "open", "H2": "cleared", "H3": "cleared"}
    assert count(engine, "hazard_status_history") == 6


def test_hazards_geojson_gcj02(engine, settings, baotou, tmp_path):
    lon, lat = np.array([109.8230, 109.87]), np.array([40.657, 40.66])
    glon, glat = wgs84_to_gcj02(lon, lat)
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, y]},
         "properties": {"id": f"G{i}", "name": f"幼儿园{i}", "category": "幼儿园"}}
        for i, (x, y) in enumerate(zip(glon, glat))]}
    path = tmp_path / "h.geojson"
    path.write_text(json.dumps(doc, ensure_ascii=False))
    load_hazards(engine, path, crs="gcj02", settings=settings)
    stored = gpd.read_postgis("SELECT external_id, geom FROM hazards ORDER BY external_id",
                              engine, geom_col="geom")
    assert haversine_m(stored.geometry.x, stored.geometry.y, lon, lat).max() < 1.0


def test_unknown_hazard_category(engine, settings, tmp_path):
    path = _ledger(tmp_path, ["H9,某场所,赌场,,109.8,40.6,,,"])
    with pytest.raises(InputError, match=r"row 2, category: “赌场” is not a hazard category"):
        load_hazards(engine, path, crs="wgs84", settings=settings)
    assert count(engine, "hazards") == 0 and count(engine, "uploads") == 0


def test_reports(engine, settings, baotou, tmp_path):
    load_volunteers(engine, write_roster(tmp_path / "r.csv", [
        ("V1", "甲", "13812345678", "保安")]), settings=settings)
    load_hazards(engine, _ledger(tmp_path, [
        "H1,驾校,液化气,九原区,109.90,40.60,open,,"]), crs="wgs84", settings=settings)
    path = tmp_path / "reports.csv"
    path.write_text("编号,义警编号,上报时间,经度,纬度,类别,内容,核实状态,奖励,隐患编号\n"
                    "R1,V1,2026-11-20 10:30,109.901,40.601,gas_refill,驾校内有人非法充装液化气,属实,200,H1\n"
                    "R2,V1,2026-11-21 20:00,109.84,40.65,dispute,邻里纠纷,待核实,,\n",
                    encoding="utf-8")
    with pytest.raises(InputError, match="has no time zone"):
        load_reports(engine, path, crs="wgs84", settings=settings)
    result = load_reports(engine, path, crs="wgs84", tz="Asia/Shanghai", settings=settings)
    assert result.stored == 2
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT r.external_id, r.verification, r.reward, h.external_id AS hazard, "
            "r.reported_at FROM reports r LEFT JOIN hazards h ON h.id = r.hazard_id "
            "ORDER BY r.external_id")).all()
    assert [(r.verification, float(r.reward), r.hazard) for r in rows] == [
        ("verified", 200.0, "H1"), ("pending", 0.0, None)]
    assert rows[0].reported_at == dt.datetime(2026, 11, 20, 2, 30, tzinfo=dt.UTC)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text("volunteer,time,lon,lat,category\nV9,2026-11-21T20:00:00+08:00,"
                       "109.84,40.65,dispute\n")
    with pytest.raises(InputError, match=r"row 2, volunteer: No volunteer numbered V9 in the roster"):
        load_reports(engine, unknown, crs="wgs84", settings=settings)
    assert count(engine, "reports") == 2


def test_sf_car_thefts_dates_only(engine, settings, shared_data):
    path = shared_data / "incidents" / "sf_cartheft_2012_07.geojson"
    result = load_incidents(engine, path, settings=settings)
    assert result.stored == 607
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT count(*) FILTER (WHERE occurred_at IS NULL), min(occurred_on), "
            "max(occurred_on), count(DISTINCT category), min(ST_X(geom)), max(ST_Y(geom)) "
            "FROM incidents")).one()
    assert row[0] == 607  # the time of day is unknown in this data (1899/12/30)
    assert row[1] == dt.date(2012, 7, 1) and row[2] <= dt.date(2012, 7, 31)
    assert row[3] == 1
    assert -122.52 < row[4] < -122.35 and 37.70 < row[5] < 37.82
    again = load_incidents(engine, path, settings=settings)
    assert again.duplicate and count(engine, "incidents") == 607


def test_mesa_crimes_in_state_plane_feet(engine, settings, shared_data):
    path = shared_data / "incidents" / "geodanet" / "crimes.shp"
    with pytest.raises(InputError, match="category is missing"):
        load_incidents(engine, path, settings=settings)
    result = load_incidents(engine, path, category="crime", settings=settings)
    assert result.stored == 287
    frame = gpd.read_file(path)
    expected = frame.to_crs(4326)
    stored = gpd.read_postgis("SELECT geom FROM incidents ORDER BY id", engine, geom_col="geom")
    d = haversine_m(stored.geometry.x.to_numpy(), stored.geometry.y.to_numpy(),
                    expected.geometry.x.to_numpy(), expected.geometry.y.to_numpy())
    assert d.max() < 0.01
    # Mesa, Arizona
    assert -111.9 < stored.geometry.x.mean() < -111.7 and 33.3 < stored.geometry.y.mean() < 33.5


def test_incidents_csv_with_clock_times(engine, settings, tmp_path):
    path = tmp_path / "jq.csv"
    path.write_text("警情编号,警情类别,发案日期,报警时间,经度,纬度\n"
                    "J1,盗窃,2026/11/20,21:15,109.84,40.65\nJ2,纠纷,2026/11/21,,109.85,40.66\n",
                    encoding="gbk")
    result = load_incidents(engine, path, crs="wgs84", tz="Asia/Shanghai", settings=settings)
    assert result.stored == 2
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT occurred_on, occurred_at FROM incidents ORDER BY external_id")).all()
    assert rows[0] == (dt.date(2026, 11, 20), dt.datetime(2026, 11, 20, 13, 15, tzinfo=dt.UTC))
    assert rows[1] == (dt.date(2026, 11, 21), None)
