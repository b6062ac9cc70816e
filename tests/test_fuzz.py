"""Property-based fuzzing of the upload parsers: any bytes give a result or an InputError, never
another exception. ``GEO_PATROL_FUZZ_EXAMPLES`` raises the budget (the reliability run)."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geo_patrol.errors import InputError
from geo_patrol.ingest.fixes import parse_times, read_fixes
from geo_patrol.ingest.ledgers import read_hazards, read_incidents
from geo_patrol.ingest.points import points_to_wgs84
from geo_patrol.ingest.tables import read_table
from geo_patrol.ingest.volunteers import read_volunteers
from geo_patrol.rules import load_rules

EXAMPLES = int(os.environ.get("GEO_PATROL_FUZZ_EXAMPLES", "60"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=EXAMPLES <= 60,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
RULES = load_rules()

# text that looks like the real thing often enough to get past the first checks
_cells = st.one_of(st.text(max_size=12), st.sampled_from([
    "", "nan", "inf", "-1e999", "0", "109.85", "40.62", "2026-11-27T08:00:00+08:00",
    "2026-13-45", "=HYPERLINK(\"x\")", "BT0001", "school", "学校", "13800138000",
    "110101199003078515", "1e308", "-0", "NaN", "１２３"]))


def _csv(header: list[str], rows: list[list[str]]) -> bytes:
    lines = [",".join(header)] + [",".join(r) for r in rows]
    return "\n".join(lines).encode()


csv_bodies = st.builds(
    _csv,
    st.lists(st.sampled_from(["volunteer", "time", "lon", "lat", "accuracy", "name", "category",
                              "id", "status", "date", "number", "id_number", "phone", "经度",
                              "纬度", "时间", "x"]), min_size=1, max_size=6, unique=True),
    st.lists(st.lists(_cells, min_size=1, max_size=6), max_size=8))
xml_bodies = st.one_of(
    st.binary(max_size=400),
    st.builds(lambda pts: (
        '<?xml version="1.0"?><gpx version="1.1"><trk><trkseg>' + "".join(
            f'<trkpt lat="{a}" lon="{b}"><time>{t}</time></trkpt>' for a, b, t in pts)
        + "</trkseg></trk></gpx>").encode(),
        st.lists(st.tuples(_cells, _cells, _cells), max_size=6)),
    st.sampled_from([
        b'<?xml version="1.0"?><!DOCTYPE gpx [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        b"<gpx>&x;</gpx>",
        b'<!DOCTYPE lolz [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><gpx>&b;</gpx>',
        b"<gpx><trk><trkseg><trkpt lat='1' lon='2'></trkseg>"]))


def _write(data: bytes, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    return Path(name)


def _survives(reader, data: bytes, suffix: str) -> None:  # noqa: ANN001
    path = _write(data, suffix)
    try:
        reader(path)
    except InputError:
        pass  # the clear, expected refusal
    finally:
        path.unlink()


@FUZZ
@given(csv_bodies)
def test_track_csv(data):
    _survives(lambda p: read_fixes(p, tz="Asia/Shanghai"), data, ".csv")


@FUZZ
@given(xml_bodies)
def test_gpx(data):
    _survives(read_fixes, data, ".gpx")


@FUZZ
@given(st.one_of(st.binary(max_size=300), st.builds(
    lambda feats: ('{"type":"FeatureCollection","features":[' + ",".join(
        '{"type":"Feature","geometry":{"type":"Point","coordinates":[%s,%s]},'
        '"properties":{"time":"%s","volunteer":"%s"}}' % f for f in feats) + "]}").encode(),
    st.lists(st.tuples(_cells, _cells, _cells, _cells), max_size=5))))
def test_geojson_tracks(data):
    _survives(read_fixes, data, ".geojson")


@FUZZ
@given(st.one_of(csv_bodies, st.binary(max_size=300)))
def test_tables_and_ledgers(data):
    _survives(read_table, data, ".csv")
    _survives(read_volunteers, data, ".csv")
    _survives(lambda p: read_hazards(p, rules=RULES, crs="wgs84"), data, ".csv")
    _survives(lambda p: read_incidents(p, crs="gcj02", tz="Asia/Shanghai"), data, ".csv")


@FUZZ
@given(st.binary(max_size=600))
def test_xlsx_bytes(data):
    _survives(read_table, b"PK\x03\x04" + data, ".xlsx")


@FUZZ
@given(st.lists(st.tuples(st.floats(allow_nan=True, allow_infinity=True),
                          st.floats(allow_nan=True, allow_infinity=True)),
                min_size=1, max_size=20),
       st.sampled_from(["wgs84", "gcj02", "bd09", "EPSG:32649", "EPSG:4326"]))
def test_points(points, crs):
    x = np.array([p[0] for p in points])
    y = np.array([p[1] for p in points])
    try:
        lon, lat = points_to_wgs84(x, y, crs, np.arange(1, len(x) + 1), source="fuzz")
    except InputError:
        return
    assert np.isfinite(lon).all() and np.isfinite(lat).all()
    assert (np.abs(lon) <= 180).all() and (np.abs(lat) <= 90).all()


@FUZZ
@given(st.lists(_cells, min_size=1, max_size=10), st.sampled_from([None, "Asia/Shanghai"]))
def test_times(values, tz):
    try:
        parse_times(pd.Series(values), np.arange(1, len(values) + 1), tz=tz, source="fuzz")
    except InputError:
        pass


def test_fuzz_budget_is_real():
    """The properties above really run their examples (a budget of zero would prove nothing)."""
    assert EXAMPLES >= 10
    pytest.importorskip("hypothesis")
