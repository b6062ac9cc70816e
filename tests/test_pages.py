"""Every page as a person sees it, in Chinese and in English: titles, headings, labels, legends
and figures, no failed request, no English words on a Chinese page. Screenshots of each page
in both languages go to ``test-artifacts/``."""

from __future__ import annotations

import datetime as dt
import re
import time

import pytest
from playwright.sync_api import Error as PlaywrightError
import sqlalchemy as sa

from geo_patrol.analysis.places import place_texts

from tests.browsing import browser, map_frame, page, server, settle, shot, sign_in  # noqa: F401  (fixtures)
from tests.helpers import make_user

pytestmark = pytest.mark.browser
#: English words a Chinese page may show: the product's name, units, formats, CRS names.
ALLOWED_LATIN = {"geo", "patrol", "English", "km", "GeoJSON", "geojson", "gpkg", "csv", "CRS",
                 "wgs", "gcj", "bd", "EPSG", "WGS", "min", "Asia", "Shanghai", "GPX", "gpx",
                 "CSV", "XLSX", "SOS",
                 "Leaflet", "OpenStreetMap"}  # (names, in a map's credit)


@pytest.fixture(scope="module")
def people(demo_world, server):
    """One account per role; the officer and the volunteer belong to the busiest community."""
    engine = demo_world["engine"]
    with engine.connect() as conn:
        community, name = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a JOIN volunteers v ON v.community_id = a.id "
            "WHERE a.level = 'community' GROUP BY a.id ORDER BY count(*) DESC LIMIT 1")).one()
        volunteer = conn.execute(sa.text(
            "SELECT v.number FROM volunteers v JOIN reports r ON r.volunteer_id = v.id "
            "GROUP BY v.number ORDER BY count(*) DESC LIMIT 1")).scalar_one()
        district = conn.execute(sa.text(
            "SELECT d.id FROM areas d WHERE d.level = 'district' "
            "AND :c IN (SELECT area_subtree(d.id))"), {"c": community}).scalar_one()
    make_user(engine, "p-officer", "officer", areas=[name])
    make_user(engine, "p-planner", "planner")
    make_user(engine, "p-volunteer", "volunteer", volunteer=volunteer)
    return {"community": community, "community_name": name, "district": district,
            "volunteer": volunteer}


def _in(page, server: str, lang: str, path: str) -> None:  # noqa: ANN001
    from urllib.parse import quote

    page.goto(f"{server}/lang/{lang}?next={quote(path, safe='/')}", wait_until="networkidle")
    settle(page)  # a page of stored results shows the progress of the job making them first


def _latin_words(text: str) -> set[str]:
    text = re.sub(r"\b[A-Z]{1,4}\d+\b", "", text)  # roster numbers (BT00012) and codes
    text = re.sub(r"\b[a-z]+-[a-z]+\b", "", text)  # usernames (p-officer)
    text = re.sub(r"[\w.-]+\.(geojson|gpx|csv|xlsx|osm|bz2|pbf|gpkg|zip|json)\b", "", text)
    return {w for w in re.findall(r"[A-Za-z]{2,}", text) if w not in ALLOWED_LATIN}


def _check_chinese(page) -> None:  # noqa: ANN001
    text = page.locator("body").inner_text()
    if page.locator("#whoami").count():  # the account's own (Latin) username
        username = page.locator("#whoami").inner_text().split(" (")[0]
        text = text.replace(username, "")
    assert _latin_words(text) == set(), _latin_words(text)


def _map_legend(page, frame_id: str) -> str:  # noqa: ANN001
    frame = page.frame_locator(f"#{frame_id}")
    frame.locator(".gp-legend").wait_for(timeout=30_000)
    toggle = frame.locator(".leaflet-control-layers-toggle")
    image = toggle.evaluate("e => getComputedStyle(e).backgroundImage")
    assert "layers" in image, image  # the layer control's icon (served from /vendor/images)
    return frame.locator(".gp-legend").inner_text()


