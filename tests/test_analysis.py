"""The coverage engine on hand-built cases with known answers."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from geo_patrol.services.analysis import analyze
from geo_patrol.services.sources import (
    load_boundaries,
    load_hazards,
    load_streets,
    load_tracks,
    load_volunteers,
)
from geo_patrol.store.results import area_table, gap_table, hazard_table
from benchmarks._common import WALK_DAY, WALK_WINDOW
from tests.helpers import write_roster
from tests.worlds import METRIC, write_area, write_hazards, write_osm, write_walk



@pytest.fixture
def world(engine, settings, tmp_path):
    """Streets A (y=0, 0..100 m), B (y=200), C (y=400); D1-D2-D3 (y=-500, 150 m each)."""
    settings = settings.with_(metric_crs=METRIC, segment_max_m=200.0)
    load_boundaries(engine, write_area(tmp_path / "c.geojson", "测试社区", -300, -800, 700, 700),
                    level="community", crs="wgs84", settings=settings)
    osm = write_osm(tmp_path / "s.osm", [
        ("A", [(0, 0), (50, 0), (100, 0)]),
        ("A2", [(100, 0), (150, 0)]),
        ("B", [(0, 200), (100, 200)]),
        ("C", [(0, 400), (100, 400)]),
        ("D1", [(0, -500), (150, -500)]),
        ("D2", [(150, -500), (300, -500)]),
        ("D3", [(300, -500), (450, -500)]),
    ])
    load_streets(engine, osm, settings=settings)
    load_volunteers(engine, write_roster(tmp_path / "r.csv", [
        ("V1", "甲", "", "保安"), ("V2", "乙", "", "退休居民"), ("V3", "丙", "", "外卖骑手")]),
        settings=settings)
    return settings


def _segments(engine, run_id):
    return pd.read_sql_query(sa.text(
        "SELECT s.name, ST_XMin(s.geom_m) AS x0, s.length_m, r.covered_m, r.last_visit, "
        "r.passes_patrol, r.passes_passive, r.gap_key FROM segment_results r "
        "JOIN street_segments s ON s.id = r.segment_id WHERE r.run_id = :r ORDER BY s.name, x0"),
        engine, params={"r": run_id})


def _load(engine, settings, tmp_path, name, volunteer, points, start, step_s=30.0):
    return load_tracks(engine, write_walk(tmp_path / f"{name}.csv", volunteer, points, start,
                                          step_s), crs="wgs84", settings=settings)


def test_step_straddling_a_segment_visits_it(engine, world, tmp_path):
    # two fixes 30 s apart, 40 m either side of street A: neither is within 30 m, the path is
    _load(engine, world, tmp_path, "cross", "V1", [(25, -40), (25, 40)], WALK_DAY.replace(hour=9))
    run = analyze(engine, *WALK_WINDOW, settings=world)
    seg = _segments(engine, run.run_id).set_index("name")
    a = seg.loc["A"]
    assert a.length_m == pytest.approx(100.0, abs=0.5)  # A is one 100 m segment
    # the capsule of the step meets y=0 for x in [-5, 55]: 55 m of A are covered
    assert a.covered_m == pytest.approx(55.0, abs=0.05)
    assert a.passes_patrol == 1 and a.passes_passive == 0
    assert seg.loc["A2", "covered_m"] == 0 and seg.loc["B", "covered_m"] == 0


def test_path_31m_away_is_not_a_visit(engine, world, tmp_path):
    walk = [(x, 231.0) for x in np.arange(-20, 121, 10.0)]  # 31 m north of B
    _load(engine, world, tmp_path, "b", "V2", walk, WALK_DAY.replace(hour=10), step_s=8)
    walk = [(x, 429.0) for x in np.arange(-20, 121, 10.0)]  # 29 m north of C
    _load(engine, world, tmp_path, "c", "V3", walk, WALK_DAY.replace(hour=10), step_s=8)
    run = analyze(engine, *WALK_WINDOW, settings=world)
    seg = _segments(engine, run.run_id).set_index("name")
    assert seg.loc["B", "covered_m"] == 0 and pd.isna(seg.loc["B", "last_visit"])
    assert seg.loc["C", "covered_m"] == pytest.approx(100.0, abs=0.01)
    assert seg.loc["C", "passes_passive"] == 1  # a delivery rider: passive coverage
    # the last step within reach ends at x=110 (13 steps of 8 s); the next one, from x=110 to
    # x=120 at y=429, stays 30.7 m from C's end at x=100
    assert seg.loc["C", "last_visit"] == WALK_DAY.replace(hour=10) + dt.timedelta(seconds=8 * 13)


def test_hazard_dwell_and_school_windows(engine, world, tmp_path):
    load_hazards(engine, write_hazards(tmp_path / "h.csv", [
        ("S-noon", "午间小学", "school", 0, 300), ("S-morning", "晨间小学", "学校", 300, 300),
        ("G-9min", "液化气站", "液化气", 600, 300)]), crs="wgs84", settings=world)

    def stay(name, vol, x, y, start, minutes):
        pts = [(x + 20 + (i % 2), y) for i in range(int(minutes * 2) + 1)]  # 20 m away, 30 s
        _load(engine, world, tmp_path, name, vol, pts, start)

    stay("noon", "V1", 0, 300, WALK_DAY.replace(hour=12), 12)
    stay("morning", "V2", 300, 300, WALK_DAY.replace(hour=7, minute=30), 12)
    stay("gas", "V1", 600, 300, WALK_DAY.replace(hour=15), 9)
    run = analyze(engine, *WALK_WINDOW, settings=world)
    with engine.connect() as conn:
        table = hazard_table(conn, run.run_id).set_index("external_id")
    assert table.loc["S-noon", "status"] == "overdue"  # inspected, but not in a school window
    assert table.loc["S-noon", "inspections"] == 1 and table.loc["S-noon", "missed_days"] == 1
    assert table.loc["S-morning", "status"] == "compliant"
    assert table.loc["S-morning", "inspector_number"] == "V2"
    assert table.loc["G-9min", "inspections"] == 0 and table.loc["G-9min", "passes"] == 1
    assert table.loc["G-9min", "status"] == "overdue"


def test_gap_splits_when_one_segment_is_visited(engine, world, tmp_path):
    first = analyze(engine, *WALK_WINDOW, settings=world)
    seg = _segments(engine, first.run_id).set_index("name")
    d_keys = set(seg.loc[["D1", "D2", "D3"], "gap_key"])
    assert len(d_keys) == 1  # one gap along D1-D2-D3
    (key,) = d_keys
    with engine.connect() as conn:
        gaps = gap_table(conn, first.run_id).set_index("gap_key")
    assert gaps.loc[key, "length_m"] == pytest.approx(450, abs=1)
    # a short walk beside the middle of D2 only
    _load(engine, world, tmp_path, "d2", "V1", [(215, -480), (225, -480), (235, -480)],
          WALK_DAY.replace(hour=16), step_s=10)
    second = analyze(engine, *WALK_WINDOW, settings=world)
    assert second.replaced and second.run_id != first.run_id
    seg = _segments(engine, second.run_id).set_index("name")
    assert pd.isna(seg.loc["D2", "gap_key"])
    k1, k3 = seg.loc["D1", "gap_key"], seg.loc["D3", "gap_key"]
    assert k1 != k3
    assert key in (k1, k3)  # the part holding the gap's anchor segment keeps its id
    with engine.connect() as conn:
        runs = conn.execute(sa.text("SELECT count(*) FROM analysis_runs")).scalar_one()
        area = area_table(conn, second.run_id, level="community").iloc[0]
    assert runs == 1  # the repeated question replaced the first run
    assert area["name"] == "测试社区" and area["segments_visited"] == 1
    assert area["covered_m"] == pytest.approx(seg["covered_m"].sum())


def test_helsinki_coverage_matches_buffer_union(engine, settings, shared_data, tmp_path):
    import pyproj
    import shapely

    load_streets(engine, shared_data / "osm" / "helsinki_highways.osm.bz2", settings=settings)
    with engine.connect() as conn:
        srid = conn.execute(sa.text(
            "SELECT value FROM deployment WHERE key = 'metric_srid'")).scalar_one()
        segs = pd.read_sql_query(sa.text(
            "SELECT id, node_from, node_to, ST_AsBinary(geom_m) AS wkb FROM street_segments "
            "ORDER BY id"), conn)
    lines = shapely.from_wkb(segs["wkb"].map(bytes))
    by_start: dict[int, list[int]] = {}
    for i, a in enumerate(segs["node_from"]):
        by_start.setdefault(int(a), []).append(i)
    rng = np.random.default_rng(11)
    people = [(f"H{i:02d}", "赫", "", "保安") for i in range(12)]
    load_volunteers(engine, write_roster(tmp_path / "r.csv", people), settings=settings)
    to_wgs = pyproj.Transformer.from_crs(f"EPSG:{srid}", "EPSG:4326", always_xy=True)
    rows, paths = ["volunteer,time,lon,lat"], []
    t0 = dt.datetime(2026, 11, 27, 8, tzinfo=dt.UTC)
    for number, *_ in people:
        geom = None
        while geom is None or geom.length < 500:
            i = int(rng.integers(len(segs)))
            walk = [lines[i]]
            for _ in range(40):  # follow the street graph
                nxt = by_start.get(int(segs["node_to"][i]))
                if not nxt:
                    break
                i = int(rng.choice(nxt))
                walk.append(lines[i])
            geom = shapely.linestrings(np.concatenate([shapely.get_coordinates(w)
                                                       for w in walk]))
        dist = np.arange(0, geom.length, 14.0)  # 1.4 m/s, a fix every 10 s
        pts = shapely.get_coordinates(shapely.line_interpolate_point(geom, dist))
        pts = pts + rng.normal(0, 3.0, pts.shape)
        paths.append(shapely.linestrings(pts))
        lon, lat = to_wgs.transform(pts[:, 0], pts[:, 1])
        for k, (x, y) in enumerate(zip(lon, lat)):
            rows.append(f"{number},{(t0 + dt.timedelta(seconds=10 * k)).isoformat()},"
                        f"{x:.9f},{y:.9f}")
    (tmp_path / "walks.csv").write_text("\n".join(rows) + "\n")
    load_tracks(engine, tmp_path / "walks.csv", crs="wgs84", settings=settings)
    run = analyze(engine, t0, t0 + dt.timedelta(days=1), settings=settings)
    # independent: buffer the paths, union, intersect with the streets
    reach = shapely.union_all(shapely.buffer(np.array(paths), 30.0, quad_segs=32))
    expected = float(np.sum(shapely.length(shapely.intersection(lines, reach))))
    total = float(np.sum(shapely.length(lines)))
    assert run.stats["coverage"] > 0.05  # a real share of the network was walked
    assert abs(run.stats["coverage"] - expected / total) < 0.01


def test_analyze_gaps_and_hazards_commands(engine, world, tmp_path, db_url):
    import json

    from click.testing import CliRunner

    from geo_patrol.cli import cli

    load_hazards(engine, write_hazards(tmp_path / "h.csv", [
        ("S1", "晨间小学", "学校", 300, 300)]), crs="wgs84", settings=world)
    _load(engine, world, tmp_path, "c", "V1", [(x, 20.0) for x in range(0, 101, 10)],
          WALK_DAY.replace(hour=9), step_s=8)
    runner = CliRunner(env={"DATABASE_URL": db_url, "GEO_PATROL_METRIC_CRS": METRIC,
                            "GEO_PATROL_DATA_DIR": str(tmp_path / "d")})
    out = runner.invoke(cli, ["analyze", "--from", "2026-11-27", "--to", "2026-11-27"])
    assert out.exit_code == 0, out.output
    assert "Communities" in out.output and "测试社区" in out.output
    data = runner.invoke(cli, ["analyze", "--from", "2026-11-27", "--to", "2026-11-27",
                               "--json"])
    doc = json.loads(data.output)
    row = doc["community"][0]
    assert row["name"] == "测试社区" and row["covered_m"] > 0
    assert row["coverage"] == pytest.approx(row["covered_m"] / row["total_m"])
    assert "replaced" not in data.output  # JSON only
    gaps = runner.invoke(cli, ["gaps", "--json"])
    assert gaps.exit_code == 0 and json.loads(gaps.output)[0]["length_m"] >= 450
    status = runner.invoke(cli, ["hazards", "status"])
    assert status.exit_code == 0 and "never_visited" in status.output and "晨间小学" in status.output
    bad = runner.invoke(cli, ["analyze", "--from", "2026-11-28", "--to", "2026-11-20"])
    assert bad.exit_code == 1 and "before it starts" in bad.output
    missing = runner.invoke(cli, ["analyze", "--from", "2026-11-27", "--to", "2026-11-27",
                                  "--district", "火星区"])
    assert missing.exit_code == 1 and "no district '火星区'" in missing.output


def test_area_coverage_matches_buffer_union(engine, world, tmp_path):
    import shapely

    walk = [(x, 100.0 + 40 * np.sin(x / 90)) for x in np.arange(-250, 650, 12.0)]
    _load(engine, world, tmp_path, "area", "V1", walk, WALK_DAY.replace(hour=9), step_s=9)
    run = analyze(engine, *WALK_WINDOW, settings=world)
    with engine.connect() as conn:
        share = area_table(conn, run.run_id, level="community").iloc[0]["area_coverage"]
    # the same walk and community in local metres, buffered and intersected with shapely
    community = shapely.box(-300, -800, 700, 700)
    path = shapely.LineString(walk)
    expected = shapely.intersection(shapely.buffer(path, 30.0), community).area / community.area
    assert expected > 0.02
    assert abs(share - expected) < 0.01 * expected + 0.002  # within 1 % of itself (5 m cells)
