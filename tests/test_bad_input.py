"""The bad-input catalogue (reliability.md): each case gets a clear error and stores nothing."""

from __future__ import annotations

import json
import zipfile

import pytest

from geo_patrol.services.demo import BAOTOU_DISTRICTS
from geo_patrol.errors import InputError
from geo_patrol.services.sources import (
    load_boundaries,
    load_hazards,
    load_incidents,
    load_tracks,
    load_volunteers,
)
from tests.helpers import count, write_roster

TABLES = ("uploads", "areas", "volunteers", "tracks", "patrol_fixes", "hazards",
          "hazard_status_history", "reports", "incidents")
GOOD_ROW = "V1,2026-11-27T08:00:{s:02d}+08:00,{x},{y}"


def _snapshot(engine) -> dict[str, int]:
    return {t: count(engine, t) for t in TABLES}


@pytest.fixture
def deployment(engine, settings, tmp_path):
    """Baotou's districts and one volunteer, V1."""
    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84", settings=settings)
    load_volunteers(engine, write_roster(tmp_path / "roster.csv", [("V1", "甲", "", "保安")]),
                    settings=settings)
    return _snapshot(engine)


def _csv(tmp_path, rows, header="volunteer,time,lon,lat", name="fixes.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _walk_rows(n=5, x=109.84, y=40.65):
    return [GOOD_ROW.format(s=10 * i, x=round(x + 0.0001 * i, 6), y=y) for i in range(n)]


def _refused(engine, before, load, match):
    with pytest.raises(InputError, match=match):
        load()
    assert _snapshot(engine) == before


# 1. malformed files, wrong types ----------------------------------------------------------

def test_malformed_gpx(engine, settings, deployment, tmp_path):
    path = tmp_path / "t.gpx"
    path.write_text('<?xml version="1.0"?><gpx version="1.1"><trk><trkseg>'
                    '<trkpt lat="40.65" lon="109.84"><time>2026-11-27T00:00:00Z</time></trkpt>'
                    '<trkpt lat="40.65"')
    _refused(engine, deployment, lambda: load_tracks(engine, path, volunteer="V1",
                                                     settings=settings), r"t\.gpx, line 1, column \d+: malformed XML")


def test_malformed_geojson(engine, settings, deployment, tmp_path):
    path = tmp_path / "t.geojson"
    path.write_text('{"type": "FeatureCollection",\n "features": [\n {"type": "Feature",,}]}')
    _refused(engine, deployment, lambda: load_tracks(engine, path, volunteer="V1",
                                                     settings=settings),
             r"t\.geojson, line 3: malformed GeoJSON")


def test_malformed_csv_names_row(engine, settings, deployment, tmp_path):
    rows = _walk_rows()
    rows[2] = rows[2] + ",extra,fields"
    path = _csv(tmp_path, rows)
    _refused(engine, deployment, lambda: load_tracks(engine, path, crs="wgs84",
                                                     settings=settings),
             r"fixes\.csv, row 4: malformed CSV")


def test_not_a_workbook(engine, settings, deployment, tmp_path):
    path = tmp_path / "roster.xlsx"
    path.write_text("number,name\n1,甲\n")
    _refused(engine, deployment, lambda: load_volunteers(engine, path, settings=settings),
             "not an XLSX workbook")
    bogus = tmp_path / "zip.xlsx"
    with zipfile.ZipFile(bogus, "w") as z:
        z.writestr("hello.txt", "not a workbook")
    _refused(engine, deployment, lambda: load_volunteers(engine, bogus, settings=settings),
             "not a readable XLSX workbook")


def test_binary_file_as_csv(engine, settings, deployment, tmp_path):
    path = tmp_path / "photo.csv"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    _refused(engine, deployment, lambda: load_volunteers(engine, path, settings=settings),
             "binary file, not CSV text")
    _refused(engine, deployment, lambda: load_tracks(engine, tmp_path / "photo.csv",
                                                     crs="wgs84", settings=settings),
             "binary file, not CSV text")


def test_unknown_track_type(engine, settings, deployment, tmp_path):
    path = tmp_path / "track.kml.pdf"
    path.write_bytes(b"%PDF-1.4")
    _refused(engine, deployment, lambda: load_tracks(engine, path, settings=settings),
             "unknown track file type")


# 2. XML attacks ---------------------------------------------------------------------------

@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE gpx [<!ENTITY secret SYSTEM "file://{planted}">]>',
    '<!DOCTYPE gpx [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>',
])
def test_xml_attacks_refused_before_parsing(engine, settings, deployment, tmp_path, doctype):
    planted = tmp_path / "planted-secret.txt"
    planted.write_text("PLANTED-SECRET-42")
    path = tmp_path / "attack.gpx"
    path.write_text('<?xml version="1.0"?>' + doctype.format(planted=planted) +
                    '<gpx version="1.1"><trk><name>&secret;&d;</name><trkseg>'
                    '<trkpt lat="40.65" lon="109.84"><time>2026-11-27T00:00:00Z</time></trkpt>'
                    '<trkpt lat="40.65" lon="109.841"><time>2026-11-27T00:00:10Z</time></trkpt>'
                    '</trkseg></trk></gpx>')
    with pytest.raises(InputError) as err:
        load_tracks(engine, path, volunteer="V1", settings=settings)
    assert "DTD" in str(err.value) or "entit" in str(err.value).lower()
    assert "PLANTED-SECRET-42" not in str(err.value)
    assert _snapshot(engine) == deployment


