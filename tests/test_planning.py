"""Patrol posts: known optima on a hand-built network, and a plan on the demo."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from geo_patrol.cli import cli
from geo_patrol.planning.posts import (
    coverage_from_distances,
    greedy,
    maximal_covering,
    milp_solver,
    network_coverage,
    set_covering,
)


def test_known_optimum_on_a_small_network():
    # a path 0-1-2-3-4-5-6 of 100 m segments; segment i joins node i and i+1
    node_from = np.arange(6)
    node_to = node_from + 1
    length = np.full(6, 100.0)
    weights = np.array([5.0, 0.0, 1.0, 1.0, 0.0, 4.0])
    cov = network_coverage(node_from, node_to, length, np.arange(7), 150.0, weights)
    # within 150 m a node reaches the segments whose midpoint is <= 150 m away
    assert set(cov.matrix[:, 0].nonzero()[0]) == {0, 1}
    assert set(cov.matrix[:, 2].nonzero()[0]) == {0, 1, 2, 3}
    one = maximal_covering(cov, 1)  # node 2 reaches segments 0-3: 5 + 0 + 1 + 1
    assert one.objective == 7.0 and list(one.chosen) == [2]
    assert one.gap <= 1e-4 and one.status.startswith("Optimal")
    two = maximal_covering(cov, 2)
    assert two.objective == 11.0  # segments 0 and 5 are far apart: one post each
    every = set_covering(cov)
    assert len(every.chosen) == 2 and every.objective == 11.0
    # a greedy trap: the heuristic takes the middle first, the optimum does not
    rows = np.array([0, 1, 2, 1, 2, 3, 0, 3])
    cols = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    trap = coverage_from_distances(rows, cols, 4, 3, np.array([2.0, 2.0, 2.0, 2.0]))
    assert greedy(trap, 2).objective <= maximal_covering(trap, 2).objective == 8.0


def test_posts_need_only_the_rows_of_streets_with_weight():
    """Coverage filled for the weighted streets alone gives the same posts and covered
    weight as the whole coverage, on random small networks with weightless streets."""
    from geo_patrol.planning.posts import lagrangian_bound

    rng = np.random.default_rng(5)
    for _ in range(6):
        n_nodes = 30
        node_from = rng.integers(0, n_nodes, 60)
        node_to = (node_from + rng.integers(1, 4, 60)) % n_nodes
        length = rng.uniform(40.0, 160.0, 60)
        weights = np.where(rng.random(60) < 0.5, 0.0, rng.gamma(2.0, 1.0, 60))
        whole = network_coverage(node_from, node_to, length, np.arange(n_nodes), 200.0,
                                 weights)
        part = network_coverage(node_from, node_to, length, np.arange(n_nodes), 200.0,
                                weights, wanted=weights > 0)
        heavy = weights > 0
        assert (part.matrix[heavy] != whole.matrix[heavy]).nnz == 0
        assert part.matrix[~heavy].nnz == 0
        for k in (2, 3):
            a, b = lagrangian_bound(whole, k, target_gap=0.01), lagrangian_bound(part, k,
                                                                                target_gap=0.01)
            assert list(a.best.chosen) == list(b.best.chosen)
            assert abs(a.best.objective - b.best.objective) < 1e-9 and a.upper == b.upper
            assert abs(maximal_covering(whole, k, gap=1e-6).objective
                       - maximal_covering(part, k, gap=1e-6).objective) < 1e-9


def test_the_solver_prints_nothing(capfd):
    """A plan's output is the project's own: HiGHS's banner and log stay off (in the
    process's own stdout, where the C++ library writes)."""
    h = milp_solver(5.0, 1e-4)
    h.addVars(2, np.zeros(2), np.ones(2))
    h.changeColsCost(2, np.arange(2), np.array([-1.0, -2.0]))
    h.changeColsIntegrality(2, np.arange(2), np.array([1, 1], dtype=np.uint8))
    h.run()
    assert list(np.round(h.getSolution().col_value)) == [1.0, 1.0]
    out = capfd.readouterr()
    assert "HiGHS" not in out.out + out.err, out


