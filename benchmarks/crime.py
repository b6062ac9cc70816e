"""W11: hot spots and near-repeat for 100,000 incidents on a city's 200k street segments —
ours (one STRtree snap, sparse network neighbours, Gi* with vectorised conditional
permutations, the Knox test on k-d tree pairs) against a naive per-incident loop (nearest
segment by brute force, Knox pairs by scanning every other incident) timed on a sample and
scaled, in the same run.

The city is a street grid whose incidents concentrate as real ones do: most on a few hundred
hot streets, a share spread thinly, a quarter of thefts repeated nearby within the week.

    python -m benchmarks.crime [--grid 316] [--incidents 100000] [--sample 300]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import shapely

from benchmarks._common import emit, peak_rss_mib
from geo_patrol.analysis import hotspots as hs
from geo_patrol.analysis.near_repeat import knox


def city(grid: int, step: float = 50.0):
    """A square street grid of ``grid`` blocks a side (about 2 x grid² segments)."""
    i, j = np.meshgrid(np.arange(grid + 1), np.arange(grid), indexing="ij")
    i, j = i.ravel(), j.ravel()
    h = np.stack([np.c_[j * step, i * step], np.c_[(j + 1) * step, i * step]], axis=1)
    v = np.stack([np.c_[i * step, j * step], np.c_[i * step, (j + 1) * step]], axis=1)
    lines = shapely.linestrings(np.concatenate([h, v]))
    node = lambda a, b: a * (grid + 1) + b  # noqa: E731
    nf = np.concatenate([node(i, j), node(j, i)])
    nt = np.concatenate([node(i, j + 1), node(j + 1, i)])
    return lines, nf, nt


def incidents(lines: np.ndarray, n: int, days: int, rng: np.random.Generator):
    """Points near the streets: 45 % on hot segments (one in 500), the rest anywhere; a
    quarter followed by a repeat within 60 m and 7 days."""
    base = int(n / 1.25)
    n_hot = max(5, len(lines) // 500)
    hot = rng.choice(len(lines), n_hot, replace=False)
    seg = np.where(rng.random(base) < 0.45, hot[rng.integers(0, n_hot, base)],
                   rng.integers(0, len(lines), base))
    pts = shapely.line_interpolate_point(lines[seg], rng.random(base), normalized=True)
    x = shapely.get_x(pts) + rng.normal(0, 10, base)
    y = shapely.get_y(pts) + rng.normal(0, 10, base)
    day = rng.integers(0, days, base)
    k = n - base
    src = rng.integers(0, base, k)
    return (np.r_[x, x[src] + rng.normal(0, 30, k)], np.r_[y, y[src] + rng.normal(0, 30, k)],
            np.r_[day, day[src] + rng.integers(1, 8, k)])


def naive_seconds(lines: np.ndarray, x: np.ndarray, y: np.ndarray, day: np.ndarray,
                  sample: int, rng: np.random.Generator) -> tuple[float, float]:
    """Seconds per incident of a per-incident loop: the nearest segment by distance to all
    (shapely, vectorised over segments), and the Knox pairs by scanning all incidents."""
    pick = rng.choice(len(x), sample, replace=False)
    t = time.perf_counter()
    for i in pick:
        int(np.argmin(shapely.distance(lines, shapely.Point(x[i], y[i]))))
    snap = (time.perf_counter() - t) / sample
    t = time.perf_counter()
    for i in pick:
        d = np.hypot(x - x[i], y - y[i])
        near = d < 500
        np.histogram2d(d[near], np.abs(day[near] - day[i]), bins=(5, 4),
                       range=((0, 500), (0, 28)))
    pairs = (time.perf_counter() - t) / sample
    return snap, pairs


def city_arguments(parser: argparse.ArgumentParser, *, days: int) -> None:
    """The synthetic city's size, its incidents over ``days`` and the permutations of the
    significance tests."""
    parser.add_argument("--grid", type=int, default=316, help="blocks a side (316: 200k)")
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--days", type=int, default=days)
    parser.add_argument("--permutations", type=int, default=99)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    city_arguments(parser, days=180)
    parser.add_argument("--knox-permutations", type=int, default=99)
    parser.add_argument("--sample", type=int, default=300, help="incidents the naive loop times")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(11)
    lines, nf, nt = city(args.grid)
    x, y, day = incidents(lines, args.incidents, args.days, rng)
    stages: dict[str, float] = {}
    t0 = time.perf_counter()
    t = t0
    on = hs.snap(x, y, lines, 100.0)
    stages["snap"] = time.perf_counter() - t
    t = time.perf_counter()
    counts = hs.counts_on(on, len(lines))
    conc = hs.concentration(counts, shapely.length(lines))
    w = hs.network_neighbours(nf, nt, 2)
    stages["neighbours"] = time.perf_counter() - t
    t = time.perf_counter()
    spots = hs.gi_star(counts, w, permutations=args.permutations, seed=1)
    stages["gi_star"] = time.perf_counter() - t
    t = time.perf_counter()
    table = knox(x, y, day, permutations=args.knox_permutations, seed=1)
    stages["knox"] = time.perf_counter() - t
    total = time.perf_counter() - t0
    snap_each, pair_each = naive_seconds(lines, x, y, day, min(args.sample, len(x)), rng)
    naive = (snap_each + pair_each * (1 + args.knox_permutations)) * len(x)
    print(f"{len(lines)} segments, {len(x)} incidents")
    for name, secs in stages.items():
        print(f"  {name:<11} {secs:8.2f} s")
    print(f"  {'total':<11} {total:8.2f} s (target <= 30 s)")
    print(f"naive per-incident loop, scaled from {args.sample}: {naive:,.0f} s "
          f"({naive / total:,.0f}x ours)")
    print(f"hot segments {int(spots.hot.sum())}, top 5 % of length holds "
          f"{100 * conc.at[0.05]:.1f} % of incidents; Knox ratio at 0-100 m, 0-6 days "
          f"{table.ratio[0, 0]:.2f} (p {table.p[0, 0]:.3f}); risk {table.risk()}")
    emit({"workload": "W11", "segments": int(len(lines)), "incidents": int(len(x)),
          **{f"{k}_s": round(v, 3) for k, v in stages.items()}, "total_s": round(total, 3),
          "naive_scaled_s": round(naive, 1), "speedup": round(naive / total, 1),
          "hot_segments": int(spots.hot.sum()), "knox_ratio_near": round(float(
              table.ratio[0, 0]), 3), "risk": table.risk(), "target_met": total <= 30,
          "peak_rss_mib": round(peak_rss_mib(), 1)})


if __name__ == "__main__":
    main()
