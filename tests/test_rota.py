"""The rota's core: the covering MILP against a brute-force optimum on a hand-built network,
its guarantees over many seeds, and the shortfall of a force too small."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from geo_patrol.planning.rota import (
    Candidate,
    RotaProblem,
    assign,
    schedule,
    shortfall,
    solve,
    timetable_entropy,
    visit_entropy,
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


def test_hazards_are_inspected_by_their_rule_in_their_windows():
    # hazard 0 every 2 days, inspected only by loop 1 in slot 1 (its time window); hazard 1
    # a school inspected by loop 0 on school days only (days 0 and 1 are Friday, Saturday)
    cands = [Candidate(0, 1.0, np.array([0]), hazards=np.array([1])),
             Candidate(0, 1.0, np.array([1]), hazards=np.array([0]))]
    problem = RotaProblem(LENGTH[:2], np.full(2, np.inf), cands, np.full((1, 4, 2), 1.0),
                          revisit_days=4, hazard_every=np.array([2, 1]),
                          hazard_age=np.array([np.inf, np.inf]),
                          hazard_days=np.array([[True] * 4, [True, False, False, True]]),
                          hazard_slots=np.array([[False, True], [True, True]]))
    blocks = problem.hazard_blocks()
    assert [(z, np.flatnonzero(c.any(axis=1)).tolist()) for z, c in blocks] == [
        (0, [0, 1]), (0, [2, 3]), (1, [0]), (1, [3])]
    rota = solve(problem, seed=3)
    assert rota.hazard_met == rota.hazard_due == 4
    days_1 = sorted(d for d, s, c in rota.walks if c == 1)
    assert all(s == 1 for d, s, c in rota.walks if c == 1)  # only in its window
    assert any(d < 2 for d in days_1) and any(d >= 2 for d in days_1)
    assert {0, 3} <= {d for d, _, c in rota.walks if c == 0}
    # a weekly rule over 4 days: inspected 2 days ago it stays within its rule to the end;
    # 4 days ago it does not
    for age, due in ((2.0, []), (4.0, [[0, 1, 2, 3]])):
        weekly = RotaProblem(LENGTH[:2], np.full(2, np.inf), cands, np.full((1, 4, 2), 1.0),
                             revisit_days=4, hazard_every=np.array([7]),
                             hazard_age=np.array([age]))
        assert [np.flatnonzero(c.any(axis=1)).tolist()
                for _, c in weekly.hazard_blocks()] == due


def _hot_problem(days: int = 3) -> RotaProblem:
    # two loops posted at the hot spot (the stop at their start), one other loop; the
    # evening (slot 1) is the risk slot: two visits there every day
    cands = [Candidate(0, 1.5, np.array([0]), np.array([0]), offsets=np.zeros(1)),
             Candidate(0, 1.5, np.array([1]), np.array([0]), offsets=np.zeros(1)),
             Candidate(0, 1.5, np.array([2, 3]))]
    return RotaProblem(LENGTH, np.full(4, np.inf), cands, np.full((1, days, 2), 4.5),
                       revisit_days=1, hotspots=1, risk_slots=(1,), hotspot_visits=2)


def test_visit_times_are_random_but_never_more_than_two_hours_apart():
    problem = _hot_problem()
    rota = solve(problem, seed=0)
    assert rota.hotspot_met == rota.hotspot_due == 6
    seen = set()
    for seed in range(60):
        sch = schedule(problem, rota, seed=seed, slot_minutes=240, every_minutes=120)
        assert sch.promises_kept == sch.promised == 3
        for (spot, d, s), times in sch.visits.items():
            edges = np.diff([0.0, *times, 240.0])
            assert len(times) == 2 and edges.max() <= 120
        # every walk inside its slot
        for (d, s, c), at in zip(rota.walks, sch.start):
            assert 0 <= at <= 240 - 60 * problem.candidates[c].hours
        seen.add(tuple(sch.start))
    assert len(seen) > 30
    spots, starts, top = visit_entropy(problem, rota, draws=80, slot_minutes=240,
                                       every_minutes=120)
    assert top == 4.0 and spots > 1.5 and starts > 1.5
    # one visit where the promise needs two: it could be kept only at the slot's middle,
    # the same minute every day; drawn anywhere in the slot instead, the promise not kept
    alone = RotaProblem(problem.length, problem.age_days, problem.candidates[:1],
                        problem.force, revisit_days=1, hotspots=1, risk_slots=(1,),
                        hotspot_visits=2)
    single = solve(alone)
    assert single.hotspot_met == 3 and single.hotspot_due == 6
    firsts = set()
    for seed in range(20):
        sch = schedule(alone, single, seed=seed, slot_minutes=240, every_minutes=120)
        assert sch.promised == 3 and sch.promises_kept == 0
        assert all(len(t) == 1 and 0 <= t[0] <= 240 - 90 for t in sch.visits.values())
        firsts |= {t[0] for t in sch.visits.values()}
    assert len(firsts) > 5 and firsts != {120.0}
    spots, _, top = visit_entropy(alone, single, draws=60, slot_minutes=240,
                                  every_minutes=120)
    # a 1.5-hour walk may start in 10 of the slot's 16 quarter-hours: log2(10) bits at most
    assert spots > 2.0 and top == 4.0


def test_walks_go_to_the_nearest_free_volunteer_once_a_day():
    inf = np.inf
    # walks 0, 1 on day 0, walk 2 on day 1; volunteer 2 may not take walk 0 (no certificate)
    cost = np.array([[1.0, 5.0, inf], [2.0, 3.0, 0.5], [1.0, 1.5, 4.0]])
    who = assign(np.array([0, 0, 1]), cost, repeat_km=2.0)
    assert who[0] == 0 and who[1] == 2  # each once on day 0, least total km
    assert who[2] == 1  # volunteer 0 walked yesterday: 1 + 2 > 1.5
    assert assign(np.array([0, 0]), np.array([[inf], [1.0]])).tolist() == [-1, 0]


def test_a_day_bound_lets_a_thin_slot_take_a_whole_loop():
    # two slots of 0.5 h each: no 1-hour loop fits a slot; with the day's hours (1 h) as the
    # bound and each slot allowed a whole loop, one loop is walked, never two
    cands = [Candidate(0, 1.0, np.array([0, 1])), Candidate(0, 1.0, np.array([2, 3]))]
    thin = RotaProblem(LENGTH, np.full(4, np.inf), cands, np.full((1, 1, 2), 0.5))
    assert solve(thin).walks == []
    pooled = RotaProblem(LENGTH, np.full(4, np.inf), cands, np.full((1, 1, 2), 1.0),
                         day_force=np.array([[1.0]]))
    rota = solve(pooled)
    assert [c for _, _, c in rota.walks] == [1] and rota.hours_used.sum() == 1.0
    assert pooled.hours == 1.0 and shortfall(pooled).tolist() == [1.0]


def test_a_slot_takes_no_more_walks_than_the_volunteers_who_patrol_then():
    # hours enough for three hot-spot walks in the evening, but only two volunteers walk
    # then: two stops are planned, not three (the third hot spot's stop is missing)
    cands = [Candidate(0, 0.5, np.array([k]), hotspots=np.array([k])) for k in range(3)]
    base = dict(hotspots=3, risk_slots=(0,), hotspot_visits=1)
    free = RotaProblem(LENGTH, np.zeros(4), cands, np.full((1, 1, 1), 3.0), **base)
    assert solve(free).hotspot_met == 3
    two = RotaProblem(LENGTH, np.zeros(4), cands, np.full((1, 1, 1), 3.0),
                      walkers=np.array([[2.0]]), **base)
    rota = solve(two)
    assert len(rota.walks) == 2 and rota.hotspot_met == 2 and rota.hotspot_due == 3
    # no bound (inf) where the planner set the hours
    unbound = RotaProblem(LENGTH, np.zeros(4), cands, np.full((1, 1, 1), 3.0),
                          walkers=np.array([[np.inf]]), **base)
    assert solve(unbound).hotspot_met == 3


def test_a_demo_week_rota_within_its_force(demo_world, tmp_path):
    import datetime as dt

    from click.testing import CliRunner

    from geo_patrol.cli import cli
    from geo_patrol.services.rota import make_rota
    from geo_patrol.store.areas import find_area
    from geo_patrol.store.results import busiest_district, find_run

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        run = find_run(conn, demo_world["run"].run_id)
        area = find_area(conn, busiest_district(conn, run["id"]))
        plan = make_rota(conn, settings, run, area, start=dt.date(2026, 12, 3), days=3,
                         revisit_days=3, per_community=2, time_limit=10, draws=10)
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
    # every walk starts inside its slot, goes to a volunteer of the area at most once a day
    from geo_patrol.planning.crew import SLOTS
    from geo_patrol.services.rota import save, view

    given = [(w.day, w.volunteer_id) for w in plan.walks if w.volunteer_id is not None]
    assert given and len(set(given)) == len(given)
    for w in plan.walks:
        lo, hi = SLOTS[w.slot]
        local = w.starts_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
        assert lo <= local.hour < hi and local.date() == w.day
    assert plan.rota.hazard_due > 0 and 0 <= plan.rota.hazard_met <= plan.rota.hazard_due
    # who could close the gap first: on the roster to patrol, no patrol in the 4 weeks
    import sqlalchemy as sa

    row = plan.summary()["shortfall"][0]
    with engine.connect() as conn:
        assert row["idle_on_duty"] == conn.execute(sa.text(
            "SELECT count(*) FROM volunteers v WHERE v.active AND v.community_id = :c "
            "AND '巡逻防控' = ANY(v.duties) AND NOT EXISTS (SELECT 1 FROM tracks t WHERE "
            "t.volunteer_id = v.id AND t.kind = 'patrol' "
            "AND t.started_at >= TIMESTAMPTZ '2026-11-05 00:00+08')"),
            {"c": row["community_id"]}).scalar_one()
    # the hot-spot stops planned are those the force seen can make: no slot takes more
    # walks than volunteers patrolled in it a week, each hot-spot walk as long as their
    # patrols; what Koper's dose asks beyond them is told, in stops and volunteer-hours
    from geo_patrol.render.rota import hotspot_force
    from geo_patrol.services.planning import force
    from geo_patrol.services.rota import observed_walkers

    seen = force(engine, settings, area_id=area["id"], end=dt.date(2026, 12, 2))
    walkers, patrol_min = observed_walkers(seen, dt.date(2026, 12, 3), 3)
    per_cell: dict = {}
    for w in plan.walks:
        per_cell[w.day, w.slot] = per_cell.get((w.day, w.slot), 0) + 1
    for (day, slot), n in per_cell.items():
        assert n <= walkers[(day - dt.date(2026, 12, 3)).days, list(SLOTS).index(slot)]
    hot = [w for w in plan.walks if w.kind == "hotspot"]
    assert hot and all(w.minutes < 60 for w in hot) and patrol_min < 60
    s = plan.summary()
    assert 0 < s["hotspot_given"] <= r.hotspot_met < r.hotspot_due == s["hotspot_due"]
    assert s["hotspot_given"] == sum(1 for w in hot if w.volunteer_id is not None
                                     and w.slot in plan.risk_slots)
    assert s["hotspot_missing"] == r.hotspot_due - s["hotspot_given"]
    assert s["hotspot_missing_h"] == pytest.approx(
        s["hotspot_missing"] * s["hotspot_walk_min"] / 60, abs=0.2)
    assert hotspot_force(s, "zh") == (
        f"计划 {r.hotspot_due} 次热点驻巡，现有力量可完成 {s['hotspot_given']} 次，"
        f"缺 {s['hotspot_missing']} 次（约 {s['hotspot_missing_h']:.0f} 人·小时，"
        f"每次驻巡连同巡逻约 {s['hotspot_walk_min']:.0f} 分钟）")
    assert hotspot_force(s, "en").startswith(
        f"{r.hotspot_due} hot-spot stops planned, the force at hand can make "
        f"{s['hotspot_given']}: {s['hotspot_missing']} missing")
    rota_id = save(engine, plan, by="test")
    shown = view(engine, settings, rota_id, people=False)
    assert len(shown.walks) == len(plan.walks) and shown.walks["number"].isna().all()
    week = shown.week()
    assert week[[f"{s}_walks" for s in SLOTS]].to_numpy().sum() == len(plan.walks)
    assert shown.summary["walks"] == len(plan.walks)
    masked = view(engine, settings, rota_id, people=True).walks["name"].dropna()
    assert len(masked) and masked.str.contains(r"\*").all()
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(tmp_path / "d"),
                            "GEO_PATROL_METRIC_CRS": ""})
    bad = runner.invoke(cli, ["plan", "rota", "--area", area["name"], "--days", "40"])
    assert bad.exit_code != 0 and "1 to 28 days" in bad.output
    bad = runner.invoke(cli, ["plan", "rota", "--area", area["name"], "--revisit-days", "9"])
    assert bad.exit_code != 0 and "revisit interval" in bad.output