# 4-5. coordinates -------------------------------------------------------------------------

@pytest.mark.parametrize("x,y,match", [
    ("nan", "40.65", r"row 4, position: The coordinates are missing or not finite"),
    ("inf", "40.65", r"row 4, position: The coordinates are missing or not finite"),
    ("109.84", "95.1", r"row 4, position: .* longitude or latitude out of range"),
    ("0", "0", r"row 4, position: \(0, 0\) is not a real position"),
    ("40.65", "109.84", r"row 4, position: Latitude 109.84 lies outside -90 to 90: longitude and "
                        r"latitude look swapped"),
    ("12230000", "4500000", r"row 4, position: .* looks like metres, not degrees"),
    ("116.40", "39.90", r"row 4, position: \(116.4, 39.9\) is far outside this city"),
])
def test_bad_coordinates(engine, settings, deployment, tmp_path, x, y, match):
    rows = _walk_rows()
    rows[2] = f"V1,2026-11-27T08:00:20+08:00,{x},{y}"
    path = _csv(tmp_path, rows)
    _refused(engine, deployment, lambda: load_tracks(engine, path, crs="wgs84",
                                                     settings=settings), match)


def test_swapped_inside_range_gets_a_hint(engine, settings, deployment, tmp_path):
    # Baotou swapped is (40.65, 109.84): out of range, caught above; a file whose points are
    # all swapped but in range (e.g. a deployment near the equator) is caught by the extent
    path = tmp_path / "h.csv"
    path.write_text("name,category,lon,lat\n学校,school,40.657,89.9\n")
    _refused(engine, deployment, lambda: load_hazards(engine, path, crs="wgs84",
                                                      settings=settings),
             "far outside this city")


# 8. degenerate tracks ---------------------------------------------------------------------