WORDS = {
    "zh": {"dashboard": "分局指挥看板", "community": "社区", "coverage": "覆盖率",
           "legend": "距上次巡逻（天）", "hazards": "隐患点", "never": "期内未巡逻",
           "gap": "盲区", "verification": "待核实队列", "volunteers": "义警名册",
           "uploads": "数据上传", "planner": "勤务规划", "zones": "责任区数", "force": "可用警力",
           "audit": "审计日志", "me": "我的档案", "locate": "使用我的位置",
           "slot": "早间 6–10 时", "role": "分局指挥", "sign_in": "登录",
           "workload": "工作量（折合公里）", "workload_how": "片区内街道公里数", "points": " 分"},
    "en": {"dashboard": "District dashboard", "community": "Community", "coverage": "Coverage",
           "legend": "Days since last patrol", "hazards": "Hazards", "never": "Not patrolled",
           "gap": "Gap", "verification": "Verification queue", "volunteers": "Volunteers",
           "uploads": "Uploads", "planner": "Planner", "zones": "Zones", "force": "The force",
           "audit": "Audit log", "me": "My record", "locate": "Use my position",
           "slot": "Morning 6–10", "role": "District command", "sign_in": "Sign in",
           "workload": "Workload (km equivalent)", "workload_how": "Street km in the zone",
           "points": " points"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_command_pages(page, server, people, demo_world, lang):  # noqa: F811
    w = WORDS[lang]
    _in(page, server, lang, "/login")
    assert page.title() == f"{w['sign_in']} · geo-patrol"
    shot(page, f"login-{lang}")
    sign_in(page, server, "b-command")
    assert w["role"] in page.locator("#whoami").inner_text()

    _in(page, server, lang, "/dashboard")
    assert page.title() == f"{w['dashboard']} · geo-patrol"
    headers = page.locator("#ranking thead th").all_inner_texts()
    assert headers[:2] == [w["community"], w["coverage"]]
    rows = page.locator("#ranking tbody tr")
    assert rows.count() > 0 and re.fullmatch(r"\d+\.\d%", rows.first.locator("td").nth(1)
                                              .inner_text())
    legend = _map_legend(page, "district-map")
    assert w["legend"] in legend and w["hazards"] in legend and w["never"] in legend
    # the streets of the vector tiles are drawn in the legend's recency colours
    from geo_patrol.render.maps import RECENCY_COLOURS

    frame = map_frame(page, r".*/maps/district/.*")
    # below z14 a tile draws one path per recency bin, each made of many streets (a move-to
    # each): more than a hundred streets in all
    frame.wait_for_function("() => Array.from(document.querySelectorAll('.leaflet-tile path'))"
                            ".reduce((n, p) => n + (p.getAttribute('d') || '').split('M')"
                            ".length - 1, 0) > 100", timeout=30_000)
    strokes = frame.evaluate("Array.from(document.querySelectorAll('.leaflet-tile path'))"
                             ".map(p => p.getAttribute('stroke'))")
    assert set(strokes) <= set(RECENCY_COLOURS.values()), set(strokes)
    assert len(set(strokes)) >= 2
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"dashboard-{lang}")

    _in(page, server, lang, f"/community/{people['community']}")
    name = people["community_name"]
    assert page.title() == f"{name} · geo-patrol"
    assert page.locator("h2").first.inner_text().startswith(name)
    assert page.locator("#gaps thead th").first.inner_text() == w["gap"]
    legend = _map_legend(page, "community-map")
    assert w["legend"] in legend
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"community-{lang}")

    for path, key, table in (("/hazards", "hazards", "#hazards"),
                             ("/reports", "verification", "#reports"),
                             ("/volunteers", "volunteers", "#volunteers"),
                             ("/uploads", "uploads", "#uploads"),
                             ("/audit", "audit", "#audit")):
        _in(page, server, lang, path)
        assert w[key] in page.locator("body").inner_text(), path
        assert page.locator(f"{table} tbody tr").count() > 0, path
        if path == "/reports":  # rewards in whole points, with their unit
            rewards = page.locator("#ledger tbody td:last-child").all_inner_texts()
            assert rewards and all(re.fullmatch(rf"\d+{w['points']}", r) for r in rewards), \
                rewards
        if lang == "zh":
            _check_chinese(page)
        shot(page, f"{path.strip('/')}-{lang}")

    _in(page, server, lang, f"/planner?area={people['district']}&zones=3&minutes=60")
    deadline = time.monotonic() + 120  # the job's page reloads with the plan
    while time.monotonic() < deadline:
        try:
            if page.title() == f"{w['planner']} · geo-patrol":
                break
        except PlaywrightError:  # the page reloading under the question
            pass
        page.wait_for_timeout(250)
    page.wait_for_load_state("networkidle")
    assert page.title() == f"{w['planner']} · geo-patrol"
    assert w["zones"] in page.locator("#plan-form").inner_text()
    page.locator("#zones tbody tr").first.wait_for(timeout=60_000)
    assert w["slot"] in page.locator("#crew").inner_text()
    # the zones' workload with its unit; what goes into it on hover
    workload = page.locator("#zones thead th").nth(2)
    assert workload.inner_text() == w["workload"]
    assert w["workload_how"] in workload.locator(".tech").get_attribute("title")
    # the force the rota is sized to, per community and slot, as the service counts it
    from geo_patrol.planning.crew import SLOTS
    from geo_patrol.planning.force import weekly
    from geo_patrol.services.planning import force

    week = weekly(force(demo_world["engine"], demo_world["settings"],
                        area_id=people["district"]), SLOTS)
    assert w["force"] in page.locator("#force-heading").inner_text()
    assert page.locator("#force tbody tr").count() == len(week)
    first = page.locator("#force tbody tr").first.locator("td").all_inner_texts()
    assert first[0] == week.iloc[0]["community"] and first[-1] == f"{week.iloc[0]['total']:.1f}"
    _map_legend(page, "plan-map")
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"planner-{lang}")


