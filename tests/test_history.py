"""Windows of any length composed from whole days: equal to analysing the window directly,
segment by segment; one day re-analysed replaces that day only."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo_patrol.analysis.days import Streets, analyse_day, whole_days
from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes
from geo_patrol.analysis.run import WindowInputs, analyse_days, analyse_window
from geo_patrol.rules import load_rules
from geo_patrol.services.analysis import (
    analyze,
    day_visits,
    default_params,
    read_inputs,
    read_scope,
    read_streets,
)
from geo_patrol.settings import Settings
from geo_patrol.store.db import create_engine
from tests.conftest import CITY, TEMPLATE_DB, _counter

UNTIL = dt.date(2026, 11, 28)
DAYS = 6


@pytest.fixture(scope="module")
def month(pg_cluster, tmp_path_factory):
    """Six days of the small demo, loaded (not analysed)."""
    from geo_patrol.demo.generate import generate
    from geo_patrol.services.demo import last_days, load_demo

    name = f"gp_month_{next(_counter)}"
    pg_cluster.ensure_database(name, template=TEMPLATE_DB)
    root = tmp_path_factory.mktemp("month")
    settings = Settings(database_url=pg_cluster.url(name), data_dir=root / "data",
                        city=CITY.key)
    generate(root / "files", seed=11, scale="small", until=UNTIL, days=DAYS)
    engine = create_engine(settings.database_url, city=CITY.key)
    load_demo(engine, root / "files", settings)
    yield {"engine": engine, "settings": settings, "window": last_days(UNTIL, DAYS),
           "root": root}
    engine.dispose()
    pg_cluster.drop_database(name)


def _both(month, area_id=None, *, composed=False):
    """The window analysed directly (unless only ``composed``) and composed from its days."""
    engine, settings = month["engine"], month["settings"]
    start, end = month["window"]
    params = default_params(settings)
    with engine.begin() as conn:
        direct = None if composed else analyse_window(
            read_inputs(conn, start, end, area_id), start, end, params=params,
            rules=settings.rules, timezone=settings.timezone)
        streets = read_streets(conn, params, settings)
        days, analysed = day_visits(conn, streets, whole_days(start, end, settings.timezone))
        composed = analyse_days(read_scope(conn, area_id), streets, days, params=params,
                                rules=settings.rules)
    return direct, composed, analysed


def test_the_days_composed_equal_the_direct_analysis(month):
    direct, composed, analysed = _both(month)
    assert analysed == DAYS
    d, c = direct.segments, composed.segments
    assert len(d) == len(c) > 3000 and (d["segment_id"].to_numpy() == c["segment_id"]).all()
    # the window's coverage is a union over its days, not a sum: some segment was visited on
    # several days and its covered metres are fewer than the sum of its days'
    assert d["covered_m"].sum() > 0 and (d["passes_patrol"] > 1).sum() > 100
    for col in ("covered_m", "covered_patrol_m", "covered_passive_m", "covered_day_m",
                "covered_night_m", "passes_patrol", "passes_passive"):
        assert (d[col].to_numpy() == c[col].to_numpy()).all(), col
    for col in ("last_visit", "last_patrol_visit", "gap_key"):
        assert d[col].tolist() == c[col].tolist(), col
    for col in ("dwell_patrol_s", "dwell_passive_s"):
        assert np.allclose(d[col], c[col], rtol=1e-9, atol=1e-6), col
    pd.testing.assert_frame_equal(direct.hazards, composed.hazards)
    assert (direct.hazards["inspections"] > 0).sum() > 10
    cols = [c for c in direct.areas.columns if c != "recency"]
    pd.testing.assert_frame_equal(direct.areas[cols], composed.areas[cols], rtol=1e-9)
    pd.testing.assert_frame_equal(direct.daily, composed.daily, rtol=1e-9)
    assert direct.daily["day"].nunique() == DAYS
    assert {k: v for k, v in direct.stats.items()} == composed.stats


def test_one_community_composed_from_the_city_days(month):
    engine = month["engine"]
    with engine.connect() as conn:
        area_id = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'community' ORDER BY id LIMIT 1")).scalar_one()
    direct, composed, analysed = _both(month, area_id)
    assert analysed == 0  # the days stored by the city's window serve the community's
    assert len(composed.segments) < 200
    # a direct run of one area walks the paths the city's days walked (joined from all the
    # fixes, then cut to the area): every street's visits agree, and so do the community's
    # totals, kind and band splits, volunteers and daily metres; only its share of ground
    # differs, counted on a raster around the community instead of around the city
    d, c = direct.segments, composed.segments
    assert (d["segment_id"].to_numpy() == c["segment_id"].to_numpy()).all()
    for col in ("covered_m", "covered_patrol_m", "covered_passive_m", "covered_day_m",
                "covered_night_m", "passes_patrol", "passes_passive"):
        assert np.allclose(d[col], c[col], rtol=1e-12, atol=1e-9), col
    for col in ("last_visit", "last_patrol_visit", "gap_key"):
        assert d[col].tolist() == c[col].tolist(), col
    cols = [c for c in direct.areas.columns if c != "area_coverage"]
    pd.testing.assert_frame_equal(direct.areas[cols], composed.areas[cols], rtol=1e-9)
    pd.testing.assert_frame_equal(direct.daily, composed.daily, rtol=1e-9)
    assert direct.areas["active_volunteers"].max() > 0
    _, city, _ = _both(month, composed=True)
    for ours, theirs in ((composed.areas, city.areas), (composed.daily, city.daily)):
        ours, theirs = (f[f["area_id"] == area_id].reset_index(drop=True)
                        for f in (ours, theirs))
        assert len(ours) > 0
        pd.testing.assert_frame_equal(ours, theirs, rtol=1e-9)


def test_one_area_analysed_directly_walks_the_paths_the_city_walked():
    """A direct run of one area joins its steps from all the window's fixes, as the city's
    days do: a walk out of the area and back is not cut short into a step never walked, and
    a step that crosses the area's street from fixes outside it still walks that street."""
    zone = "Asia/Shanghai"
    start = dt.datetime(2026, 11, 24, tzinfo=ZoneInfo(zone))
    end = start + dt.timedelta(days=2)
    segments = pd.DataFrame({
        "id": [1, 2], "node_from": [1, 3], "node_to": [2, 4], "area_id": [11, 12],
        "length_m": [200.0, 200.0],
        "geom": [shapely.LineString([(0, 0), (200, 0)]),
                 shapely.LineString([(0, 500), (200, 500)])]})
    hazards = pd.DataFrame({"id": [7], "category": ["other"], "status": ["open"],
                            "area_id": [12], "x": [100.0], "y": [520.0]})
    areas = pd.DataFrame({"id": [10, 11, 12], "parent_id": [None, 10, 10],
                          "level": ["district", "community", "community"]})
    polygons = {11: shapely.box(-10, -10, 210, 10), 12: shapely.box(-10, 490, 210, 510)}
    t0 = start.timestamp() + 9 * 3600
    t1 = t0 + 86400
    # volunteer 0 on the first day: (0, 0), out to (100, 200), back to (200, 0), 50 s apart;
    # volunteer 1 on the second: from (100, 100) to (100, -100) across street 1 in 100 s;
    # volunteer 2 then: from (10, 0) away to (10, -150), along to (190, -150), back to
    # (190, 0), a minute apart (two passes on street 1, the step between far from it)
    fixes = Fixes(np.array([0, 0, 0, 1, 1, 2, 2, 2, 2], "int32"), np.zeros(9, "int8"),
                  np.array([t0, t0 + 50, t0 + 100, t1, t1 + 100] +
                           [t1 + 600 + 60 * i for i in range(4)]),
                  np.array([0.0, 100.0, 200.0, 100.0, 100.0, 10.0, 10.0, 190.0, 190.0]),
                  np.array([0.0, 200.0, 0.0, 100.0, -100.0, 0.0, -150.0, -150.0, 0.0]))
    params, rules = AnalysisParams(), load_rules()
    city = WindowInputs(segments, hazards, fixes, areas, polygons)
    one = WindowInputs(segments[segments["area_id"] == 11].reset_index(drop=True),
                       hazards.iloc[:0], fixes, areas, {11: polygons[11]}, scoped=True)
    whole = analyse_window(city, start, end, params=params, rules=rules, timezone=zone)
    direct = analyse_window(one, start, end, params=params, rules=rules, timezone=zone)
    streets = Streets.build(segments, hazards, polygons, params=params,
                            reach_m=rules.radius_m, timezone=zone)
    days = []
    for day in whole_days(start, end, zone):
        lo = dt.datetime.combine(day, dt.time(), ZoneInfo(zone)).timestamp()
        days.append(analyse_day(streets, fixes.take((fixes.t >= lo) & (fixes.t < lo + 86400)),
                                day))
    composed = analyse_days(replace(one, fixes=Fixes.empty()), streets, days, params=params,
                            rules=rules)
    covered = whole.segments["covered_m"].iloc[0]
    # the steps out and back walk the ends of the street (the parts within 30 m of them),
    # the step across the 60 m around it: not the whole street
    assert 90 < covered < 190
    # passes: out and back is one, across one, and the walk away and back again two
    assert whole.segments["passes_patrol"].iloc[0] == 4
    for run in (direct, composed):
        assert run.segments["covered_m"].tolist() == [covered]
        assert run.segments["passes_patrol"].tolist() == [4]
    pd.testing.assert_frame_equal(direct.daily, composed.daily)


