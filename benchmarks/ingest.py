"""W1: ingest a day of fixes from CSV — our loader against ``GeoDataFrame.to_postgis``.

    python -m benchmarks.ingest [--sizes 1000000,5000000] [--seed 7]

Both paths start from the same CSV file and end with committed, indexed rows. Ours: pyarrow
CSV parse, vectorised checks/flags/tracks, binary COPY into a fresh day partition, indexes
built after. Baseline: pandas read_csv, points_from_xy, ``to_postgis`` (text COPY of hex
EWKB into a table whose GiST index exists from the start).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import sqlalchemy as sa

from benchmarks._common import Stopwatch, benchmark_database, emit, peak_rss_mib
from geo_patrol.services.sources import load_tracks, load_volunteers
from geo_patrol.privacy import id_check_digit

DAY = pd.Timestamp("2026-11-27 00:00:00", tz="Asia/Shanghai")
CENTRE = (109.90, 40.62)  # Baotou


def write_roster(path: Path, n: int) -> None:
    rng = np.random.default_rng(1)
    occ = rng.choice(["taxi_driver", "delivery_rider", "security_guard", "retired_resident"],
                     size=n)
    lines = ["number,name,occupation,id_number"]
    for i in range(n):
        first17 = f"150203{1960 + i % 40}{1 + i % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        lines.append(f"BT{i:05d},义警{i},{occ[i]},{first17}{id_check_digit(first17)}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_fixes(path: Path, n: int, volunteers: int, seed: int) -> None:
    """``n`` fixes: each volunteer walks or drives for part of the day, sampled every 5-30 s."""
    rng = np.random.default_rng(seed)
    per = np.full(volunteers, n // volunteers)
    per[: n - per.sum()] += 1
    vid = np.repeat(np.arange(volunteers), per)
    start = rng.uniform(6 * 3600, 20 * 3600, volunteers)[vid]
    step = rng.choice([5, 10, 15, 30], volunteers)[vid]
    k = np.arange(n) - np.repeat(np.cumsum(per) - per, per)
    t = DAY + pd.to_timedelta(start + k * step, unit="s")
    speed = rng.choice([1.3, 4.0, 9.0], volunteers)[vid]  # walking, cycling, driving (m/s)
    heading = rng.uniform(0, 2 * np.pi, n)
    dx = np.cos(heading) * speed * step / 85_000  # degrees at 40.6° N
    dy = np.sin(heading) * speed * step / 111_000
    x0 = CENTRE[0] + rng.normal(0, 0.06, volunteers)[vid]
    y0 = CENTRE[1] + rng.normal(0, 0.04, volunteers)[vid]
    groups = np.repeat(np.cumsum(per) - per, per)
    cx, cy = np.cumsum(dx), np.cumsum(dy)
    lon = x0 + cx - (cx[groups] - dx[groups])
    lat = y0 + cy - (cy[groups] - dy[groups])
    frame = pd.DataFrame({
        "volunteer": np.char.add("BT", np.char.zfill(vid.astype(str), 5)),
        "time": t.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        "lon": np.round(lon, 6), "lat": np.round(lat, 6),
        "accuracy": np.round(rng.gamma(2.0, 4.0, n), 1)})
    frame.to_csv(path, index=False)


def baseline_to_postgis(engine: sa.Engine, path: Path, table: str, metric_epsg: int) -> int:
    frame = pd.read_csv(path, dtype={"volunteer": str})
    frame["t"] = pd.to_datetime(frame.pop("time"), format="ISO8601", utc=True)
    gdf = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame.lon, frame.lat),
                           crs=4326).to_crs(metric_epsg)
    gdf.to_postgis(table, engine, index=False, if_exists="replace")
    return len(gdf)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000000,5000000")
    parser.add_argument("--volunteers", type=int, default=15_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    figures: dict[str, object] = {"workload": "W1", "volunteers": args.volunteers}
    with tempfile.TemporaryDirectory(prefix="gp-w1-") as tmp, benchmark_database() as (engine,
                                                                                       settings):
        roster = Path(tmp) / "roster.csv"
        write_roster(roster, args.volunteers)
        load_volunteers(engine, roster, settings=settings)
        print(f"{'fixes':>10} {'ours s':>8} {'ours fixes/s':>13} {'to_postgis s':>13} "
              f"{'baseline fixes/s':>17} {'ratio':>6}")
        for i, n in enumerate(sizes):
            csv = Path(tmp) / f"fixes-{n}.csv"
            write_fixes(csv, n, args.volunteers, args.seed + i)
            # each size gets its own day, so ours always fills a fresh partition
            if i:
                text = csv.read_text().replace("2026-11-27T", f"2026-11-{27 - i:02d}T")
                csv.write_text(text)
            with Stopwatch() as ours:
                result = load_tracks(engine, csv, crs="wgs84", settings=settings)
            assert result.stored == n, result.summary_line()
            with engine.connect() as conn:
                srid = conn.execute(sa.text(
                    "SELECT value FROM deployment WHERE key = 'metric_srid'")).scalar_one()
            with Stopwatch() as base:
                stored = baseline_to_postgis(engine, csv, f"baseline_{n}", int(srid))
            assert stored == n
            ratio = base.seconds / ours.seconds
            print(f"{n:>10,} {ours.seconds:>8.1f} {n / ours.seconds:>13,.0f} "
                  f"{base.seconds:>13.1f} {n / base.seconds:>17,.0f} {ratio:>6.2f}")
            figures[f"ours_{n}_s"] = round(ours.seconds, 2)
            figures[f"ours_{n}_fixes_per_s"] = round(n / ours.seconds)
            figures[f"baseline_{n}_s"] = round(base.seconds, 2)
            figures[f"baseline_{n}_fixes_per_s"] = round(n / base.seconds)
            figures[f"ratio_{n}"] = round(ratio, 2)
            figures[f"flagged_{n}"] = result.flagged
            figures[f"tracks_{n}"] = result.details["tracks"]
    figures["peak_rss_mib"] = round(peak_rss_mib())
    emit(figures)


if __name__ == "__main__":
    main()
