"""The rest of a working day's forms and tables, as people use them in real headless Chromium
in Chinese and English: devices, training, campaigns and report triage refuse a mistake beside
the field, in the page's language, with what was typed kept and nothing stored; a call-out's
place is picked with a click on a small map; every kind of upload names each of its bad rows
and stores nothing; the report queue, the training status and the outbox page, sort and
filter on the server, and the outbox speaks the page's language only."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from geo_patrol.services.sources import enter_report
from tests.browsing import browser, page, server, shot, sign_in  # noqa: F401  (fixtures)
from tests.helpers import make_user
from tests.test_clues import reporter_world

WORDS = {
    "zh": {"no_volunteer": "没有义警“无此人99”", "future": "早于 2000 年或在将来",
           "unknown_number": "花名册中没有编号为 NOPE1 的义警", "district": "请至少选择一个区",
           "reason": "不采纳线索须写明理由", "recorded": "培训记录已保存"},
    "en": {"no_volunteer": "No volunteer “无此人99”", "future": "before 2000 or in the future",
           "unknown_number": "No volunteer with the number NOPE1 in the roster",
           "district": "Choose at least one district", "reason": "Say why the report is rejected",
           "recorded": "Session recorded"},
}


@pytest.fixture(scope="module")
def people(demo_world, server, tmp_path_factory):  # noqa: F811
    return reporter_world(demo_world, tmp_path_factory.mktemp("forms2-track"), "f2")


def _as(page, server, username: str, lang: str, path: str) -> None:  # noqa: F811
    page.goto("about:blank")  # the last account's page asks for nothing more once signed out
    page.context.clear_cookies()
    sign_in(page, server, username)
    page.goto(f"{server}/lang/{lang}?next={path}", wait_until="networkidle")


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(sql)).scalar_one()


def _fits(page, selector: str, width: int) -> None:  # noqa: F811
    box = page.locator(selector).bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= width + 1, box


# --- errors beside the field ----------------------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_device_for_nobody_is_refused_beside_the_volunteer(page, server, people,  # noqa: F811
                                                             lang):
    engine, w = people["engine"], WORDS[lang]
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/devices")
    before = _count(engine, "SELECT count(*) FROM devices")
    page.fill("#add-device input[name=device_id]", f"phone-{lang}")
    page.fill("#add-device input[name=number_q]", "无此人99")
    page.click("#add-device button[type=submit]")
    expect(page.locator("#add-device #error-number")).to_contain_text(w["no_volunteer"])
    expect(page.locator("#add-device input[name=device_id]")).to_have_value(f"phone-{lang}")
    expect(page.locator("#add-device input[name=number_q]")).to_have_value("无此人99")
    assert _count(engine, "SELECT count(*) FROM devices") == before
    shot(page, f"forms2-device-error-{lang}")


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_training_session_with_mistakes_comes_back_beside_each_field(
        page, server, people, lang):  # noqa: F811
    engine, w = people["engine"], WORDS[lang]
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/training")
    before = _count(engine, "SELECT count(*) FROM attendance")
    course = f"急救复训{lang}"
    tomorrow = (people["settings"].today() + dt.timedelta(days=2)).isoformat()
    form = page.locator("#enter-session")
    form.locator("input[name=course]").fill(course)
    form.locator("select[name=skill]").select_option("first_aid")
    form.locator("input[name=held_on]").fill(tomorrow)
    form.locator("textarea[name=passed]").fill(people["number"])
    form.locator("button[type=submit]").click()
    expect(page.locator("#enter-session #error-held_on")).to_contain_text(w["future"])
    expect(page.locator("#enter-session input[name=course]")).to_have_value(course)
    expect(page.locator("#enter-session textarea[name=passed]")).to_have_value(people["number"])
    expect(page.locator("#enter-session select[name=skill]")).to_have_value("first_aid")
    # the date corrected, a number nobody has: said beside the list that holds it
    form = page.locator("#enter-session")
    form.locator("input[name=held_on]").fill(people["settings"].today().isoformat())
    form.locator("textarea[name=present]").fill("NOPE1")
    form.locator("button[type=submit]").click()
    expect(page.locator("#enter-session #error-present")).to_contain_text(w["unknown_number"])
    assert _count(engine, "SELECT count(*) FROM attendance") == before
    shot(page, f"forms2-training-error-{lang}")
    page.locator("#enter-session textarea[name=present]").fill("")
    page.locator("#enter-session button[type=submit]").click()
    expect(page.locator("#entered")).to_contain_text(w["recorded"])
    assert _count(engine, "SELECT count(*) FROM attendance") == before + 1


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_campaign_without_a_district_is_refused_beside_the_districts(
        page, server, people, lang):  # noqa: F811
    engine, w = people["engine"], WORDS[lang]
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/campaigns")
    before = _count(engine, "SELECT count(*) FROM campaigns")
    form = page.locator("#new-campaign")
    form.locator("input[name=name]").fill(f"清零行动{lang}")
    form.locator("input[name=from]").fill("2026-12-01")
    form.locator("input[name=to]").fill("2026-12-31")
    form.locator("input[name=category]").first.check()
    form.locator("button[type=submit]").click()
    expect(page.locator("#new-campaign #error-district")).to_contain_text(w["district"])
    expect(page.locator("#new-campaign input[name=name]")).to_have_value(f"清零行动{lang}")
    expect(page.locator("#new-campaign input[name=to]")).to_have_value("2026-12-31")
    expect(page.locator("#new-campaign input[name=category]").first).to_be_checked()
    assert _count(engine, "SELECT count(*) FROM campaigns") == before
    shot(page, f"forms2-campaign-error-{lang}")


@pytest.mark.browser
@pytest.mark.parametrize("lang,width", [("zh", 1440), ("en", 1440), ("zh", 360), ("en", 360)])
def test_a_rejection_without_a_reason_is_refused_beside_that_report(
        page, server, people, lang, width):  # noqa: F811
    engine, settings, w = people["engine"], people["settings"], WORDS[lang]
    vid = _count(engine, f"SELECT id FROM volunteers WHERE number = '{people['number']}'")
    first, second = (enter_report(engine, volunteer_id=vid, category="fire_gas",
                                  text=f"消防通道堵塞 {lang}{width}-{i}", lon=people["lon"],
                                  lat=people["lat"], settings=settings) for i in (1, 2))
    page.set_viewport_size({"width": width, "height": 900})
    who = "command" if width > 1000 else "officer"  # an officer triages on a phone
    _as(page, server, people["users"][who], lang, f"/reports?q={second}")
    row = page.locator(f"#report-{second} + tr.triage-row")
    row.locator("textarea[name=answer]").fill("   ")
    row.locator("button[value=rejected]").click()
    row = page.locator(f"#report-{second} + tr.triage-row")
    expect(row.locator("#error-answer")).to_contain_text(w["reason"])
    assert page.locator(".field-error").count() == 1  # beside that report only
    assert _count(engine, f"SELECT count(*) FROM reports WHERE id = {second} "
                          "AND verification = 'pending'") == 1
    if width < 1000:
        _fits(page, f"#report-{second} + tr.triage-row textarea", width)
    shot(page, f"forms2-triage-error-{lang}-{width}")
    row.locator("textarea[name=answer]").fill("与现场不符")
    row.locator("button[value=rejected]").click()
    expect(page.locator("#triaged")).to_contain_text(f"#{second}")
    assert first != second


# --- a call-out's place picked on a map -----------------------------------------------------

@pytest.mark.browser
@pytest.mark.parametrize("lang,width", [("zh", 1440), ("en", 360)])
def test_a_call_out_s_place_is_picked_with_a_click_on_the_small_map(
        page, server, people, lang, width):  # noqa: F811
    from geo_patrol.services import places

    page.set_viewport_size({"width": width, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/live")
    small = page.locator("#callout-map")
    small.scroll_into_view_if_needed()
    expect(small.locator(".leaflet-tile-pane")).to_have_count(1)
    box = small.bounding_box()
    assert box["width"] > 200 and box["x"] + box["width"] <= width + 1
    small.click(position={"x": box["width"] / 2, "y": box["height"] / 2})
    lon = float(page.locator("#callout input[name=lon]").input_value())
    lat = float(page.locator("#callout input[name=lat]").input_value())
    x0, y0, x1, y1 = places.city_extent(people["engine"])
    assert x0 <= lon <= x1 and y0 <= lat <= y1
    expect(small.locator(".pick-marker")).to_have_count(1)
    shot(page, f"forms2-callout-map-{lang}-{width}")


# --- every kind of file names each bad row --------------------------------------------------

def _bad_files(tmp_path, people) -> dict[str, tuple[str, list[tuple[int, str]]]]:
    """Per kind of upload, a file with bad rows and the (row, column) each should name."""
    lon, lat, number = people["lon"], people["lat"], people["number"]
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return {
        "volunteers": ("\n".join([
            "编号,姓名,手机,职业,社区",
            "X1,张三,13800138000,保安,",
            ",李四,13800138001,保安,",          # row 3: no number
            "X3,王五,12345,保安,",               # row 4: not a phone number
            "X4,赵六,13800138002,宇航员,",       # row 5: no such occupation
            "X1,钱七,13800138003,保安,",         # row 6: number X1 again
        ]), [(3, "number"), (4, "phone"), (5, "occupation"), (6, "number")]),
        "training": ("\n".join([
            "课程,日期,编号,结果",
            f"急救培训,2026-01-05,{number},合格",
            "急救培训,2026-13-05,A2,合格",          # row 3: not a date
            "急救培训,2026-01-05,A3,睡觉",          # row 4: no such result
        ]), [(3, "date"), (4, "result")]),
        "tracks": ("\n".join([
            "volunteer,time,lon,lat",
            f"{number},{now.isoformat()},{lon:.6f},{lat:.6f}",
            f"{number},昨天,{lon:.6f},{lat:.6f}",          # row 3: not a time
            f"{number},{now.isoformat()},东经,{lat:.6f}",  # row 4: not a number
            f"{number},1999-01-01T00:00:00+08:00,{lon:.6f},{lat:.6f}",  # row 5: before 2000
        ]), [(3, "time"), (4, "lon"), (5, "time")]),
        "incidents": ("\n".join([
            "类别,日期,经度,纬度",
            f"盗窃,2026-11-01,{lon:.6f},{lat:.6f}",
            f",2026-11-01,{lon:.6f},{lat:.6f}",    # row 3: no category
            f"盗窃,明天,{lon:.6f},{lat:.6f}",       # row 4: not a date
            f"盗窃,2026-11-02,{lon:.6f},北纬",      # row 5: not a number
        ]), [(3, "category"), (4, "date"), (5, "latitude")]),
        "reports": ("\n".join([
            "volunteer,time,category,lon,lat,reward",
            f"{number},{now.isoformat()},fire_gas,{lon:.6f},{lat:.6f},5",
            f",{now.isoformat()},fire_gas,{lon:.6f},{lat:.6f},5",      # row 3: no volunteer
            f"{number},{now.isoformat()},fire_gas,{lon:.6f},{lat:.6f},-5",  # row 4: negative
        ]), [(3, "volunteer"), (4, "reward")]),
    }


@pytest.mark.parametrize("kind", ["volunteers", "training", "tracks", "incidents", "reports"])
def test_every_kind_of_file_names_each_bad_row_and_stores_nothing(people, tmp_path, kind):
    from geo_patrol.errors import RowErrors
    from geo_patrol.services import scope
    from geo_patrol.access import Principal, Role

    engine, settings = people["engine"], people["settings"]
    text, expected = _bad_files(tmp_path, people)[kind]
    path = tmp_path / f"{kind}.csv"
    path.write_text(text + "\n", encoding="utf-8")
    counts = "SELECT (SELECT count(*) FROM uploads) + (SELECT count(*) FROM volunteers) " \
             "+ (SELECT count(*) FROM patrol_fixes) + (SELECT count(*) FROM incidents) " \
             "+ (SELECT count(*) FROM reports) + (SELECT count(*) FROM attendance)"
    before = _count(engine, counts)
    user = Principal(id=0, username="t", role=Role.COMMAND)
    with pytest.raises(RowErrors) as refused:
        scope.upload_file(engine, settings, user, kind, path)
    named = [(p.row, p.column) for p in refused.value.problems]
    assert named == expected, named
    assert refused.value.total == len(expected)
    assert _count(engine, counts) == before


@pytest.mark.parametrize("lang,words", [
    ("zh", ("有误的行数：4", "不是大陆手机或座机号码", "手机", "也在第 2 行")),
    ("en", ("rows with a wrong value: 4", "is not a mainland mobile or landline number",
            "phone", "is also on row 2"))])
def test_a_roster_with_bad_rows_lists_them_all_on_the_upload_page(
        people, clients, tmp_path, lang, words):
    command = clients["command"]
    command.set_cookie("lang", lang)
    text, _ = _bad_files(tmp_path, people)["volunteers"]
    resp = command.post("/uploads", data={
        "kind": "volunteers", "csrf_token": command.csrf,
        "file": (_file(tmp_path, text), "花名册.csv")}, content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and words[0] in page
    table = re.search(r'<table class="gp" id="bad-rows">(.*?)</table>', page, re.S).group(1)
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", table)
    assert [int(r[0]) for r in rows] == [3, 4, 5, 6]
    assert rows[1][1] == words[2] and words[1] in rows[1][2] and words[3] in rows[3][2]
    assert 'value="volunteers" selected' in page  # the kind chosen stays
    if lang == "zh":
        assert not re.search(r"[A-Za-z]{4,}", table.replace("<tr>", "").replace("<td>", "")
                             .replace("</td>", "").replace("</tr>", "").replace("<th>", "")
                             .replace("</th>", "").replace("<thead>", "").replace("</thead>", "")
                             .replace("<tbody>", "").replace("</tbody>", "")), table


def _file(tmp_path, text: str):
    path = tmp_path / "roster.csv"
    path.write_text(text + "\n", encoding="utf-8")
    return path.open("rb")


# --- tables that page, sort and filter -------------------------------------------------------

@pytest.fixture(scope="module")
def clients(people):
    from web import create_app
    from tests.helpers import sign_in as client_sign_in

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": people["settings"]})
    out = {}
    for role in ("command", "officer"):
        client = app.test_client()
        client.csrf = client_sign_in(client, people["users"][role])
        out[role] = client
    return out


def _ids(page: str, table: str) -> list[int]:
    body = re.search(rf'<table class="gp" id="{table}">(.*?)</table>', page, re.S).group(1)
    return [int(i) for i in re.findall(r'<tr id="report-(\d+)"', body)]


def test_the_report_queue_pages_sorts_and_filters_on_the_server(people, clients):
    engine, settings = people["engine"], people["settings"]
    vid = _count(engine, f"SELECT id FROM volunteers WHERE number = '{people['number']}'")
    for i in range(52 - _count(engine, "SELECT count(*) FROM reports")):
        enter_report(engine, volunteer_id=vid, category="fire_gas", text=f"杂物 {i}",
                     lon=people["lon"], lat=people["lat"], settings=settings)
    total = _count(engine, "SELECT count(*) FROM reports")
    command = clients["command"]
    command.set_cookie("lang", "en")
    first = command.get("/reports").get_data(as_text=True)
    assert len(_ids(first, "reports")) == 50 and f"Rows 1–50 of {total}" in first
    assert 'rel="next"' in first
    second = command.get("/reports?page=2").get_data(as_text=True)
    assert len(_ids(second, "reports")) == total - 50
    assert not set(_ids(first, "reports")) & set(_ids(second, "reports"))
    newest = command.get("/reports?sort=-id").get_data(as_text=True)
    ids = _ids(newest, "reports")
    assert ids == sorted(ids, reverse=True) and ids[0] == _count(engine, "SELECT max(id) FROM "
                                                                            "reports")
    one = command.get(f"/reports?q=%23{ids[3]}").get_data(as_text=True)
    assert _ids(one, "reports") == [ids[3]] and "Rows 1–1 of 1" in one
    assert command.get("/reports?sort=volunteer_name").status_code == 400
    command.set_cookie("lang", "zh")
    none = command.get("/reports?q=没有这样的线索").get_data(as_text=True)
    assert _ids(none, "reports") == [] and "没有符合筛选条件的记录" in none


def test_the_training_status_pages_and_sorts_on_the_server(people, clients):
    command = clients["command"]
    command.set_cookie("lang", "zh")
    page = command.get("/training?sort=-share").get_data(as_text=True)
    table = re.search(r'<table class="gp" id="status">(.*?)</table>', page, re.S).group(1)
    shares = [float(s) for s in re.findall(r"<td>([\d.]+)%</td></tr>", table)]
    assert 0 < len(shares) <= 50 and shares == sorted(shares, reverse=True)
    assert 'id="status-pager"' in page and 'aria-sort="descending"' in table
    course = re.search(r"<tr><td>[^<]*</td><td>([^<]+)</td>", table).group(1)
    only = command.get("/training", query_string={"of_course": course}).get_data(as_text=True)
    shown = re.search(r'<table class="gp" id="status">(.*?)</table>', only, re.S).group(1)
    assert set(re.findall(r"<tr><td>[^<]*</td><td>([^<]+)</td>", shown)) == {course}


def test_the_outbox_pages_and_speaks_the_page_s_language_only(people, clients):
    from geo_patrol.services import notify

    engine = people["engine"]
    vid = _count(engine, f"SELECT id FROM volunteers WHERE number = '{people['number']}'")
    with engine.begin() as conn:
        for i in range(55):
            notify.enqueue(conn, volunteer_ids=[vid], kind="notice", ref=f"paging {i}",
                           title="寻人 · Missing person", body="…", url="/me")
    total = _count(engine, "SELECT count(*) FROM notify_messages m LEFT JOIN notify_outbox o "
                           "ON o.message_id = m.id")
    command = clients["command"]
    command.set_cookie("lang", "en")
    page = command.get("/notify").get_data(as_text=True)
    table = re.search(r'<table class="gp" id="outbox">(.*?)</table>', page, re.S).group(1)
    assert table.count("<tr data-state") == 50 and f"of {total}" in page
    assert "notice&nbsp;· Missing person" in table and "寻人" not in table
    last = command.get(f"/notify?page={(total + 49) // 50}").get_data(as_text=True)
    assert 0 < last.count("<tr data-state") <= 50
    command.set_cookie("lang", "zh")
    chinese = command.get("/notify?kind=notice").get_data(as_text=True)
    table = re.search(r'<table class="gp" id="outbox">(.*?)</table>', chinese, re.S).group(1)
    assert "通知&nbsp;· 寻人" in table and "Missing person" not in table
    assert command.get("/notify?sort=title").status_code == 400