def test_lagrangian_bound_and_swaps_against_brute_force():
    """On random small instances the bound is never below the true optimum, and the answer
    (bound, swaps, then HiGHS if needed) reaches it."""
    import itertools

    from geo_patrol.planning.posts import lagrangian_bound

    rng = np.random.default_rng(3)
    for _ in range(8):
        n_dem, n_cand, k = 40, 12, 3
        hit = rng.random((n_dem, n_cand)) < 0.15
        rows, cols = np.nonzero(hit)
        cov = coverage_from_distances(rows, cols, n_dem, n_cand, rng.gamma(2.0, 1.0, n_dem))
        best = max(float(cov.weights[np.asarray(cov.matrix[:, list(c)].sum(axis=1)).ravel() > 0]
                         .sum()) for c in itertools.combinations(range(n_cand), k))
        bound = lagrangian_bound(cov, k)
        assert bound.upper >= best - 1e-9
        assert bound.best.objective <= best + 1e-9
        assert abs(maximal_covering(cov, k, gap=1e-6).objective - best) < 1e-9


def test_plan_posts_on_the_demo(demo_world, tmp_path):
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(demo_world["root"] / "data")})
    out = tmp_path / "posts.geojson"
    res = runner.invoke(cli, ["plan", "posts", "--k", "5", "--distance-m", "400", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "5 posts cover" in res.output and "gap" in res.output
    posts = json.loads(out.read_text())["features"]
    assert len(posts) == 5 and all(p["properties"]["segments"] > 0 for p in posts)
    optimum = float(res.output.split(" posts cover ")[1].split(" of ")[0])
    heuristic = float(res.output.split("greedy heuristic: ")[1].split(" ")[0])
    assert optimum >= heuristic
    bad = runner.invoke(cli, ["plan", "posts"])
    assert bad.exit_code == 2 and "--cover-all" in bad.output


def _district(demo_world) -> dict:
    from geo_patrol.store.results import busiest_district
    from geo_patrol.store.areas import find_area

    with demo_world["engine"].connect() as conn:
        return find_area(conn, busiest_district(conn, demo_world["run"].run_id))


def test_plan_on_the_demo(demo_world):
    import shapely

    from geo_patrol.planning.plan import PlanParams, plan_geojson
    from geo_patrol.services.planning import plan_area
    from geo_patrol.store.results import find_run

    area = _district(demo_world)
    params = PlanParams(zones=4, minutes=90)
    with demo_world["engine"].connect() as conn:
        plan = plan_area(conn, find_run(conn, demo_world["run"].run_id), area, params,
                         settings=demo_world["settings"])
    zones = plan.zones
    assert len(zones) == 4 and (zones["pieces"] == 1).all()  # contiguous along the streets
    assert zones["workload"].max() / zones["workload"].mean() < 1.25
    assert plan.communities["zones_imbalance"] <= plan.communities["imbalance"]
    # each loop starts and ends at its post, fits its budget and follows the streets
    for loop, post in zip(plan.loops.itertuples(), plan.posts.itertuples()):
        assert loop.loop_min <= params.minutes + 1 and loop.loop_streets > 0
        start, end = shapely.get_point(loop.geometry, 0), shapely.get_point(loop.geometry, -1)
        assert start.distance(post.geometry) < 1e-9 and end.distance(post.geometry) < 1e-9
    assert plan.after["coverage"] > plan.before["coverage"]
    assert plan.after["hazard_compliance"] >= plan.before["hazard_compliance"]
    # who: patrol volunteers per zone and slot, passive ones for arterials, no personal data
    assert set(plan.crew["zone"]) == {1, 2, 3, 4}
    assert plan.crew["number"].is_unique
    doc = json.dumps(plan_geojson(plan), ensure_ascii=False)
    import re

    from tests.helpers import ID_PATTERN, PHONE_PATTERN

    assert not re.search(PHONE_PATTERN, doc) and not re.search(ID_PATTERN, doc)
    kinds = [f["properties"]["kind"] for f in json.loads(doc)["features"]]
    assert kinds.count("zone") == 4 and kinds.count("post") == 4 and kinds.count("loop") == 4
    # the weights are the planner's: overdue hazards count hazard_weight km each
    from geo_patrol.planning.demand import segment_demand
    from geo_patrol.store.results import segment_demand_rows

    with demo_world["engine"].connect() as conn:
        rows = segment_demand_rows(conn, plan.run_id, area["id"])
    plain = segment_demand(rows, hazard_weight=0, incident_weight=0)
    heavy = segment_demand(rows, hazard_weight=3, incident_weight=0)
    assert heavy["hazards"].sum() > 0
    assert abs((heavy["weight"] - plain["weight"]).sum() - 3 * heavy["hazards"].sum()) < 1e-6
    assert abs(plain["weight"].sum() - plain["stale_km"].sum()) < 1e-6


def test_plan_briefing_is_offline_and_anonymous(demo_world, tmp_path):
    import re

    from geo_patrol.planning.plan import PlanParams
    from geo_patrol.render.plan import plan_briefing_html
    from geo_patrol.services.planning import plan_area
    from geo_patrol.store.results import find_run
    from tests.helpers import ID_PATTERN, PHONE_PATTERN

    with demo_world["engine"].connect() as conn:
        plan = plan_area(conn, find_run(conn, demo_world["run"].run_id),
                         _district(demo_world), PlanParams(zones=3, minutes=60),
                         settings=demo_world["settings"])
        names = [n for (n,) in conn.execute(__import__("sqlalchemy").text(
            "SELECT name FROM volunteers"))]
    page = plan_briefing_html(plan, tz="Asia/Shanghai", lang="zh")
    assert "<script src=" not in page and "巡逻勤务方案" in page and "按方案预计" in page
    assert not re.search(PHONE_PATTERN, page) and not re.search(ID_PATTERN, page)
    assert not [n for n in names if n in page]
    # nobody is named, not even by roster number or their circumstances
    assert len(plan.crew) and not [n for n in plan.crew["number"] if n in page]
    assert "居住地距" not in page and "建议人数" in page
    # units in the briefing's language: the workload's, the loop's minutes, walking speed
    assert "工作量（折合公里）" in page and "60 分钟" in page and "公里/小时" in page
    assert " min ·" not in page and "km/h" not in page


def test_plan_commands(demo_world, tmp_path):
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(demo_world["root"] / "data")})
    area = str(_district(demo_world)["id"])
    out, page = tmp_path / "plan.geojson", tmp_path / "plan.html"
    zones = runner.invoke(cli, ["plan", "zones", "--area", area, "--zones", "3"])
    assert zones.exit_code == 0, zones.output
    assert "3 zones of" in zones.output and "communities" in zones.output
    loops = runner.invoke(cli, ["plan", "loops", "--area", area, "--zones", "3", "--minutes",
                                "60", "-o", str(out), "--briefing", str(page)])
    assert loops.exit_code == 0, loops.output
    assert "expected" in loops.output and "gap" in loops.output
    doc = json.loads(out.read_text())
    assert {f["properties"]["kind"] for f in doc["features"]} == {"zone", "post", "loop"}
    assert page.stat().st_size > 10_000
    bad = runner.invoke(cli, ["plan", "loops", "--area", area, "--minutes", "5"])
    assert bad.exit_code == 1 and "minutes" in bad.output