TRAINING_WORDS = {
    "zh": {"title": "培训", "heading": "培训与技能认证", "shares": "各社区培训覆盖率",
           "community": "社区", "current": "有效", "expiring": "即将到期", "batch": "下一批轮训",
           "summary": "名义警待训", "untrained": "未培训", "teams": "专业化义警小组",
           "declared": "自报技能", "certified": "认证技能", "team": "应急救护小组",
           "rows": "第 {a}–{b} 行，共 {n} 行", "page": "第 {n} 页，共 {m} 页"},
    "en": {"title": "Training", "heading": "Training and certified skills",
           "shares": "Share trained per community", "community": "Community",
           "current": "Current", "expiring": "Expiring", "batch": "Next batch",
           "summary": "volunteers due in", "untrained": "Untrained", "teams": "Specialised teams",
           "declared": "Declared skills", "certified": "Certified skills",
           "team": "First aid team", "rows": "Rows {a}–{b} of {n}", "page": "Page {n} of {m}"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_training_page(page, server, people, demo_world, lang):  # noqa: F811
    from geo_patrol.services import training

    w = TRAINING_WORDS[lang]
    sign_in(page, server, "b-command")
    _in(page, server, lang, "/training")
    assert page.title() == f"{w['title']} · geo-patrol"
    assert page.locator("h2").inner_text() == w["heading"]
    assert w["shares"] in page.locator("body").inner_text()
    assert page.locator("#shares thead th").first.inner_text() == w["community"]
    # the share trained per community, as the service computes it
    expected = training.community_share(training.status(demo_world["engine"],
                                                        demo_world["settings"]))
    rows = page.locator("#shares tbody tr")
    assert rows.count() == len(expected) > 5
    first = rows.first.locator("td").all_inner_texts()
    want = expected.iloc[0]
    assert first[0] == want["community"] and int(first[1]) == want["current"]
    assert first[3].strip() == f"{100 * want['share_current']:.1f}%"
    status_head = page.locator("#status thead").inner_text()
    assert w["current"] in status_head and w["expiring"] in status_head
    assert page.locator("#sessions tbody tr").count() >= 7  # a year of sessions, every course
    # one community's courses, chosen from the filter (it submits itself)
    page.select_option("#status-filter select[name=community]", want["community"])
    page.wait_for_url("**community=**")
    page.wait_for_load_state("networkidle")
    shown = set(page.locator("#status tbody tr td:first-child").all_inner_texts())
    assert shown == {want["community"]}
    # the next batch of the induction course, rooms of 20
    page.select_option("#batch-form select[name=course]", "义警岗前培训")
    page.fill("#batch-form input[name=size]", "20")
    page.click("#batch-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert w["summary"] in page.locator("#batch-summary").inner_text()
    batch_rows = page.locator("#batches tbody tr")
    assert batch_rows.count() > 0
    assert w["untrained"] in page.locator("#batches").inner_text()
    # the proposal (218 volunteers) pages on the server as the other tables do, its page
    # apart from the status table's
    proposed = training.batches(demo_world["engine"], demo_world["settings"], "义警岗前培训",
                                size=20)
    pages, statuses = -(-len(proposed) // 50), -(-len(training.status(
        demo_world["engine"], demo_world["settings"])) // 50)
    assert len(proposed) > 50 and batch_rows.count() == 50
    assert page.locator("#batch-pager .count").inner_text() == w["rows"].format(
        a=1, b=50, n=len(proposed))
    assert page.locator("#batch-pager .at").inner_text() == w["page"].format(n=1, m=pages)
    page.click("#batch-pager a[rel=next]")
    page.wait_for_url("**batch_page=2**")
    page.wait_for_load_state("networkidle")
    assert page.locator("#batch-pager .at").inner_text() == w["page"].format(n=2, m=pages)
    assert page.locator("#batch-pager .count").inner_text() == w["rows"].format(
        a=51, b=min(100, len(proposed)), n=len(proposed))
    second = page.locator("#batches tbody tr")
    assert second.count() == min(50, len(proposed) - 50)
    cells, want = second.first.locator("td").all_inner_texts(), proposed.iloc[50]
    assert cells[0] == str(want["batch"]) and cells[4].startswith(want["number"])
    assert page.locator("#status-pager .at").inner_text() == w["page"].format(n=1, m=statuses)
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"training-{lang}")

    _in(page, server, lang, "/volunteers")
    head = page.locator("#volunteers thead").inner_text()
    assert w["declared"] in head and w["certified"] in head
    assert w["teams"] in page.locator("body").inner_text()
    assert w["team"] in page.locator("#teams").inner_text()
    assert page.locator("#teams tbody tr").count() > 3


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_volunteer_page_on_a_phone(browser, server, people, lang):  # noqa: F811
    context = browser.new_context(viewport={"width": 360, "height": 780}, locale="zh-CN",
                                  geolocation={"latitude": 40.6505, "longitude": 109.8427},
                                  permissions=["geolocation"], is_mobile=True)
    pg = context.new_page()
    try:
        sign_in(pg, server, "p-volunteer")
        pg.goto(f"{server}/lang/{lang}?next=/me", wait_until="networkidle")
        w = WORDS[lang]
        assert pg.title() == f"{w['me']} · geo-patrol"
        assert pg.locator("h2").inner_text().startswith(people["volunteer"])
        locate = pg.locator("#locate")
        assert locate.is_visible() and locate.inner_text() == w["locate"]
        assert locate.bounding_box()["height"] >= 44  # a target for a thumb
        locate.click()
        pg.wait_for_function(
            "() => document.querySelector('#report input[name=lat]').value !== ''")
        assert pg.input_value("#report input[name=lat]") == "40.650500"
        assert pg.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scroll
        assert pg.locator("#my-certificates thead").inner_text().split()[0] == \
            {"zh": "技能", "en": "Skill"}[lang]
        if lang == "zh":
            _check_chinese(pg)
        shot(pg, f"me-phone-{lang}")
    finally:
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_briefing_in_both_languages(page, demo_world, tmp_path, lang):  # noqa: F811
    from geo_patrol.services.maps import export_briefing
    from geo_patrol.store.results import busiest_district

    with demo_world["engine"].connect() as conn:
        district = busiest_district(conn, demo_world["run"].run_id)
        path = export_briefing(conn, demo_world["run"].run_id, district,
                               tmp_path / f"briefing-{lang}.html",
                               demo_world["settings"], lang=lang, figures=False)
    page.goto(path.as_uri(), wait_until="load")
    title = {"zh": "巡逻覆盖简报", "en": "Patrol coverage briefing"}[lang]
    assert title in page.locator("h1").inner_text()
    assert WORDS[lang]["legend"] in page.locator(".gp-legend").inner_text()
    assert page.locator("table.gp tbody tr").count() > 0
    shot(page, f"briefing-{lang}")


CRIME_WORDS = {
    "zh": {"title": "警情研判", "concentration": "警情集中在哪里", "hottest": "最热的 5%",
           "class": "侵财类", "legend": "热点街段", "density": "警情密度", "alert": "近重复预警区",
           "risk": "近重复风险：警情发生后 7 天内、", "method": "以往热点街段", "verdict": "好于简单的选法",
           "tile": "侵财警情", "hours": "周一", "tile_alerts": "有效近重复预警区",
           "not_chance": "不是偶然", "knox_words": "打乱日期"},
    "en": {"title": "Crime patterns", "concentration": "Where it concentrates",
           "hottest": "hottest 5%", "class": "Property crime", "legend": "Hot spot",
           "density": "Incident density", "alert": "Near-repeat alert",
           "risk": "Near-repeat risk: within ", "method": "Past hot spots",
           "verdict": "better than the simple ways of choosing", "tile": "Property crime",
           "hours": "Mon",
           "tile_alerts": "near-repeat alert areas open", "not_chance": "not chance",
           "knox_words": "dates shuffled"},
}


@pytest.fixture(scope="module")
def analyst(demo_world):
    """A command account of its own (sign-ins are rate-limited per account)."""
    return make_user(demo_world["engine"], "p-analyst", "command")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_crime_page(page, server, people, demo_world, analyst, lang,  # noqa: F811
                    on_demo_day):
    from geo_patrol.services import crime

    w = CRIME_WORDS[lang]
    sign_in(page, server, analyst)
    _in(page, server, lang, "/dashboard")
    assert w["tile"] in page.locator("#crime-tile").inner_text()
    assert w["tile_alerts"] in page.locator("#crime-tile").inner_text()
    page.click("#crime-tile a")
    settle(page)
    assert page.title() == f"{w['title']} · geo-patrol"
    assert page.locator("h3").first.inner_text() == w["concentration"]
    from urllib.parse import parse_qs, urlparse

    district = int(parse_qs(urlparse(page.url).query)["area"][0])  # the dashboard's district
    study = crime.Study(area_id=district)
    data = crime.load(demo_world["engine"], demo_world["settings"], study)
    report = crime.hotspots(data)
    summary = page.locator("#crime-summary").inner_text()
    assert str(len(data.incidents)) in summary and w["class"] in summary
    rows = page.locator("#concentration tbody tr")
    assert w["hottest"] in rows.nth(1).inner_text()
    assert rows.nth(1).locator("td").nth(1).inner_text() == \
        f"{100 * report.concentration.at[0.05]:.1f}%"
    assert f"{int(report.spots.hot.sum())}" in page.locator("#hot-count").inner_text()
    # plain words on the page, the statistician's names and figures only on hover
    for where in ("#hot-count", "#hot-segments", "#verdict", "#evaluation", "#evaluation-words"):
        shown = page.locator(where).inner_text()
        assert not any(t in shown for t in ("Gi*", "PAI", "PEI", "permutation", "标准差",
                                            "置换", "基准")), (where, shown)
    assert "Gi*" in page.locator("#hot-count .tech").get_attribute("title")
    assert "PAI" in page.locator("#verdict .tech").get_attribute("title")
    assert "Gi*" in page.locator("#evaluation tbody .tech").first.get_attribute("title")
    assert page.locator("svg.concentration polyline").count() == 2  # the curve, the diagonal
    assert page.locator("#hot-segments tbody tr").count() == min(20, int(report.spots.hot.sum()))
    assert page.locator("#hours tbody tr").count() == 7
    assert page.locator("#hours tbody tr").first.locator("td").first.inner_text() == w["hours"]
    assert w["risk"] in page.locator("#near-repeat").inner_text()
    assert page.locator("#knox .bad").count() >= 1  # the significant band, marked
    # the near-repeat test in plain words; its technical figure only on hover
    knox_text = page.locator("#knox").inner_text() + page.locator("#knox-words").inner_text()
    assert w["not_chance"] in page.locator("#knox .bad").first.inner_text()
    assert w["knox_words"] in knox_text and "Knox" not in knox_text and "p ≤" not in knox_text
    assert "Knox ratio" in page.locator("#knox .bad .tech").first.get_attribute("title")
    assert w["verdict"] in page.locator("#verdict").inner_text()
    assert w["method"] in page.locator("#evaluation").inner_text()
    legend = _map_legend(page, "crime-map")
    for word in ("legend", "density", "alert"):
        assert w[word] in legend, (word, legend)
    drawn = map_frame(page, r".*/maps/crime.*").evaluate(
        "() => Object.keys(window).filter(k => k.startsWith('geo_json_') && "
        "window[k] && typeof window[k].getLayers === 'function')"
        ".map(k => window[k].getLayers().length)")
    # communities, density levels, hot segments, alert circles
    assert len(drawn) == 4 and drawn[2] == int(report.spots.hot.sum() + report.spots.cold.sum())
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"crime-{lang}")