def test_new_boundaries_roll_the_months_up_again_without_redoing_days(month):
    """A span keeps volunteers and daily metres by area: moving a segment to another area
    changes what a month holds (its key) but not what a day holds."""
    engine, settings = month["engine"], month["settings"]
    params = default_params(settings)
    with engine.connect() as conn:
        whole = read_scope(conn, None)
        streets = read_streets(conn, params, settings, whole)
        areas = whole.segments["area_id"].to_numpy().copy()
        areas[0] = next(a for a in np.unique(areas) if a != areas[0])
        other = read_streets(conn, params, settings,
                             replace(whole, segments=whole.segments.assign(area_id=areas)))
    assert other.key == streets.key and other.hazards_key == streets.hazards_key
    assert other.span_key != streets.span_key


def test_a_long_window_is_composed_and_one_day_redone(month):
    engine, settings = month["engine"], month["settings"]
    start, end = month["window"]
    # a half-year window: 150 days before the demo's end, most of them without fixes
    run = analyze(engine, end - dt.timedelta(days=150), end, settings=settings)
    assert run.stats["days"] == 150 and run.stats["coverage"] > 0
    month_run = analyze(engine, start, end, settings=settings)
    assert month_run.stats["days_analysed"] == 0
    assert month_run.stats["covered_m"] == run.stats["covered_m"]
    with engine.connect() as conn:
        before = dict(conn.execute(sa.text("SELECT day, analysed_at FROM day_visits")).all())
    assert len(before) == 150
    # new fixes of one day: only that day is analysed again, and the walk is in the window
    from geo_patrol.services.sources import load_tracks

    with engine.connect() as conn:
        seg, x0, y0, x1, y1, code = conn.execute(sa.text(
            "SELECT s.id, ST_X(ST_StartPoint(s.geom)), ST_Y(ST_StartPoint(s.geom)), "
            "ST_X(ST_EndPoint(s.geom)), ST_Y(ST_EndPoint(s.geom)), v.number "
            "FROM street_segments s, volunteers v "
            "ORDER BY s.length_m DESC, s.id, v.id LIMIT 1")).one()
    day = start + dt.timedelta(days=3, hours=10)
    walk = month["root"] / "walk.csv"
    walk.write_text("volunteer,time,lon,lat,accuracy\n" + "".join(
        f"{code},{(day + dt.timedelta(seconds=20 * i)).isoformat()},"
        f"{x0 + (x1 - x0) * i / 9:.7f},{y0 + (y1 - y0) * i / 9:.7f},5\n" for i in range(10)))
    load_tracks(engine, walk, crs="wgs84", settings=settings)
    again = analyze(engine, start, end, settings=settings)
    assert again.stats["days_analysed"] == 1
    assert again.stats["fixes"] == month_run.stats["fixes"] + 10
    with engine.connect() as conn:
        after = dict(conn.execute(sa.text("SELECT day, analysed_at FROM day_visits")).all())
        last = conn.execute(sa.text(
            "SELECT last_visit FROM segment_results WHERE run_id = :r AND segment_id = :s"),
            {"r": again.run_id, "s": seg}).scalar_one()
    changed = [d for d in after if after[d] != before[d]]
    assert changed == [day.date()]
    assert last is not None and last >= day