def test_zones_and_loop_on_hand_built_networks():
    from geo_patrol.planning.loops import plan_loop, walked_segments
    from geo_patrol.planning.network import street_graph
    from geo_patrol.planning.zones import balanced_zones, zone_components

    # a path of 10 segments of 100 m; seeds at both ends; the right half weighs double
    a, b = np.arange(10), np.arange(10) + 1
    length = np.full(10, 100.0)
    load = np.array([1.0] * 5 + [2.0] * 5)
    zones = balanced_zones(a, b, length, load, np.array([0, 10]))
    assert abs(zones.workload[0] - zones.workload[1]) <= 2.0  # 7.5 each at best
    assert zones.label[0] == 0 and zones.label[-1] == 1
    assert all(zone_components(a, b, zones.label, z) == 1 for z in (0, 1))
    # a 3 x 3 grid of 100 m blocks; the post at a corner; one urgent street far away and
    # one near: a 10-minute budget (750 m at 75 m/min) reaches only the near one
    nodes = np.arange(16).reshape(4, 4)
    pairs = [(nodes[r, c], nodes[r, c + 1]) for r in range(4) for c in range(3)] + \
            [(nodes[r, c], nodes[r + 1, c]) for r in range(3) for c in range(4)]
    u = np.array([p[0] for p in pairs])
    v = np.array([p[1] for p in pairs])
    ln = np.full(len(pairs), 100.0)
    weight = np.zeros(len(pairs))
    near = pairs.index((nodes[0, 1], nodes[0, 2]))
    far = pairs.index((nodes[3, 2], nodes[3, 3]))
    weight[[near, far]] = [1.0, 5.0]
    graph = street_graph(u, v, ln)
    loop = plan_loop(graph, u, v, ln, weight, np.zeros(len(pairs), dtype=int),
                     np.arange(len(pairs)), int(nodes[0, 0]), 0, minutes=10,
                     speed_m_per_min=75, dwell_min=10)
    assert loop.targets == [near] and loop.nodes[0] == loop.nodes[-1] == nodes[0, 0]
    assert loop.length_m == 400.0 and loop.minutes <= 10  # there and back
    assert near in walked_segments(loop.nodes, u, v)
    longer = plan_loop(graph, u, v, ln, weight, np.zeros(len(pairs), dtype=int),
                       np.arange(len(pairs)), int(nodes[0, 0]), 0, minutes=20,
                       speed_m_per_min=75, dwell_min=10)
    assert set(longer.targets) == {near, far} and longer.minutes <= 20


