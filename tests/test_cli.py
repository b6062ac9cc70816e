"""The geo-patrol command: exit codes and one-line messages."""

from __future__ import annotations

import subprocess
import sys

from geo_patrol.cli import BAOTOU_DISTRICTS, cli
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
    assert "9 boundaries rows stored" in repaired.output

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


def test_demo_and_summary(runner, engine):
    first = runner.invoke(cli, ["demo"])
    assert first.exit_code == 0, first.output
    assert "9 boundaries rows stored" in first.output
    assert "东河区" in first.output and "达尔罕茂明安联合旗" in first.output
    second = runner.invoke(cli, ["demo"])
    assert second.exit_code == 0 and "already loaded" in second.output
    assert count(engine, "areas") == 9
    summary = runner.invoke(cli, ["summary"])
    assert summary.exit_code == 0 and "昆都仑区" in summary.output


def test_streets_and_status(runner, engine, shared_data):
    loaded = runner.invoke(cli, ["load", "streets", str(shared_data / "osm/west_oakland.osm.bz2")])
    assert loaded.exit_code == 0, loaded.output
    assert count(engine, "street_segments") > 0
    status = runner.invoke(cli, ["db", "status"])
    assert status.exit_code == 0 and "schema 0002" in status.output
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
        assert "schema 0002" in up.stdout
        assert run("db", "up").returncode == 0
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
