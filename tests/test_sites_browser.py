"""Sites marked on the maps, in a real browser with every outside request blocked: a
call-out's incident with lines to the volunteers called (their walk and ETA)."""

from __future__ import annotations

import re
import threading

import pytest
import sqlalchemy as sa

from tests.browsing import browser, map_frame, page, server, shot, sign_in  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser

LAYERS = ("() => { const m = Object.values(window).find(v => v instanceof L.Map); const out = [];"
          " m.eachLayer(l => { if (l.options && l.options.className) {"
          " const t = l.getTooltip() ? l.getTooltip().getContent() : '';"
          " out.push([l.options.className, typeof t === 'string' ? t : t.textContent,"
          " l.getLatLngs ? l.getLatLngs().map(p => [p.lng, p.lat]) : null]); } });"
          " return out; }")


@pytest.fixture(scope="module")
def phones(demo_world, server):  # noqa: F811
    """Ten minutes of the demo's phones sent to the running app, and where one of them is."""
    from geo_patrol.demo.replay import send
    from geo_patrol.services.demo import live_replay

    requests = live_replay(demo_world["engine"], speed=120.0, minutes=10)
    # in a thread of its own: the browser's event loop may be running in this one
    thread = threading.Thread(target=send, args=(f"{server}/osmand", requests),
                              kwargs={"concurrency": 8}, daemon=True)
    thread.start()
    thread.join(300)
    with demo_world["engine"].connect() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT lon, lat FROM live_positions ORDER BY t DESC LIMIT 1")).one()
    return lon, lat


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_call_out_marks_its_incident_and_the_lines_to_those_called(page, server, phones,
                                                                      lang):
    lon, lat = phones
    sign_in(page, server, "b-command")
    page.goto(f"{server}/lang/{lang}?next=/live", wait_until="domcontentloaded")
    form = page.locator("#callout")
    # the place pasted from a GPS into the form's search box (no number fields)
    form.locator(".picker-query").fill(f"{lon + 0.0008:.6f}, {lat:.6f}")
    form.locator(".picker-answer").first.click()
    form.locator("input[name=count]").fill("3")
    form.locator("button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/live\?callout=\d+"), timeout=30_000)
    called = page.locator("#callout-targets tbody tr").count()
    assert called >= 1
    frame = map_frame(page, r".*/maps/live\?callout=\d+")
    frame.wait_for_function("() => window.L && Object.values(window).some(v => v instanceof "
                            "L.Map)", timeout=30_000)
    layers = frame.evaluate(LAYERS)
    incident = [x for x in layers if x[0] == "gp-incident"]
    lines = [x for x in layers if x[0] == "gp-callout-line"]
    assert len(incident) == 1
    assert len(lines) == called
    unit = "米" if lang == "zh" else " m"
    eta = "分钟" if lang == "zh" else "min"
    for _, tip, points in lines:
        assert unit in tip and eta in tip and re.search(r"BT\d{5}", tip), tip
        # each line ends at the incident
        assert abs(points[-1][0] - (lon + 0.0008)) < 1e-5 and abs(points[-1][1] - lat) < 1e-5
    # the incident is named by its street and cross streets, on the map
    tooltip = frame.locator(".leaflet-tooltip").first.inner_text()
    assert ("（" in tooltip) if lang == "zh" else ("(" in tooltip), tooltip
    page.wait_for_timeout(800)
    shot(page, f"callout-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_task_map_marks_its_site_and_opens_amap_or_baidu_there(page, server, demo_world,
                                                                 lang):
    import datetime as dt
    from urllib.parse import parse_qs, urlparse

    import numpy as np

    from geo_patrol.crs import wgs84_to_bd09, wgs84_to_gcj02
    from geo_patrol.services import tasks
    from tests.helpers import make_user

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        hazard, number, lon, lat = conn.execute(sa.text(
            "SELECT h.id, v.number, ST_X(h.geom), ST_Y(h.geom) FROM hazards h "
            "JOIN volunteers v ON v.community_id = h.community_id "
            "WHERE NOT h.proposed ORDER BY h.id, v.id LIMIT 1")).one()
    # one task a slot for a hazard: each language's test takes its own slot
    task = tasks.make_task(engine, settings, hazard_id=hazard,
                           day=dt.date.today() + dt.timedelta(days=2),
                           slot="morning" if lang == "zh" else "evening", by="test",
                           number=number)
    user = f"b-vol-{lang}"
    make_user(engine, user, "volunteer", volunteer=number)
    sign_in(page, server, user)
    page.set_viewport_size({"width": 360, "height": 740})  # the volunteer's phone
    page.goto(f"{server}/lang/{lang}?next=/maps/task/{task}", wait_until="networkidle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    assert page.locator(".gp-stop-number").all_inner_texts() == ["1"]
    amap = urlparse(page.locator("a.gp-navigate-amap").get_attribute("href"))
    baidu = urlparse(page.locator("a.gp-navigate-baidu").get_attribute("href"))
    assert amap.hostname == "uri.amap.com" and baidu.hostname == "api.map.baidu.com"
    (gx,), (gy,) = wgs84_to_gcj02(np.array([lon]), np.array([lat]))
    (bx,), (by,) = wgs84_to_bd09(np.array([lon]), np.array([lat]))
    x, y = map(float, parse_qs(amap.query)["position"][0].split(","))
    assert abs(x - gx) < 2e-6 and abs(y - gy) < 2e-6 and abs(x - lon) > 1e-3
    y, x = map(float, parse_qs(baidu.query)["location"][0].split(","))
    assert abs(x - bx) < 2e-6 and abs(y - by) < 2e-6
    site = page.locator(".gp-navigate b").inner_text()
    assert ("（" in site) if lang == "zh" else ("(" in site), site
    scale = page.locator(".leaflet-control-scale-line").all_inner_texts()
    assert len(scale) == 1 and re.search(r"\d+ (m|km)$", scale[0]), scale
    page.wait_for_timeout(800)
    shot(page, f"task-map-{lang}")
