"""Every bad row of an upload, whatever the file: GPX and GeoJSON tracks, times without a
zone, formula cells of a sheet and numbers the database does not hold (a community, a
volunteer, a hazard) are each named with their row, column and reason, in the page's
language, and the file stores nothing. Files with several planted mistakes are sent through
the upload form as the district command, in Chinese and English."""

from __future__ import annotations

import datetime as dt
import json
import re

import openpyxl
import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from geo_patrol.errors import RowErrors
from geo_patrol.services.sources import load_tracks, load_volunteers
from tests.browsing import browser, page, server, shot, sign_in  # noqa: F401  (fixtures)
from tests.helpers import sign_in as client_sign_in
from tests.test_clues import reporter_world

#: What every table a file may reach holds, summed: a refused file changes none of them.
STORED = ("SELECT (SELECT count(*) FROM uploads) + (SELECT count(*) FROM volunteers) "
          "+ (SELECT count(*) FROM patrol_fixes) + (SELECT count(*) FROM hazards) "
          "+ (SELECT count(*) FROM reports) + (SELECT count(*) FROM attendance) "
          "+ (SELECT count(*) FROM incidents)")
#: Column names and one word of each reason, as each language's page shows them.
WORDS = {
    "zh": {"latitude": "纬度", "longitude": "经度", "time": "时间", "position": "位置",
           "volunteer": "义警", "number": "义警编号", "name": "名称", "address": "地址",
           "category": "类别", "community": "社区", "hazard": "隐患编号", "id_number": "身份证号",
           "not_number": "不是数字", "not_time": "不是日期时间", "before": "2000",
           "outside": "远在本市之外", "geometry": "既不是点", "missing": "缺少",
           "vertex": "每个顶点一个时间", "no_volunteer": "花名册中没有编号为 NOPE9 的义警",
           "formula": "当作公式执行", "cell": "是公式", "no_community": "尚未加载名为“火星社区”的社区",
           "taken": "该身份证号已登记为义警 F3A", "no_hazard": "隐患台账中没有编号为 H-NOPE 的隐患",
           "roster_name": "编号填对了吗", "count": "有误的行数"},
    "en": {"latitude": "latitude", "longitude": "longitude", "time": "time",
           "position": "position", "volunteer": "volunteer", "number": "roster number",
           "name": "name", "address": "address", "category": "category",
           "community": "community", "hazard": "hazard number", "id_number": "id number",
           "not_number": "is not a number", "not_time": "is not a date and time",
           "before": "before 2000", "outside": "far outside this city",
           "geometry": "is not a point", "missing": "missing", "vertex": "one time per vertex",
           "no_volunteer": "No volunteer numbered NOPE9 in the roster",
           "formula": "would run as a spreadsheet formula", "cell": "holds a formula",
           "no_community": "No community named 火星社区 is loaded",
           "taken": "already registered as volunteer F3A",
           "no_hazard": "No hazard numbered H-NOPE in the register",
           "roster_name": "is the number right", "count": "rows with a wrong value"},
}