def _cli(month, *args):
    from click.testing import CliRunner

    from geo_patrol.cli import cli

    runner = CliRunner(env={"DATABASE_URL": month["settings"].database_url,
                            "GEO_PATROL_DATA_DIR": str(month["root"] / "data")})
    return runner.invoke(cli, list(args))


def test_dask_days_equal_the_single_process_engine(month):
    """`geo-patrol reanalyze` on a LocalCluster of two workers stores the same visits."""
    engine, settings = month["engine"], month["settings"]
    start, end = month["window"]
    first, last = start.date(), (end - dt.timedelta(days=1)).date()
    params = default_params(settings)
    with engine.begin() as conn:
        streets = read_streets(conn, params, settings)
        single, _ = day_visits(conn, streets, whole_days(start, end, settings.timezone))
        began = conn.execute(sa.text("SELECT clock_timestamp()")).scalar_one()
    result = _cli(month, "reanalyze", "--from", str(first), "--to", str(last), "--workers", "2",
                  "--no-progress")
    assert result.exit_code == 0, result.output
    assert f"{DAYS} days re-analysed" in result.output and "on 2 Dask workers" in result.output
    assert "Dask dashboard: http://127.0.0.1:" in result.output
    with engine.begin() as conn:
        redone, analysed = day_visits(conn, streets, whole_days(start, end, settings.timezone))
        stamps = conn.execute(sa.text(
            "SELECT min(analysed_at) FROM day_visits WHERE day BETWEEN :a AND :b"),
            {"a": first, "b": last}).scalar_one()
    assert analysed == 0 and stamps > began  # every day of the span was stored by the tasks
    assert sum(d.fixes for d in redone) == sum(d.fixes for d in single) > 100_000
    for a, b in zip(single, redone):
        assert a.day == b.day and a.steps == b.steps
        for name in ("key", "start", "end", "passes", "dwell_s", "last_visit",
                     "last_patrol_visit", "seg_vol"):
            assert np.array_equal(getattr(a.raw, name), getattr(b.raw, name), equal_nan=True), \
                (a.day, name)
        for name in ("hazard", "volunteer", "start", "end"):
            assert np.array_equal(getattr(a.hazards, name), getattr(b.hazards, name))
        assert np.array_equal(a.cells, b.cells)


