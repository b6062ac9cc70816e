"""W5-W7: pages, tiles and the briefing from stored results, on the generated demo.

    python -m benchmarks.pages [--scale small] [--requests 40]

W5: server time and weight of a community page and its map document (p50/p95) against the
naive page (a folium map with the community's raw fixes inline as GeoJSON). W6: vector tiles
at z12 and z14-16 over the busiest district (p95). W7: the busiest district's briefing, its
size and first paint in headless Chromium, against a per-point ``folium.Marker`` export of a
sample of its fixes.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
import urllib.request
from pathlib import Path

import folium
import numpy as np
import sqlalchemy as sa

from benchmarks._common import (
    DEMO_UNTIL,
    Stopwatch,
    demo_arguments,
    demo_database,
    emit,
    percentile,
    serve_app,
)
from geo_patrol.render.assets import inline_assets, localise
from geo_patrol.services.maps import export_briefing
from geo_patrol.settings import Settings
from geo_patrol.store.results import busiest_district


#: Authorization header of the benchmark's account (set once the database exists).
AUTH: dict[str, str] = {}


def _get(url: str) -> tuple[float, int]:
    start = time.perf_counter()
    with urllib.request.urlopen(urllib.request.Request(url, headers=AUTH), timeout=60) as resp:
        body = resp.read()
    return (time.perf_counter() - start) * 1000, len(body)


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2 ** z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _first_paint(path: Path) -> float:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium") or
                                    "/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu",
                                          "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        page.route("**/*", lambda r: r.continue_() if r.request.url.startswith("file:")
                   else r.abort())
        start = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        page.locator(".leaflet-container canvas, .leaflet-container path, "
                     ".leaflet-marker-icon").first.wait_for(timeout=600_000)
        page.evaluate("() => new Promise(r => requestAnimationFrame(() => r()))")
        seconds = time.perf_counter() - start
        browser.close()
    return seconds


def timed_briefing(engine: sa.Engine, settings: Settings, run_id: int, district: int,
                   folder: Path) -> tuple[float, int, float]:
    """A district's briefing exported into ``folder``: the seconds the export took, its bytes
    and the seconds to its first paint."""
    with engine.connect() as conn, Stopwatch() as sw:
        path = export_briefing(conn, run_id, district, folder / "briefing.html", settings,
                               figures=False)
    return round(sw.seconds, 2), path.stat().st_size, round(_first_paint(path), 2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    demo_arguments(parser, scale="small", requests=40)
    parser.add_argument("--markers", type=int, default=5000)
    args = parser.parse_args(argv)
    figures: dict[str, object] = {"workload": "W5-W7", "scale": args.scale}
    with tempfile.TemporaryDirectory(prefix="gp-w7-") as tmp, demo_database(
            args.scale, DEMO_UNTIL) as (engine, settings, run):
        with engine.connect() as conn:
            district = busiest_district(conn, run.run_id)
            community = conn.execute(sa.text(
                "SELECT r.area_id FROM area_results r WHERE r.run_id = :r AND "
                "r.level = 'community' ORDER BY r.total_m DESC LIMIT 1"),
                {"r": run.run_id}).scalar_one()
            bounds = conn.execute(sa.text(
                "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM (SELECT "
                "ST_Extent(geom) e FROM street_segments WHERE area_id IN (SELECT c.id FROM "
                "areas c JOIN areas s ON s.id = c.parent_id WHERE s.parent_id = :d)) q"),
                {"d": district}).one()
            raw = conn.execute(sa.text(
                "SELECT ST_X(ST_Transform(f.geom_m, 4326)), ST_Y(ST_Transform(f.geom_m, 4326)) "
                "FROM patrol_fixes f JOIN areas a ON a.id = :c "
                "WHERE ST_Intersects(ST_Transform(f.geom_m, 4326), a.geom)"),
                {"c": community}).all()

        base, auth, server = serve_app(engine, settings)
        AUTH.update(auth)

        # W5: community page and its map document
        for name, url in (("page", f"{base}/community/{community}?run={run.run_id}"),
                          ("map", f"{base}/maps/community/{community}?run={run.run_id}")):
            _get(url)
            timings = [_get(url) for _ in range(args.requests)]
            ms = [t for t, _ in timings]
            figures[f"w5_{name}_p50_ms"] = round(percentile(ms, 50), 1)
            figures[f"w5_{name}_p95_ms"] = round(percentile(ms, 95), 1)
            figures[f"w5_{name}_bytes"] = timings[-1][1]
        naive = folium.Map(tiles=None)
        localise(naive)
        folium.GeoJson({"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point",
                                                               "coordinates": [x, y]}}
            for x, y in raw]}).add_to(naive)
        with Stopwatch() as sw:
            naive_html = naive.get_root().render()
        figures["w5_naive_fixes"] = len(raw)
        figures["w5_naive_bytes"] = len(naive_html.encode())
        figures["w5_naive_render_ms"] = round(sw.seconds * 1000, 1)
        print(f"W5 community page: map p95 {figures['w5_map_p95_ms']} ms, "
              f"{figures['w5_map_bytes'] / 1e6:.2f} MB (page {figures['w5_page_p95_ms']} ms); "
              f"naive raw-fix map {figures['w5_naive_bytes'] / 1e6:.2f} MB for {len(raw)} fixes")

        # W6: tiles over the busiest district
        x0, y0, x1, y1 = bounds
        for z in (12, 14, 15, 16):
            ax, ay = _tile(x0, y1, z)
            bx, by = _tile(x1, y0, z)
            tiles = [(x, y) for x in range(ax, bx + 1) for y in range(ay, by + 1)]
            rng = np.random.default_rng(z)
            pick = [tiles[i] for i in rng.permutation(len(tiles))[:60]]
            ms, sizes = [], []
            for tx, ty in pick:
                t, n = _get(f"{base}/tiles/segments/{run.run_id}/{z}/{tx}/{ty}.pbf")
                ms.append(t)
                sizes.append(n)
            figures[f"w6_z{z}_p95_ms"] = round(percentile(ms, 95), 1)
            figures[f"w6_z{z}_mean_bytes"] = round(float(np.mean(sizes)))
        print("W6 tiles p95 ms: " + ", ".join(f"z{z} {figures[f'w6_z{z}_p95_ms']}"
                                              for z in (12, 14, 15, 16)))
        server.close()

        # W7: the busiest district's briefing vs a per-point marker export
        export_s, size, paint_s = timed_briefing(engine, settings, run.run_id, district,
                                                 Path(tmp))
        figures.update(w7_export_s=export_s, w7_briefing_bytes=size, w7_first_paint_s=paint_s)
        markers = folium.Map(tiles=None)
        localise(markers)
        for x, y in raw[: args.markers]:
            folium.Marker([y, x]).add_to(markers)
        naive_path = Path(tmp) / "markers.html"
        naive_path.write_text(inline_assets(markers.get_root().render()), encoding="utf-8")
        figures["w7_marker_count"] = min(len(raw), args.markers)
        figures["w7_marker_bytes"] = naive_path.stat().st_size
        figures["w7_marker_first_paint_s"] = round(_first_paint(naive_path), 2)
        print(f"W7 briefing: {figures['w7_briefing_bytes'] / 1e6:.2f} MB, first paint "
              f"{figures['w7_first_paint_s']} s (export {figures['w7_export_s']} s); "
              f"{figures['w7_marker_count']} markers: {figures['w7_marker_bytes'] / 1e6:.2f} MB,"
              f" first paint {figures['w7_marker_first_paint_s']} s")
    emit(figures)


if __name__ == "__main__":
    main()
