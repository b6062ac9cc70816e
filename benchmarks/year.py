"""W13: a 365-day window of one city composed from its daily results.

    python -m benchmarks.year [--grid 120] [--days 7] [--fixes 500000] [--volunteers 6000]
                              [--beat-side 8]

W12's synthetic city (57k street segments at ``--grid 120``) with ``--days`` real days of
patchy patrols (``--fixes`` a day) loaded through the real ingest path and analysed; every other
day of the year then holds one of those days' stored visits again (so each of the 365 days is
as heavy as a real one: about 4.5 MB of visits), and in the same run:

* the year composed from its 365 stored days alone (no month roll-ups: the baseline);
* the year composed the first time with roll-ups (each of its calendar months rolled up from
  its days and stored);
* the year composed again, from twelve stored months (target: at most 5 s), and the ratio to
  the baseline;
* all three must give the same covered metres and gaps (that a month rolled up equals the
  month analysed directly from its fixes is tested: ``tests/test_history.py``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from benchmarks._common import WALK_DAY, Stopwatch, benchmark_database, emit
from benchmarks.coverage import city_arguments, load_city
from geo_patrol.analysis.days import day_bounds, span_of_day, whole_days
from geo_patrol.analysis.run import analyse_spans
from geo_patrol.services.analysis import (
    analyze,
    day_visits,
    default_params,
    read_scope,
    read_streets,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    city_arguments(parser, grid=120, communities=10, fixes=500_000, volunteers=6_000,
                   hazards=1_000, seed=5, beat_side=8)
    parser.add_argument("--days", type=int, default=7, help="real days loaded")
    args = parser.parse_args(argv)
    # the last twelve months (近一年): December 2025 to November 2026, 365 days
    first, last = dt.date(2025, 12, 1), dt.date(2026, 11, 30)
    loaded = {WALK_DAY.date() - dt.timedelta(days=i) for i in range(args.days)}
    figures: dict[str, object] = {"workload": "W13", "real_days": args.days,
                                  "fixes_per_day": args.fixes}
    with tempfile.TemporaryDirectory(prefix="gp-w13-") as tmp, benchmark_database() as (
            engine, settings):
        _, settings, _ = load_city(args, engine, settings, Path(tmp), days=args.days)
        real_end = day_bounds(WALK_DAY.date(), settings.timezone)[1]
        real = analyze(engine, real_end - dt.timedelta(days=args.days), real_end,
                       settings=settings)
        with engine.begin() as conn:  # every other day of the year holds a real day again
            rows = conn.execute(sa.text(
                "SELECT streets_key, visits, fixes FROM day_visits ORDER BY day")).all()
            others = [first + dt.timedelta(days=k) for k in range((last - first).days + 1)]
            for k, day in enumerate(d for d in others if d not in loaded):
                key, visits, fixes = rows[k % len(rows)]
                conn.execute(sa.text(
                    "INSERT INTO day_visits (day, streets_key, visits, fixes) "
                    "VALUES (:d, :k, :v, :f)"),
                    {"d": day, "k": key, "v": visits, "f": fixes})
            conn.execute(sa.text("DELETE FROM month_visits"))
            n_seg = conn.execute(sa.text("SELECT count(*) FROM street_segments")).scalar_one()
            day_mb = np.mean([len(r.visits) for r in rows]) / 1e6
        print(f"city: {n_seg:,} street segments; {args.days} real days "
              f"(coverage of the last {100 * real.stats['coverage']:.1f}%), "
              f"{day_mb:.1f} MB of visits a day, 365 days stored")
        params = default_params(settings)
        start = day_bounds(first, settings.timezone)[0]
        end = day_bounds(last, settings.timezone)[1]
        days = whole_days(start, end, settings.timezone)
        with engine.connect() as conn, Stopwatch() as baseline:
            streets = read_streets(conn, params, settings)
            visits, _ = day_visits(conn, streets, days)
            by_days = analyse_spans(read_scope(conn, None), streets,
                                    [span_of_day(streets, v) for v in visits],
                                    params=params, rules=settings.rules)
        del visits
        with Stopwatch() as rolling:
            first_run = analyze(engine, start, end, settings=settings)
        with engine.connect() as conn:
            months = conn.execute(sa.text("SELECT count(*) FROM month_visits")).scalar_one()
            month_mb = conn.execute(sa.text(
                "SELECT avg(length(visits)) / 1e6 FROM month_visits")).scalar_one()
        with Stopwatch() as composed:
            again = analyze(engine, start, end, settings=settings)
        same = (round(float(by_days.segments["covered_m"].sum()), 1)
                == first_run.stats["covered_m"] == again.stats["covered_m"]
                and first_run.stats["gaps"] == again.stats["gaps"]
                and by_days.segments["gap_key"].nunique() == again.stats["gaps"])
        print(f"365 days from their days alone: {baseline.seconds:.1f} s; the first time with "
              f"roll-ups: {rolling.seconds:.1f} s ({months} months of {month_mb:.1f} MB); "
              f"again from the months: {composed.seconds:.2f} s "
              f"({baseline.seconds / composed.seconds:.0f}x faster); same results: {same}")
        figures |= {
            "segments": n_seg, "day_visits_mb": round(day_mb, 2),
            "month_visits_mb": round(float(month_mb), 2), "year_from_days_s":
                round(baseline.seconds, 2), "year_first_with_rollups_s": round(rolling.seconds, 2),
            "year_from_months_s": round(composed.seconds, 2),
            "ratio_days_to_months": round(baseline.seconds / composed.seconds, 1),
            "year_coverage": round(again.stats["coverage"], 4), "year_gaps": again.stats["gaps"],
            "same_results": same}
    emit(figures)


if __name__ == "__main__":
    main()