CAMPAIGN_WORDS = {
    "zh": {"title": "专项行动", "heading": "专项行动：隐患清零作战图", "found": "排查发现",
           "never": "从未走访的单位", "chart": "逐日清零进度", "school": "学校",
           "tile": "尚余", "summary": "处从未走访",
           "map": ("图例", "专项行动单位", "未清零，从未走访", "未清零，已走访", "已整改", "已销号",
                   "行动范围"), "popup": ("所在街道", "类别", "最近走访")},
    "en": {"title": "Campaigns", "heading": "Campaigns: hazards cleared to zero",
           "found": "Found", "never": "Units never visited", "chart": "Toward zero, day by day",
           "school": "School", "tile": "still open", "summary": "never visited",
           "map": ("Legend", "Campaign units", "Still open, never visited", "Still open, visited",
                   "Rectified", "Cleared", "Campaign area"),
           "popup": ("Where", "Category", "Last checked")},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_campaign_page(page, server, people, demo_world, analyst, lang):  # noqa: F811
    from geo_patrol.services import campaigns

    w = CAMPAIGN_WORDS[lang]
    sign_in(page, server, analyst)
    _in(page, server, lang, "/campaigns")
    assert page.title() == f"{w['title']} · geo-patrol"
    assert page.locator("h2").inner_text() == w["heading"]
    name = "双清双打-" + {"zh": "甲", "en": "乙"}[lang]
    if not page.locator(f"#campaign-choice option:has-text('{name}')").count():
        page.fill("#new-campaign input[name=name]", name)
        page.fill("#new-campaign input[name=from]", "2026-09-01")
        page.fill("#new-campaign input[name=to]", "2026-12-31")
        page.check(f"#new-campaign input[name=district][value='{people['district']}']")
        for key in ("school", "kindergarten", "gas_lpg"):
            page.check(f"#new-campaign input[name=category][value='{key}']")
        page.click("#new-campaign button[type=submit]")
        settle(page)
    assert name in page.locator("#campaign-summary").inner_text()
    cid = int(page.locator("#campaign-choice select").input_value())
    p = campaigns.progress(demo_world["engine"], demo_world["settings"], cid)
    t = p.totals
    assert w["summary"] in page.locator("#campaign-summary").inner_text()
    assert f"{t['found']}" in page.locator("#campaign-summary").inner_text()
    assert w["found"] in page.locator("#progress thead").inner_text()
    rows = page.locator("#progress tbody tr")
    assert rows.count() == len(p.table) > 0
    assert sum(int(rows.nth(i).locator("td").nth(2).inner_text()) for i in range(rows.count())
               ) == t["found"]
    assert w["school"] in page.locator("#progress").inner_text()
    assert page.locator("svg.burn-down polyline").count() == 3
    assert w["chart"] in page.locator("body").inner_text()
    assert w["never"] in page.locator("body").inner_text()
    assert page.locator("#never-visited tbody tr").count() == min(50, max(1, t["never_visited"]))
    _in(page, server, lang, f"/dashboard?district={people['district']}")
    tile = page.locator(".campaign-tile", has_text=name)
    assert w["tile"] in tile.inner_text() and str(t["open"]) in tile.inner_text()
    _in(page, server, lang, f"/campaigns?id={cid}")
    # its map: the legend in the page's language, and a unit's popup names its place
    legend = _map_legend(page, "campaign-map")
    for word in w["map"]:
        assert word in legend, (word, legend)
    units = campaigns.map_layers(demo_world["engine"], demo_world["settings"], cid).units
    named = {(r.name, place) for r, place in zip(
        units.itertuples(), place_texts(units, lang, length=False)) if r.street}
    frame = map_frame(page, r".*/maps/campaigns/.*")
    spots = frame.evaluate(
        "() => { const m = Object.values(window).find(v => v instanceof L.Map); const out = [];"
        " m.eachLayer(l => { if (l instanceof L.CircleMarker && l.feature) {"
        " const p = m.latLngToContainerPoint(l.getLatLng());"
        " out.push([p.x, p.y]); } }); return out; }")
    assert len(spots) == len(units) > 0
    box = page.locator("#campaign-map").bounding_box()
    # a marker clear of the controls, low enough for its popup to open above it in the frame
    inside = [(x, y) for x, y in spots if 60 < x < box["width"] - 60 and 60 < y < box["height"] - 40
              and not (x < 340 and y > box["height"] - 170)]
    x, y = max(inside, key=lambda p: p[1])
    page.mouse.click(box["x"] + x, box["y"] + y)
    popup = frame.locator(".leaflet-popup-content")
    popup.wait_for(timeout=10_000)
    text = popup.inner_text()
    for word in w["popup"]:
        assert word in text, (word, text)
    assert any(name in text and place in text for name, place in named), text
    page.wait_for_timeout(800)  # the map's move to show the popup, and its tiles
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"campaigns-{lang}")


