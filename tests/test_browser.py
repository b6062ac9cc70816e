"""Real headless Chromium against the running app on loopback, and an exported briefing
opened from disk. Every request that leaves 127.0.0.1 is blocked and fails the test."""

from __future__ import annotations

import re

import pytest

from tests.browsing import browser, page, server, settle, shot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser


def test_dashboard_map_and_click_to_community(page, server, demo_world):
    import time

    anonymous = page.goto(f"{server}/dashboard")
    assert anonymous.status == 401 and page.locator("#login").count() == 1
    sign_in(page, server, "b-command")
    start = time.perf_counter()
    page.goto(f"{server}/dashboard", wait_until="networkidle")
    settle(page)  # the tiles' jobs done (the page reloads with their results)
    frame = page.frame_locator("#district-map")
    areas = frame.locator("path.gp-area")
    areas.first.wait_for(timeout=20_000)
    painted = time.perf_counter() - start
    n = areas.count()
    rows = page.locator("#ranking tbody tr").count()
    # one outline per community of the district, in the ranking's pages (20 rows a page)
    total = int(re.search(r"共 (\d+) 行", page.locator("#ranking-pager .count").inner_text())
                .group(1))
    assert 0 < rows == min(total, 20) and n == total
    frame.locator("canvas, svg").first.wait_for(timeout=20_000)
    shot(page, "dashboard")
    # a click on a community outline (its SVG path) opens the community page
    frame.locator("path.gp-area").first.dispatch_event("click")
    page.wait_for_url("**/community/**", timeout=20_000)
    assert page.locator("h2").first.inner_text()
    page.frame_locator("#community-map").locator(".leaflet-container").wait_for(timeout=20_000)
    page.wait_for_load_state("networkidle")
    shot(page, "community")
    print(f"dashboard map painted in {painted:.2f} s with {n} interactive paths")


def test_briefing_opens_from_disk(page, demo_world, tmp_path):
    from geo_patrol.services.maps import export_briefing
    from geo_patrol.store.results import busiest_district

    engine, run = demo_world["engine"], demo_world["run"]
    with engine.connect() as conn:
        district = busiest_district(conn, run.run_id)
        path = export_briefing(conn, run.run_id, district, tmp_path / "briefing.html",
                               demo_world["settings"], figures=False)
    page.goto(path.as_uri(), wait_until="load")
    page.locator(".leaflet-container").wait_for(timeout=20_000)
    page.locator(".gp-legend").wait_for()
    assert page.locator("table.gp tbody tr").count() > 0
    assert page.evaluate("typeof L") == "object"  # Leaflet came from the file itself
    shot(page, "briefing")


def test_planner_page_proposes_and_exports(page, server, demo_world, tmp_path):
    from geo_patrol.store.results import busiest_district

    with demo_world["engine"].connect() as conn:
        district = busiest_district(conn, demo_world["run"].run_id)
    sign_in(page, server, "b-command")
    page.goto(f"{server}/planner")
    page.select_option("select[name=area]", str(district))
    page.fill("input[name=zones]", "3")
    page.fill("input[name=minutes]", "60")
    page.click("#plan-form button[type=submit]")
    page.locator("#zones tbody tr").first.wait_for(timeout=60_000)
    assert page.locator("#zones tbody tr").count() == 3
    assert page.locator("#crew tbody tr").count() >= 3
    before, after = page.locator("#before-after tbody tr").all_inner_texts()
    assert float(after.split()[-2].rstrip("%")) >= float(before.split()[-2].rstrip("%"))
    frame = page.frame_locator("#plan-map")
    frame.locator(".leaflet-container").wait_for(timeout=30_000)
    frame.locator(".gp-legend").wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    shot(page, "planner")
    # the exports, with the page's own session
    geojson = page.request.get(page.locator("#plan-geojson").get_attribute("href")
                               .replace("/planner", f"{server}/planner", 1))
    assert geojson.ok and len(geojson.json()["features"]) >= 9
    with page.expect_download() as download:
        page.click("#plan-briefing")
    saved = tmp_path / "plan.html"
    download.value.save_as(saved)
    page.goto(saved.as_uri(), wait_until="load")
    page.locator(".leaflet-container").wait_for(timeout=20_000)
    assert page.evaluate("typeof L") == "object"
    shot(page, "plan-briefing")
