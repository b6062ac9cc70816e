"""What a person sees on a phone (360 px) and on a desk (1440 px), in Chinese and English:
the header's menu waits behind its button on a phone and the page starts on the first
screen; a map's legend is closed on a phone and opens when tapped, open and complete on a
desk; the maps' credit reads in the page's language; a volunteer reports by tapping the map
or with the phone's position, and no page asks them for coordinates."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from geo_patrol.render.i18n import label
from tests.browsing import browser, guarded_page, server, settle, shot, sign_in  # noqa: F401
from tests.helpers import make_user

pytestmark = pytest.mark.browser

PHONE, DESK = (360, 780), (1440, 900)

WORDS = {
    "zh": {"menu": "菜单", "hazards": "隐患点", "credit": "地图数据 © OpenStreetMap 贡献者",
           "english": "Map data", "legend": "图例", "chosen": "已选定地点",
           "where": "在哪里？"},
    "en": {"menu": "Menu", "hazards": "Hazards",
           "credit": "Map data © OpenStreetMap contributors",
           "english": None, "legend": "Legend", "chosen": "Place chosen",
           "where": "Where was it?"},
}


@pytest.fixture(scope="module")
def volunteer(demo_world, server):  # noqa: F811
    """A volunteer's account (bound to the first volunteer of the busiest community)."""
    engine = demo_world["engine"]
    with engine.connect() as conn:
        number = conn.execute(sa.text("""
            SELECT v.number FROM volunteers v WHERE v.active AND v.community_id = (
                SELECT community_id FROM volunteers GROUP BY community_id
                ORDER BY count(*) DESC, community_id LIMIT 1)
            ORDER BY v.id LIMIT 1""")).scalar_one()
    return {"username": make_user(engine, "n-volunteer", "volunteer", volunteer=number),
            "number": number}


