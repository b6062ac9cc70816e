"""W18b: the forecasts judged on real incidents — San Francisco's car thefts of July 2012 (the
shared data, dates only), on a street grid laid over them, each of the month's last whole
weeks held out in turn and forecast from the days before it by the self-exciting process,
kernel density, Gi*, the last two weeks and a random choice: hit rate, PAI and PEI at 1, 5
and 10 % of the street length, summed over the held-out weeks (the evaluation the city's
crime page runs, on data nobody here made).

    python -m benchmarks.forecast_sf [--block 150] [--weeks 2] [--permutations 199]
"""

from __future__ import annotations

import argparse
import time

import geopandas as gpd
import numpy as np
import shapely

from benchmarks._common import SHARED_DATA, emit, peak_rss_mib
from geo_patrol.analysis import forecast as fc
from geo_patrol.analysis import hotspots as hs
from geo_patrol.ingest.ledgers import read_incidents

PATH = SHARED_DATA / "incidents" / "sf_cartheft_2012_07.geojson"
METHODS = ("sepp", "kde", "gi_star", "last_period", "random")
SHARES = (0.01, 0.05, 0.10)


def grid(x0: float, y0: float, x1: float, y1: float, block: float
         ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A street grid of ``block``-metre blocks over a metric extent: its lines and their
    end nodes (a stand-in for the streets, which the shared data does not hold for San
    Francisco)."""
    nx, ny = int(np.ceil((x1 - x0) / block)), int(np.ceil((y1 - y0) / block))
    node = lambda i, j: i * (ny + 1) + j  # noqa: E731  (column i, row j)
    i, j = np.meshgrid(np.arange(nx), np.arange(ny + 1), indexing="ij")
    i, j = i.ravel(), j.ravel()
    east = np.stack([np.c_[x0 + i * block, y0 + j * block],
                     np.c_[x0 + (i + 1) * block, y0 + j * block]], axis=1)
    east_from, east_to = node(i, j), node(i + 1, j)
    i, j = np.meshgrid(np.arange(nx + 1), np.arange(ny), indexing="ij")
    i, j = i.ravel(), j.ravel()
    north = np.stack([np.c_[x0 + i * block, y0 + j * block],
                      np.c_[x0 + i * block, y0 + (j + 1) * block]], axis=1)
    north_from, north_to = node(i, j), node(i, j + 1)
    return (shapely.linestrings(np.concatenate([east, north])),
            np.concatenate([east_from, north_from]), np.concatenate([east_to, north_to]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--block", type=float, default=150.0,
                        help="Side of the grid's blocks (m).")
    parser.add_argument("--weeks", type=int, default=2, help="Held-out weeks, the last first.")
    parser.add_argument("--permutations", type=int, default=199)
    args = parser.parse_args(argv)
    t0 = time.perf_counter()
    ledger = read_incidents(PATH, crs=None, tz="America/Los_Angeles")
    pts = gpd.GeoSeries(gpd.points_from_xy(ledger.records.x, ledger.records.y),
                        crs=4326).to_crs(32610)
    days = np.array([d.toordinal() for d in ledger.values["occurred_on"]])
    day = (days - days.min()).astype(float)
    x, y = pts.x.to_numpy(), pts.y.to_numpy()
    lines, nf, nt = grid(x.min() - args.block, y.min() - args.block, x.max() + args.block,
                         y.max() + args.block, args.block)
    seg = hs.snap(x, y, lines, args.block)
    keep = seg >= 0
    seg, day = seg[keep], day[keep]
    mids = shapely.centroid(lines)
    mx, my, lengths = shapely.get_x(mids), shapely.get_y(mids), shapely.length(lines)
    n_seg = len(lines)
    neighbours = hs.network_neighbours(nf, nt, 2)
    last_day = int(day.max())
    periods, weeks, fit_s = [], [], 0.0
    for k in range(args.weeks, 0, -1):  # whole weeks ending on the month's last day
        start = float(last_day + 1 - 7 * k)
        train, test = day < start, (day >= start) & (day < start + 7)
        if train.sum() < 50:
            raise SystemExit(f"too few incidents before day {start:.0f} to learn from")
        t = time.perf_counter()
        model = fc.fit(seg[train], day[train], mx, my, lengths, t_end=start)
        sepp = fc.expected(model, seg[train], day[train], mx, my, lengths, days=7)
        fit_s += time.perf_counter() - t
        counts = hs.counts_on(seg[train], n_seg)
        spots = hs.gi_star(counts, neighbours, permutations=args.permutations, seed=1)
        recent = hs.counts_on(seg[train & (day >= start - 14)], n_seg) / lengths
        scores = {"sepp": sepp, "kde": hs.density_at(mx[seg[train]], my[seg[train]], mx, my),
                  "gi_star": spots.z - spots.z.min(), "last_period": recent}
        periods.append((scores, hs.counts_on(seg[test], n_seg)))
        weeks.append({"from_day": int(start), "train": int(train.sum()),
                      "test": int(test.sum()), "theta": round(model.theta, 3),
                      "omega": round(model.omega, 3), "sigma_m": round(model.sigma_m, 1)})
    rows = hs.rolling_accuracy(periods, lengths, shares=SHARES, random_draws=200)
    at = {(p.method, p.length_share): p for p in rows}
    total_s = time.perf_counter() - t0
    print(f"{len(seg)} car thefts of July 2012 on {n_seg} grid segments of "
          f"{args.block:.0f} m; {args.weeks} held-out weeks ({sum(w['test'] for w in weeks)} "
          f"incidents), each forecast from the days before it")
    for w in weeks:
        print(f"  from day {w['from_day']}: learnt from {w['train']}, held out {w['test']}; "
              f"triggering {w['theta']:.2f} per incident, decay {w['omega']:.2f}/day, "
              f"spread {w['sigma_m']:.0f} m")
    for share in SHARES:
        print(f"at {100 * share:.0f} % of the street length:")
        for m in METHODS:
            p = at[m, share]
            print(f"  {m:<12} hit rate {100 * p.hit_rate:5.1f}%  PAI {p.pai:5.2f}  "
                  f"PEI {p.pei:4.2f}")
    best = max(METHODS[:-1], key=lambda m: at[m, 0.05].pai)
    print(f"favoured at 5 %: {best}; beats random: "
          f"{at[best, 0.05].pai > at['random', 0.05].pai}; {total_s:.1f} s")
    emit({"workload": "W18b", "incidents": int(len(seg)), "segments": int(n_seg),
          "block_m": args.block, "weeks": weeks, "fit_s": round(fit_s, 2),
          "seconds": round(total_s, 2), "favoured": best,
          **{f"pai{round(100 * s)}_{m}": round(at[m, s].pai, 3)
             for s in SHARES for m in METHODS},
          **{f"hit{round(100 * s)}_{m}": round(at[m, s].hit_rate, 3)
             for s in SHARES for m in METHODS},
          "peak_rss_mib": round(peak_rss_mib(), 1)})


if __name__ == "__main__":
    main()
