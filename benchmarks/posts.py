"""W8: patrol posts by maximal covering — ours (Lagrangian bound and swaps, then the sparse
MILP in HiGHS for at most ``--ours-time-limit`` s) against spopt's MCLP with the same solver
(HiGHS through PuLP, ``--time-limit`` s), and a greedy heuristic, on the same data in the same
run. Both stop at the same relative gap; ours always reports its proven gap.

    python -m benchmarks.posts [--sizes 5000,20000] [--candidates 2000] [--k 50]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from benchmarks._common import emit, peak_rss_mib
from geo_patrol.planning.posts import coverage_from_distances, greedy, maximal_covering


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,20000")
    parser.add_argument("--candidates", type=int, default=2000)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--radius", type=float, default=600.0)
    parser.add_argument("--time-limit", type=float, default=120.0, help="spopt's limit")
    parser.add_argument("--ours-time-limit", type=float, default=10.0,
                        help="our whole budget (bound, swaps and MILP)")
    parser.add_argument("--gap", type=float, default=0.01, help="relative MIP gap for both")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    import pulp
    from spopt.locate import MCLP

    figures: dict[str, object] = {"workload": "W8", "candidates": args.candidates, "k": args.k,
                                  "ours_time_limit_s": args.ours_time_limit,
                                  "spopt_time_limit_s": args.time_limit}
    print(f"{'demand':>7} {'ours build':>10} {'solve':>7} {'objective':>10} {'gap':>6} "
          f"{'spopt build':>11} {'solve':>7} {'objective':>10} {'greedy':>10} {'speed-up':>8}")
    for n in (int(s) for s in args.sizes.split(",")):
        rng = np.random.default_rng(args.seed + n)
        # clustered demand (streets of a 10 km city) and candidate posts
        centres = rng.uniform(0, 10_000, (40, 2))
        dem = centres[rng.integers(0, 40, n)] + rng.normal(0, 900, (n, 2))
        cand = rng.uniform(0, 10_000, (args.candidates, 2))
        weights = rng.gamma(2.0, 1.0, n).round(3)
        t0 = time.perf_counter()
        tree = shapely.STRtree(shapely.points(cand))
        d_idx, c_idx = tree.query(shapely.points(dem), predicate="dwithin",
                                  distance=args.radius)
        cov = coverage_from_distances(d_idx, c_idx, n, args.candidates, weights)
        pairs_s = time.perf_counter() - t0
        ours = maximal_covering(cov, args.k, time_limit=args.ours_time_limit, gap=args.gap)
        ours_total = pairs_s + ours.build_s + ours.solve_s
        g = greedy(cov, args.k)
        # spopt: a dense cost matrix and its own model build, same solver (HiGHS via PuLP)
        t0 = time.perf_counter()
        cost = np.hypot(dem[:, None, 0] - cand[None, :, 0], dem[:, None, 1] - cand[None, :, 1])
        model = MCLP.from_cost_matrix(cost, weights, args.radius, p_facilities=args.k)
        spopt_build = time.perf_counter() - t0
        t0 = time.perf_counter()
        model.solve(pulp.HiGHS(msg=False, timeLimit=args.time_limit, gapRel=args.gap))
        spopt_solve = time.perf_counter() - t0
        chosen = [j for j, v in enumerate(model.fac_vars) if v.value() and v.value() > 0.5]
        spopt_obj = float(weights[np.asarray(cov.matrix[:, chosen].sum(axis=1)).ravel() > 0]
                          .sum())
        spopt_total = spopt_build + spopt_solve
        speed = spopt_total / ours_total
        print(f"{n:>7,} {pairs_s + ours.build_s:>10.2f} {ours.solve_s:>7.2f} "
              f"{ours.objective:>10.2f} {100 * ours.gap:>5.2f}% {spopt_build:>11.2f} "
              f"{spopt_solve:>7.2f} {spopt_obj:>10.2f} {g.objective:>10.2f} {speed:>7.1f}x")
        figures |= {f"ours_{n}_build_s": round(pairs_s + ours.build_s, 3),
                    f"ours_{n}_solve_s": round(ours.solve_s, 3),
                    f"ours_{n}_objective": round(ours.objective, 3),
                    f"ours_{n}_gap": ours.gap, f"ours_{n}_status": ours.status,
                    f"spopt_{n}_status": str(model.problem.status),
                    f"spopt_{n}_build_s": round(spopt_build, 2),
                    f"spopt_{n}_solve_s": round(spopt_solve, 2),
                    f"spopt_{n}_objective": round(spopt_obj, 3),
                    f"greedy_{n}_objective": round(g.objective, 3),
                    f"speedup_{n}": round(speed, 1),
                    f"ours_{n}_at_least_spopt": bool(ours.objective >= spopt_obj - 1e-9)}
    figures["peak_rss_mib"] = round(peak_rss_mib())
    emit(figures)


if __name__ == "__main__":
    main()