def test_empty_single_and_all_duplicate_tracks(engine, settings, deployment, tmp_path):
    empty = tmp_path / "empty.gpx"
    empty.write_text('<?xml version="1.0"?><gpx version="1.1"><trk><trkseg></trkseg></trk></gpx>')
    _refused(engine, deployment, lambda: load_tracks(engine, empty, volunteer="V1",
                                                     settings=settings), "no track points")
    single = _csv(tmp_path, _walk_rows(1), name="one.csv")
    _refused(engine, deployment, lambda: load_tracks(engine, single, crs="wgs84",
                                                     settings=settings), "only one fix")
    same = _csv(tmp_path, [_walk_rows(1)[0]] * 4, name="same.csv")
    _refused(engine, deployment, lambda: load_tracks(engine, same, crs="wgs84",
                                                     settings=settings),
             "all 4 fixes are duplicates of one fix")
    header_only = _csv(tmp_path, [], name="header.csv")
    _refused(engine, deployment, lambda: load_tracks(engine, header_only, crs="wgs84",
                                                     settings=settings), "no fixes")


# 9. times ---------------------------------------------------------------------------------

@pytest.mark.parametrize("when,match", [
    ("2099-01-01T08:00:00+08:00", r"row 4, time: 2099-01-01 00:00Z is in the future"),
    ("1999-12-31T08:00:00+08:00", r"row 4, time: 1999-12-31 00:00Z is before 2000"),
    ("2026-11-27T08:00:20", r"row 4, time: “2026-11-27T08:00:20” has no time zone"),
    ("yesterday", r"row 4, time: “yesterday” is not a date and time"),
])
def test_bad_times(engine, settings, deployment, tmp_path, when, match):
    rows = _walk_rows()
    rows[2] = f"V1,{when},109.8402,40.65"
    path = _csv(tmp_path, rows)
    _refused(engine, deployment, lambda: load_tracks(engine, path, crs="wgs84",
                                                     settings=settings), match)


# 12. unknown references --------------------------------------------------------------------

def test_unknown_volunteer(engine, settings, deployment, tmp_path):
    rows = _walk_rows()
    rows[3] = rows[3].replace("V1,", "V404,")
    path = _csv(tmp_path, rows)
    _refused(engine, deployment, lambda: load_tracks(engine, path, crs="wgs84",
                                                     settings=settings),
             r"row 5, volunteer: No volunteer numbered V404 in the roster")
    gpx = tmp_path / "phone.gpx"
    gpx.write_text('<?xml version="1.0"?><gpx version="1.1"><trk><trkseg>'
                   '<trkpt lat="40.65" lon="109.84"><time>2026-11-27T00:00:00Z</time></trkpt>'
                   '<trkpt lat="40.65" lon="109.841"><time>2026-11-27T00:00:10Z</time></trkpt>'
                   '</trkseg></trk></gpx>')
    _refused(engine, deployment, lambda: load_tracks(engine, gpx, settings=settings),
             "pass --volunteer NUMBER")
    _refused(engine, deployment, lambda: load_tracks(engine, gpx, volunteer="V404",
                                                     settings=settings),
             "No volunteer numbered V404 in the roster")


def test_incident_file_needs_crs_for_tables(engine, settings, deployment, tmp_path):
    path = tmp_path / "i.csv"
    path.write_text("category,date,lon,lat\ntheft,2026-11-20,109.84,40.65\n")
    _refused(engine, deployment, lambda: load_incidents(engine, path, settings=settings),
             "declare the coordinates' CRS")


def test_geojson_line_without_times(engine, settings, deployment, tmp_path):
    path = tmp_path / "line.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"volunteer": "V1"},
        "geometry": {"type": "LineString", "coordinates": [[109.84, 40.65], [109.85, 40.65]]}}]}))
    _refused(engine, deployment, lambda: load_tracks(engine, path, settings=settings),
             "feature 1, time: A line needs a “times” property")
    good = tmp_path / "line-ok.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": [{
        "type": "Feature", "properties": {"volunteer": "V1", "times": [
            "2026-11-27T08:00:00+08:00", "2026-11-27T08:00:30+08:00"]},
        "geometry": {"type": "LineString", "coordinates": [[109.84, 40.65],
                                                           [109.8403, 40.65]]}}]}))
    assert load_tracks(engine, good, settings=settings).stored == 2
