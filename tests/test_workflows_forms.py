"""Forms that help and pickers instead of numbers, as people use them in real headless
Chromium, in Chinese and English: the command makes a task by picking a hazard by name; the
command verifies a report and pays its points; the command uploads a hazard sheet with three
bad rows and reads all three, and nothing is stored; an officer on a phone proposes a hazard
with a mistake and reads the error beside the field, with what was typed kept."""

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

pytestmark = pytest.mark.browser

WORDS = {
    "zh": {"pick": "从列表中选择", "verified": "已核实", "points": "积分", "rows": "有误的行数：3",
           "empty": "名称为空", "category": "不是隐患类别", "number": "不是数字",
           "no_place": "未选定地点", "chosen": "已选定地点", "nothing": "还没有选择地点", "proposed": "待审核", "report": "suspicious",
           "column": "列", "stored": "条记录已保存",
           "forbidden": "此页面供分局指挥账号使用，当前社区民警账号无法打开。"},
    "en": {"pick": "pick it from the list", "verified": "Verified", "points": "points paid",
           "rows": "rows with a wrong value: 3", "empty": "The name is empty",
           "category": "is not a hazard category", "number": "is not a number",
           "no_place": "No place chosen", "chosen": "Place chosen",
           "nothing": "No place chosen yet", "proposed": "waiting for review",
           "report": "lost_person", "column": "Column", "stored": "records stored",
           "forbidden": "This page is for district command accounts; this community officer "
                        "account cannot open it."},
}


@pytest.fixture(scope="module")
def people(demo_world, server, tmp_path_factory):  # noqa: F811
    return reporter_world(demo_world, tmp_path_factory.mktemp("forms-track"), "wf")


def _as(page, server, username: str, lang: str, path: str) -> None:  # noqa: F811
    page.goto("about:blank")  # the last account's page asks for nothing more once signed out
    page.context.clear_cookies()
    sign_in(page, server, username)
    page.goto(f"{server}/lang/{lang}?next={path}", wait_until="networkidle")