def _in(page, server: str, lang: str, path: str) -> None:  # noqa: ANN001, F811
    page.goto(f"{server}/lang/{lang}?next={quote(path, safe='/?=&')}", wait_until="networkidle")
    settle(page)


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", [PHONE, DESK], ids=["phone", "desk"])
def test_the_menu_folds_behind_its_button_on_a_phone(browser, server, lang, size):  # noqa: F811
    w = WORDS[lang]
    with guarded_page(browser, size) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, "/reports")
        button = page.locator("#menu-button")
        link = page.locator("#nav a", has_text=w["hazards"])
        header = page.locator("header").bounding_box()
        top = page.locator("main").bounding_box()["y"]
        if size == PHONE:
            expect(button).to_be_visible()
            assert button.inner_text().strip() == w["menu"]
            expect(link).to_be_hidden()
            expect(page.locator("#whoami")).to_be_hidden()
            # the page starts near the top of the first screen, not under 250 px of links
            assert header["height"] <= 64 and top <= 70, (header, top)
            assert page.locator("header").evaluate("e => e.scrollWidth") <= size[0]
            # nor is the page wider than the phone: wide tables scroll inside their box
            assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
            shot(page, f"menu-closed-phone-{lang}")
            button.click()
            expect(link).to_be_visible()
            expect(page.locator("#whoami")).to_be_visible()
            shot(page, f"menu-open-phone-{lang}")
            button.click()
            expect(link).to_be_hidden()
            # the pages whose tables were wider than a phone in English
            for path in ("/live", "/tasks", "/volunteers", "/notify", "/training"):
                _in(page, server, lang, path)
                assert page.evaluate("document.documentElement.scrollWidth") <= size[0], path
        else:
            expect(button).to_be_hidden()
            expect(link).to_be_visible()
            expect(page.locator("#whoami")).to_be_visible()
            assert header["height"] <= 100 and top <= 110, (header, top)
            assert link.bounding_box()["y"] < header["height"]  # in the bar itself
            shot(page, f"menu-desk-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("size", [PHONE, DESK], ids=["phone", "desk"])
def test_a_maps_legend_is_closed_on_a_phone_and_its_credit_reads_in_the_pages_language(
        browser, server, lang, size):  # noqa: F811
    w = WORDS[lang]
    with guarded_page(browser, size) as page:
        sign_in(page, server, "b-command")
        _in(page, server, lang, "/dashboard")
        frame = page.frame_locator("#district-map")
        legend = frame.locator("details.gp-legend")
        legend.wait_for(timeout=30_000)
        summary = legend.locator("summary")
        assert summary.inner_text().strip() == w["legend"]
        rows = legend.locator(".gp-legend-row")
        whole = frame.locator(".leaflet-container").bounding_box()
        names = [label(k, lang) for k in ("coverage_fill", "days_since", "hazards",
                                          "other_layers")]
        if size == PHONE:
            assert legend.get_attribute("open") is None
            expect(rows.first).to_be_hidden()
            box = legend.bounding_box()
            assert box["height"] <= 34 and box["width"] <= 120, box
            shot(page, f"legend-closed-phone-{lang}")
            summary.click()
            expect(rows.first).to_be_visible()
        else:
            assert legend.get_attribute("open") is not None
        # complete: every section and every row is there, and it leaves the map to be seen
        text = legend.inner_text()
        assert all(n in text for n in names), text
        assert rows.count() >= 14
        box = legend.bounding_box()
        share = box["width"] * box["height"] / (whole["width"] * whole["height"])
        assert share <= (0.5 if size == PHONE else 0.2), (box, whole)
        credit = frame.locator(".leaflet-control-attribution").inner_text()
        assert w["credit"] in credit, credit
        if w["english"]:
            assert w["english"] not in credit and "contributors" not in credit, credit
        shot(page, f"legend-open-{'phone' if size == PHONE else 'desk'}-{lang}")
        if size == PHONE:
            summary.click()
            expect(rows.first).to_be_hidden()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_volunteer_reports_by_tapping_the_map_and_types_no_coordinates(
        browser, server, demo_world, volunteer, lang):  # noqa: F811
    w = WORDS[lang]
    engine = demo_world["engine"]
    with guarded_page(browser, PHONE) as page:
        sign_in(page, server, volunteer["username"])
        _in(page, server, lang, "/me")
        form = page.locator("#report")
        form.scroll_into_view_if_needed()
        # no field asks for a number: longitude and latitude are the form's own, unseen
        assert form.locator("input[name=lon], input[name=lat]").evaluate_all(
            "els => els.filter(e => e.type !== 'hidden' || e.offsetParent !== null).length"
        ) == 0
        text = form.inner_text()
        assert "WGS" not in text and "经度" not in text and "ongitude" not in text, text
        assert w["where"] in text
        credit = form.locator(".leaflet-control-attribution").inner_text()
        assert w["credit"] in credit, credit
        page.fill("#report textarea[name=text]", f"路灯不亮 {lang}")
        # sent without a place: the form says where to give it, and nothing is sent
        form.locator("button[type=submit]").click()
        expect(page.locator("#report-status")).to_have_text(
            "在哪里？请使用我的位置，或在地图上点选地点。" if lang == "zh"
            else "Where was it? Use your position, or tap the place on the map.")
        # the server refuses it too, in the page's language
        token = form.locator("input[name=csrf_token]").input_value()
        answer = page.context.request.post(
            f"{server}/me/report", headers={"Accept": "application/json"},
            multipart={"csrf_token": token, "text": "no place",
                       "category": form.locator("select[name=category]").input_value(),
                       "lon": "", "lat": ""})
        refused = (answer.status, answer.json()["message"])
        assert refused[0] == 400 and refused[1] == (
            "在哪里？请使用我的位置，或在地图上点选地点。" if lang == "zh"
            else "Where was it? Use your position, or tap the place on the map."), refused
        # a tap in the middle of the map (the volunteer's own area) chooses the place
        small = page.locator("#report-map")
        small.scroll_into_view_if_needed()
        expect(small.locator(".leaflet-tile-pane")).to_have_count(1)
        box = small.bounding_box()
        small.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
        expect(page.locator("#place-status")).to_contain_text(w["chosen"])
        expect(small.locator(".pick-marker")).to_have_count(1)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0]
        shot(page, f"report-tapped-phone-{lang}")
        lon = float(form.locator("input[name=lon]").input_value())
        lat = float(form.locator("input[name=lat]").input_value())
        form.locator("button[type=submit]").click()
        page.wait_for_url(re.compile(r".*sent=\d+"), timeout=20_000)
        report_id = int(re.search(r"sent=(\d+)", page.url).group(1))
        with engine.connect() as conn:
            x, y, community = conn.execute(sa.text(
                "SELECT ST_X(geom), ST_Y(geom), community_id FROM reports "
                "WHERE id = :r"), {"r": report_id}).one()
        assert community is not None
        assert abs(x - lon) < 1e-5 and abs(y - lat) < 1e-5


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_volunteers_phone_position_chooses_the_place(browser, server, demo_world,  # noqa: F811
                                                       volunteer, lang):
    w = WORDS[lang]
    engine = demo_world["engine"]
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text("""
            SELECT ST_X(ST_PointOnSurface(a.geom)), ST_Y(ST_PointOnSurface(a.geom))
            FROM areas a JOIN volunteers v ON v.community_id = a.id
            WHERE v.number = :n"""), {"n": volunteer["number"]}).one()
    with guarded_page(browser, PHONE) as page:
        page.context.grant_permissions(["geolocation"], origin=server)
        page.context.set_geolocation({"longitude": lon, "latitude": lat, "accuracy": 8})
        sign_in(page, server, volunteer["username"])
        _in(page, server, lang, "/me")
        page.click("#locate")
        expect(page.locator("#place-status")).to_contain_text(w["chosen"])
        expect(page.locator("#report-map .pick-marker")).to_have_count(1)
        assert float(page.locator("#report input[name=lon]").input_value()) == \
            pytest.approx(lon, abs=1e-6)
        shot(page, f"report-located-phone-{lang}")


