"""The rota's core: the covering MILP against a brute-force optimum on a hand-built network,
its guarantees over many seeds, and the shortfall of a force too small."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo_patrol.planning.rota import (
    Candidate,
    RotaProblem,
    shortfall,
    solve,
    timetable_entropy,
)

LENGTH = np.array([100.0, 200.0, 300.0, 400.0])


def _cands():
    return [Candidate(0, 1.0, np.array([0, 1])), Candidate(0, 1.0, np.array([2])),
            Candidate(0, 1.5, np.array([3])), Candidate(0, 3.0, np.array([0, 1, 2, 3]))]


def _brute_force(problem: RotaProblem) -> float:
    cands = problem.candidates
    keys = [(c, d, s) for c in range(len(cands)) for d in range(problem.days)
            for s in range(problem.slots)]
    best = 0.0
    due = problem.due()
    for pick in itertools.product([0, 1], repeat=len(keys)):
        chosen = [k for k, x in zip(keys, pick) if x]
        used = np.zeros_like(problem.force)
        for c, d, s in chosen:
            used[cands[c].community, d, s] += cands[c].hours
        if (used > problem.force + 1e-9).any():
            continue
        value = 0.0
        for w, (lo, hi) in enumerate(problem.windows()):
            seen = set()
            for c, d, _ in chosen:
                if lo <= d < hi:
                    seen |= set(cands[c].segments.tolist())
            value += sum(LENGTH[g] for g in seen if due[g, w])
        best = max(best, value)
    return best


def test_the_rota_is_the_brute_force_optimum_and_reports_its_gap():
    problem = RotaProblem(LENGTH, np.full(4, np.inf), _cands(), np.full((1, 2, 1), 2.0),
                          revisit_days=1)
    rota = solve(problem, seed=1)
    met_length = sum(LENGTH[rota.met[:, w]].sum() for w in range(rota.met.shape[1]))
    assert met_length == _brute_force(problem) == 1200.0  # loops 0 and 1 each day
    assert sorted(c for _, _, c in rota.walks) == [0, 0, 1, 1]
    assert rota.gap <= 0.01 and rota.status == "Optimal"
    assert (rota.hours_used <= problem.force + 1e-9).all()
    assert rota.coverage(LENGTH) == [0.6, 0.6]


def test_fresh_streets_are_not_due_and_longer_intervals_need_fewer_walks():
    # streets 0 and 1 walked yesterday: with a 3-day interval they stay fresh for the
    # 2 days of the period
    age = np.array([1.0, 1.0, np.inf, np.inf])
    problem = RotaProblem(LENGTH, age, _cands(), np.full((1, 2, 1), 1.5), revisit_days=3)
    assert problem.due()[:, 0].tolist() == [False, False, True, True]
    rota = solve(problem, seed=2)
    assert rota.met[:, 0].tolist() == [False, False, True, True]
    assert rota.coverage(LENGTH) == [1.0]


def test_every_seed_keeps_the_guarantees_with_a_different_timetable():
    # two slots a day, each community's loops interchangeable between slots: many rotas are
    # equally good; each must meet every street of each 2-day window and each hot-spot visit
    cands = [Candidate(0, 1.0, np.array([0, 1]), np.array([0])),
             Candidate(0, 1.0, np.array([2, 3]), np.array([0])),
             Candidate(1, 1.0, np.array([2, 3]))]
    force = np.ones((2, 6, 2))
    problem = RotaProblem(LENGTH, np.full(4, np.inf), cands, force, revisit_days=2,
                          hotspots=1, risk_slots=(1,), hotspot_visits=1)
    drawn = []
    for seed in range(25):
        rota = solve(problem, seed=seed)
        assert rota.met.sum() == rota.due.sum()  # every street in every window
        assert rota.hotspot_met == rota.hotspot_due == 6  # the evening visit, every day
        assert (rota.hours_used <= force + 1e-9).all()
        drawn.append(rota.walks)
    assert len({tuple(sorted(w)) for w in drawn}) > 5
    assert timetable_entropy(drawn) > 0.5
    assert timetable_entropy([drawn[0]] * 25) == 0.0


def test_a_force_too_small_shows_the_hours_missing():
    problem = RotaProblem(LENGTH, np.full(4, np.inf), _cands(), np.full((1, 2, 1), 2.0),
                          revisit_days=1)
    # every street every day takes loop 3 (3 h) each day: 6 h against the 4 h there are
    assert shortfall(problem).tolist() == pytest.approx([2.0])
    enough = RotaProblem(LENGTH, np.full(4, np.inf), _cands(), np.full((1, 2, 1), 3.0),
                         revisit_days=1)
    assert shortfall(enough).tolist() == [0.0]
    assert solve(enough).coverage(LENGTH) == [1.0, 1.0]


def test_a_demo_week_rota_within_its_force(demo_world, tmp_path):
    import datetime as dt

    from click.testing import CliRunner

    from geo_patrol.cli import cli
    from geo_patrol.services.planning import rota
    from geo_patrol.store.areas import find_area
    from geo_patrol.store.results import busiest_district, find_run

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        run = find_run(conn, demo_world["run"].run_id)
        area = find_area(conn, busiest_district(conn, run["id"]))
        plan = rota(conn, settings, run, area, start=dt.date(2026, 12, 3), days=3,
                    revisit_days=3, per_community=2, time_limit=10)
    r = plan.rota
    assert r.walks and r.status in ("Optimal", "Time limit reached")
    # within the pooled force of every day and slot, and never a loop twice in one slot
    assert (r.hours_used <= plan.hours_available.sum() + 1e-6).all()
    assert len(set(r.walks)) == len(r.walks)
    assert r.hours_used.sum() <= plan.hours_available.sum() + 1e-6
    assert plan.rota_after >= plan.single_loop_after
    assert 0 < plan.coverage < 1
    # two days of demo patrols cannot patrol every street: the hours missing are told
    assert plan.shortfall.sum() > 0
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(tmp_path / "d"),
                            "GEO_PATROL_METRIC_CRS": ""})
    bad = runner.invoke(cli, ["plan", "rota", "--area", area["name"], "--days", "40"])
    assert bad.exit_code != 0 and "1 to 28 days" in bad.output
    bad = runner.invoke(cli, ["plan", "rota", "--area", area["name"], "--revisit-days", "9"])
    assert bad.exit_code != 0 and "revisit interval" in bad.output
