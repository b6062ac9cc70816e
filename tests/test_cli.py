"""The geo-patrol command: exit codes and one-line messages."""

from __future__ import annotations

import subprocess
import sys

from geo_patrol.cli import cli
from geo_patrol.services.demo import BAOTOU_DISTRICTS
from tests.helpers import count

BAOTOU_GCJ = "boundaries/baotou_150200_districts_gcj02.geojson"


def test_load_boundaries_refused_then_repaired(runner, engine, shared_data):
    args = ["load", "boundaries", str(shared_data / BAOTOU_GCJ), "--level", "district",
            "--crs", "gcj02", "--name-field", "name"]
    refused = runner.invoke(cli, args)
    assert refused.exit_code == 1
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "达尔罕茂明安联合旗" in lines[0]
    assert "Traceback" not in refused.output
    assert count(engine, "areas") == 0

    repaired = runner.invoke(cli, [*args, "--repair"])
    assert repaired.exit_code == 0, repaired.output
    assert "repaired feature 9 (达尔罕茂明安联合旗): Self-intersection" in repaired.output
    assert "9 areas stored" in repaired.output

    again = runner.invoke(cli, [*args, "--repair"])
    assert again.exit_code == 0 and "already loaded" in again.output
    assert count(engine, "areas") == 9


def test_bad_arguments(runner):
    missing = runner.invoke(cli, ["load", "boundaries", "/nonexistent.geojson", "--level",
                                  "district", "--crs", "wgs84"])
    assert missing.exit_code == 1 and "/nonexistent.geojson: file not found" in missing.output
    bad_crs = runner.invoke(cli, ["load", "boundaries", str(BAOTOU_DISTRICTS), "--level",
                                  "district", "--crs", "mars"])
    assert bad_crs.exit_code == 1 and "unknown CRS 'mars'" in bad_crs.output
    bad_level = runner.invoke(cli, ["load", "boundaries", str(BAOTOU_DISTRICTS), "--level",
                                    "county", "--crs", "wgs84"])
    assert bad_level.exit_code == 2 and "Invalid value for '--level'" in bad_level.output


def test_shipped_districts_and_summary(runner, engine):
    args = ["load", "boundaries", str(BAOTOU_DISTRICTS), "--level", "district", "--crs",
            "wgs84", "--code-field", "adcode"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "9 areas stored" in first.output
    second = runner.invoke(cli, args)
    assert second.exit_code == 0 and "already loaded" in second.output
    assert count(engine, "areas") == 9
    summary = runner.invoke(cli, ["summary"])
    assert "东河区" in summary.output and "达尔罕茂明安联合旗" in summary.output
    assert summary.exit_code == 0 and "昆都仑区" in summary.output


def test_streets_and_status(runner, engine, shared_data):
    loaded = runner.invoke(cli, ["load", "streets", str(shared_data / "osm/west_oakland.osm.bz2")])
    assert loaded.exit_code == 0, loaded.output
    assert count(engine, "street_segments") > 0
    status = runner.invoke(cli, ["db", "status"])
    assert status.exit_code == 0 and "schema baotou 0025" in status.output
    down = runner.invoke(cli, ["db", "down"])
    assert down.exit_code == 1 and "DATABASE_URL is set" in down.output


def test_embedded_database_commands(reachable_dir):
    """``db up`` / ``status`` / ``psql-url`` / ``down`` on the project's own cluster."""
    env = {"GEO_PATROL_DATA_DIR": str(reachable_dir), "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"}
    exe = [sys.executable, "-m", "geo_patrol.cli"]

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*exe, *args], capture_output=True, text=True, env=env,
                              timeout=120, check=False)

    try:
        assert run("db", "status").returncode == 3
        up = run("db", "up")
        assert up.returncode == 0, up.stderr
        assert "schema (no city yet)" in up.stdout
        added = run("cities", "add", "baotou", "--name", "包头市", "--name-en", "Baotou")
        assert added.returncode == 0, added.stderr
        assert "city baotou (包头市) added" in added.stdout
        again = run("db", "up")
        assert again.returncode == 0 and "schema baotou 0025" in again.stdout
        status = run("db", "status")
        assert status.returncode == 0 and "running on 127.0.0.1:" in status.stdout
        url = run("db", "psql-url").stdout.strip()
        psql = subprocess.run(["psql", url, "-Atc", "SELECT PostGIS_Lib_Version()"],
                              capture_output=True, text=True, check=False)
        assert psql.returncode == 0 and psql.stdout.strip().startswith("3.")
    finally:
        down = run("db", "down")
    assert down.returncode == 0 and "database stopped" in down.stdout
    assert run("db", "status").returncode == 3


def test_load_tracks_command_limerick(runner, engine, shared_data, tmp_path):
    from tests.helpers import write_roster

    roster = write_roster(tmp_path / "roster.csv", [("BT0001", "张伟", "13812345678", "保安")])
    loaded = runner.invoke(cli, ["load", "volunteers", str(roster)])
    assert loaded.exit_code == 0, loaded.output
    assert "roster.csv: 1 volunteers stored" in loaded.output
    gpx = shared_data / "tracks" / "limerick_bus_304.gpx"
    args = ["load", "tracks", str(gpx), "--crs", "wgs84", "--volunteer", "BT0001"]
    first = runner.invoke(cli, args)
    assert first.exit_code == 0, first.output
    assert "limerick_bus_304.gpx: 2144 fixes stored, 0 flagged" in first.output
    again = runner.invoke(cli, args)
    assert again.exit_code == 0 and "already loaded" in again.output
    assert count(engine, "patrol_fixes") == 2144


def test_several_files_one_refused(runner, engine, shared_data, tmp_path):
    good = shared_data / "incidents" / "sf_cartheft_2012_07.geojson"
    bad = tmp_path / "bad.csv"
    bad.write_text("category,date,lon,lat\ntheft,2012-07-01,-122.4,91\n")
    mesa = shared_data / "incidents" / "geodanet" / "crimes.shp"
    result = runner.invoke(cli, ["load", "incidents", str(good), str(bad), str(mesa), "--crs",
                                 "file", "--category", "crime"])
    assert result.exit_code == 1
    assert "sf_cartheft_2012_07.geojson: 607 incidents stored" in result.output
    assert "bad.csv: declare the coordinates' CRS" in result.output
    # the file after the refused one still loads
    assert "crimes.shp: 287 incidents stored" in result.output
    assert count(engine, "incidents") == 894

    stop = runner.invoke(cli, ["load", "incidents", str(bad), str(mesa), "--stop-on-error",
                               "--category", "crime"])
    assert stop.exit_code == 1 and "crimes.shp" not in stop.output
    assert count(engine, "incidents") == 894


def test_column_option(runner, engine, tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("队员号,队员姓名\nX1,赵六\n", encoding="utf-8")
    bad = runner.invoke(cli, ["load", "volunteers", str(path), "--column", "number"])
    assert bad.exit_code == 1 and "--column expects NAME=HEADER" in bad.output
    ok = runner.invoke(cli, ["load", "volunteers", str(path), "--column", "number=队员号",
                             "--column", "name=队员姓名"])
    assert ok.exit_code == 0, ok.output
    assert count(engine, "volunteers") == 1