ROTA_WORDS = {
    "zh": {"heading": "巡逻排班：每天谁走哪条路线", "make": "生成排班", "coverage": "街道覆盖率",
           "hazards": "按规定到期的隐患巡查", "random": "相对完全随机", "week": "每日排班",
           "slot": "时段", "evening": "晚间 18–22 时", "walks": "的巡逻任务", "number": "编号",
           "kind": "任务类型", "how_good": "方案好坏", "worked": "计算用时",
           "force": "次热点驻巡"},
    "en": {"heading": "The rota: who walks what, day by day", "make": "Make the rota",
           "coverage": "Street coverage", "hazards": "Hazard inspections due by rule",
           "random": "of fully random", "week": "Day by day", "slot": "Time slot",
           "evening": "Evening 18–22", "walks": "Walks on", "number": "Number",
           "kind": "Kind", "how_good": "How good the plan is", "worked": "worked out in",
           "force": "hot-spot stops planned"},
}


@pytest.fixture(scope="module")
def rota_maker(demo_world):
    """A command account of its own: it makes rotas and sees who walks them."""
    return make_user(demo_world["engine"], "p-rota", "command")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_rota_on_the_planner(page, server, people, demo_world, rota_maker, lang):  # noqa: F811
    from geo_patrol.services.rota import listing, view

    w = ROTA_WORDS[lang]
    sign_in(page, server, rota_maker)
    area = people["community"]
    _in(page, server, lang, f"/planner?area={area}")
    assert page.locator("#rota").inner_text() == w["heading"]
    form = page.locator("#rota-form")
    assert w["make"] in form.inner_text()
    form.locator("input[name=from]").fill("2026-12-03")
    form.locator("input[name=days]").fill("3")
    form.locator("input[name=revisit_days]").fill("2")
    form.locator("input[name=seed]").fill("5" if lang == "zh" else "6")
    form.locator("button[type=submit]").click()
    # the rota is made by a job: the page shows its progress, then the rota stored
    page.wait_for_url(re.compile(r"[?&]rota=\d+"), timeout=300_000)
    page.locator("#rota-figures").wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    # the page shows the rota just stored, as the service reads it back
    rota_id = int(listing(demo_world["engine"], area_id=area).iloc[0]["id"])
    assert f"rota={rota_id}" in page.url
    stored = view(demo_world["engine"], demo_world["settings"], rota_id, people=True)
    s = stored.summary
    figures = page.locator("#rota-figures").inner_text()
    assert w["coverage"] in figures and w["hazards"] in figures and w["random"] in figures
    assert f"{s['hazard_met']} / {s['hazard_due']}" in figures
    assert f"{100 * s['rota_after']:.1f}%" in figures
    # how good the plan is in plain words; the solver's status and gap only on hover
    assert w["how_good"] in figures and w["worked"] in figures
    assert not any(t in figures for t in ("最优", "Optimal", "MIP", "gap"))
    assert "MIP gap" in page.locator("#rota-figures .tech").last.get_attribute("title")
    # the hot-spot stops of Koper's dose, those the force seen can make and what is missing
    from geo_patrol.render.rota import hotspot_force

    said = hotspot_force(s, lang)
    assert said and w["force"] in said and said in figures
    assert page.locator("#rota-week tbody tr").count() == 3
    first = page.locator("#rota-week tbody tr").first.locator("td").all_inner_texts()
    week = stored.week().iloc[0]
    unit = {"zh": "小时", "en": "hours"}[lang]
    assert first[4].startswith(f"{week['evening_walks']} · {week['evening_hours']:.1f} {unit}")
    legend = _map_legend(page, "rota-map")
    assert w["slot"] in legend and w["evening"] in legend
    # the second day's walks, with who walks them (roster number, masked name)
    page.locator("#rota-days a").nth(1).click()
    page.wait_for_load_state("networkidle")
    day = stored.days()[1]
    assert f"{day}" in page.locator("h4", has_text=w["walks"]).inner_text()
    walks = stored.walks[stored.walks["day"] == day]
    assert page.locator("#rota-walks tbody tr").count() == max(len(walks), 1)
    heads = page.locator("#rota-walks thead th").all_inner_texts()
    assert w["number"] in heads and w["kind"] in heads
    if len(walks.dropna(subset=["number"])):
        assert walks.dropna(subset=["number"]).iloc[0]["number"] in \
            page.locator("#rota-walks").inner_text()
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"rota-{lang}")