def test_the_sign_in_page_on_a_phone_shows_its_languages_without_a_menu(
        browser, server):  # noqa: F811
    with guarded_page(browser, PHONE) as page:
        page.goto(f"{server}/login", wait_until="networkidle")
        assert page.locator("#menu-button").count() == 0  # nothing to fold: two links
        expect(page.locator("header a", has_text="English")).to_be_visible()
        expect(page.locator("header a", has_text="中文")).to_be_visible()
        assert page.locator("header").bounding_box()["height"] <= 64
        assert page.locator("header").evaluate("e => e.scrollWidth") <= PHONE[0]
        shot(page, "login-phone")


#: How many lines of text a cell's words take (a status squeezed to one character a line
#: takes as many lines as it has characters).
LINES = """td => { const r = document.createRange(); r.selectNodeContents(td);
  return r.getBoundingClientRect().height / parseFloat(getComputedStyle(td).lineHeight); }"""


def test_statuses_read_on_one_line_on_a_phone_and_wide_tables_scroll(
        browser, server, demo_world):  # noqa: F811
    """On a 360 px phone in Chinese, /live's call-out tables and /notify's messages keep
    each status on one line (they were squeezed to one character a line); the table
    scrolls sideways in its box, the page does not."""
    import time
    import urllib.request

    from geo_patrol.access import Principal, Role
    from geo_patrol.services.callouts import call_out
    from geo_patrol.services.devices import add_device

    engine, site = demo_world["engine"], (109.8430, 40.6503)
    with engine.connect() as conn:
        numbers = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE active ORDER BY number LIMIT 2")
        ).scalars().all()
        command = conn.execute(sa.text("SELECT id FROM users WHERE username = 'b-command'")
                               ).scalar_one()
    for i, number in enumerate(numbers):
        add_device(engine, f"nw-{number}", number)
        url = (f"{server}/osmand?id=nw-{number}&lat={site[1]}&lon={site[0] + 2e-4 * i}"
               f"&timestamp={int(time.time())}")
        with urllib.request.urlopen(urllib.request.Request(url, method="POST")) as r:
            assert r.status == 200
    callout_id = call_out(engine, demo_world["settings"],
                          Principal(id=command, username="b-command", role=Role.COMMAND),
                          lon=site[0], lat=site[1], category="dispute", note=None, count=2)
    cells = {f"/live?callout={callout_id}": ("#callout-targets tbody td:nth-child(2)",
                                             "#callouts tbody td:last-child"),
             "/notify": ("#outbox tbody td:nth-child(6)",)}
    with guarded_page(browser, PHONE) as page:
        sign_in(page, server, "b-command")
        for path, selectors in cells.items():
            _in(page, server, "zh", path)
            for selector in selectors:
                found = page.locator(selector)
                assert found.count() >= 1, (path, selector)
                lines = found.evaluate_all(f"els => els.map({LINES})")
                assert max(lines) < 1.5, (path, selector, lines)
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE[0], path
            shot(page, f"statuses-phone-zh{path.split('?')[0].replace('/', '-')}")
