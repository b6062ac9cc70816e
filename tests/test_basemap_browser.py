"""The offline base map in a real browser: the tiles a map draws carry street names, a gap
is listed by its street and cross streets, and nothing leaves the machine (zh and en)."""

from __future__ import annotations

import re

import mapbox_vector_tile
import pytest
import sqlalchemy as sa

from tests.browsing import browser, map_frame, page, server, shot, sign_in  # noqa: F401  (fixtures)

TILE = re.compile(r"/tiles/base/(\d+)/(\d+)/(\d+)\.pbf$")


#: The map's name pane against its overlay pane (coverage lines) and marker pane: their
#: stacking orders, how many line layers the overlay holds, and the inked pixels of names.
NAME_PANE_JS = """() => {
  const m = Object.values(window).find(v => v instanceof L.Map);
  const z = (el) => Number(getComputedStyle(el).zIndex);
  const names = m.getPane("gpNames");
  let inked = 0;
  for (const c of names.querySelectorAll("canvas")) {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < d.length; i += 4) { if (d[i] > 0) { inked++; } }
  }
  return {names: z(names), overlay: z(m.getPane("overlayPane")),
          markers: z(m.getPane("markerPane")),
          lines: m.getPane("overlayPane").querySelectorAll("path, canvas").length, inked};
}"""


@pytest.fixture(scope="module")
def busiest(demo_world):
    """The community with the most gaps, and its gaps' streets."""
    with demo_world["engine"].connect() as conn:
        area_id = conn.execute(sa.text(
            "SELECT area_id FROM gap_results WHERE run_id = :r AND cross_b IS NOT NULL "
            "AND area_id IS NOT NULL "
            "GROUP BY area_id ORDER BY count(*) DESC, area_id LIMIT 1"),
            {"r": demo_world["run"].run_id}).scalar_one()
        streets = set(conn.execute(sa.text(
            "SELECT DISTINCT name FROM street_segments WHERE area_id = :a "
            "AND name IS NOT NULL"), {"a": area_id}).scalars())
    return area_id, streets


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_community_map_draws_named_streets_and_names_its_gaps(page, server, busiest, lang):
    area_id, streets = busiest
    sign_in(page, server, "b-command")
    tiles: list[bytes] = []
    asked: list[str] = []
    page.on("response", lambda r: tiles.append(r.body()) if TILE.search(r.url) and
            r.status == 200 else None)
    page.on("request", lambda r: asked.append(r.url) if TILE.search(r.url) else None)
    page.goto(f"{server}/lang/{lang}?next=/community/{area_id}", wait_until="networkidle")
    frame = map_frame(page, r".*/maps/community/.*")
    frame.wait_for_selector(".gp-basemap canvas", timeout=30_000)
    page.wait_for_timeout(1500)  # protomaps-leaflet draws a moment after the tiles arrive
    assert tiles, "the map asked for no base tiles"
    # the paint and the names layers share one tile cache: each tile is asked for once
    assert len(asked) == len(set(asked)), sorted(asked)
    names = {f["properties"].get("name") for t in tiles
             for f in mapbox_vector_tile.decode(t).get("streets", {}).get("features", [])}
    assert len(names & streets) >= 5, (sorted(names)[:10], sorted(streets)[:10])
    # the names are drawn in a pane above the coverage lines (not hidden under them) and
    # below the markers; its canvases carry ink
    stack = frame.evaluate(NAME_PANE_JS)
    assert stack["names"] > stack["overlay"] and stack["names"] < stack["markers"], stack
    assert stack["lines"] > 0 and stack["inked"] > 500, stack
    # a metric scale only
    scale = frame.locator(".leaflet-control-scale-line").all_inner_texts()
    assert len(scale) == 1 and re.search(r"\d+ (m|km)$", scale[0]), scale
    first = page.locator("#gaps tbody tr td").first.inner_text()
    if lang == "zh":
        assert re.fullmatch(r"\S+（\S+—\S+）", first), first
    else:
        assert re.fullmatch(r"\S+ \(\S+–\S+\)", first), first
    assert first.split("（" if lang == "zh" else " (")[0] in streets
    shot(page, f"basemap-community-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_search_finds_a_crossing_and_centres_the_map_on_it(page, server, demo_world, busiest,
                                                           lang):
    area_id, _ = busiest
    with demo_world["engine"].connect() as conn:
        a, b, lon, lat = conn.execute(sa.text(
            "SELECT c.name_a, c.name_b, ST_X(c.geom), ST_Y(c.geom) FROM crossings c "
            "JOIN areas x ON x.id = :a AND ST_Intersects(x.geom, c.geom) "
            "ORDER BY c.id LIMIT 1"), {"a": area_id}).one()
    sign_in(page, server, "b-command")
    page.goto(f"{server}/lang/{lang}?next=/community/{area_id}", wait_until="networkidle")
    frame = map_frame(page, r".*/maps/community/.*")
    box = frame.locator(".gp-search-input")
    box.wait_for(timeout=20_000)
    box.fill(f"{b[:-1]}与{a[:2]}")  # typed short, either way round
    hit = frame.locator(".gp-search-result[data-kind=crossing]").first
    hit.wait_for(timeout=10_000)
    shown = f"{a}与{b}交叉口" if lang == "zh" else f"{a} & {b}"
    shown_b = f"{b}与{a}交叉口" if lang == "zh" else f"{b} & {a}"
    assert hit.inner_text() in (shown, shown_b)
    hit.click()
    frame.locator(".gp-search-marker").wait_for(timeout=5_000)
    page.wait_for_timeout(600)  # the map's move animation
    centre = frame.evaluate(
        "() => { const m = Object.values(window).find(v => v instanceof L.Map);"
        " const c = m.getCenter(); return [c.lng, c.lat, m.getZoom()]; }")
    assert abs(centre[0] - lon) < 2e-4 and abs(centre[1] - lat) < 2e-4, (centre, lon, lat)
    assert centre[2] >= 17
    shot(page, f"search-crossing-{lang}")


def test_a_briefing_carries_its_base_map_and_opens_from_disk(page, demo_world, busiest,
                                                             tmp_path):
    import base64
    import json

    from geo_patrol.services.maps import export_briefing
    from geo_patrol.store.results import busiest_district

    engine, run = demo_world["engine"], demo_world["run"]
    with engine.connect() as conn:
        district = busiest_district(conn, run.run_id)
        path = export_briefing(conn, run.run_id, district, tmp_path / "briefing.html",
                               demo_world["settings"], figures=False)
        streets = set(conn.execute(sa.text(
            "SELECT DISTINCT name FROM street_segments WHERE area_id IN "
            "(SELECT area_subtree(:d)) AND name IS NOT NULL"), {"d": district}).scalars())
    html = path.read_text(encoding="utf-8")
    assert path.stat().st_size <= 5_000_000
    carried = json.loads(re.search(r"var tiles = (\{.*?\});", html).group(1))
    assert any(k.startswith("15/") for k in carried)
    names = {f["properties"].get("name") for b64 in carried.values()
             for f in mapbox_vector_tile.decode(base64.b64decode(b64.split(",", 1)[1]))
             .get("streets", {}).get("features", [])}
    assert len(names & streets) > 0.9 * len(streets)
    page.goto(path.as_uri(), wait_until="load")
    page.locator(".gp-basemap canvas").first.wait_for(timeout=20_000)
    page.wait_for_timeout(1500)
    shot(page, "briefing-basemap")
