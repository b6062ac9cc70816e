"""Real headless Chromium against the running app on loopback, and an exported briefing
opened from disk. Every request that leaves 127.0.0.1 is blocked and fails the test."""

from __future__ import annotations

import shutil
import socket
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests.conftest import REPO

pytestmark = pytest.mark.browser
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = REPO / "test-artifacts"
LOCAL = {"127.0.0.1", "localhost"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(demo_world):
    from waitress.server import create_server

    from web import create_app

    from tests.helpers import make_user

    make_user(demo_world["engine"], "b-command", "command")
    app = create_app({"GEO_PATROL_SETTINGS": demo_world["settings"]})
    srv = create_server(app, host="127.0.0.1", port=_free_port(), threads=4)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{srv.effective_port}"
    srv.close()


@pytest.fixture(scope="module")
def browser():
    playwright = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian chromium is not installed (scripts/setup.sh test installs it)")
    with playwright.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A page whose every non-local request is aborted and recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    outside: list[str] = []

    def guard(route):  # noqa: ANN001
        url = route.request.url
        host = urlparse(url).hostname
        if url.startswith(("file:", "data:", "blob:", "about:")) or host in LOCAL:
            return route.continue_()
        outside.append(url)
        return route.abort()

    context.route("**/*", guard)
    pg = context.new_page()
    pg.outside = outside  # type: ignore[attr-defined]
    yield pg
    context.close()
    assert outside == [], f"requests left the machine: {outside[:5]}"


def _shot(pg, name: str) -> None:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def sign_in(page, server: str, username: str) -> None:  # noqa: ANN001
    """Sign in through the login form, as a user would."""
    from tests.helpers import PASSWORD

    page.goto(f"{server}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_selector("#whoami", timeout=20_000)


def test_dashboard_map_and_click_to_community(page, server, demo_world):
    import time

    anonymous = page.goto(f"{server}/dashboard")
    assert anonymous.status == 401 and page.locator("#login").count() == 1
    sign_in(page, server, "b-command")
    start = time.perf_counter()
    page.goto(f"{server}/dashboard", wait_until="networkidle")
    frame = page.frame_locator("#district-map")
    areas = frame.locator("path.gp-area")
    areas.first.wait_for(timeout=20_000)
    painted = time.perf_counter() - start
    n = areas.count()
    rows = page.locator("#ranking tbody tr").count()
    assert rows > 0 and n == rows  # one outline per community of the district
    frame.locator("canvas, svg").first.wait_for(timeout=20_000)
    _shot(page, "dashboard")
    # a click on a community outline (its SVG path) opens the community page
    frame.locator("path.gp-area").first.dispatch_event("click")
    page.wait_for_url("**/community/**", timeout=20_000)
    assert page.locator("h2").first.inner_text()
    page.frame_locator("#community-map").locator(".leaflet-container").wait_for(timeout=20_000)
    page.wait_for_load_state("networkidle")
    _shot(page, "community")
    print(f"dashboard map painted in {painted:.2f} s with {n} interactive paths")


def test_briefing_opens_from_disk(page, demo_world, tmp_path):
    from geo_patrol.render.briefing import busiest_district, export_briefing

    engine, run = demo_world["engine"], demo_world["run"]
    with engine.connect() as conn:
        district = busiest_district(conn, run.run_id)
        path = export_briefing(conn, run.run_id, district, tmp_path / "briefing.html",
                               rules=demo_world["settings"].rules)
    page.goto(path.as_uri(), wait_until="load")
    page.locator(".leaflet-container").wait_for(timeout=20_000)
    page.locator(".gp-legend").wait_for()
    assert page.locator("table.gp tbody tr").count() > 0
    assert page.evaluate("typeof L") == "object"  # Leaflet came from the file itself
    _shot(page, "briefing")


def test_planner_page_proposes_and_exports(page, server, demo_world, tmp_path):
    from geo_patrol.render.briefing import busiest_district

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
    _shot(page, "planner")
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
    _shot(page, "plan-briefing")
