"""The call-out form's small map opens on the command's own area at the zoom where the
offline base map names its streets, in real headless Chromium, in Chinese and English."""

from __future__ import annotations

import math
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from geo_patrol.render.basemap import NAMED_STREETS_ZOOM
from geo_patrol.services import places
from geo_patrol.store.accounts import principal_named
from tests.browsing import browser, page, server, shot, sign_in  # noqa: F401  (fixtures)
from tests.helpers import make_user

TILE = re.compile(r"/tiles/base/(\d+)/(\d+)/(\d+)\.pbf")


def _tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The web-Mercator tile at zoom ``z`` holding (lon, lat)."""
    n = 2 ** z
    y = math.asinh(math.tan(math.radians(lat)))
    return int((lon + 180) / 360 * n), int((1 - y / math.pi) / 2 * n)


@pytest.fixture(scope="module")
def district_command(demo_world, server):  # noqa: F811
    """A command of the district whose communities lie farthest from the city's middle (so
    opening on the city would miss it), and where its map should open."""
    engine = demo_world["engine"]
    city_home = places.home_point(engine, None)
    with engine.connect() as conn:
        district = conn.execute(sa.text("""
            SELECT d.name FROM areas d WHERE d.level = 'district' AND EXISTS (
                SELECT 1 FROM areas c WHERE c.level = 'community'
                AND c.id IN (SELECT area_subtree(d.id)))
            ORDER BY ST_Distance(ST_PointOnSurface(d.geom),
                                 ST_SetSRID(ST_MakePoint(:x, :y), 4326)) DESC LIMIT 1"""),
            {"x": city_home[0], "y": city_home[1]}).scalar_one()
    username = make_user(engine, "f3-district", "command", areas=[district])
    with engine.connect() as conn:
        me = principal_named(conn, username)
    home = places.home_point(engine, me.community_ids)
    assert home is not None and me.community_ids
    return {"username": username, "home": home, "city_home": city_home,
            "communities": me.community_ids}


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_call_out_map_opens_on_the_command_s_area_at_street_zoom(
        page, server, demo_world, district_command, lang):  # noqa: F811
    page.set_viewport_size({"width": 1440, "height": 900})
    asked: list[tuple[int, int, int]] = []

    def note(request) -> None:  # noqa: ANN001
        found = TILE.search(request.url)
        if found and request.frame == page.main_frame:  # the small map's, not the live map's
            asked.append(tuple(int(v) for v in found.groups()))

    page.on("request", note)
    page.context.clear_cookies()
    sign_in(page, server, district_command["username"])
    page.goto(f"{server}/lang/{lang}?next=/live", wait_until="networkidle")
    small = page.locator("#callout-map")
    small.scroll_into_view_if_needed()
    expect(small.locator(".leaflet-tile-pane")).to_have_count(1)
    page.wait_for_load_state("networkidle")
    lon, lat = district_command["home"]
    # what the page says it shows: the zoom in its tiles' addresses, the place under them
    zooms = {z for z, _, _ in asked}
    assert zooms, "the small map asked for no base-map tile"
    z = max(zooms)
    # the base map draws a zoom from the tiles one below: these name every street
    assert z == NAMED_STREETS_ZOOM - 1, zooms
    assert (z, *_tile(lon, lat, z)) in asked, (z, _tile(lon, lat, z), sorted(asked)[:8])
    # a click on the middle of the map picks a place in the district's communities
    box = small.bounding_box()
    small.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    picked = (float(page.locator("#callout input[name=lon]").input_value()),
              float(page.locator("#callout input[name=lat]").input_value()))
    assert abs(picked[0] - lon) < 0.01 and abs(picked[1] - lat) < 0.01, (picked, (lon, lat))
    with demo_world["engine"].connect() as conn:
        inside = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'community' AND ST_Intersects(geom, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326))"), {"x": picked[0], "y": picked[1]}
        ).scalar()
    assert inside in district_command["communities"]
    expect(page.locator("#live-panel")).to_contain_text(
        "查找地点、在地图上点选" if lang == "zh" else "Find the place, tap it on a map")
    # the place said by its name (its community), no number field anywhere
    expect(page.locator("#callout #place-status")).to_contain_text(
        "已选定地点" if lang == "zh" else "Place chosen")
    with demo_world["engine"].connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :a"),
                            {"a": inside}).scalar_one()
    expect(page.locator("#callout #place-status")).to_contain_text(name)
    assert page.locator("#callout input[name=lon]").get_attribute("type") == "hidden"
    shot(page, f"forms3-callout-map-{lang}-1440")