TASK_WORDS = {
    "zh": {"near": "附近可认领的任务", "accept": "认领任务", "accepted": "已认领",
           "delivered": "已完成", "points": "我的积分", "kind": "街道巡逻"},
    "en": {"near": "Tasks near me", "accept": "Take this task", "accepted": "Accepted",
           "delivered": "Delivered", "points": "My points", "kind": "Street loop"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_volunteer_takes_a_task_on_a_phone_and_the_track_delivers_it(
        page, server, demo_world, lang):  # noqa: F811
    """At 360 px: a task along the streets a volunteer's demo track walked is offered to
    them; they accept it; checking it against the track delivers it; the points appear."""
    import datetime as dt

    from geo_patrol.services import tasks
    from geo_patrol.store import tasks as store

    engine, settings = demo_world["engine"], demo_world["settings"]
    w = TASK_WORDS[lang]
    rank = 0 if lang == "zh" else 1  # a volunteer of their own per language
    with engine.connect() as conn:
        track = conn.execute(sa.text(
            "SELECT t.volunteer_id, v.number, v.community_id, t.started_at, t.ended_at, "
            "ST_AsText(t.geom) FROM tracks t JOIN volunteers v ON v.id = t.volunteer_id "
            "WHERE t.kind = 'patrol' ORDER BY t.n_fixes DESC OFFSET :k LIMIT 1"),
            {"k": 2 + rank}).one()
        on = [r[0] for r in conn.execute(sa.text(
            "SELECT g.id FROM street_segments g WHERE ST_DWithin(ST_LineInterpolatePoint("
            "ST_LineMerge(g.geom_m), 0.5), (SELECT ST_MakeLine(f.geom_m ORDER BY f.t) FROM "
            "patrol_fixes f WHERE f.volunteer_id = :v AND f.t BETWEEN :a AND :b AND "
            "f.flags = 0), 8) AND g.length_m > 40"),
            {"v": track[0], "a": track[3], "b": track[4]})]
    volunteer, number, community, start, end, wkt = track
    user = make_user(engine, f"p-walker-{lang}", "volunteer", volunteer=number)
    # a task can be taken only while its window is open: this one runs from the demo's
    # walk until an hour from now
    closes = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    with engine.begin() as conn:
        store.create_tasks(conn, [{
            "rota_walk_id": None, "kind": "streets", "community_id": community,
            "day": start.date(), "window_start": start - dt.timedelta(minutes=5),
            "window_end": closes, "minutes": 90.0, "length_m": 2500.0,
            "segment_ids": on, "hazard_ids": [], "hotspot_segment_id": None, "points": 10,
            "offered_to": volunteer, "wkt": wkt}], by="test")
        task_id = conn.execute(sa.text("SELECT max(id) FROM tasks")).scalar_one()
    page.set_viewport_size({"width": 360, "height": 740})
    sign_in(page, server, user)
    # the task's day is in the demo's past: show what is offered from that day on
    from unittest import mock

    with mock.patch.object(type(settings), "today", lambda self, now=None: start.date()):
        _in(page, server, lang, "/me")
    near = page.locator("#tasks-near")
    assert w["near"] in page.locator("body").inner_text() and w["kind"] in near.inner_text()
    accept = near.locator("button[value=accept]").first
    assert accept.inner_text() == w["accept"] and accept.bounding_box()["height"] >= 44
    accept.click()
    page.wait_for_load_state("networkidle")
    assert w["accepted"] in page.locator("#my-tasks").inner_text()
    # work counts from when a task is taken: the demo's walk, in the past, stands for one
    # made after taking it
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE tasks SET accepted_at = :a WHERE id = :t"),
                     {"a": start - dt.timedelta(minutes=5), "t": task_id})
    done = tasks.check(engine, settings, now=closes + dt.timedelta(minutes=1))
    assert [c.state for c in done if c.volunteer_id == volunteer] == ["delivered"]
    _in(page, server, lang, "/me")
    assert w["delivered"] in page.locator("#my-tasks").inner_text()
    assert page.locator("#my-points").inner_text().endswith("10")
    assert w["points"] in page.locator("#my-points").inner_text()
    page.locator("#my-tasks a").first.click()  # the route on a map
    page.wait_for_load_state("networkidle")
    legend = page.locator(".gp-legend")
    assert legend.get_attribute("open") is None  # closed on a phone's map, until tapped
    legend.locator("summary").click()
    assert legend.inner_text().count("\n") >= 2
    page.go_back()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"me-tasks-{lang}")