def id_number(body: str) -> str:
    """A mainland ID number with its GB 11643 check character."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(c) * w for c, w in zip(body, weights)) % 11]


@pytest.fixture(scope="module")
def people(demo_world, server, tmp_path_factory):  # noqa: F811
    out = reporter_world(demo_world, tmp_path_factory.mktemp("forms3-track"), "f3")
    engine = out["engine"]
    with engine.connect() as conn:
        out["community_name"] = conn.execute(sa.text(
            "SELECT name FROM areas WHERE id = :c"), {"c": out["community"]}).scalar_one()
    # a roster already holding F3A with this ID number (a later roster may not reuse it)
    out["id"] = id_number("15020319800101123")
    first = tmp_path_factory.mktemp("forms3-roster") / "roster.csv"
    first.write_text("编号,姓名,手机,身份证号,职业,社区\n"
                     f"F3A,张一,13800138010,{out['id']},保安,{out['community_name']}\n",
                     encoding="utf-8")
    load_volunteers(engine, first, settings=out["settings"])
    from web import create_app

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": out["settings"]})
    client = app.test_client()
    client.csrf = client_sign_in(client, out["users"]["command"])
    out["command"] = client
    return out


def _stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text(STORED)).scalar_one()


def _now(minutes_ago: int = 0) -> str:
    t = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=minutes_ago)
    return t.isoformat().replace("+00:00", "Z")


# --- the files, each with its planted mistakes and what the page should name ----------------

def gpx_file(people) -> tuple[str, list[tuple[int, str, str]]]:
    """Six track points: 2 a latitude that is not a number, 3 a time that is not one, 4 a
    time before 2000, 5 far outside the city."""
    lon, lat = people["lon"], people["lat"]

    def pt(y: object, x: object, t: str) -> str:
        return f'<trkpt lat="{y}" lon="{x}"><time>{t}</time></trkpt>'

    points = [pt(f"{lat:.6f}", f"{lon:.6f}", _now(6)),
              pt("北纬", f"{lon:.6f}", _now(5)),
              pt(f"{lat:.6f}", f"{lon:.6f}", "昨天"),
              pt(f"{lat:.6f}", f"{lon:.6f}", "1999-01-01T00:00:00Z"),
              pt(f"{lat + 5:.6f}", f"{lon + 5:.6f}", _now(3)),
              pt(f"{lat:.6f}", f"{lon + 0.0002:.6f}", _now(2))]
    text = ('<?xml version="1.0" encoding="UTF-8"?>\n<gpx version="1.1" creator="t" '
            'xmlns="http://www.topografix.com/GPX/1/1"><trk><trkseg>'
            + "".join(points) + "</trkseg></trk></gpx>\n")
    return text, [(2, "latitude", "not_number"), (3, "time", "not_time"),
                  (4, "time", "before"), (5, "position", "outside")]


def geojson_file(people) -> tuple[str, list[tuple[int, str, str]]]:
    """Seven features: 2 a polygon, 3 a point without a time, 4 and 7 volunteers the roster
    does not hold, 5 a line with fewer times than vertices, 6 a longitude in words."""
    lon, lat, number = people["lon"], people["lat"], people["number"]

    def point(x: object, props: dict) -> dict:
        return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [x, lat]},
                "properties": props}

    square = [[lon, lat], [lon + 1e-3, lat], [lon + 1e-3, lat + 1e-3], [lon, lat]]
    features = [
        point(lon, {"volunteer": number, "time": _now(6)}),
        {"type": "Feature", "geometry": {"type": "Polygon", "coordinates": [square]},
         "properties": {"volunteer": number}},
        point(lon, {"volunteer": number}),
        point(lon, {"volunteer": "NOPE9", "time": _now(4)}),
        {"type": "Feature", "geometry": {"type": "LineString", "coordinates": square[:3]},
         "properties": {"volunteer": number, "times": [_now(3), _now(2)]}},
        point("东经", {"volunteer": number, "time": _now(2)}),
        point(lon, {"volunteer": "NOPE8", "time": _now(1)}),
    ]
    text = json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False)
    return text, [(2, "position", "geometry"), (3, "time", "missing"),
                  (4, "volunteer", "no_volunteer"), (5, "time", "vertex"),
                  (6, "longitude", "not_number"), (7, "volunteer", "volunteer")]


def hazard_sheet(people) -> tuple[str, list[tuple[int, str, str]]]:
    """A CSV hazard sheet: 3 a name a spreadsheet would run, 4 an address too, 5 a hazard
    category that does not exist."""
    lon, lat = people["lon"], people["lat"]
    text = "\n".join([
        "名称,类别,地址,经度,纬度",
        f"第一加油站,加油站,工农路1号,{lon:.6f},{lat:.6f}",
        f"=HYPERLINK(\"x\"),加油站,工农路2号,{lon:.6f},{lat:.6f}",
        f"第三加油站,加油站,@SUM(A1),{lon:.6f},{lat:.6f}",
        f"第四加油站,飞碟基地,工农路4号,{lon:.6f},{lat:.6f}",
    ]) + "\n"
    return text, [(3, "name", "formula"), (4, "address", "formula"), (5, "category", "")]


def roster_file(people) -> tuple[str, list[tuple[int, str, str]]]:
    """A roster whose rows the database refuses: 2 reuses F3A's ID number, 3 and 4 name
    communities that are not loaded."""
    text = "\n".join([
        "编号,姓名,手机,身份证号,职业,社区",
        f"F3B,王二,13800138011,{people['id']},保安,{people['community_name']}",
        "F3C,李三,13800138012,,保安,火星社区",
        "F3D,赵四,13800138013,,保安,火星社区",
    ]) + "\n"
    return text, [(2, "id_number", "taken"), (3, "community", "no_community"),
                  (4, "community", "no_community")]


def training_file(people) -> tuple[str, list[tuple[int, str, str]]]:
    """A sign-in sheet: 3 and 4 numbers the roster does not hold, 5 the right number with
    another person's name."""
    number = people["number"]
    named = "\n".join([
        "课程,日期,编号,姓名,结果",
        f"急救培训,2026-01-05,{number},,合格",
        "急救培训,2026-01-05,NOPE9,,合格",
        "急救培训,2026-01-05,NOPE7,,合格",
        f"急救培训,2026-01-06,{number},查无此人,合格",
    ]) + "\n"
    return named, [(3, "number", "no_volunteer"), (4, "number", "volunteer"),
                   (5, "name", "roster_name")]


