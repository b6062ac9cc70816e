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
    assert one.gap <= 1e-4 and one.status == "Optimal"
    two = maximal_covering(cov, 2)
    assert two.objective == 11.0  # segments 0 and 5 are far apart: one post each
    every = set_covering(cov)
    assert len(every.chosen) == 2 and every.objective == 11.0
    # a greedy trap: the heuristic takes the middle first, the optimum does not
    rows = np.array([0, 1, 2, 1, 2, 3, 0, 3])
    cols = np.array([0, 0, 0, 1, 1, 1, 2, 2])
    trap = coverage_from_distances(rows, cols, 4, 3, np.array([2.0, 2.0, 2.0, 2.0]))
    assert greedy(trap, 2).objective <= maximal_covering(trap, 2).objective == 8.0


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
