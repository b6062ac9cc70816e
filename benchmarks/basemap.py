"""W16: the base map's vector tiles, the place search and the briefing with its base map.

    python -m benchmarks.basemap [--scale city] [--requests 60]

Loads the generated demo's districts, communities, streets, hazards and roster (no tracks:
the base map and the search read none), then over HTTP against the app: base tiles at z12
and z14-16 over the busiest district, made once (cold) and from the cache (warm), against
``ST_AsMVT`` of the raw segments with no cut into pieces (the baseline, same tiles); search
answers for streets, crossings, communities, hazards and coordinates typed a character at a
time (p95); and the busiest district's briefing with its embedded base map (bytes, first
paint in headless Chromium).
"""

from __future__ import annotations

import argparse
import time
import urllib.error
import urllib.parse
import urllib.request

import numpy as np
import sqlalchemy as sa

from benchmarks._common import (
    DEMO_UNTIL,
    Stopwatch,
    count,
    demo_arguments,
    emit,
    percentile,
    serve_app,
    workspace,
)
from benchmarks.pages import timed_briefing
from geo_patrol.analysis.places import tiles_covering
from geo_patrol.demo.generate import generate
from geo_patrol.services.analysis import analyze
from geo_patrol.services.demo import last_days, load_demo
from geo_patrol.store.results import busiest_district

#: Files the base map and the search read (tracks, reports and the rest are left out).
KINDS = ("boundaries", "streets", "hazards", "volunteers")
AUTH: dict[str, str] = {}


def _get(url: str) -> tuple[float, bytes]:
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=AUTH),
                                    timeout=60) as resp:
            body = resp.read()
    except urllib.error.HTTPError as e:
        raise RuntimeError(f"{url}: {e.code} {e.read()[:300]!r}") from None
    return (time.perf_counter() - start) * 1000, body


def _p(values: list[float], q: float) -> float:
    return round(percentile(values, q), 1)


