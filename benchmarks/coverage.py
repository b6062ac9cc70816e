"""W2 (street coverage of a city-day) and W4 (hazard compliance), with their baselines.

    python -m benchmarks.coverage [--grid 224] [--volunteers 15000] [--fixes 5000000]
                                  [--subsets 50000,200000] [--seed 3]

A synthetic city: a street grid of about 200,000 segments of 50 m in 500 communities,
5,000 hazards, and a day of fixes from 15,000 volunteers walking, cycling and driving along
the streets (loaded through the real ingest path), each within a beat, so that the day covers
about three quarters of the streets in patches and leaves about a thousand gaps (``--beat-side
0``: walks anywhere, which covers every street). Then, in the same run:

* our engine, end to end (``geo_patrol.services.analysis.analyze``: read, compute, store), in a
  fresh process so its peak memory is its own;
* W2 baseline: the naive geopandas pipeline (tracks -> buffer -> union -> clip) on 50k- and
  200k-fix subsets, and our engine on the same subsets, with both coverage figures;
* W4: hazard compliance for the 5,000 hazards, against a per-hazard Python loop on a sample
  (scaled to all hazards).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing as mp
import resource
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa

from benchmarks._common import (METRIC, WALK_DAY, WALK_WINDOW, Stopwatch, emit, peak_rss_mib,
                                workspace)
from benchmarks.ingest import write_roster
from geo_patrol.analysis.compliance import hazard_visits, judge
from geo_patrol.analysis.paths import Fixes, build_steps
from geo_patrol.store.windows import read_fixes as read_fix_arrays
from geo_patrol.analysis.visits import Calendar, segment_visits
from geo_patrol.services.sources import (
    load_boundaries,
    load_hazards,
    load_streets,
    load_tracks,
    load_volunteers,
)
from geo_patrol.settings import Settings
from geo_patrol.store.uploads import LoadResult

BLOCK = 99.9  # just under 2 x 50 m: each block side is two segments
RADIUS = 30.0
CATEGORIES = ["school", "kindergarten", "gas_lpg", "gas_station", "dangerous_goods",
              "guns_explosives_knives", "rental_housing", "other"]


class City:
    """Grid geometry in local metres, placed in Baotou's UTM zone."""

    def __init__(self, n: int) -> None:
        import pyproj

        self.n = n
        to_m = pyproj.Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)
        self.ox, self.oy = to_m.transform(109.80, 40.52)
        self.to_wgs = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)

    def lonlat(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.to_wgs.transform(np.asarray(x) + self.ox, np.asarray(y) + self.oy)

    def write_osm(self, path: Path) -> None:
        n = self.n
        ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
        lon, lat = self.lonlat(ii.ravel() * BLOCK, jj.ravel() * BLOCK)
        ids = np.arange(1, n * n + 1).reshape(n, n)
        with path.open("w", encoding="utf-8") as fh:
            fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n')
            fh.writelines(f'<node id="{i}" lat="{b:.8f}" lon="{a:.8f}"/>\n'
                          for i, a, b in zip(ids.ravel(), lon, lat))
            way = 0
            for axis in (0, 1):
                for k in range(n):
                    line = ids[k, :] if axis == 0 else ids[:, k]
                    for a, b in zip(line[:-1], line[1:]):  # one way per block: real junctions
                        way += 1
                        fh.write(f'<way id="{way}"><nd ref="{a}"/><nd ref="{b}"/>'
                                 f'<tag k="highway" v="residential"/>'
                                 f'<tag k="name" v="路{axis}-{k}"/></way>\n')
            fh.write("</osm>\n")

    def write_communities(self, path: Path, side: int) -> None:
        size = (self.n - 1) * BLOCK / side
        feats = []
        for i in range(side):
            for j in range(side):
                x0, y0 = i * size - 1, j * size - 1
                xs = np.array([x0, x0 + size, x0 + size, x0, x0])
                ys = np.array([y0, y0, y0 + size, y0 + size, y0])
                lon, lat = self.lonlat(xs, ys)
                feats.append({"type": "Feature", "properties": {"name": f"社区{i:02d}{j:02d}"},
                              "geometry": {"type": "Polygon", "coordinates": [
                                  np.column_stack([lon, lat]).tolist()]}})
        gpd.GeoDataFrame.from_features(feats, crs=4326).to_file(path, driver="GeoJSON")

    def walks(self, volunteers: int, fixes: int, seed: int, *, beats: int = 0,
              beat_side: int = 0) -> pd.DataFrame:
        """Lattice walks along the streets, sampled every 5-30 s with 4 m GPS noise.

        With ``beats``, the volunteers are shared among that many beats (squares of
        ``beat_side`` nodes placed at random) and each walks within its own, as patrols keep
        to their communities: the city is covered in patches and leaves gaps between them.
        """
        rng = np.random.default_rng(seed)
        per = np.full(volunteers, fixes // volunteers)
        per[: fixes - per.sum()] += 1
        speed = rng.choice([1.3, 4.0, 9.0], volunteers, p=[0.5, 0.2, 0.3])
        step = rng.choice([5.0, 10.0, 15.0, 30.0], volunteers)
        legs = int(np.ceil((per * step * speed).max() / BLOCK)) + 2
        moves = np.array([(1, 0), (-1, 0), (0, 1), (0, -1)])[rng.integers(0, 4, (volunteers,
                                                                                  legs))]
        side = np.full((volunteers, 1, 1), self.n)
        corner = np.zeros((volunteers, 1, 2), dtype=int)
        if beats:
            side[:] = min(beat_side, self.n)
            beat = rng.integers(0, self.n - side[0, 0, 0] + 1, (beats, 2))
            corner = beat[np.arange(volunteers) % beats][:, None, :]
        start = rng.integers(0, side[:, :, 0][..., None], (volunteers, 1, 2))
        raw = np.concatenate([start, start + np.cumsum(moves, axis=1)], axis=1)
        period = 2 * (side - 1)
        # fold into the volunteer's square (the whole grid without beats)
        nodes = corner + (side - 1) - np.abs(np.mod(raw, period) - (side - 1))
        vid = np.repeat(np.arange(volunteers), per)
        k = np.arange(fixes) - np.repeat(np.cumsum(per) - per, per)
        d = k * step[vid] * speed[vid] / BLOCK
        leg = np.floor(d).astype(int)
        frac = (d - leg)[:, None]
        pos = (nodes[vid, leg] + frac * (nodes[vid, leg + 1] - nodes[vid, leg])) * BLOCK
        pos = pos + rng.normal(0, 4.0, pos.shape)
        t0 = rng.uniform(6 * 3600, 20 * 3600, volunteers)
        t = WALK_DAY.timestamp() + t0[vid] + k * step[vid]
        return pd.DataFrame({"volunteer": vid, "t": t, "x": pos[:, 0], "y": pos[:, 1]})

    def load(self, engine: sa.Engine, settings: Settings, tmp_path: Path, *, communities: int,
             volunteers: int, hazards: int, seed: int) -> None:
        """Load the city's communities, streets, roster and hazards (the real loaders)."""
        self.write_communities(tmp_path / "communities.geojson", communities)
        load_boundaries(engine, tmp_path / "communities.geojson", level="community",
                        crs="wgs84", settings=settings)
        self.write_osm(tmp_path / "grid.osm")
        load_streets(engine, tmp_path / "grid.osm", settings=settings)
        write_roster(tmp_path / "roster.csv", volunteers)
        load_volunteers(engine, tmp_path / "roster.csv", settings=settings)
        hz = self.hazards(hazards, seed)
        lon, lat = self.lonlat(hz["x"].to_numpy(), hz["y"].to_numpy())
        pd.DataFrame({"id": hz["id"], "name": hz["id"], "category": hz["category"],
                      "lon": lon, "lat": lat}).to_csv(tmp_path / "hazards.csv", index=False)
        load_hazards(engine, tmp_path / "hazards.csv", crs="wgs84", settings=settings)

    def hazards(self, n: int, seed: int) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        x = rng.integers(0, self.n - 1, n) * BLOCK + rng.uniform(0, BLOCK, n)
        y = rng.integers(0, self.n, n) * BLOCK + rng.uniform(10, 40, n)
        return pd.DataFrame({"id": [f"H{i:05d}" for i in range(n)],
                             "category": rng.choice(CATEGORIES, n), "x": x, "y": y})


def beats_for(grid: int, side: int, share: float = 0.75) -> int:
    """How many beats of ``side`` nodes cover about ``share`` of a ``grid`` x ``grid`` city
    when placed at random (1 - exp(-beats x area / city))."""
    import math

    return max(1, round(-math.log(1 - share) * grid * grid / (side * side)))


def write_fixes_csv(city: City, walks: pd.DataFrame, path: Path) -> None:
    lon, lat = city.lonlat(walks["x"].to_numpy(), walks["y"].to_numpy())
    times = pd.to_datetime(walks["t"], unit="s", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    pd.DataFrame({"volunteer": np.char.add("BT", np.char.zfill(walks["volunteer"].astype(str)
                                                                .to_numpy().astype(str), 5)),
                  "time": times, "lon": np.round(lon, 7), "lat": np.round(lat, 7)}
                 ).to_csv(path, index=False)


def city_arguments(parser: argparse.ArgumentParser, *, grid: int, communities: int, fixes: int,
                   volunteers: int, hazards: int, seed: int, beat_side: int) -> None:
    """The synthetic city's options, with each benchmark's defaults."""
    parser.add_argument("--grid", type=int, default=grid,
                        help=f"nodes per side ({grid}: ~{4 * grid * grid // 1000}k segments)")
    parser.add_argument("--communities", type=int, default=communities, help="per side")
    parser.add_argument("--fixes", type=int, default=fixes, help="per day")
    parser.add_argument("--volunteers", type=int, default=volunteers, help="per day")
    parser.add_argument("--hazards", type=int, default=hazards)
    parser.add_argument("--seed", type=int, default=seed)
    parser.add_argument("--beat-side", type=int, default=beat_side,
                        help="each volunteer walks a beat of this many nodes a side, the beats "
                             "covering about 3/4 of the city (0: walks anywhere)")


def load_city(args: argparse.Namespace, engine: sa.Engine, settings: Settings, tmp_path: Path,
              *, days: int = 1) -> tuple[City, Settings, list[LoadResult]]:
    """The synthetic city of ``args`` loaded, with ``days`` days of patrols ending on
    :data:`WALK_DAY` (through the real ingest): the city, its settings and each day's load."""
    city = City(args.grid)
    settings = settings.with_(metric_crs=METRIC)
    city.load(engine, settings, tmp_path, communities=args.communities,
              volunteers=args.volunteers, hazards=args.hazards, seed=args.seed)
    loaded = []
    for i in range(days):
        walks = city.walks(args.volunteers, args.fixes, args.seed + i,
                           beats=beats_for(args.grid, args.beat_side) if args.beat_side else 0,
                           beat_side=args.beat_side)
        walks["t"] -= (days - 1 - i) * 86400
        write_fixes_csv(city, walks, tmp_path / "day.csv")
        loaded.append(load_tracks(engine, tmp_path / "day.csv", crs="wgs84", settings=settings))
    return city, settings, loaded


def naive_coverage(streets: gpd.GeoDataFrame, sub: pd.DataFrame, gap_s: float = 120.0) -> float:
    """tracks -> buffer -> union -> clip, the way a geopandas user would write it."""
    sub = sub.sort_values(["volunteer", "t"])
    brk = (sub["volunteer"].diff() != 0) | (sub["t"].diff() > gap_s)
    part = brk.cumsum()
    geoms = []
    for _, g in sub.groupby(part):
        pts = list(zip(g["x"], g["y"]))
        geoms.append(shapely.LineString(pts) if len(pts) > 1 else shapely.Point(pts[0]))
    tracks = gpd.GeoSeries(geoms, crs=streets.crs)
    reach = tracks.buffer(RADIUS).union_all()
    clipped = gpd.clip(streets, reach)
    return float(clipped.length.sum())


def ours_coverage(lines: np.ndarray, sub: pd.DataFrame) -> float:
    order = np.lexsort((sub["t"].to_numpy(), sub["volunteer"].to_numpy()))
    fx = Fixes(sub["volunteer"].to_numpy()[order].astype("int32"),
               np.zeros(len(sub), dtype="int8"), sub["t"].to_numpy()[order],
               sub["x"].to_numpy()[order], sub["y"].to_numpy()[order])
    cal = Calendar.for_window(*WALK_WINDOW, "Asia/Shanghai", dt.time(6), dt.time(20))
    return float(segment_visits(lines, build_steps(fx), cal, radius=RADIUS).covered_m.sum())


def _engine_child(url: str, data_dir: str, queue: mp.Queue) -> None:
    from geo_patrol.services.analysis import analyze
    from geo_patrol.store.db import create_engine

    settings = Settings(database_url=url, data_dir=Path(data_dir), metric_crs=METRIC,
                        city="baotou")
    engine = create_engine(url, city="baotou")
    with Stopwatch() as sw:
        summary = analyze(engine, *WALK_WINDOW, settings=settings)
    # W4 on the same fixes: the compliance step alone
    with engine.connect() as conn:
        fixes = Fixes(*read_fix_arrays(conn, *WALK_WINDOW))
        hz = pd.read_sql_query(sa.text("SELECT id, category, status, ST_X(geom_m) AS x, "
                                       "ST_Y(geom_m) AS y FROM hazards ORDER BY id"), conn)
    rules = settings.rules
    cal = Calendar.for_window(*WALK_WINDOW, settings.timezone, dt.time(6), dt.time(20))
    with Stopwatch() as comp:
        hv = hazard_visits(hz["x"].to_numpy(), hz["y"].to_numpy(), fixes, radius=rules.radius_m,
                           gap_s=120.0)
        result = judge([rules.categories[c] for c in hz["category"]],
                       (hz["status"] == "cleared").to_numpy(), hv, cal,
                       dwell_min=rules.dwell_min, window_end=WALK_WINDOW[1].timestamp())
    queue.put({"engine_s": sw.seconds, "stats": summary.stats, "compliance_s": comp.seconds,
               "compliant": int((result.status == 0).sum()),
               "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def loop_compliance(hz: pd.DataFrame, fixes: Fixes, sample: int, dwell_min: float,
                    radius: float) -> float:
    """Baseline: each hazard in a Python loop over its nearby fixes (seconds for ``sample``)."""
    with Stopwatch() as sw:
        for h in hz.head(sample).itertuples():
            near = np.hypot(fixes.x - h.x, fixes.y - h.y) <= radius
            idx = np.flatnonzero(near)
            best = 0.0
            run_start = None
            for a, b in zip(idx, np.r_[idx[1:], -1]):
                run_start = fixes.t[a] if run_start is None else run_start
                if b < 0 or fixes.volunteer[b] != fixes.volunteer[a] or \
                        fixes.t[b] - fixes.t[a] > 120:
                    best = max(best, fixes.t[a] - run_start)
                    run_start = None
            _ = best >= dwell_min * 60
    return sw.seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    city_arguments(parser, grid=224, communities=22, fixes=5_000_000, volunteers=15_000,
                   hazards=5_000, seed=3, beat_side=6)
    parser.add_argument("--subsets", default="50000,200000")
    parser.add_argument("--loop-sample", type=int, default=50)
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"workload": "W2+W4", "fixes": args.fixes,
                                  "volunteers": args.volunteers}
    with workspace("gp-w2-") as (tmp_path, engine, settings):
        with Stopwatch() as setup:
            city, settings, (loaded,) = load_city(args, engine, settings, tmp_path)
        with engine.connect() as conn:
            streets = gpd.read_postgis("SELECT id, geom_m FROM street_segments ORDER BY id",
                                       conn, geom_col="geom_m", crs=METRIC)
            stored = Fixes(*read_fix_arrays(conn, *WALK_WINDOW))
        print(f"city: {len(streets):,} street segments, {loaded.stored:,} fixes "
              f"({loaded.flagged} flagged), {args.hazards:,} hazards; set-up {setup.seconds:.0f} s")
        figures |= {"segments": len(streets), "fixes_clean": len(stored)}

        ctx = mp.get_context("spawn")
        queue = ctx.Queue()
        child = ctx.Process(target=_engine_child, args=(settings.database_url,
                                                        str(settings.data_dir), queue))
        child.start()
        out = queue.get()
        child.join()
        cov = out["stats"]["coverage"]
        print(f"W2 city-day, our engine end to end: {out['engine_s']:.1f} s, peak "
              f"{out['peak_rss_mib']:.0f} MiB, coverage {100 * cov:.2f}%")
        figures |= {"engine_city_day_s": round(out["engine_s"], 2),
                    "engine_peak_rss_mib": round(out["peak_rss_mib"]),
                    "engine_city_coverage": round(cov, 5), "gaps": out["stats"]["gaps"]}

        # W2 baselines on subsets: the first volunteers' fixes
        lines = streets.geometry.to_numpy()
        total = float(streets.length.sum())
        sub_frame = pd.DataFrame({"volunteer": stored.volunteer, "t": stored.t, "x": stored.x,
                                  "y": stored.y})
        counts = sub_frame.groupby("volunteer").size().cumsum()
        print(f"{'subset':>8} {'naive s':>9} {'ours s':>8} {'ratio':>7} {'naive %':>8} "
              f"{'ours %':>8} {'diff pp':>8}")
        for n in (int(s) for s in args.subsets.split(",")):
            last = counts.index[np.searchsorted(counts.to_numpy(), n)]
            sub = sub_frame[sub_frame["volunteer"] <= last]
            with Stopwatch() as naive:
                naive_m = naive_coverage(streets, sub)
            with Stopwatch() as ours:
                ours_m = ours_coverage(lines, sub)
            diff = 100 * (ours_m - naive_m) / total
            print(f"{len(sub):>8,} {naive.seconds:>9.1f} {ours.seconds:>8.2f} "
                  f"{naive.seconds / ours.seconds:>7.0f} {100 * naive_m / total:>8.3f} "
                  f"{100 * ours_m / total:>8.3f} {diff:>8.3f}")
            figures |= {f"naive_{n}_s": round(naive.seconds, 2), f"ours_{n}_s": round(ours.seconds, 3),
                        f"ratio_{n}": round(naive.seconds / ours.seconds, 1),
                        f"naive_{n}_coverage": round(naive_m / total, 6),
                        f"ours_{n}_coverage": round(ours_m / total, 6),
                        f"subset_{n}_fixes": len(sub)}

        # W4: compliance for all hazards vs a per-hazard loop on a sample, scaled
        with engine.connect() as conn:
            hzm = pd.read_sql_query(sa.text("SELECT ST_X(geom_m) AS x, ST_Y(geom_m) AS y "
                                            "FROM hazards ORDER BY id"), conn)
        loop_s = loop_compliance(hzm, stored, args.loop_sample, 10, 50) * len(hzm) / \
            args.loop_sample
        print(f"W4 compliance, {len(hzm):,} hazards: ours {out['compliance_s']:.2f} s, per-hazard "
              f"loop {loop_s:.0f} s (scaled from {args.loop_sample}), ratio "
              f"{loop_s / out['compliance_s']:.0f}; {out['compliant']} compliant")
        figures |= {"compliance_s": round(out["compliance_s"], 3),
                    "compliance_loop_s_scaled": round(loop_s, 1),
                    "compliance_ratio": round(loop_s / out["compliance_s"], 1)}
    figures["peak_rss_mib"] = round(peak_rss_mib())
    emit(figures)


if __name__ == "__main__":
    main()
