"""W3: area coverage per community (about 500) — our raster distance transform against
PostGIS ``ST_Union(ST_Buffer(...))`` on a sample of communities, scaled to all of them.

    python -m benchmarks.area [--grid 224] [--communities 22] [--fixes 5000000] [--sample 6]
"""

from __future__ import annotations

import argparse

import numpy as np
import shapely
import sqlalchemy as sa

from benchmarks._common import Stopwatch, benchmark_database, emit, peak_rss_mib
from benchmarks.coverage import BLOCK, City
from geo_patrol.analysis.area import area_coverage
from geo_patrol.analysis.paths import Fixes, build_steps

RADIUS = 30.0


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", type=int, default=224)
    parser.add_argument("--communities", type=int, default=22)
    parser.add_argument("--volunteers", type=int, default=15_000)
    parser.add_argument("--fixes", type=int, default=5_000_000)
    parser.add_argument("--sample", type=int, default=6)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)
    city = City(args.grid)
    walks = city.walks(args.volunteers, args.fixes, args.seed)
    walks = walks.sort_values(["volunteer", "t"])
    fixes = Fixes(walks["volunteer"].to_numpy().astype("int32"),
                  np.zeros(len(walks), dtype="int8"), walks["t"].to_numpy(),
                  walks["x"].to_numpy(), walks["y"].to_numpy())
    steps = build_steps(fixes)
    side = (args.grid - 1) * BLOCK / args.communities
    polys = np.array([shapely.box(i * side, j * side, (i + 1) * side, (j + 1) * side)
                      for i in range(args.communities) for j in range(args.communities)])
    with Stopwatch() as ours:
        shares = area_coverage(polys, steps, radius=RADIUS)
    print(f"ours: {len(polys)} communities from {len(steps):,} path steps in {ours.seconds:.1f} s"
          f" (mean share {shares.mean():.3f})")
    figures: dict[str, object] = {"workload": "W3", "communities": len(polys),
                                  "steps": len(steps), "ours_s": round(ours.seconds, 2)}
    # baseline: the paths as lines in PostGIS, buffered and unioned per community
    rng = np.random.default_rng(args.seed)
    sample = rng.choice(len(polys), args.sample, replace=False)
    with benchmark_database() as (engine, _settings):
        with engine.begin() as conn:
            conn.execute(sa.text("CREATE TABLE paths (id serial, geom geometry(LineString))"))
            brk = np.r_[True, (fixes.volunteer[1:] != fixes.volunteer[:-1]) |
                        (np.diff(fixes.t) > 120)]
            part = np.cumsum(brk) - 1
            counts = np.bincount(part)
            keep = counts[part] >= 2
            lines = shapely.linestrings(np.column_stack([fixes.x[keep], fixes.y[keep]]),
                                        indices=np.unique(part[keep], return_inverse=True)[1])
            from geo_patrol.store.bulk import copy_rows

            copy_rows(conn, "paths", ["geom"], ((w,) for w in shapely.to_wkb(lines, hex=True)))
            conn.execute(sa.text("CREATE INDEX ON paths USING gist (geom)"))
            conn.execute(sa.text("ANALYZE paths"))
        base_shares = []
        with engine.connect() as conn, Stopwatch() as base:
            for k in sample:
                wkt = polys[k].wkt
                base_shares.append(conn.execute(sa.text("""
                    WITH c AS (SELECT ST_GeomFromText(:w) AS g)
                    SELECT ST_Area(ST_Intersection(ST_Union(ST_Buffer(p.geom, :r)), c.g))
                           / ST_Area(c.g)
                    FROM c, paths p WHERE ST_DWithin(p.geom, c.g, :r) GROUP BY c.g"""),
                    {"w": wkt, "r": RADIUS}).scalar_one_or_none() or 0.0)
    scaled = base.seconds / len(sample) * len(polys)
    diff = np.abs(np.array(base_shares) - shares[sample]) * 100
    print(f"baseline ST_Union(ST_Buffer): {base.seconds:.1f} s for {len(sample)} communities, "
          f"{scaled:.0f} s scaled to {len(polys)}; ratio {scaled / ours.seconds:.0f}x; "
          f"largest difference {diff.max():.2f} pp")
    figures |= {"baseline_sample_s": round(base.seconds, 2), "baseline_scaled_s": round(scaled, 1),
                "ratio": round(scaled / ours.seconds, 1), "max_diff_pp": round(float(diff.max()), 3),
                "peak_rss_mib": round(peak_rss_mib())}
    emit(figures)


if __name__ == "__main__":
    main()
