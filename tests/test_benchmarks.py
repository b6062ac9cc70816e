"""The benchmarks stay runnable: each runs on a tiny size and ends with its JSON line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO


def _run(module: str, *args: str, db_url: str) -> dict:
    env = {**os.environ, "DATABASE_URL": db_url, "PYTHONPATH": str(REPO)}
    out = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=600, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_ingest_benchmark_runs(db_url):
    figures = _run("benchmarks.ingest", "--sizes", "20000", "--volunteers", "200", db_url=db_url)
    assert figures["workload"] == "W1"
    assert figures["ours_20000_fixes_per_s"] > 0 and figures["baseline_20000_fixes_per_s"] > 0
    assert figures["tracks_20000"] >= 200


def test_coverage_benchmark_runs(db_url):
    figures = _run("benchmarks.coverage", "--grid", "20", "--communities", "2", "--volunteers",
                   "40", "--fixes", "6000", "--hazards", "20", "--subsets", "1000,2000",
                   "--loop-sample", "5", db_url=db_url)
    assert figures["segments"] > 500
    for n in (1000, 2000):  # the engine and the naive pipeline agree
        assert abs(figures[f"ours_{n}_coverage"] - figures[f"naive_{n}_coverage"]) < 0.005


def test_area_benchmark_runs(db_url):
    figures = _run("benchmarks.area", "--grid", "30", "--communities", "3", "--volunteers",
                   "60", "--fixes", "8000", "--sample", "2", db_url=db_url)
    assert figures["communities"] == 9 and figures["max_diff_pp"] < 2.0


def test_crime_benchmark_runs():
    out = subprocess.run([sys.executable, "-m", "benchmarks.crime", "--grid", "40",
                          "--incidents", "3000", "--sample", "50"], cwd=REPO,
                         env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True,
                         text=True, timeout=600, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["workload"] == "W11" and figures["segments"] == 3280
    assert figures["hot_segments"] > 0 and figures["knox_ratio_near"] > 1
    assert figures["speedup"] > 1


def test_history_benchmark_runs(db_url):
    figures = _run("benchmarks.history", "--grid", "30", "--communities", "3", "--days", "3",
                   "--fixes", "8000", "--volunteers", "120", "--hazards", "30", "--year", "20",
                   db_url=db_url)
    assert figures["identical"] is True and figures["fixes"] > 20000
    assert 0.3 < figures["day_coverage"] < 0.95 and figures["year_gaps"] > 0
    assert figures["scheduler_ms_per_task"] > 0


def test_forecast_benchmark_runs():
    out = subprocess.run([sys.executable, "-m", "benchmarks.forecast", "--grid", "20",
                          "--incidents", "600", "--days", "90", "--permutations", "19"],
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=600, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["workload"] == "W18" and figures["segments"] == 840
    assert figures["converged"] and figures["fit_s"] > 0 and figures["ratio_sepp_to_kde"] > 0
    assert figures["test_incidents"] > 0 and figures["pai5_sepp"] > figures["pai5_random"]


def test_forecast_benchmark_on_san_francisco_runs(shared_data):
    out = subprocess.run([sys.executable, "-m", "benchmarks.forecast_sf", "--permutations",
                          "19"], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=600, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["workload"] == "W18b" and figures["incidents"] == 607
    assert [w["from_day"] for w in figures["weeks"]] == [17, 24]
    assert sum(w["test"] for w in figures["weeks"]) > 200
    # every method but the random choice finds the thefts better than chance
    for m in ("sepp", "kde", "gi_star"):
        assert figures[f"pai5_{m}"] > 2 * figures["pai5_random"], m
    assert "favoured at 5 %:" in out


def test_trial_benchmark_runs():
    out = subprocess.run([sys.executable, "-m", "benchmarks.trial", "--trials", "20",
                          "--draws", "99", "--designs", "1", "--weeks", "4,26"],
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
                         capture_output=True, text=True, timeout=600, check=True).stdout
    figures = json.loads(out.strip().splitlines()[-1])
    assert figures["workload"] == "trial" and figures["weeks"] == [4, 26]
    assert len(figures["cases"]) == 2 and 0 < figures["stated_power"] < 1
    assert 0 <= figures["detected"] <= 1 and 0 <= figures["false_positive"] <= 1
    assert "stated power" in out and "no effect: significant" in out