def reports_file(people) -> tuple[str, list[tuple[int, str, str]]]:
    """Reports: 3 and 5 by volunteers the roster does not hold, 4 about a hazard the register
    does not hold."""
    lon, lat, number = people["lon"], people["lat"], people["number"]
    text = "\n".join([
        "volunteer,time,category,lon,lat,hazard",
        f"{number},{_now(9)},fire_gas,{lon:.6f},{lat:.6f},",
        f"NOPE9,{_now(8)},fire_gas,{lon:.6f},{lat:.6f},",
        f"{number},{_now(7)},fire_gas,{lon:.6f},{lat:.6f},H-NOPE",
        f"NOPE6,{_now(6)},fire_gas,{lon:.6f},{lat:.6f},",
    ]) + "\n"
    return text, [(3, "volunteer", "no_volunteer"), (4, "hazard", "no_hazard"),
                  (5, "volunteer", "volunteer")]


FILES = {"gpx": ("tracks", "轨迹.gpx", gpx_file), "geojson": ("tracks", "轨迹.geojson",
                                                            geojson_file),
         "hazards": ("hazards", "隐患台账.csv", hazard_sheet),
         "roster": ("volunteers", "花名册.csv", roster_file),
         "training": ("training", "签到表.csv", training_file),
         "reports": ("reports", "线索.csv", reports_file)}


