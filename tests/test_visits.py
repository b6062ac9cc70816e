"""One definition of a visit: the same fixes give the same walked streets and the same stays
on the map (coverage), in hazard compliance and in the tasks that are paid (delivery).

Three volunteers, each with a task: V1 walks street A and stays 12 minutes beside hazard H1,
one fix of the stay wandering out of reach; V2 walks street C with one gap between fixes
longer than the city's track gap (set to 90 s, not the default 120 s); V3 waits beside hazard
H2 twice for six minutes with the same gap between (two visits, not one stay)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa

from geo_patrol.analysis.compliance import hazard_visits, judge
from geo_patrol.analysis.delivery import TaskPlaces, verify_tasks
from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes, build_steps
from geo_patrol.analysis.visits import Calendar, segment_visits
from geo_patrol.rules import load_rules
from geo_patrol.services import tasks
from geo_patrol.services.analysis import analyze
from geo_patrol.services.sources import (
    load_boundaries,
    load_hazards,
    load_streets,
    load_tracks,
    load_volunteers,
)
from geo_patrol.store import tasks as task_store
from benchmarks._common import CST
from tests.helpers import write_roster
from tests.worlds import METRIC, write_area, write_hazards, write_osm, write_walk

DAY = dt.datetime(2026, 11, 24, tzinfo=CST)
GAP_S = 90.0  # the city's track gap: not the default 120 s
HOLE_S = 105.0  # longer than the city's gap, shorter than the default
STREETS = {"A": [(0.0, 0.0), (300.0, 0.0)], "C": [(0.0, 400.0), (300.0, 400.0)],
           "D": [(0.0, -300.0), (300.0, -300.0)]}
HAZARDS = {"H1": (150.0, 30.0), "H2": (150.0, -250.0)}


def _walks() -> dict[str, list[tuple[float, list[tuple[float, float]]]]]:
    """Each volunteer's pieces of track: (seconds after 09:00, points 30 s or 20 s apart)."""
    stay = [(150.0 + i % 2, 20.0) for i in range(25)]  # 10 m from H1, every 30 s
    stay[12] = (150.0, 85.0)  # one fix 55 m from H1: out of reach, at a walking pace
    v1 = [(x, 0.0) for x in np.arange(0.0, 151.0, 37.5)] + stay + \
        [(x, 0.0) for x in np.arange(187.5, 301.0, 37.5)]
    c1 = [(x, 400.0) for x in np.arange(0.0, 101.0, 25.0)]  # 1.25 m/s, every 20 s
    c2 = [(x, 400.0) for x in np.arange(100.0 + 1.25 * HOLE_S, 320.0, 25.0)]
    wait = [(150.0 + i % 2, -240.0) for i in range(13)]  # 10 m from H2: 6 minutes
    return {"V1": [(0.0, v1)],
            "V2": [(0.0, c1), (20.0 * (len(c1) - 1) + HOLE_S, c2)],
            "V3": [(0.0, wait), (30.0 * (len(wait) - 1) + HOLE_S, wait)]}


def _step_s(volunteer: str) -> float:
    return 20.0 if volunteer == "V2" else 30.0


def _fixes(first: float) -> Fixes:
    """The walks as clean fixes (volunteer 0, 1, 2 for V1, V2, V3) from epoch ``first``."""
    vol, t, x, y = [], [], [], []
    for v, pieces in enumerate(_walks().items()):
        name, parts = pieces
        for offset, points in parts:
            n = len(points)
            vol += [v] * n
            t += list(first + offset + _step_s(name) * np.arange(n))
            x += [p[0] for p in points]
            y += [p[1] for p in points]
    return Fixes(np.array(vol, "int32"), np.zeros(len(t), "int8"), np.array(t), np.array(x),
                 np.array(y))


def test_coverage_compliance_and_delivery_agree_on_the_same_fixes():
    params, rules = AnalysisParams(gap_s=GAP_S), load_rules()
    start = DAY.replace(hour=9)
    fixes = _fixes(start.timestamp())
    lines = np.array([shapely.LineString(STREETS[k]) for k in "ACD"], dtype=object)
    hx, hy = (np.array([p[i] for p in HAZARDS.values()]) for i in (0, 1))
    cal = Calendar.for_window(DAY, DAY + dt.timedelta(days=1), "Asia/Shanghai",
                              params.day_starts, params.night_starts)
    # the map: coverage of the streets, compliance of the hazards
    steps = build_steps(fixes, gap_s=params.gap_s, max_speed_kmh=params.max_speed_kmh,
                        breaks=cal.midnights)
    covered = segment_visits(lines, steps, cal, radius=params.radius_m).covered_m
    near = hazard_visits(hx, hy, fixes, radius=params.stay_radius_m(rules), gap_s=params.gap_s)
    comp = judge([rules.categories["gas_lpg"]] * 2, np.zeros(2, bool), near, cal,
                 dwell_min=params.stay_min(rules), window_end=cal.midnights[-1])
    # the tasks: V1 walks A and stops at H1, V2 walks C, V3 walks D and stops at H2
    places = TaskPlaces.of([(lines[[0]], np.array([HAZARDS["H1"]])),
                            (lines[[1]], np.zeros((0, 2))),
                            (lines[[2]], np.array([HAZARDS["H2"]]))])
    verdicts = verify_tasks(places, fixes, params=params, rules=rules, breaks=cal.midnights)
    walked = np.array([v.walked_share for v in verdicts]) * shapely.length(lines)
    np.testing.assert_allclose(walked, covered, atol=1e-6)
    assert covered[0] == pytest.approx(300.0)  # the wander does not cut the path
    # C: 0..130 and 201.25..300, the stretch between two fixes 105 s apart not walked
    assert covered[1] == pytest.approx(300.0 - (201.25 - 130.0))
    assert [v.stops_made for v in verdicts] == [1, 0, 0]
    assert comp.inspections.tolist() == [1, 0] and comp.passes.tolist() == [0, 2]
    assert verdicts[0].state == "delivered" and verdicts[1].state == "partly"