def _count(engine, table: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_makes_a_task_by_picking_a_hazard_by_name(
        page, server, people, lang):  # noqa: F811
    engine, w = people["engine"], WORDS[lang]
    with engine.connect() as conn:
        hazard_id, name = conn.execute(sa.text(
            "SELECT h.id, h.name FROM hazards h WHERE NOT h.proposed AND EXISTS (SELECT 1 "
            "FROM street_segments g WHERE ST_DWithin(h.geom_m, g.geom_m, 100)) "
            "AND (SELECT count(*) FROM hazards o WHERE o.name = h.name) = 1 "
            "ORDER BY h.id LIMIT 1 OFFSET :o"), {"o": 0 if lang == "zh" else 1}).one()
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/tasks")
    tomorrow = (people["settings"].today() + dt.timedelta(days=1)).isoformat()
    # a name typed but not picked: the error beside the field, what was typed kept
    page.fill("input[name=hazard_q]", name[:4])
    page.fill("#new-task input[name=day]", tomorrow)
    page.select_option("select[name=slot]", "evening")
    page.click("#new-task button[type=submit]")
    expect(page.locator("#error-hazard")).to_contain_text(w["pick"])
    expect(page.locator("input[name=hazard_q]")).to_have_value(name[:4])
    expect(page.locator("#new-task input[name=day]")).to_have_value(tomorrow)
    expect(page.locator("select[name=slot]")).to_have_value("evening")
    # picked by name from the answers given as one types
    page.fill("input[name=hazard_q]", "")
    page.locator("input[name=hazard_q]").type(name[: max(2, len(name) - 1)], delay=20)
    answer = page.locator("#new-task .picker-answer", has_text=name).first
    answer.wait_for()
    answer.click()
    expect(page.locator("input[name=hazard_q]")).to_have_value(re.compile(re.escape(name)))
    shot(page, f"workflow-task-picked-{lang}")
    page.click("#new-task button[type=submit]")
    page.wait_for_url(re.compile(r".*/tasks$"))
    with engine.connect() as conn:
        task_id, community = conn.execute(sa.text(
            "SELECT t.id, a.name FROM tasks t JOIN areas a ON a.id = t.community_id "
            "WHERE :h = ANY(t.hazard_ids) ORDER BY t.id DESC LIMIT 1"), {"h": hazard_id}).one()
    row = page.locator(f"#task-{task_id}")
    expect(row).to_contain_text(f"#{task_id}")
    expect(row).to_contain_text(community)
    assert page.locator("#error-hazard").count() == 0


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_verifies_a_report_and_pays_points(page, server, people, lang):  # noqa: F811
    engine, w = people["engine"], WORDS[lang]
    with engine.connect() as conn:
        volunteer_id = conn.execute(sa.text("SELECT id FROM volunteers WHERE number = :n"),
                                    {"n": people["number"]}).scalar_one()
    report_id = enter_report(engine, volunteer_id=volunteer_id, category=w["report"],
                             text=f"路口有人徘徊 {lang}", lon=people["lon"], lat=people["lat"],
                             settings=people["settings"])
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/reports")
    row = page.locator(f"#report-{report_id}")
    expect(row.locator("td.number")).to_have_text(f"#{report_id}")  # the number to quote
    triage = page.locator(f"#report-{report_id} + tr.triage-row")
    triage.locator("button[value=verified]").click()
    page.wait_for_url(re.compile(rf".*done={report_id}.*"))
    message = page.locator("#triaged")
    expect(message).to_contain_text(f"#{report_id}")
    expect(message).to_contain_text(w["verified"])
    expect(message).to_contain_text(w["points"])
    expect(page.locator(f"#report-{report_id} td.state")).to_contain_text(w["verified"])
    points = page.locator(f"#report-{report_id} td.points").inner_text()
    assert int(points) > 0
    shot(page, f"workflow-report-verified-{lang}")


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_command_uploads_a_sheet_with_three_bad_rows_and_reads_them_all(
        page, server, people, lang, tmp_path):  # noqa: F811
    engine, w = people["engine"], WORDS[lang]
    lon, lat = people["lon"], people["lat"]
    sheet = tmp_path / f"隐患台账-{lang}.csv"
    sheet.write_text("\n".join([
        "名称,类别,经度,纬度",
        f"第一幼儿园,school,{lon:.6f},{lat:.6f}",      # row 2: good
        f",school,{lon:.6f},{lat:.6f}",                # row 3: no name
        f"加油站,火山,{lon:.6f},{lat:.6f}",             # row 4: no such category
        f"第二小学,school,{lon:.6f},abc",               # row 5: latitude not a number
        f"出租屋,rental_housing,{lon:.6f},{lat:.6f}",   # row 6: good
    ]) + "\n", encoding="utf-8")
    hazards, uploads = _count(engine, "hazards"), _count(engine, "uploads")
    page.set_viewport_size({"width": 1440, "height": 900})
    _as(page, server, people["users"]["command"], lang, "/uploads")
    page.set_input_files("#file", str(sheet))
    page.select_option("select[name=kind]", "hazards")
    page.click("#upload button[type=submit]")
    expect(page.locator("#form-error")).to_contain_text(w["rows"])
    bad = page.locator("#bad-rows tbody tr")
    expect(bad).to_have_count(3)
    expect(page.locator("#bad-rows thead")).to_contain_text(w["column"])
    texts = [bad.nth(i).inner_text() for i in range(3)]
    assert texts[0].startswith("3") and w["empty"] in texts[0], texts
    assert texts[1].startswith("4") and w["category"] in texts[1] and "火山" in texts[1], texts
    assert texts[2].startswith("5") and w["number"] in texts[2] and "abc" in texts[2], texts
    body = page.locator("main").inner_text()
    assert "--" not in body and "400" not in page.title()
    if lang == "zh":  # no English left on a Chinese page's error
        assert not re.search(r"[A-Za-z]{4,}", page.locator("#form-error").inner_text()
                             .replace("school", "")), page.locator("#form-error").inner_text()
    # the file type chosen stays; nothing was stored
    expect(page.locator("select[name=kind]")).to_have_value("hazards")
    assert _count(engine, "hazards") == hazards and _count(engine, "uploads") == uploads
    shot(page, f"workflow-upload-bad-rows-{lang}")
    # corrected, the same form loads it, and says so in the page's language
    sheet.write_text("\n".join([
        "名称,类别,经度,纬度", f"第一幼儿园{lang},school,{lon:.6f},{lat:.6f}"]) + "\n",
        encoding="utf-8")
    page.set_input_files("#file", str(sheet))
    page.click("#upload button[type=submit]")
    expect(page.locator("#result")).to_contain_text(w["stored"])
    assert _count(engine, "hazards") == hazards + 1


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_an_officer_reads_the_error_beside_the_field_with_what_was_typed_kept(
        page, server, people, lang):  # noqa: F811
    engine, w = people["engine"], WORDS[lang]
    with engine.connect() as conn:
        community = conn.execute(sa.text("SELECT name FROM areas WHERE id = :c"),
                                 {"c": people["community"]}).scalar_one()
    officer = make_user(engine, f"wf-officer-{lang}", "officer", areas=[community])
    page.set_viewport_size({"width": 360, "height": 780})
    _as(page, server, officer, lang, "/hazards")
    page.click("#new-hazard-box summary")
    name = f"新建幼儿园{lang}"
    page.fill("#new-hazard input[name=name]", name)
    page.select_option("#new-hazard select[name=category]", "school")
    # no field asks for numbers: the place is found, tapped or the phone's own
    assert page.locator("#new-hazard input[name=lon]").get_attribute("type") == "hidden"
    expect(page.locator("#new-hazard #place-status")).to_have_text(re.compile(w["nothing"]))
    before = _count(engine, "hazards")
    page.click("#new-hazard button[type=submit]")  # the place forgotten
    error = page.locator("#new-hazard #error-place")
    expect(error).to_contain_text(w["no_place"])
    expect(page.locator("#new-hazard input[name=name]")).to_have_value(name)
    expect(page.locator("#new-hazard select[name=category]")).to_have_value("school")
    form = page.locator("#new-hazard").bounding_box()
    assert form["x"] >= 0 and form["x"] + form["width"] <= 360  # the form fits the phone
    assert _count(engine, "hazards") == before
    shot(page, f"workflow-officer-error-{lang}")
    # the officer finds the community by name in the form's search box
    page.locator("#new-hazard .picker-query").type(community, delay=20)
    # typed letter by letter: answers to a shorter prefix may show first
    page.locator("#new-hazard .picker-answer", has_text=community).first.click()
    status = page.locator("#new-hazard #place-status")
    # an area: the map shows it whole and the officer taps where in it the school is
    expect(status).to_contain_text(community)
    expect(page.locator("#new-hazard .pick-marker")).to_have_count(0)
    page.wait_for_timeout(600)  # the map's move
    page.locator("#new-hazard .pick-map").scroll_into_view_if_needed()
    box = page.locator("#new-hazard .pick-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    expect(status).to_contain_text(w["chosen"])
    expect(status).to_contain_text(community)  # named, not numbered
    expect(page.locator("#new-hazard .pick-marker")).to_have_count(1)
    assert page.locator("#new-hazard #error-place").count() == 0  # the refusal is answered
    shot(page, f"workflow-officer-place-{lang}")
    page.click("#new-hazard button[type=submit]")
    page.wait_for_url(re.compile(r".*/hazards$"))
    expect(page.locator("#proposals")).to_contain_text(name)
    assert w["proposed"] in page.locator("main").inner_text()
    assert _count(engine, "hazards") == before + 1
    # what an officer may not do, said properly in the page's language
    page.goto(f"{server}/uploads")
    expect(page.locator("#error")).to_have_text(w["forbidden"])


# --- the same, without a browser ------------------------------------------------------------

@pytest.fixture(scope="module")
def clients(people):
    from web import create_app
    from tests.helpers import sign_in as client_sign_in

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": people["settings"]})
    out = {}
    for role in ("command", "officer", "planner"):
        client = app.test_client()
        client.csrf = client_sign_in(client, people["users"][role])
        out[role] = client
    return out


def test_pickers_answer_by_name_within_what_the_role_may_see(people, clients):
    engine = people["engine"]
    with engine.connect() as conn:
        name = conn.execute(sa.text(
            "SELECT name FROM hazards WHERE NOT proposed AND community_id <> :c "
            "ORDER BY id LIMIT 1"), {"c": people["community"]}).scalar_one()
        communities = dict(conn.execute(sa.text("SELECT id, community_id FROM hazards")).all())
    found = clients["command"].get("/search", query_string={"q": name, "kinds": "hazard"}).json
    assert found and {f["kind"] for f in found} == {"hazard"}
    assert name in found[0]["label"] and isinstance(found[0]["id"], int)
    # an officer is answered from their own communities only; a planner names no volunteer
    mine = clients["officer"].get("/search", query_string={"q": name[:2], "kinds": "hazard"}).json
    assert all(communities[f["id"]] == people["community"] for f in mine)
    assert clients["planner"].get("/search", query_string={
        "q": people["number"], "kinds": "volunteer"}).json == []
    volunteer = clients["command"].get("/search", query_string={
        "q": people["number"], "kinds": "volunteer"}).json
    assert volunteer[0]["id"] == people["number"]


@pytest.mark.parametrize("lang,words", [
    ("zh", ("请选择隐患", "“2020-13-01”不是日期")),
    ("en", ("Choose the hazard", "“2020-13-01” is not a date"))])
def test_a_refused_form_keeps_what_was_typed_in_the_page_s_language(clients, lang, words):
    command = clients["command"]
    command.set_cookie("lang", lang)
    resp = command.post("/tasks/new", data={"hazard_q": "幼儿<b>园", "hazard": "", "day": "x",
                                            "slot": "evening", "csrf_token": command.csrf})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="error-hazard"' in page and words[0] in page
    assert 'value="幼儿&lt;b&gt;园"' in page  # kept, as text
    resp = command.post("/tasks/payout", data={"from": "2020-13-01", "to": "2020-12-31",
                                               "csrf_token": command.csrf})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="error-from"' in page and words[1] in page
    assert 'value="2020-12-31"' in page


def test_every_bad_row_up_to_a_hundred_is_named_and_nothing_is_stored(people, tmp_path):
    from geo_patrol.errors import RowErrors
    from geo_patrol.services.sources import load_hazards

    engine = people["engine"]
    lon, lat = people["lon"], people["lat"]
    rows = [f",school,{lon:.6f},{lat:.6f}" for _ in range(150)]
    path = tmp_path / "many.csv"
    path.write_text("\n".join(["名称,类别,经度,纬度", f"好的,school,{lon},{lat}", *rows]) + "\n",
                    encoding="utf-8")
    hazards, uploads = _count(engine, "hazards"), _count(engine, "uploads")
    with pytest.raises(RowErrors) as err:
        load_hazards(engine, path, crs="wgs84", settings=people["settings"])
    assert err.value.total == 150 and len(err.value.problems) == 100
    assert [p.row for p in err.value.problems[:2]] == [3, 4]
    assert "row 3, name: The name is empty." in str(err.value)  # the command line's words
    assert _count(engine, "hazards") == hazards and _count(engine, "uploads") == uploads


def test_the_report_queue_merges_into_an_earlier_report_picked_from_a_list(people, clients):
    engine, settings = people["engine"], people["settings"]
    with engine.connect() as conn:
        volunteer_id = conn.execute(sa.text("SELECT id FROM volunteers WHERE number = :n"),
                                    {"n": people["number"]}).scalar_one()
    first, second = (enter_report(engine, volunteer_id=volunteer_id, category="fire_gas",
                                  text=f"楼道堆放杂物 {i}", lon=people["lon"], lat=people["lat"],
                                  settings=settings) for i in (1, 2))
    command = clients["command"]
    command.set_cookie("lang", "zh")
    page = command.get("/reports").get_data(as_text=True)
    # the numbers to quote are shown; the earlier report is offered by what it says
    assert f'<td class="number">#{second}</td>' in page
    choice = re.search(
        rf'<tr id="report-{second}">.*?<select name="merge_into"[^>]*>(.*?)</select>',
        page, re.S).group(1)
    assert re.search(rf'<option value="{first}">#{first} · [^<]*楼道堆放杂物 1</option>', choice)
    # a rejection needs a reason, said in the page's language
    refused = command.post(f"/reports/{second}/triage", data={
        "action": "rejected", "answer": "", "csrf_token": command.csrf})
    assert refused.status_code == 400 and "不采纳线索须写明理由" in refused.get_data(as_text=True)
    done = command.post(f"/reports/{second}/triage", data={
        "action": "merged", "merge_into": str(first), "csrf_token": command.csrf},
        follow_redirects=True).get_data(as_text=True)
    assert f"线索 #{second}：已合并。" in done


def test_a_call_out_with_a_mistake_comes_back_with_the_error_beside_the_field(people, clients):
    command = clients["command"]
    command.set_cookie("lang", "zh")
    calls = _count(people["engine"], "callouts")
    resp = command.post("/live/callout", data={
        "category": "dispute", "note": "门口争吵", "lon": f"{people['lon']:.6f}", "lat": "abc",
        "count": "2", "csrf_token": command.csrf})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and 'id="error-lat"' in page and "纬度“abc”不是数字" in page
    assert 'value="门口争吵"' in page and _count(people["engine"], "callouts") == calls