TASKS_PAGE_WORDS = {
    "zh": {"title": "巡逻任务", "heading": "巡逻任务：计划与实际完成", "dose": "计划分钟",
           "commend": "表彰", "delivered": "已完成"},
    "en": {"title": "Tasks", "heading": "Patrol tasks: planned and delivered",
           "dose": "Planned minutes", "commend": "Commendations", "delivered": "Delivered"},
}


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_tasks_page_shows_planned_against_delivered(page, server, demo_world, rota_maker,
                                                        lang):  # noqa: F811
    from geo_patrol.services import tasks

    w = TASKS_PAGE_WORDS[lang]
    today = demo_world["settings"].today()
    dose = tasks.dose(demo_world["engine"], within=None, since=today - dt.timedelta(weeks=4),
                      until=today + dt.timedelta(weeks=2))
    sign_in(page, server, rota_maker)
    _in(page, server, lang, "/tasks")
    assert page.title() == f"{w['title']} · geo-patrol"
    assert page.locator("#tasks-heading").inner_text() == w["heading"]
    assert w["dose"] in page.locator("#dose thead").inner_text()
    assert page.locator("#dose tbody tr").count() == max(len(dose), 1)
    if len(dose):
        first = page.locator("#dose tbody tr").first.locator("td").all_inner_texts()
        assert first[6] == f"{dose.iloc[0]['planned_min']}"
    assert w["commend"] in page.locator("#commendations").inner_text()
    if lang == "zh":
        _check_chinese(page)
    shot(page, f"tasks-{lang}")


def test_an_account_without_a_volunteer_is_told_so_in_its_language(demo_world):
    """A command account opening a volunteer's own page (/me) is told why there is nothing,
    in the page's language (it was an English line on Chinese pages)."""
    from web import create_app
    from tests.helpers import sign_in as sign_in_client

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    client = app.test_client()
    sign_in_client(client, make_user(demo_world["engine"], "p-no-volunteer", "command"))
    for accept, words, other in (("zh-CN", "此账号不是义警账号", "volunteer record"),
                                 ("en", "This account is not a volunteer", "义警账号")):
        resp = client.get("/me", headers={"Accept-Language": accept})
        text = resp.get_data(as_text=True)
        assert resp.status_code == 404 and words in text and other not in text