def test_reanalyze_refuses_a_backwards_span(month):
    with month["engine"].connect() as conn:
        before = conn.execute(sa.text("SELECT count(*), max(analysed_at) FROM day_visits")).one()
    result = _cli(month, "reanalyze", "--from", "2026-11-20", "--to", "2026-11-10")
    assert result.exit_code != 0 and "ends (2026-11-10) before it starts" in result.output
    with month["engine"].connect() as conn:
        after = conn.execute(sa.text("SELECT count(*), max(analysed_at) FROM day_visits")).one()
    assert tuple(before) == tuple(after)


def test_a_winter_long_window_over_real_tracks(engine, settings, tmp_path, shared_data):
    """141 days (longer than any direct window) over two real GPX tracks, two months apart,
    with a street drawn along one of them: the command's 141-day request works."""
    import re

    from click.testing import CliRunner

    from geo_patrol.cli import cli
    from geo_patrol.services.sources import load_streets, load_tracks, load_volunteers
    from tests.helpers import write_roster

    settings = settings.with_(timezone="Europe/Ljubljana")
    korita = shared_data / "tracks" / "gpxpy_korita-zbevnica.gpx"
    text = korita.read_text()
    timed = re.findall(r'<trkpt lat="([\d.]+)" lon="([\d.]+)">\s*<ele>[^<]*</ele>\s*<time>', text)
    assert len(timed) > 500
    nodes = timed[100:400:10]
    osm = tmp_path / "along.osm"
    osm.write_text('<?xml version="1.0" encoding="UTF-8"?><osm version="0.6">' + "".join(
        f'<node id="{i + 1}" lat="{lat}" lon="{lon}"/>' for i, (lat, lon) in enumerate(nodes))
        + '<way id="1">' + "".join(f'<nd ref="{i + 1}"/>' for i in range(len(nodes)))
        + '<tag k="highway" v="track"/><tag k="name" v="Korita"/></way></osm>')
    load_streets(engine, osm, settings=settings)
    load_volunteers(engine, write_roster(tmp_path / "r.csv", [("V1", "甲", "", "保安")]),
                    settings=settings)
    stored = sum(load_tracks(engine, shared_data / "tracks" / name, crs="wgs84",
                             volunteer="V1", settings=settings).stored
                 for name in ("gpxpy_korita-zbevnica.gpx", "gpxpy_cerknicko-jezero.gpx"))
    env = {"DATABASE_URL": settings.database_url, "GEO_PATROL_TIMEZONE": "Europe/Ljubljana",
           "GEO_PATROL_DATA_DIR": str(tmp_path / "d")}
    out = CliRunner(env=env).invoke(cli, ["analyze", "--from", "2010-07-01", "--to",
                                          "2010-11-18", "--json"])
    assert out.exit_code == 0, out.output
    import json

    stats = json.loads(out.output)["stats"]
    assert stats["days"] == 141 and stats["days_analysed"] == 141
    assert stats["fixes"] == stored > 500
    assert stats["coverage"] > 0.95  # the street runs along the walked path
    with engine.connect() as conn:
        run = conn.execute(sa.text(
            "SELECT window_start, window_end FROM analysis_runs ORDER BY id DESC LIMIT 1")).one()
    assert (run.window_end - run.window_start).days == 141
    # a window with a time of day is analysed directly, and still at most 92 days long
    direct = CliRunner(env=env).invoke(cli, ["analyze", "--from", "2010-07-01T08:00",
                                             "--to", "2010-11-18T08:00"])
    assert direct.exit_code != 0 and "at most 92 days" in direct.output