@pytest.fixture
def city(engine, settings, tmp_path):
    """Streets A, C, D, hazards H1, H2 and volunteers V1-V3, with a track gap of 90 s."""
    settings = settings.with_(metric_crs=METRIC, segment_max_m=1000.0, track_gap_s=GAP_S)
    load_boundaries(engine, write_area(tmp_path / "c.geojson", "测试社区", -300, -800, 700, 700),
                    level="community", crs="wgs84", settings=settings)
    load_streets(engine, write_osm(tmp_path / "s.osm", list(STREETS.items())),
                 settings=settings)
    load_hazards(engine, write_hazards(tmp_path / "h.csv", [
        (k, f"液化气站{k}", "液化气", x, y) for k, (x, y) in HAZARDS.items()]),
        crs="wgs84", settings=settings)
    load_volunteers(engine, write_roster(tmp_path / "r.csv", [
        ("V1", "甲", "", "保安"), ("V2", "乙", "", "退休居民"), ("V3", "丙", "", "保安")]),
        settings=settings)
    start = DAY.replace(hour=9)
    for name, parts in _walks().items():
        for i, (offset, points) in enumerate(parts):
            load_tracks(engine, write_walk(tmp_path / f"{name}-{i}.csv", name, points,
                                           start + dt.timedelta(seconds=offset),
                                           _step_s(name)), crs="wgs84", settings=settings)
    return settings


def test_the_paid_tasks_and_the_map_agree_with_the_citys_track_gap(engine, city):
    run = analyze(engine, DAY, DAY + dt.timedelta(days=1), settings=city)
    with engine.connect() as conn:
        streets = pd.read_sql_query(sa.text(
            "SELECT s.id, s.name, ST_Length(s.geom_m) AS length_m, r.covered_m "
            "FROM street_segments s JOIN segment_results r ON r.segment_id = s.id "
            "WHERE r.run_id = :r"), conn, params={"r": run.run_id}).set_index("name")
        hazards = pd.read_sql_query(sa.text(
            "SELECT h.external_id, h.id, r.inspections, r.passes FROM hazards h "
            "JOIN hazard_results r ON r.hazard_id = h.id WHERE r.run_id = :r"), conn,
            params={"r": run.run_id}).set_index("external_id")
        people = dict(conn.execute(sa.text("SELECT number, id FROM volunteers")).all())
        community = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'community'")).scalar_one()
    assert len(streets) == 3  # one segment a street
    start = DAY.replace(hour=8, minute=55)
    ids = {}
    with engine.begin() as conn:
        for who, street, hazard in (("V1", "A", "H1"), ("V2", "C", None), ("V3", "D", "H2")):
            task_store.create_tasks(conn, [{
                "rota_walk_id": None, "kind": "streets", "community_id": community,
                "day": DAY.date(), "window_start": start,
                "window_end": start + dt.timedelta(hours=1), "minutes": 30.0,
                "length_m": 300.0, "segment_ids": [int(streets.loc[street, "id"])],
                "hazard_ids": [] if hazard is None else [int(hazards.loc[hazard, "id"])],
                "hotspot_segment_id": None, "points": 10, "offered_to": people[who],
                "wkt": "LINESTRING(109.84 40.62, 109.843 40.62)"}], by="test")
            ids[who] = conn.execute(sa.text("SELECT max(id) FROM tasks")).scalar_one()
            task_store.set_taker(conn, ids[who], people[who], "accepted", at=start)
    done = {c.task_id: c.verdict for c in tasks.check(engine, city,
                                                      now=start + dt.timedelta(hours=2))}
    assert set(done) == set(ids.values())  # all three, from one read of their fixes
    for who, street in (("V1", "A"), ("V2", "C"), ("V3", "D")):
        paid = done[ids[who]]["walked_share"] * streets.loc[street, "length_m"]
        assert paid == pytest.approx(streets.loc[street, "covered_m"], abs=0.05), who
    # the 105 s gap is longer than the city's 90 s: not walked, on the map or for points
    assert streets.loc["C", "covered_m"] == pytest.approx(300.0 - 71.25, abs=0.5)
    # a stay is the same on both: the wandering fix does not end it, the gap does
    assert hazards.loc["H1", "inspections"] == 1 and done[ids["V1"]]["stops_made"] == 1
    assert hazards.loc["H2", "inspections"] == 0 and hazards.loc["H2", "passes"] == 2
    assert done[ids["V3"]]["stops_made"] == 0
    assert done[ids["V1"]]["state"] == "delivered"