def test_coverage_walked_tile_by_tile_is_the_coverage_of_the_whole_network():
    """Walks from the candidates on the streets around their tile only cover what walks on
    the whole network cover, to the last pair."""
    import shapely

    from geo_patrol.planning.posts import node_metres

    rng = np.random.default_rng(3)
    side = 40  # a jittered grid of 40 x 40 crossings, 60-110 m apart, some streets missing
    lon0, lat0 = 109.8, 40.6
    step_lon, step_lat = 85 / (111_320 * np.cos(np.radians(lat0))), 85 / 111_320
    pos = np.array([(lon0 + (i % side + rng.uniform(-0.3, 0.3)) * step_lon,
                     lat0 + (i // side + rng.uniform(-0.3, 0.3)) * step_lat)
                    for i in range(side * side)])
    pairs = [(i, i + 1) for i in range(side * side) if i % side < side - 1] + \
        [(i, i + side) for i in range(side * (side - 1))]
    pairs = [p for p in pairs if rng.uniform() > 0.15]
    node_from = np.array([p[0] for p in pairs])
    node_to = np.array([p[1] for p in pairs])
    lines = shapely.linestrings([[pos[a], pos[b]] for a, b in pairs])
    xy = node_metres(node_from, node_to, lines)
    chord = np.hypot(*(xy[node_from] - xy[node_to]).T)
    length = chord * rng.uniform(1.0, 1.4, len(pairs))  # streets bend: never shorter
    weights = rng.uniform(0, 1, len(pairs))
    everywhere = network_coverage(node_from, node_to, length, np.arange(side * side), 400.0,
                                  weights, chunk=64)
    tiled = network_coverage(node_from, node_to, length, np.arange(side * side), 400.0,
                             weights, chunk=64, xy=xy)
    assert everywhere.matrix.nnz > 10 * len(pairs)
    assert (everywhere.matrix != tiled.matrix).nnz == 0
    assert np.array_equal(everywhere.matrix.indices, tiled.matrix.indices)
