"""Patrol fixes: real GPX files, CRS conversion, flags, tracks, idempotence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from geo_patrol.crs import wgs84_to_bd09, wgs84_to_gcj02
from geo_patrol.errors import InputError
from geo_patrol.services.sources import load_tracks, load_volunteers
from tests.helpers import count, haversine_m, write_roster

TRACKS = "tracks"


@pytest.fixture
def roster(engine, settings, tmp_path):
    path = write_roster(tmp_path / "roster.csv", [
        ("V001", "张三", "13812341234", "taxi"), ("V002", "李四", "13912345678", "retired"),
        ("V003", "王五", "", "delivery rider")])
    load_volunteers(engine, path, settings=settings)
    return path


def test_every_real_gpx_loads(engine, settings, roster, shared_data):
    expected = {}
    for path in sorted((shared_data / TRACKS).glob("*.gpx")):
        result = load_tracks(engine, path, crs="wgs84", volunteer="V002", settings=settings)
        text = path.read_text(errors="replace")
        expected[path.name] = result.stored
        assert result.stored > 0
        # every timed <trkpt> is a fix; untimed ones are counted, not stored
        assert result.stored + result.details["untimed_points"] == text.count("<trkpt")
    assert count(engine, "patrol_fixes") == sum(expected.values())
    assert count(engine, "uploads", "kind = 'tracks'") == len(expected)


def test_limerick_bus_2144_fixes_once(engine, settings, roster, shared_data):
    path = shared_data / TRACKS / "limerick_bus_304.gpx"
    first = load_tracks(engine, path, crs="wgs84", volunteer="V001", settings=settings)
    assert first.stored == 2144 and first.flagged == 0
    assert first.details["passive_tracks"] == first.details["tracks"]  # a taxi driver's
    again = load_tracks(engine, path, crs="wgs84", volunteer="V001", settings=settings)
    assert again.duplicate and again.stored == 0
    assert count(engine, "patrol_fixes") == 2144
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT count(*), sum(n_fixes), min(started_at), max(ended_at) FROM tracks")).one()
        part = conn.execute(sa.text(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'patrol_fixes'::regclass"))
    assert row[1] == 2144
    assert row[3] - row[2] > dt.timedelta(minutes=70)
    assert part.scalar_one() == 1  # one day partition


def _fix_csv(path, lon, lat, *, volunteer="V002", start="2026-11-27T08:00:00+08:00", step=10):
    t0 = dt.datetime.fromisoformat(start)
    lines = ["volunteer,time,lon,lat,accuracy"]
    for i, (x, y) in enumerate(zip(lon, lat)):
        t = t0 + dt.timedelta(seconds=step * i)
        lines.append(f"{volunteer},{t.isoformat()},{x:.9f},{y:.9f},5")
    path.write_text("\n".join(lines) + "\n")
    return path


def _walk(n=60):
    # a walk east along a Baotou street, about 1.4 m/s
    lon = 109.84 + np.arange(n) * 0.000165
    lat = np.full(n, 40.657) + np.sin(np.arange(n) / 7) * 0.0001
    return lon, lat


@pytest.mark.parametrize("crs,forward", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_offset_crs_lands_within_1m(engine, settings, roster, tmp_path, crs, forward):
    lon, lat = _walk()
    load_tracks(engine, _fix_csv(tmp_path / "w.csv", lon, lat), crs="wgs84", settings=settings)
    glon, glat = forward(lon, lat)
    load_tracks(engine, _fix_csv(tmp_path / "g.csv", glon, glat, volunteer="V003"), crs=crs,
                settings=settings)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT volunteer_id, ST_X(ST_Transform(geom_m, 4326)), "
            "ST_Y(ST_Transform(geom_m, 4326)) FROM patrol_fixes ORDER BY volunteer_id, t")).all()
    a = np.array([r[1:] for r in rows[:len(lon)]])
    b = np.array([r[1:] for r in rows[len(lon):]])
    d = haversine_m(a[:, 0], a[:, 1], b[:, 0], b[:, 1])
    assert d.max() < 1.0
    # and the naive reading would have been hundreds of metres off
    assert haversine_m(lon, lat, glon, glat).min() > 100


def test_flags_are_counted_not_dropped(engine, settings, roster, tmp_path):
    lon, lat = _walk(40)
    path = _fix_csv(tmp_path / "f.csv", lon, lat)
    lines = path.read_text().splitlines()
    jump = lines[11].split(",")
    jump[2] = f"{float(jump[2]) + 0.05:.9f}"  # 4 km away for one fix, 10 s apart
    lines[11] = ",".join(jump)
    lines.insert(20, lines[19])  # an exact duplicate
    lines.append(lines[5])  # an out-of-order repeat at the end
    poor = lines[30].split(",")
    poor[4] = "800"
    lines[30] = ",".join(poor)
    path.write_text("\n".join(lines) + "\n")
    result = load_tracks(engine, path, crs="wgs84", settings=settings)
    assert result.stored == 42
    assert result.details["speed_jump"] == 1
    assert result.details["poor_accuracy"] == 1
    assert result.details["duplicate"] == 2  # the copied row and the late repeat
    assert result.details["out_of_order"] == 1
    assert result.flagged == 4  # the late repeat is both a duplicate and out of order
    assert count(engine, "patrol_fixes") == 42
    assert count(engine, "patrol_fixes", "flags = 0") == 38


def test_tracks_split_on_gaps(engine, settings, roster, tmp_path):
    lon, lat = _walk(30)
    path = _fix_csv(tmp_path / "g.csv", lon, lat)
    lines = path.read_text().splitlines()
    # 10 minutes' pause before row 16
    shifted = []
    for i, line in enumerate(lines):
        if i >= 16:
            parts = line.split(",")
            t = dt.datetime.fromisoformat(parts[1]) + dt.timedelta(minutes=10)
            parts[1] = t.isoformat()
            line = ",".join(parts)
        shifted.append(line)
    path.write_text("\n".join(shifted) + "\n")
    result = load_tracks(engine, path, crs="wgs84", settings=settings)
    assert result.details["tracks"] == 2
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT array_agg(n_fixes ORDER BY started_at) FROM tracks"))
        assert n.scalar_one() == [15, 15]


def test_overlapping_file_adds_only_new_fixes(engine, settings, roster, tmp_path):
    lon, lat = _walk(40)
    load_tracks(engine, _fix_csv(tmp_path / "a.csv", lon[:30], lat[:30]), crs="wgs84",
                settings=settings)
    b = _fix_csv(tmp_path / "b.csv", lon, lat)
    result = load_tracks(engine, b, crs="wgs84", settings=settings)
    assert result.details["already_stored"] == 30 and result.stored == 10
    assert count(engine, "patrol_fixes") == 40


def test_naive_times_need_tz(engine, settings, roster, tmp_path):
    path = tmp_path / "naive.csv"
    path.write_text("volunteer,time,lon,lat\nV002,2026-11-27 08:00:00,109.84,40.65\n"
                    "V002,2026-11-27 08:00:10,109.8401,40.65\n")
    with pytest.raises(InputError, match=r"row 2, time: “2026-11-27 08:00:00” has no time zone"):
        load_tracks(engine, path, crs="wgs84", settings=settings)
    assert count(engine, "patrol_fixes") == 0
    result = load_tracks(engine, path, crs="wgs84", tz="Asia/Shanghai", settings=settings)
    assert result.stored == 2
    with engine.connect() as conn:
        first = conn.execute(sa.text("SELECT min(t) FROM patrol_fixes")).scalar_one()
    assert first == dt.datetime(2026, 11, 27, 0, 0, tzinfo=dt.UTC)


def test_concurrent_uploads(engine, settings, roster, shared_data, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    path = shared_data / TRACKS / "limerick_bus_304.gpx"
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: load_tracks(engine, path, volunteer="V001",
                                                      settings=settings), range(4)))
    assert sorted(r.duplicate for r in results) == [False, True, True, True]
    assert count(engine, "patrol_fixes") == 2144 and count(engine, "uploads") == 2
    # two different files of the same new day, at once: both land in one partition
    lon, lat = _walk(20)
    a = _fix_csv(tmp_path / "a.csv", lon, lat, volunteer="V002")
    b = _fix_csv(tmp_path / "b.csv", lon, lat, volunteer="V003")
    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lambda p: load_tracks(engine, p, crs="wgs84", settings=settings),
                             [a, b]))
    assert [r.stored for r in done] == [20, 20]
    assert count(engine, "patrol_fixes") == 2184


def test_a_day_created_while_waiting_is_seen(engine):
    """A loader that found no partition, then waited, sees the one another loader committed."""
    from concurrent.futures import ThreadPoolExecutor

    from geo_patrol.store.fixes import _partition_exists

    name = "patrol_fixes_p20261127"
    lock = sa.text("SELECT pg_advisory_xact_lock(hashtext(:n))")
    with engine.connect() as creating, engine.connect() as waiting, ThreadPoolExecutor(1) as pool:
        creating.execute(lock, {"n": name})
        assert not _partition_exists(waiting, name)
        waited = pool.submit(waiting.execute, lock, {"n": name})
        creating.execute(sa.text(f"CREATE TABLE {name} (LIKE patrol_fixes)"))
        creating.commit()
        waited.result(timeout=10)
        assert _partition_exists(waiting, name)


def test_retention_drops_old_days_and_keeps_results(engine, settings, roster, tmp_path,
                                                    runner, db_url):
    from geo_patrol.cli import cli

    lon, lat = _walk(30)
    recent = dt.datetime.now(dt.timezone(dt.timedelta(hours=8))) - dt.timedelta(days=1)
    load_tracks(engine, _fix_csv(tmp_path / "old.csv", lon, lat,
                                 start="2026-01-10T08:00:00+08:00"), crs="wgs84",
                settings=settings)
    load_tracks(engine, _fix_csv(tmp_path / "new.csv", lon, lat,
                                 start=recent.replace(hour=8, minute=0).isoformat()),
                crs="wgs84", settings=settings)
    with engine.begin() as conn:  # a stored result that must survive
        conn.execute(sa.text("INSERT INTO analysis_runs (key, window_start, window_end, params, "
                             "stats, seconds) VALUES ('k', '2026-01-10', '2026-01-11', '{}', "
                             "'{}', 1)"))
    dry = runner.invoke(cli, ["retention", "--days", "30", "--dry-run"])
    assert dry.exit_code == 0 and "would drop 1 day" in dry.output
    assert count(engine, "patrol_fixes") == 60
    done = runner.invoke(cli, ["retention", "--days", "30"])
    assert done.exit_code == 0, done.output
    assert "dropped 1 day(s) (30 fixes)" in done.output
    assert count(engine, "patrol_fixes") == 30  # the recent day stays
    assert count(engine, "tracks") == 2 and count(engine, "tracks", "geom IS NULL") == 1
    assert count(engine, "analysis_runs") == 1
    assert count(engine, "audit_log", "action = 'retention'") == 1
    assert runner.invoke(cli, ["retention", "--days", "0"]).exit_code == 1