def test_a_new_hazard_redoes_only_the_runs_near_hazards(month):
    from geo_patrol.services.sources import load_hazards

    engine, settings = month["engine"], month["settings"]
    _both(month, composed=True)  # every day stored against today's hazards
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(  # where a volunteer stood on the first day
            "SELECT ST_X(g), ST_Y(g) FROM (SELECT ST_Transform(geom_m, 4326) AS g "
            "FROM patrol_fixes WHERE flags = 0 ORDER BY t LIMIT 1) f")).one()
        before = conn.execute(sa.text("SELECT count(*) FROM hazards")).scalar_one()
    ledger = month["root"] / "new-hazard.csv"
    ledger.write_text(f"id,name,category,lon,lat\nNEW-1,新加油站,gas_station,{lon},{lat}\n")
    load_hazards(engine, ledger, crs="wgs84", settings=settings)
    direct, composed, analysed = _both(month)
    assert analysed == 0  # the streets part of every day was kept
    assert len(direct.hazards) == before + 1
    pd.testing.assert_frame_equal(direct.hazards, composed.hazards)
    with engine.connect() as conn:
        new_id = conn.execute(sa.text("SELECT id FROM hazards ORDER BY id DESC LIMIT 1")
                              ).scalar_one()
    row = composed.hazards.set_index("hazard_id").loc[new_id]
    assert row["inspections"] + row["passes"] > 0  # the old days' patrols passed it