def _bad_rows(html: str) -> list[tuple[int, str, str]]:
    table = re.search(r'<table class="gp" id="bad-rows">(.*?)</table>', html, re.S)
    assert table, html[:3000]
    return [(int(r), c, w) for r, c, w in re.findall(
        r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", table.group(1))]


@pytest.mark.parametrize("lang", ["zh", "en"])
@pytest.mark.parametrize("name", list(FILES))
def test_an_upload_names_every_bad_row_in_the_page_s_language_and_stores_nothing(
        people, tmp_path, name, lang):
    kind, filename, make = FILES[name]
    text, expected = make(people)
    path = tmp_path / filename
    path.write_text(text, encoding="utf-8")
    command, words = people["command"], WORDS[lang]
    command.set_cookie("lang", lang)
    before = _stored(people["engine"])
    form = {"kind": kind, "csrf_token": command.csrf, "file": (path.open("rb"), filename)}
    if name == "gpx":  # a GPX is one phone's: its volunteer is given under "More"
        form["volunteer"] = people["number"]
    resp = command.post("/uploads", data=form, content_type="multipart/form-data")
    page_html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert f"{words['count']}" in page_html and f"{len(expected)}" in page_html
    shown = _bad_rows(page_html)
    assert [r for r, _, _ in shown] == [r for r, _, _ in expected], shown
    for (row, column, reason), (_, want_column, want_word) in zip(shown, expected):
        assert column.lower() == words[want_column].lower(), (row, column)
        if want_word:
            assert words[want_word] in reason.replace("&#34;", '"'), (row, reason)
    if lang == "zh":  # nothing in English but the file's own values
        for _, column, reason in shown:
            plain = re.sub(r"“[^”]*”|[A-Za-z]+-?[A-Z0-9]+|Asia/Shanghai|HYPERLINK|SUM|times"
                           r"|Polygon|[A-Z][0-9]", "", reason + column)
            assert not re.search(r"[A-Za-z]{3,}", plain), (column, reason)
    assert f'value="{kind}" selected' in page_html  # the kind chosen stays
    assert _stored(people["engine"]) == before


def test_formula_cells_of_a_workbook_are_each_named(people, tmp_path):
    """An XLSX hazard sheet with formulas in two cells names both (row, the file's header,
    the cell) and stores nothing."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["名称", "类别", "经度", "纬度"])
    ws.append(["第一加油站", "加油站", people["lon"], people["lat"]])
    ws.append(["=1+1", "加油站", people["lon"], people["lat"]])
    ws.append(["第三加油站", "加油站", "=C2", people["lat"]])
    path = tmp_path / "隐患台账.xlsx"
    book.save(path)
    command = people["command"]
    before = _stored(people["engine"])
    for lang in ("zh", "en"):
        command.set_cookie("lang", lang)
        resp = command.post("/uploads", data={
            "kind": "hazards", "csrf_token": command.csrf,
            "file": (path.open("rb"), path.name)}, content_type="multipart/form-data")
        assert resp.status_code == 400
        shown = _bad_rows(resp.get_data(as_text=True))
        assert [(r, c) for r, c, _ in shown] == [(3, "名称"), (4, "经度")], shown
        assert "A3" in shown[0][2] and "C4" in shown[1][2]
        assert all(WORDS[lang]["cell"] in w for _, _, w in shown), shown
    assert _stored(people["engine"]) == before


def test_times_without_a_zone_are_each_named_when_none_is_given(people, tmp_path):
    """A track whose times carry no zone, loaded without one (the command line's default;
    the web gives the city's): every such time is named, with the time that is not one."""
    lon, lat, number = people["lon"], people["lat"], people["number"]
    path = tmp_path / "naive.csv"
    path.write_text("\n".join([
        "volunteer,time,lon,lat",
        f"{number},{_now(5)},{lon:.6f},{lat:.6f}",
        f"{number},2026-12-01 08:00:00,{lon:.6f},{lat:.6f}",
        f"{number},昨天,{lon:.6f},{lat:.6f}",
        f"{number},2026-12-01 08:01:00,{lon:.6f},{lat:.6f}",
    ]) + "\n", encoding="utf-8")
    before = _stored(people["engine"])
    with pytest.raises(RowErrors) as refused:
        load_tracks(people["engine"], path, crs="wgs84", settings=people["settings"])
    named = [(p.row, p.column, p.msgid) for p in refused.value.problems]
    assert [(r, c) for r, c, _ in named] == [(3, "time"), (4, "time"), (5, "time")]
    assert "no time zone" in named[0][2] and "no time zone" in named[2][2]
    assert "not a date and time" in named[1][2]
    assert _stored(people["engine"]) == before


@pytest.mark.parametrize("lang,words", [("zh", "“Mars/Base”不是时区"),
                                        ("en", "“Mars/Base” is not a time zone")])
def test_a_time_zone_that_is_none_is_named_beside_its_field(people, tmp_path, lang, words):
    text, _ = gpx_file(people)
    path = tmp_path / "t.gpx"
    path.write_text(text, encoding="utf-8")
    command = people["command"]
    command.set_cookie("lang", lang)
    resp = command.post("/uploads", data={
        "kind": "tracks", "csrf_token": command.csrf, "tz": "Mars/Base",
        "volunteer": people["number"], "file": (path.open("rb"), "t.gpx")},
        content_type="multipart/form-data")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400
    assert re.search(r'name="tz" value="Mars/Base"[^>]*><span class="field-error" '
                     r'id="error-tz" role="alert">' + re.escape(words), html), html[-4000:]


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_gpx_with_mistakes_lists_them_all_on_the_upload_page(page, server, people, lang,  # noqa: F811
                                                               tmp_path):
    """The command drops a GPX with four bad points onto the upload form and reads all four,
    row, column and reason, in the page's language; nothing is stored."""
    text, expected = gpx_file(people)
    path = tmp_path / "巡逻轨迹.gpx"
    path.write_text(text, encoding="utf-8")
    before = _stored(people["engine"])
    page.context.clear_cookies()
    sign_in(page, server, people["users"]["command"])
    page.goto(f"{server}/lang/{lang}?next=/uploads", wait_until="networkidle")
    page.set_input_files("#file", str(path))
    page.select_option("select[name=kind]", "tracks")
    page.locator("#upload details summary").click()
    page.fill("input[name=volunteer]", people["number"])
    page.locator("#upload button[type=submit]").click()
    rows = page.locator("#bad-rows tbody tr")
    expect(rows).to_have_count(len(expected))
    words = WORDS[lang]
    for i, (row, column, reason) in enumerate(expected):
        cells = rows.nth(i).locator("td")
        expect(cells.nth(0)).to_have_text(str(row))
        expect(cells.nth(1)).to_have_text(re.compile(words[column], re.I))
        expect(cells.nth(2)).to_contain_text(words[reason])
    expect(page.locator("#form-error")).to_contain_text("巡逻轨迹.gpx")
    expect(page.locator("select[name=kind]")).to_have_value("tracks")
    shot(page, f"forms3-gpx-bad-rows-{lang}")
    assert _stored(people["engine"]) == before
