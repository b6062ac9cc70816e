"""W12: history re-analysed on Dask distributed, and long windows composed from days.

    python -m benchmarks.history [--grid 120] [--days 84] [--fixes 500000]
                                 [--volunteers 6000] [--beat-side 8] [--year 365]

A synthetic city (a street grid, communities, hazards) and ``--days`` days of fixes (each day
its own partition, loaded through the real ingest path), patchy as real patrols are: each
volunteer walks within a beat (a square of ``--beat-side`` nodes; beats placed at random, as
many as cover about three quarters of the city), so a day covers well under all the streets
and leaves many gaps. Then, in the same run:

* ``geo-patrol reanalyze`` over every day on LocalClusters of 1 and of 2 worker processes:
  the stored days must be identical, the speed-up is the ratio of the two wall times;
* the scheduler's own cost per task (no-op tasks through the same cluster);
* a window of ``--year`` days (the loaded days and empty ones) composed from the stored days
  (target: at most 5 s); and a window of ``--direct-days`` both composed and analysed
  directly (all its fixes at once), with both times and coverages.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from benchmarks._common import WALK_DAY, Stopwatch, benchmark_database, emit
from benchmarks.coverage import city_arguments, load_city


def _stored(engine: sa.Engine) -> dict[dt.date, bytes]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT day, visits FROM day_visits")).all())


def _same_days(a: dict[dt.date, bytes], b: dict[dt.date, bytes], n_seg: int) -> bool:
    from geo_patrol.analysis.days import DayVisits

    if a.keys() != b.keys():
        return False
    for day in a:
        x = DayVisits.from_bytes(day, "", bytes(a[day]), n_seg)
        y = DayVisits.from_bytes(day, "", bytes(b[day]), n_seg)
        for name in ("key", "start", "end", "passes", "dwell_s", "last_visit",
                     "last_patrol_visit", "seg_vol"):
            if not np.array_equal(getattr(x.raw, name), getattr(y.raw, name), equal_nan=True):
                return False
        if not (np.array_equal(x.cells, y.cells)
                and np.array_equal(x.hazards.start, y.hazards.start)):
            return False
    return True


def scheduler_overhead(workers: int, tasks: int = 2000) -> float:
    """Milliseconds of scheduling per task: no-op tasks through a LocalCluster."""
    import logging

    from distributed import Client, LocalCluster, wait

    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address="127.0.0.1:0", silence_logs=logging.WARNING) as cluster, \
            Client(cluster) as client:
        wait(client.map(abs, range(100)))  # warm
        start = time.perf_counter()
        wait(client.map(abs, range(-tasks, 0)))
        return 1000 * (time.perf_counter() - start) / tasks


def main(argv: list[str] | None = None) -> None:
    from geo_patrol.services.analysis import analyze
    from geo_patrol.services.history import reanalyze

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    city_arguments(parser, grid=120, communities=10, fixes=500_000, volunteers=6_000,
                   hazards=1_000, seed=5, beat_side=8)
    parser.add_argument("--days", type=int, default=84, help="12 cities x 7 days")
    parser.add_argument("--year", type=int, default=365)
    parser.add_argument("--direct-days", type=int, default=14,
                        help="the window also analysed directly (its fixes all in memory)")
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"workload": "W12", "days": args.days,
                                  "fixes_per_day": args.fixes}
    first = WALK_DAY.date() - dt.timedelta(days=args.days - 1)
    last = WALK_DAY.date()
    with tempfile.TemporaryDirectory(prefix="gp-w12-") as tmp, benchmark_database() as (
            engine, settings):
        with Stopwatch() as setup:
            _, settings, loaded = load_city(args, engine, settings, Path(tmp), days=args.days)
        stored = sum(r.stored for r in loaded)
        with engine.connect() as conn:
            n_seg = conn.execute(sa.text("SELECT count(*) FROM street_segments")).scalar_one()
        print(f"city: {n_seg:,} street segments, {args.days} days, {stored:,} fixes stored; "
              f"set-up {setup.seconds:.0f} s")
        figures |= {"segments": n_seg, "fixes": stored}
        runs = {}
        for workers in (1, 2):
            summary = reanalyze(engine, first, last, settings=settings, workers=workers,
                                progress=False)
            runs[workers] = (summary.compute_seconds, _stored(engine))
            print(f"reanalyze on {workers} worker(s): {summary.compute_seconds:.1f} s of tasks "
                  f"({summary.compute_seconds / args.days:.2f} s a day), "
                  f"{summary.seconds:.1f} s with the cluster's start")
            figures[f"reanalyze_{workers}_workers_s"] = round(summary.compute_seconds, 2)
            figures[f"reanalyze_{workers}_workers_total_s"] = round(summary.seconds, 2)
        identical = _same_days(runs[1][1], runs[2][1], n_seg)
        speedup = runs[1][0] / runs[2][0]
        overhead = scheduler_overhead(2)
        print(f"identical on 1 and 2 workers: {identical}; speed-up {speedup:.2f}x; "
              f"scheduler overhead {overhead:.2f} ms a task")
        figures |= {"identical": identical, "speedup_1_to_2": round(speedup, 2),
                    "scheduler_ms_per_task": round(overhead, 3)}
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), WALK_DAY.tzinfo)
        year = analyze(engine, end - dt.timedelta(days=args.year), end, settings=settings)
        again = analyze(engine, end - dt.timedelta(days=args.year), end, settings=settings)
        print(f"{args.year}-day window: first {year.seconds:.1f} s "
              f"({year.stats['days_analysed']} empty days analysed), composed again from "
              f"stored days {again.seconds:.2f} s; coverage {100 * again.stats['coverage']:.1f}%"
              f", {again.stats['gaps']} gaps")
        figures |= {"year_first_s": round(year.seconds, 2), "year_composed_s":
                    round(again.seconds, 2), "year_coverage": round(again.stats["coverage"], 4),
                    "year_gaps": again.stats["gaps"]}
        one = analyze(engine, end - dt.timedelta(days=1), end, settings=settings)
        print(f"one day: coverage {100 * one.stats['coverage']:.1f}%, {one.stats['gaps']} gaps")
        figures |= {"day_coverage": round(one.stats["coverage"], 4),
                    "day_gaps": one.stats["gaps"]}
        span = min(args.days, args.direct_days)
        start = end - dt.timedelta(days=span)
        direct_start = start + dt.timedelta(hours=1)  # a time of day: analysed directly
        with Stopwatch() as direct:
            d = analyze(engine, direct_start, end, settings=settings)
        with Stopwatch() as composed:
            c = analyze(engine, start, end, settings=settings)
        print(f"{span}-day window: composed {composed.seconds:.2f} s, direct (from "
              f"{direct_start:%H:%M} of the first day) {direct.seconds:.1f} s; coverage "
              f"{100 * c.stats['coverage']:.2f}% vs {100 * d.stats['coverage']:.2f}%")
        figures |= {f"window_{span}_composed_s": round(composed.seconds, 2),
                    f"window_{span}_direct_s": round(direct.seconds, 2),
                    "ratio_direct_to_composed": round(direct.seconds / composed.seconds, 1)}
    emit(figures)


if __name__ == "__main__":
    main()
