"""W10: a week's rota for the busiest demo district, sized to its force, against today's
single-loop plan on the same district and force, in the same run.

The force is what the demo's patrols show (the week before the rota), and also that force
scaled (``--force-scale``, e.g. 1,3,6) to see where the targets become reachable: the
shortfall says how much is missing at each.

    python -m benchmarks.rota [--scale small] [--force-scale 1,4] [--time-limit 60]
"""

from __future__ import annotations

import argparse
import datetime as dt
import time

from benchmarks._common import demo_database, emit, peak_rss_mib


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", default="small", choices=["small", "city"])
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--revisit-days", type=int, default=3)
    parser.add_argument("--loops", type=int, default=3, help="candidate loops per community")
    parser.add_argument("--force-scale", default="1,4",
                        help="multiples of the observed force to plan with")
    parser.add_argument("--time-limit", type=float, default=60.0)
    args = parser.parse_args(argv)
    from geo_patrol.services.planning import SLOTS, WEEKDAYS, force, set_force
    from geo_patrol.services.rota import make_rota
    from geo_patrol.store.areas import find_area
    from geo_patrol.store.results import busiest_district, find_run

    until = dt.date(2026, 11, 28)
    start = until + dt.timedelta(days=1)
    figures: dict[str, object] = {"workload": "W10", "scale": args.scale}
    with demo_database(args.scale, until) as (engine, settings, summary):
        with engine.connect() as conn:
            run = find_run(conn, summary.run_id)
            area = find_area(conn, busiest_district(conn, run["id"]))
        observed = force(engine, settings, area_id=area["id"], end=until)
        print(f"{area['name']}: {observed['community_id'].nunique()} communities, "
              f"{observed['hours'].sum():.1f} volunteer-hours a week observed")
        for scale in [float(v) for v in args.force_scale.split(",")]:
            for r in observed.itertuples():
                set_force(engine, community_id=int(r.community_id),
                          weekday=WEEKDAYS[int(r.weekday)], slot=r.slot,
                          hours=round(float(r.observed_hours) * scale, 2), by="benchmark")
            t = time.perf_counter()
            with engine.connect() as conn:
                plan = make_rota(conn, settings, run, area, start=start, days=args.days,
                                 revisit_days=args.revisit_days, per_community=args.loops,
                                 time_limit=args.time_limit)
            seconds = time.perf_counter() - t
            key = f"x{scale:g}"
            gain = 100 * (plan.rota_after - plan.single_loop_after)
            print(f"force x{scale:g}: {plan.hours_available.sum():.0f} h; rota {seconds:.1f} s "
                  f"(solver {plan.rota.seconds:.1f} s, {plan.rota.status}, gap "
                  f"{100 * plan.rota.gap:.2f}%), {len(plan.rota.walks)} loops; coverage "
                  f"{100 * plan.last_period:.1f}% -> single-loop "
                  f"{100 * plan.single_loop_after:.1f}% / rota {100 * plan.rota_after:.1f}% "
                  f"({gain:+.1f} pp); due within {args.revisit_days} d "
                  f"{100 * plan.coverage:.1f}%; hot-spot visits {plan.rota.hotspot_met}/"
                  f"{plan.rota.hotspot_due}; hazard inspections {plan.rota.hazard_met}/"
                  f"{plan.rota.hazard_due}; shortfall >= {plan.shortfall.sum():.0f} h; "
                  f"entropy of visit times {plan.entropy:.2f}, of starts "
                  f"{plan.start_entropy:.2f} bits")
            figures.update({
                f"{key}_seconds": round(seconds, 2), f"{key}_solver_s": round(
                    plan.rota.seconds, 2), f"{key}_gap": round(plan.rota.gap, 5),
                f"{key}_hours": round(float(plan.hours_available.sum()), 1),
                f"{key}_single_loop_after": round(plan.single_loop_after, 4),
                f"{key}_rota_after": round(plan.rota_after, 4),
                f"{key}_gain_pp": round(gain, 2), f"{key}_due_met": round(plan.coverage, 4),
                f"{key}_shortfall_h": round(float(plan.shortfall.sum()), 1),
                f"{key}_entropy_bits": round(plan.entropy, 3),
                f"{key}_start_entropy_bits": round(plan.start_entropy, 3),
                f"{key}_hazards_met": plan.rota.hazard_met,
                f"{key}_hazards_due": plan.rota.hazard_due,
                f"{key}_hotspot_met": plan.rota.hotspot_met,
                f"{key}_within_60s": seconds <= 60})
        figures["slots"] = list(SLOTS)
    figures["peak_rss_mib"] = round(peak_rss_mib(), 1)
    emit(figures)


if __name__ == "__main__":
    main()
