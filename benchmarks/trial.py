"""A trial of hot-spot patrols, simulated many times over: does the report's test find a
planted fall at the power the design states, and call a trial without effect significant
no more often than its alpha?

Hot spots with weekly rates drawn as a city's are (a few hot, most lukewarm), blocked by
district and risk and drawn to patrolled and control as :func:`geo_patrol.services.trials.design`
does; incidents counted over the trial's weeks as negative-binomial counts (the spread of
real weekly counts), the patrolled spots' rates cut by the planted fall. Each simulated
trial is judged by the report's own randomisation test. The stated power (the design's
normal approximation) is the figure each detection rate is compared with, in the same run.

    python -m benchmarks.trial [--spots 40] [--weeks 4,12,26] [--fall 0.3] [--k 2]
                               [--trials 400] [--designs 3]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks._common import emit
from geo_patrol.analysis import trial as tr


def design(spots: int, districts: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weekly rates (lognormal: a few hot spots, most lukewarm), blocks by district and
    risk, and one draw of the arms."""
    rng = np.random.default_rng(seed)
    rates = rng.lognormal(mean=np.log(0.6), sigma=0.6, size=spots)
    district = rng.integers(districts, size=spots)
    blocks = tr.blocks_by_risk(district, rates)
    return rates, blocks, tr.assign(blocks, rng)


def detection_rate(rates: np.ndarray, blocks: np.ndarray, z: np.ndarray, *, weeks: int,
                   fall: float, k: float, trials: int, draws: int, seed: int) -> float:
    """The share of ``trials`` simulated trials that the report's test
    (:func:`geo_patrol.analysis.trial.randomisation_test`) finds significant."""
    rng = np.random.default_rng(seed)
    mean = rates * weeks * np.where(z == tr.PATROLLED, 1 - fall, 1.0)
    found = 0
    for i in range(trials):
        lam = rng.gamma(k, np.maximum(mean, 1e-12) / k) if np.isfinite(k) else mean
        y = rng.poisson(lam).astype(float)
        found += tr.randomisation_test(y, z, blocks, draws=draws, seed=seed + i,
                                       grid=3).significant
    return found / trials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--spots", type=int, default=40)
    parser.add_argument("--districts", type=int, default=4)
    parser.add_argument("--weeks", default="4,12,26",
                        help="the trial's lengths tried, in weeks (low to high power)")
    parser.add_argument("--fall", type=float, default=0.3)
    parser.add_argument("--k", type=float, default=2.0,
                        help="negative-binomial size of the weekly counts (inf: Poisson)")
    parser.add_argument("--trials", type=int, default=400, help="simulated trials per case")
    parser.add_argument("--draws", type=int, default=999,
                        help="re-randomisations of each simulated trial's test")
    parser.add_argument("--designs", type=int, default=3, help="designs (seeds) drawn")
    args = parser.parse_args()

    t0 = time.perf_counter()
    rows = []
    lengths = [int(w) for w in str(args.weeks).split(",")]
    for seed in range(args.designs):
        rates, blocks, z = design(args.spots, args.districts, seed)
        null = detection_rate(rates, blocks, z, weeks=lengths[-1], fall=0.0, k=args.k,
                              trials=args.trials, draws=args.draws, seed=1000 * seed + 999)
        for weeks in lengths:
            stated = tr.power(rates, blocks, weeks=weeks, fall=args.fall, k=args.k)
            hit = detection_rate(rates, blocks, z, weeks=weeks, fall=args.fall, k=args.k,
                                 trials=args.trials, draws=args.draws,
                                 seed=1000 * seed + weeks)
            rows.append({"seed": seed, "weeks": weeks, "stated_power": stated,
                         "detected": hit, "false_positive": null})
    seconds = time.perf_counter() - t0
    # the binomial spread of a rate measured from ``trials`` simulated trials
    se = np.sqrt(0.25 / args.trials)
    print(f"{args.spots} hot spots, {args.weeks} weeks, a fall of {100 * args.fall:.0f}% "
          f"planted, k = {args.k:g}; {args.trials} simulated trials per case, "
          f"{args.draws} re-randomisations each")
    print(f"{'design':>6} {'weeks':>5} {'stated power':>13} {'detected':>9} "
          f"{'no effect: significant':>23} {'alpha':>6}")
    for r in rows:
        print(f"{r['seed']:>6} {r['weeks']:>5} {100 * r['stated_power']:>12.1f}% "
              f"{100 * r['detected']:>8.1f}% {100 * r['false_positive']:>22.1f}% "
              f"{100 * tr.ALPHA:>5.0f}%")
    stated = float(np.mean([r["stated_power"] for r in rows]))
    detected = float(np.mean([r["detected"] for r in rows]))
    false_pos = float(np.mean([r["false_positive"] for r in rows[::len(lengths)]]))
    pooled_se = se / np.sqrt(len(rows))
    worst = max(abs(r["detected"] - r["stated_power"]) for r in rows)
    print(f"mean: stated power {100 * stated:.1f}%, detected {100 * detected:.1f}% "
          f"(± {200 * pooled_se:.1f} pp); false positives {100 * false_pos:.1f}% against "
          f"alpha {100 * tr.ALPHA:.0f}%; {seconds:.1f} s")
    print(f"largest gap between a case's detection rate and its stated power: "
          f"{100 * worst:.1f} pp (one case's binomial spread ± {200 * se:.1f} pp)")
    emit({"workload": "trial", "spots": args.spots, "weeks": lengths, "fall": args.fall,
          "k": args.k, "trials": args.trials, "draws": args.draws, "designs": args.designs,
          "stated_power": round(stated, 4), "detected": round(detected, 4),
          "detected_to_stated": round(detected / stated, 4) if stated else None,
          "false_positive": round(false_pos, 4), "alpha": tr.ALPHA,
          "false_positive_to_alpha": round(false_pos / tr.ALPHA, 4),
          "rate_se": round(float(pooled_se), 4), "case_se": round(float(se), 4),
          "largest_gap": round(float(worst), 4), "seconds": round(seconds, 2),
          "cases": rows})


if __name__ == "__main__":
    main()