def _raw_tile(conn: sa.Connection, z: int, x: int, y: int) -> bytes:
    """The baseline: every segment with its name, straight from ``street_segments``."""
    return bytes(conn.execute(sa.text("""
        WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
        rows AS (SELECT ST_AsMVTGeom(ST_Transform(s.geom, 3857), b.env, 4096, 64, true) AS geom,
                        s.name, s.highway
                 FROM b, street_segments s WHERE s.geom && ST_Transform(b.env, 4326))
        SELECT ST_AsMVT(rows, 'streets', 4096, 'geom') FROM rows"""),
        {"z": z, "x": x, "y": y}).scalar_one() or b"")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_arguments(parser, scale="city", requests=60)
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"workload": "W16", "scale": args.scale}
    with workspace("gp-w16-") as (tmp, engine, settings):
        files = tmp / "demo"
        generate(files, seed=7, scale=args.scale, until=DEMO_UNTIL, days=1)
        with Stopwatch() as sw:
            load_demo(engine, files, settings, kinds=KINDS)
        figures["load_s"] = round(sw.seconds, 1)
        run = analyze(engine, *last_days(DEMO_UNTIL, 1), settings=settings)
        with engine.connect() as conn:
            district = busiest_district(conn, run.run_id)
            bounds = conn.execute(sa.text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                "ST_Extent(geom) AS e FROM street_segments WHERE area_id IN "
                "(SELECT area_subtree(:d))) q"), {"d": district}).one()
            probes = conn.execute(sa.text(
                "SELECT (SELECT array_agg(name ORDER BY id) FROM (SELECT id, name FROM "
                "street_pieces WHERE name IS NOT NULL ORDER BY id LIMIT 20) s), "
                "(SELECT array_agg(name_a || '与' || name_b ORDER BY id) FROM (SELECT id, "
                "name_a, name_b FROM crossings ORDER BY id LIMIT 10) c), "
                "(SELECT array_agg(name ORDER BY id) FROM (SELECT id, name FROM areas "
                "WHERE level = 'community' ORDER BY id LIMIT 10) a), "
                "(SELECT array_agg(name ORDER BY id) FROM (SELECT id, name FROM hazards "
                "ORDER BY id LIMIT 10) h)")).one()
        counts = [count(engine, t) for t in ("street_segments", "street_pieces", "crossings")]
        figures.update(segments=counts[0], pieces=counts[1], crossings=counts[2])
        print(f"loaded in {figures['load_s']} s: {counts[0]} segments in {counts[1]} pieces, "
              f"{counts[2]} crossings")

        base, auth, server = serve_app(engine, settings)
        AUTH.update(auth)

        # tiles: cold (made and kept), warm (from the cache), and the raw-segment baseline
        print(f"{'zoom':>5} {'tiles':>6} {'cold p95':>9} {'warm p95':>9} {'raw p95':>8} "
              f"{'kB mean':>8} {'raw kB':>7}")
        checksum = 0
        for z in (12, 14, 15, 16):
            tiles = tiles_covering(tuple(bounds), z)
            rng = np.random.default_rng(z)
            pick = [tiles[i] for i in rng.permutation(len(tiles))[:args.requests]]
            cold, warm, raw, sizes, raw_sizes = [], [], [], [], []
            for _, x, y in pick:
                ms, body = _get(f"{base}/tiles/base/{z}/{x}/{y}.pbf")
                cold.append(ms)
                sizes.append(len(body))
                checksum += len(body)
            for _, x, y in pick:
                warm.append(_get(f"{base}/tiles/base/{z}/{x}/{y}.pbf")[0])
            with engine.connect() as conn:
                for _, x, y in pick:
                    with Stopwatch() as sw:
                        raw_sizes.append(len(_raw_tile(conn, z, x, y)))
                    raw.append(sw.seconds * 1000)
            figures.update({f"tiles_z{z}_cold_p95_ms": _p(cold, 95),
                            f"tiles_z{z}_warm_p95_ms": _p(warm, 95),
                            f"tiles_z{z}_raw_p95_ms": _p(raw, 95),
                            f"tiles_z{z}_mean_bytes": round(float(np.mean(sizes))),
                            f"tiles_z{z}_raw_mean_bytes": round(float(np.mean(raw_sizes)))})
            print(f"{z:>5} {len(pick):>6} {_p(cold, 95):>9} {_p(warm, 95):>9} "
                  f"{_p(raw, 95):>8} {np.mean(sizes) / 1e3:>8.1f} "
                  f"{np.mean(raw_sizes) / 1e3:>7.1f}")
        figures["tiles_bytes_checksum"] = checksum

        # search, typed one character at a time
        queries = [*probes[0], *probes[1], *probes[2], *probes[3],
                   "40.6123, 109.8456", "109.85,40.62 gcj"]
        ms, answered, empty = [], 0, 0
        for q in queries:
            for n in range(1, len(q) + 1):
                t, body = _get(f"{base}/search?q={urllib.parse.quote(q[:n])}")
                ms.append(t)
            answered += 1
            empty += body == b"[]\n" or body == b"[]"
        figures.update(search_requests=len(ms), search_p50_ms=_p(ms, 50),
                       search_p95_ms=_p(ms, 95), search_unanswered=int(empty))
        print(f"search: {len(ms)} requests ({answered} queries typed), p50 "
              f"{figures['search_p50_ms']} ms, p95 {figures['search_p95_ms']} ms, "
              f"{empty} without an answer")
        server.close()

        # the briefing of the busiest district with its base map
        export_s, size, paint_s = timed_briefing(engine, settings, run.run_id, district, tmp)
        figures.update(briefing_export_s=export_s, briefing_bytes=size,
                       briefing_first_paint_s=paint_s)
        print(f"briefing: {figures['briefing_bytes'] / 1e6:.2f} MB with its base map, "
              f"first paint {figures['briefing_first_paint_s']} s "
              f"(export {figures['briefing_export_s']} s)")
    emit(figures)


if __name__ == "__main__":
    main()