def test_a_whole_month_is_rolled_up_once_and_forgotten_with_its_days(month, tmp_path):
    """November as one stored span: equal to November analysed at once; read back instead of
    its thirty days next time; forgotten when fixes of one of its days arrive."""
    from geo_patrol.analysis.run import analyse_spans
    from geo_patrol.services.analysis import window_spans
    from geo_patrol.services.sources import load_tracks

    engine, settings = month["engine"], month["settings"]
    tz = ZoneInfo(settings.timezone)
    start = dt.datetime(2026, 11, 1, tzinfo=tz)
    end = dt.datetime(2026, 12, 1, tzinfo=tz)
    params = default_params(settings)
    days = whole_days(start, end, settings.timezone)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM month_visits"))
        direct = analyse_window(read_inputs(conn, start, end, None), start, end, params=params,
                                rules=settings.rules, timezone=settings.timezone)
        streets = read_streets(conn, params, settings)
        built, _ = window_spans(conn, streets, days)
        again, analysed = window_spans(conn, streets, days)
        stored = conn.execute(sa.text("SELECT month FROM month_visits")).scalars().all()
        results = [analyse_spans(read_scope(conn, None), streets, spans, params=params,
                                 rules=settings.rules) for spans in (built, again)]
    assert stored == [dt.date(2026, 11, 1)] and analysed == 0
    assert [(s.first, s.n_days) for s in again] == [(dt.date(2026, 11, 1), 30)]
    d = direct.segments
    for composed in results:
        c = composed.segments
        assert (d["segment_id"].to_numpy() == c["segment_id"].to_numpy()).all()
        for col in ("covered_m", "covered_patrol_m", "covered_day_m", "covered_night_m",
                    "passes_patrol", "passes_passive"):
            assert (d[col].to_numpy() == c[col].to_numpy()).all(), col
        assert d["last_visit"].tolist() == c["last_visit"].tolist()
        assert np.allclose(d["dwell_patrol_s"], c["dwell_patrol_s"], rtol=1e-9)
        pd.testing.assert_frame_equal(direct.hazards, composed.hazards)
        pd.testing.assert_frame_equal(direct.daily, composed.daily, rtol=1e-9)
        cols = [c for c in direct.areas.columns if c != "recency"]
        pd.testing.assert_frame_equal(direct.areas[cols], composed.areas[cols], rtol=1e-9)
        assert direct.stats == composed.stats
    assert d["covered_m"].sum() > 0 and direct.daily["day"].nunique() == 30
    # a late upload for 15 November: that month's roll-up goes with the day
    with engine.connect() as conn:
        number = conn.execute(sa.text("SELECT number FROM volunteers ORDER BY id LIMIT 1")
                              ).scalar_one()
    late = tmp_path / "late.csv"
    late.write_text("volunteer,time,lon,lat,accuracy\n" + "".join(
        f"{number},2026-11-15T10:{m:02d}:00+08:00,109.84{m:02d},40.65,5\n" for m in range(5)),
        encoding="utf-8")
    load_tracks(engine, late, crs="wgs84", settings=settings)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM month_visits")).scalar_one() == 0
    rerun = analyze(engine, start, end, settings=settings)
    assert rerun.stats["days_analysed"] == 1
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT month FROM month_visits")).scalars().all() == \
            [dt.date(2026, 11, 1)]


def test_a_day_stored_before_its_cells_were_bits_reads_the_same():
    """A day keeps the grid cells its paths crossed as bits; a day stored earlier, with the
    cells as indices, is read as it is (not analysed again: its fixes may be gone)."""
    import io

    from geo_patrol.analysis.compliance import Visits
    from geo_patrol.analysis.days import DayVisits
    from geo_patrol.analysis.visits import RawVisits

    rng = np.random.default_rng(3)
    n_seg = 50
    cells = np.unique(rng.integers(0, 100_000, 30_000))
    last = np.where(rng.random(n_seg) < 0.5, np.nan, 1.7e9)
    seen = ~np.isnan(last)  # only visited segments have passes and dwell
    raw = RawVisits(np.arange(6, dtype="int64"), np.zeros(6), np.ones(6),
                    rng.integers(1, 3, (2, n_seg)) * seen, rng.random((2, n_seg)) * seen,
                    last, np.full(n_seg, np.nan), np.array([5, 9, 2 ** 31 + 4], dtype="int64"))
    day = DayVisits(dt.date(2026, 11, 27), "k", "h", raw,
                    Visits(np.array([1]), np.array([2], "int32"), np.array([1.0]),
                           np.array([2.0])), cells, 10, 9)
    new = day.to_bytes()
    arrays = dict(np.load(io.BytesIO(new)))
    assert "cells" not in arrays and arrays["cells_bits"].nbytes < cells.nbytes / 10
    arrays["cells"] = cells
    del arrays["cells_bits"], arrays["cells_size"]
    old = io.BytesIO()
    np.savez_compressed(old, **arrays)
    for data in (new, old.getvalue()):
        back = DayVisits.from_bytes(day.day, "k", data, n_seg)
        assert np.array_equal(back.cells, cells)
        assert np.array_equal(back.raw.passes, raw.passes)
        assert np.array_equal(back.raw.last_visit, raw.last_visit, equal_nan=True)
        assert (back.fixes, back.steps, back.hazards_key) == (10, 9, "h")
