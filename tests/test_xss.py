"""Stored script, as an attacker would plant it: every text a user can set carries a payload;
every page, map document and briefing that shows it is opened in headless Chromium with every
payload-bearing marker, area and street hovered and clicked; any dialog, any payload that ran
(``window.__xss``) or any script the Content-Security-Policy had to block fails the test."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import sqlalchemy as sa

from tests.browsing import browser, page, server, shot, sign_in  # noqa: F401  (fixtures)
from tests.helpers import make_user

pytestmark = pytest.mark.browser
PAYLOADS = [
    '<img src=x onerror="window.__xss=1;alert(1)">',
    '"><svg onload="window.__xss=2;alert(2)">',
    "javascript:window.__xss=3",
    '<a href="javascript:window.__xss=4" id="xss-link">link</a>',
    "{{7*7}} ${7*7} <%= 7*7 %>",
    "</script><script>window.__xss=6;alert(6)</script>",
    '<iframe srcdoc="<script>parent.__xss=7</script>"></iframe>',
    "<details open ontoggle=\"window.__xss=8\">x</details>",
]
#: what a user can set, and where it is shown
FIELDS = ("hazard name", "proposed hazard name", "community name", "street name",
          "report text", "report category", "volunteer name", "upload file name",
          "incident category")


@pytest.fixture(scope="module")
def planted(demo_world, server):
    """Every payload in every field, then the period analysed again."""
    from geo_patrol.access import Principal, Role
    from geo_patrol.services import scope
    from geo_patrol.services.analysis import analyze
    from geo_patrol.services.demo import last_days

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        communities = conn.execute(sa.text(
            "SELECT a.id FROM areas a JOIN street_segments s ON s.area_id = a.id "
            "WHERE a.level = 'community' GROUP BY a.id ORDER BY count(*) DESC LIMIT :n"),
            {"n": len(PAYLOADS)}).scalars().all()
        target = communities[0]
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE id = :a"), {"a": target}).one()
        district = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'district' AND :a IN (SELECT area_subtree(id))"),
            {"a": target}).scalar_one()
        volunteer = conn.execute(sa.text(
            "SELECT id, number FROM volunteers WHERE community_id = :a ORDER BY id LIMIT 1"),
            {"a": target}).one()
        community_name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :a"),
                                      {"a": target}).scalar_one()
    make_user(engine, "x-command", "command")
    make_user(engine, "x-officer", "officer", areas=[community_name])
    make_user(engine, "x-volunteer", "volunteer", volunteer=volunteer.number)
    command = Principal(id=0, username="x-command", role=Role.COMMAND)
    officer = Principal(id=0, username="x-officer", role=Role.OFFICER,
                        area_ids=frozenset([target]), community_ids=frozenset([target]))
    me = Principal(id=0, username="x-volunteer", role=Role.VOLUNTEER,
                   volunteer_id=volunteer.id, area_ids=frozenset(), community_ids=frozenset())
    for i, payload in enumerate(PAYLOADS):
        x, y = lon + 0.0004 * (i - 4), lat + 0.0002 * (i % 3)
        scope.record_hazard(engine, settings, command, category="school", name=payload,
                            lon=x, lat=y)
        scope.record_hazard(engine, settings, officer, category="gas_lpg",
                            name="P" + payload, lon=x, lat=y)
        scope.send_report(engine, settings, me, category="school", text="R" + payload,
                          lon=x, lat=y)
    with engine.begin() as conn:
        for payload, community in zip(PAYLOADS, communities):
            conn.execute(sa.text("UPDATE areas SET name = :n WHERE id = :a"),
                         {"n": "C" + payload, "a": community})
        segs = conn.execute(sa.text("SELECT id FROM street_segments WHERE area_id = :a "
                                    "ORDER BY id LIMIT :n"),
                            {"a": target, "n": len(PAYLOADS)}).scalars().all()
        for payload, seg in zip(PAYLOADS, segs):
            conn.execute(sa.text("UPDATE street_segments SET name = :n WHERE id = :s"),
                         {"n": "S" + payload, "s": seg})
        reports = conn.execute(sa.text("SELECT id FROM reports ORDER BY id LIMIT :n"),
                               {"n": len(PAYLOADS)}).scalars().all()
        for payload, rid in zip(PAYLOADS, reports):
            conn.execute(sa.text("UPDATE reports SET category = :c WHERE id = :r"),
                         {"c": payload[:32], "r": rid})  # the column holds 32 characters
        conn.execute(sa.text("UPDATE volunteers SET name = :n WHERE id = :v"),
                     {"n": PAYLOADS[0], "v": volunteer.id})
        uploads = conn.execute(sa.text("SELECT id FROM uploads ORDER BY id LIMIT :n"),
                               {"n": len(PAYLOADS)}).scalars().all()
        for payload, uid in zip(PAYLOADS, uploads):
            conn.execute(sa.text("UPDATE uploads SET filename = :f WHERE id = :u"),
                         {"f": "F" + payload + ".csv", "u": uid})
        incidents = conn.execute(sa.text("SELECT id FROM incidents ORDER BY id LIMIT :n"),
                                 {"n": len(PAYLOADS)}).scalars().all()
        for payload, iid in zip(PAYLOADS, incidents):
            conn.execute(sa.text("UPDATE incidents SET category = :c WHERE id = :i"),
                         {"c": payload, "i": iid})
    run = analyze(engine, *last_days(dt.date(2026, 11, 28), 2), settings=settings)
    return {"community": target, "district": district, "run": run.run_id,
            "communities": communities}


_TARGETS = """() => {
  const out = [];
  for (const m of Object.values(window).filter(v => v instanceof L.Map)) {
    const box = m.getContainer().getBoundingClientRect();
    m.eachLayer(l => {
      // a click on a community opens its page: keep this document for the next features
      if (l.feature && l.feature.properties) { l.feature.properties.href = null; }
      if (!l.feature || !JSON.stringify(l.feature.properties || {}).match(/&lt;|xss|7\\*7/)) return;
      const ll = l.getLatLng ? l.getLatLng() : (l.getBounds ? l.getBounds().getCenter() : null);
      if (!ll) return;
      const p = m.latLngToContainerPoint(ll);
      out.push([p.x + box.left, p.y + box.top, !!l.feature.geometry.type.match(/Polygon/)]);
    });
  }
  return out;
}"""


def _poke(page, *, expect: bool = True) -> list[str]:  # noqa: ANN001
    """Hover and click every payload-bearing feature of the map documents of ``page``; the
    texts of the tooltips and popups that opened."""
    page.wait_for_function("() => typeof L === 'object'", timeout=30_000)
    targets = page.evaluate(_TARGETS)
    shown: list[str] = []
    for x, y, _area in sorted(targets, key=lambda t: t[2]):  # areas (under the rest) last
        page.mouse.move(x, y)
        page.mouse.click(x, y)
        shown += page.locator(".leaflet-popup-content, .leaflet-tooltip").all_inner_texts()
    assert targets or not expect, "no payload-bearing feature on the map"
    return shown


def _no_script_ran(page, dialogs: list) -> None:  # noqa: ANN001
    for frame in page.frames:
        assert frame.evaluate("window.__xss === undefined"), frame.url
    assert dialogs == []


def test_payloads_stay_text_on_every_page_and_map(page, server, planted):  # noqa: F811
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, server, "x-command")
    c, d, run = planted["community"], planted["district"], planted["run"]
    opened = 0
    for path in (f"/dashboard?run={run}&district={d}", f"/community/{c}?run={run}",
                 "/hazards", "/reports", "/volunteers", "/uploads", "/audit",
                 f"/planner?area={c}&zones=2&minutes=30"):
        page.goto(server + path, wait_until="networkidle")
        text = page.locator("body").inner_text()
        if path.startswith(("/hazards", "/community", "/reports", "/uploads")):
            assert "{{7*7}}" in text and "<img src=x" in text, path  # shown as typed
        _no_script_ran(page, dialogs)
        opened += 1
    poked = 0
    for path in (f"/maps/community/{c}?run={run}", f"/maps/district/{d}?run={run}"):
        page.goto(server + path, wait_until="networkidle")
        shown = _poke(page)
        poked += len(shown)
        popups = " ".join(shown)
        assert "<img src=x" in popups or "<svg onload" in popups or "{{7*7}}" in popups, path
        _no_script_ran(page, dialogs)
    assert poked >= len(PAYLOADS)
    shot(page, "xss-map")
    print(f"xss: {len(PAYLOADS)} payloads x {len(FIELDS)} fields; {opened} pages and 2 map "
          f"documents opened as the command, {poked} tooltips/popups opened; 0 scripts ran")


def test_payloads_stay_text_for_the_officer_and_volunteer(browser, server, planted):  # noqa: F811
    for user, path in (("x-officer", "/hazards"), ("x-volunteer", "/me")):
        context = browser.new_context()
        pg = context.new_page()
        dialogs: list[str] = []
        pg.on("dialog", lambda dg: (dialogs.append(dg.message), dg.dismiss()))
        errors: list[str] = []
        pg.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        pg.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400
              else None)
        try:
            sign_in(pg, server, user)
            pg.goto(server + path, wait_until="networkidle")
            assert "{{7*7}}" in pg.locator("body").inner_text()
            _no_script_ran(pg, dialogs)
            assert errors == [], errors
        finally:
            context.close()


def test_payloads_stay_text_in_the_briefings(page, demo_world, planted, tmp_path):  # noqa: F811
    from geo_patrol.planning.plan import PlanParams
    from geo_patrol.render.plan import plan_briefing_html
    from geo_patrol.services.maps import export_briefing
    from geo_patrol.services.planning import plan_area
    from geo_patrol.store.areas import find_area
    from geo_patrol.store.results import find_run

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    with demo_world["engine"].connect() as conn:
        path = export_briefing(conn, planted["run"], planted["district"],
                               tmp_path / "briefing.html", demo_world["settings"],
                               figures=False)
        plan = plan_area(conn, find_run(conn, planted["run"]),
                         find_area(conn, planted["community"]), PlanParams(zones=2, minutes=30),
                         settings=demo_world["settings"])
    plan_path = tmp_path / "plan.html"
    plan_path.write_text(plan_briefing_html(plan, tz="Asia/Shanghai"), encoding="utf-8")
    for doc, expect in ((path, True), (plan_path, False)):  # a plan's map shows no user text
        page.goto(doc.as_uri(), wait_until="load")
        _poke(page, expect=expect)
        _no_script_ran(page, dialogs)
    page.goto(path.as_uri(), wait_until="load")
    assert "C<img src=x" in page.locator("body").inner_text()  # the community table


def test_the_csv_export_escapes_formulas_and_markup_stays_data(demo_world, planted):
    from geo_patrol.services.exports import export_layer

    with demo_world["engine"].connect() as conn:
        data, _ = export_layer(conn, planted["run"], "hazards", "csv", tz="Asia/Shanghai")
        geojson, _ = export_layer(conn, planted["run"], "hazards", "geojson",
                                    tz="Asia/Shanghai")
    text = data.decode("utf-8-sig")
    assert PAYLOADS[0].replace('"', '""') in text  # data, quoted as CSV
    names = {f["properties"]["name"] for f in json.loads(geojson)["features"]}
    assert set(PAYLOADS) <= names  # exports carry the text as it was typed


#: A volunteer's report text, triaged into a hazard by the command: the hazard's name.
MARKUP = ('QQmark<a href="//evil.example/" id="gp-planted-a">x</a>'
          '<b id="gp-planted-b">b</b>')


def test_the_maps_search_shows_a_hazard_named_with_markup_as_text(page, demo_world, server,
                                                                   planted):  # noqa: F811
    """The search box of a map lists the hazard and marks the place chosen with its name as
    typed, markup and all; no element is made of it (Leaflet takes a string as HTML)."""
    from geo_patrol.access import Principal, Role
    from geo_patrol.services import scope
    from geo_patrol.services.reports import triage

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE id = :a"), {"a": planted["community"]}).one()
        volunteer = conn.execute(sa.text(
            "SELECT v.id FROM volunteers v JOIN users u ON u.volunteer_id = v.id "
            "WHERE u.username = 'x-volunteer'")).scalar_one()
    me = Principal(id=0, username="x-volunteer", role=Role.VOLUNTEER, volunteer_id=volunteer,
                   area_ids=frozenset(), community_ids=frozenset())
    report = scope.send_report(engine, settings, me, category="school", text=MARKUP,
                               lon=lon, lat=lat)
    command = Principal(id=0, username="x-command", role=Role.COMMAND)
    triage(engine, settings, command, report, action="hazard", hazard_category="school")
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(page, server, "x-command")
    page.goto(f"{server}/maps/community/{planted['community']}?run={planted['run']}",
              wait_until="networkidle")
    box = page.locator(".gp-search-input")
    box.wait_for(timeout=20_000)
    box.fill("QQmark")
    hit = page.locator(".gp-search-result[data-kind=hazard]").first
    hit.wait_for(timeout=10_000)
    assert hit.inner_text().startswith(MARKUP), hit.inner_text()
    hit.click()
    tip = page.locator(".leaflet-tooltip", has_text="QQmark")
    tip.wait_for(timeout=5_000)
    assert tip.inner_text().startswith(MARKUP), tip.inner_text()  # the markup, as text
    made = page.evaluate("() => document.querySelectorAll("
                         "'#gp-planted-a, #gp-planted-b, a[href*=\"evil.example\"]').length")
    assert made == 0
    _no_script_ran(page, dialogs)
    shot(page, "xss-search-tooltip")
