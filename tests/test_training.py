"""Training: sign-in sheets, certified skills with expiry, batches from the gaps, and trained
volunteers where training matters (call-outs, loops that inspect dangerous sites)."""

from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa

from geo_patrol.errors import InputError
from geo_patrol.services import training
from geo_patrol.services.sources import load_boundaries, load_training, load_volunteers
from tests.helpers import count, id_number
from tests.worlds import write_area

ON = dt.date(2026, 12, 2)
#: The roster's people: number, name, occupation, skills, duties, community (their ID numbers
#: are made up as the roster is written).
PEOPLE = """\
A01,张伟,保安,急救,巡逻防控,阿尔丁社区
A02,王芳,保安,,巡逻防控、调解员,阿尔丁社区
A03,李娜,外卖骑手,,巡逻防控,阿尔丁社区
A04,刘洋,退休居民,调解,调解员,阿尔丁社区
A05,陈静,退休居民,,巡逻防控,阿尔丁社区
A06,杨勇,出租车司机,,巡逻防控,阿尔丁社区
B01,赵磊,保安,,巡逻防控,富强社区
B02,黄敏,物业人员,,调解员,富强社区
"""
SHEET_HEADER = "课程,认证技能,有效期（月）,培训日期,培训地点,培训形式,授课人,批次,义警编号,姓名,考核结果"


@pytest.fixture
def world(engine, settings, tmp_path):
    """Two communities; volunteers of several trades, some with the mediator duty."""
    load_boundaries(engine, write_area(tmp_path / "a.geojson", "阿尔丁社区", 0, 0, 1000, 1000),
                    level="community", crs="wgs84", settings=settings)
    load_boundaries(engine, write_area(tmp_path / "b.geojson", "富强社区", 1000, 0, 2000, 1000),
                    level="community", crs="wgs84", settings=settings)
    rows = ["编号,姓名,身份证号,职业,技能特长,职责,社区,状态"]
    for i, line in enumerate(PEOPLE.splitlines()):
        number, name, rest = line.split(",", 2)
        rows.append(f"{number},{name},{id_number(i + 1)},{rest},在岗")
    (tmp_path / "roster.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    load_volunteers(engine, tmp_path / "roster.csv", settings=settings)
    return {"engine": engine, "settings": settings, "dir": tmp_path}


def _sheet(path, rows, encoding="gbk"):
    path.write_bytes("\n".join([SHEET_HEADER, *rows]).encode(encoding))
    return path


FIRST_AID = [
    "应急救护培训,急救,36,2026年3月15日,昆区红十字会,现场,李医生,第一期,A01,张伟,考核通过",
    "应急救护培训,急救,36,2026年3月15日,昆区红十字会,现场,李医生,第一期,A02,王芳,合格",
    "应急救护培训,急救,36,2026年3月15日,昆区红十字会,现场,李医生,第一期,A03,李娜,缺勤",
    "应急救护培训,急救,36,2026年3月15日,昆区红十字会,现场,李医生,第一期,A05,陈静,不合格",
]


def test_gbk_sign_in_sheet_with_chinese_headers_loads_once(world):
    engine, settings = world["engine"], world["settings"]
    path = _sheet(world["dir"] / "签到表.csv", FIRST_AID)
    result = load_training(engine, path, settings=settings)
    assert result.stored == 4 and result.details["sessions"] == 1
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT v.number, a.result, s.mode, s.place, s.batch, s.held_on, c.skill, "
            "c.validity_months FROM attendance a JOIN volunteers v ON v.id = a.volunteer_id "
            "JOIN training_sessions s ON s.id = a.session_id JOIN courses c ON c.id = s.course_id "
            "ORDER BY v.number")).all()
    assert [(r.number, r.result) for r in rows] == [
        ("A01", "passed"), ("A02", "passed"), ("A03", "absent"), ("A05", "present")]
    assert {(r.mode, r.place, r.batch, r.held_on, r.skill, r.validity_months) for r in rows} == {
        ("classroom", "昆区红十字会", "第一期", dt.date(2026, 3, 15), "first_aid", 36)}
    again = load_training(engine, path, settings=settings)
    assert again.duplicate and count(engine, "attendance") == 4
    # a corrected sheet (the absent volunteer made it up and passed) changes that row only
    fixed = _sheet(world["dir"] / "签到表-更正.csv",
                   [*FIRST_AID[:2], FIRST_AID[2].replace("缺勤", "合格"), FIRST_AID[3]])
    result = load_training(engine, fixed, settings=settings)
    assert result.details["new"] == 0 and result.details["updated"] == 1
    assert count(engine, "attendance", "result = 'passed'") == 3


def test_xlsx_sheet_and_a_course_named_by_its_title(world, tmp_path):
    engine, settings = world["engine"], world["settings"]
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["培训课程", "培训日期", "培训形式", "义警编号", "签到情况"])
    ws.append(["矛盾纠纷调解实务", dt.datetime(2026, 6, 1), "线上直播", "A04", "合格"])
    ws.append(["矛盾纠纷调解实务", dt.datetime(2026, 6, 1), "线上直播", "B02", "出勤"])
    book.save(tmp_path / "sheet.xlsx")
    with pytest.raises(InputError, match="row 2, mode: “线上直播” is not a form of training"):
        load_training(engine, tmp_path / "sheet.xlsx", settings=settings)
    ws["C2"], ws["C3"] = "直播", "直播"
    book.save(tmp_path / "sheet.xlsx")
    assert load_training(engine, tmp_path / "sheet.xlsx", settings=settings).stored == 2
    with engine.connect() as conn:
        course = conn.execute(sa.text("SELECT skill, validity_months FROM courses")).one()
        mode = conn.execute(sa.text("SELECT mode FROM training_sessions")).scalar_one()
    assert tuple(course) == ("mediation", 24) and mode == "online"


@pytest.mark.parametrize(("row", "message"), [
    ("应急救护培训,急救,36,2026-03-15,,,,,Z99,,合格", r"row 2, number: No volunteer numbered Z99 in the roster"),
    ("应急救护培训,急救,36,2026-03-15,,,,,A01,王芳,合格", r"row 2, name: Volunteer A01 is 张\* in the roster"),
    ("应急救护培训,急救,36,2099-03-15,,,,,A01,,合格", r"row 2, date: 2099-03-15 .* in the future"),
    ("应急救护培训,急救,36,下周三,,,,,A01,,合格", r"row 2, date: “下周三” is not a date"),
    ("应急救护培训,潜水,36,2026-03-15,,,,,A01,,合格", r"row 2, skill: “潜水” is not a skill"),
    ("应急救护培训,急救,36,2026-03-15,,,,,A01,,迟到", r"row 2, result: “迟到” is not a result"),
    ("应急救护培训,急救,三年,2026-03-15,,,,,A01,,合格", r"row 2, validity_months: “三年” is not a number of months"),
    ("=HYPERLINK(1),急救,36,2026-03-15,,,,,A01,,合格", r"row 2, course: .* spreadsheet formula"),
    ("社区工作例会,,,2026-03-15,,,,,A01,,出勤", r"course '社区工作例会' is new"),
])
def test_bad_sheets_are_refused_and_change_nothing(world, row, message):
    engine, settings = world["engine"], world["settings"]
    good = "应急救护培训,急救,36,2026-03-15,,,,,A02,,合格"
    path = _sheet(world["dir"] / "bad.csv", [good, row], encoding="utf-8")
    with pytest.raises(InputError, match=message.replace("row 2", "row 3")):
        load_training(engine, path, settings=settings)
    for table in ("courses", "training_sessions", "attendance", "uploads"):
        assert count(engine, table) == 0 if table != "uploads" else \
            count(engine, table, "kind = 'training'") == 0


def test_same_volunteer_twice_in_a_session_is_refused(world):
    path = _sheet(world["dir"] / "twice.csv", [FIRST_AID[0], FIRST_AID[0]])
    with pytest.raises(InputError, match="row 3, number: Volunteer A01 signed the same session twice"):
        load_training(world["engine"], path, settings=world["settings"])


def test_an_expired_certificate_stops_counting(world):
    engine, settings = world["engine"], world["settings"]
    # A01 passed a 12-month course 13 months ago; A02 passed it 11 months ago; A05 last month
    rows = [f"危化品安全检查,危化品,12,{day},,现场,,第{i}期,{n},,合格" for i, (day, n) in enumerate(
        [("2025-10-20", "A01"), ("2025-12-20", "A02"), ("2026-10-30", "A05")], start=1)]
    load_training(engine, _sheet(world["dir"] / "hz.csv", rows), settings=settings)
    certs = training.certificates(engine, settings, on=ON)
    on = {(r.number, r.current) for r in certs.itertuples()}
    assert ("A01", False) in on and ("A05", True) in on
    with engine.connect() as conn:
        held = dict(conn.execute(sa.text(
            "SELECT number, certified_skills(id, :d) FROM volunteers"), {"d": ON}).all())
        a02_later = conn.execute(sa.text(
            "SELECT certified_skills(id, '2026-12-21') FROM volunteers WHERE number = 'A02'"
        )).scalar_one()
    assert held["A01"] == [] and held["A05"] == ["hazmat_inspection"]
    assert held["A02"] == ["hazmat_inspection"] and a02_later == []  # ends after 12 months
    status = training.status(engine, settings, horizon_days=60, on=ON).set_index(
        ["community", "course"])
    row = status.loc[("阿尔丁社区", "危化品安全检查")]
    # the course has no duty: it is for every active volunteer of the community (6)
    assert (row.volunteers, row.current, row.expiring, row.expired, row.untrained) == (6, 2, 1,
                                                                                      1, 3)
    assert row.share_current == round(2 / 6, 4)


def test_a_proposed_batch_holds_only_due_volunteers_of_one_community(world):
    engine, settings = world["engine"], world["settings"]
    load_training(engine, _sheet(world["dir"] / "fa.csv", FIRST_AID), settings=settings)
    rows = [f"矛盾纠纷调解实务,调解,24,{day},,现场,,,{n},,合格"
            for day, n in [("2024-10-10", "A04"), ("2026-11-01", "B02")]]
    load_training(engine, _sheet(world["dir"] / "md.csv", rows), settings=settings)
    # mediation (duty 调解员 given on the page below): A02 and A04 in 阿尔丁, B02 in 富强
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE courses SET duty = '调解员' WHERE skill = 'mediation'"))
    proposal = training.batches(engine, settings, "矛盾纠纷调解实务", size=30, on=ON)
    assert set(proposal["number"]) == {"A02", "A04"}  # B02 is current; A04 expired
    assert dict(zip(proposal["number"], proposal["standing"])) == {"A02": "untrained",
                                                                  "A04": "expired"}
    assert proposal.groupby("batch")["community"].nunique().eq(1).all()
    # first aid, rooms of 2: 阿尔丁's due volunteers (A03 absent, A05 failed, A04, A06), by trade
    fa = training.batches(engine, settings, "应急救护培训", size=2, on=ON)
    due = {"A03", "A04", "A05", "A06", "B01", "B02"}
    assert set(fa["number"]) == due and not set(fa["number"]) & {"A01", "A02"}
    assert fa.groupby("batch").size().max() <= 2
    assert fa.groupby("batch")["community"].nunique().eq(1).all()
    retired = fa[fa["occupation"] == "retired_resident"]
    assert retired["batch"].nunique() == 1  # one trade kept together when it fits a room
    assert fa["name"].str.contains("*", regex=False).all()  # masked


def test_propose_batches_packs_trades_into_rooms():
    from geo_patrol.planning.training import propose_batches

    people = pd.DataFrame({
        "number": [f"N{i:02d}" for i in range(12)], "name": "某*",
        "occupation": ["guard"] * 7 + ["rider"] * 3 + ["retired"] * 2,
        "community": "甲", "standing": ["untrained"] * 10 + ["current", "expiring"],
        "expires_on": [None] * 11 + [dt.date(2027, 1, 1)]})
    out = propose_batches(people, size=5)
    assert "N10" not in set(out["number"])  # current: not due
    assert out.groupby("batch").size().tolist() == [5, 5, 1]  # 5 guards | 2 guards + 3 riders
    assert set(out[out["batch"] == 2]["occupation"]) == {"guard", "rider"}
    with pytest.raises(ValueError):
        propose_batches(people, size=0)


def test_batches_fill_the_rooms_of_each_police_station():
    """A station's small communities share rooms: every room but the station's last is full,
    no room mixes stations, and a community's people sit together."""
    from geo_patrol.planning.training import propose_batches

    rows = []
    for station, communities in (("东河派出所", 9), ("昆区派出所", 4)):
        for c in range(communities):
            for i in range(3 + c % 4):  # 3 to 6 due in each community
                rows.append({"number": f"{station[:2]}{c:02d}{i}", "name": "某*",
                             "occupation": ("guard", "rider")[i % 2],
                             "community": f"{station[:2]}{c}社区", "station": station,
                             "standing": "untrained", "expires_on": None})
    rows.append({"number": "X1", "name": "某*", "occupation": "guard", "community": "无所社区",
                 "station": None, "standing": "expired", "expires_on": dt.date(2026, 1, 1)})
    people = pd.DataFrame(rows)
    out = propose_batches(people, size=30)
    assert len(out) == len(people) and set(out["number"]) == set(people["number"])
    per = out.groupby("batch").agg(station=("station", "first"), n=("number", "size"),
                                   stations=("station", "nunique"))
    assert (per["stations"] <= 1).all()
    for station, group in per.groupby("station", dropna=False):
        assert (group["n"].iloc[:-1] == 30).all()  # full rooms, the last one the rest
    east = per[per["station"] == "东河派出所"]
    assert east["n"].tolist() == [30, int(people["station"].eq("东河派出所").sum()) - 30]
    # the old packing gave one room per community: 14 rooms of 3 to 6 for these 13 + 1
    assert out["batch"].nunique() == 4
    assert out.groupby("community")["batch"].nunique().max() <= 2


def test_cli_status_batch_and_csv(world, runner, tmp_path):
    from geo_patrol.cli import cli

    path = _sheet(world["dir"] / "fa.csv", FIRST_AID)
    loaded = runner.invoke(cli, ["load", "training", str(path)])
    assert loaded.exit_code == 0, loaded.output
    assert "4 attendance records stored" in loaded.output
    status = runner.invoke(cli, ["training", "status", "--area", "阿尔丁社区"])
    assert status.exit_code == 0, status.output
    assert "应急救护培训" in status.output and "33.3%" in status.output  # 2 of 6
    assert "富强社区" not in status.output
    batch = runner.invoke(cli, ["training", "batch", "--course", "应急救护培训", "--area",
                                "阿尔丁社区", "--size", "3"])
    assert batch.exit_code == 0, batch.output
    assert "batch 1: 阿尔丁社区" in batch.output and "A01" not in batch.output
    out = tmp_path / "batch.csv"
    assert runner.invoke(cli, ["training", "batch", "--course", "应急救护培训", "--csv",
                               str(out)]).exit_code == 0
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert set(table["number"]) == {"A03", "A04", "A05", "A06", "B01", "B02"}
    assert not table["name"].isin(["李娜", "刘洋"]).any()  # masked in the export too
    courses = runner.invoke(cli, ["training", "courses"])
    assert courses.exit_code == 0 and "应急救护培训\tfirst_aid\tduty everyone\t36 months" in \
        courses.output and "nan" not in courses.output
    missing = runner.invoke(cli, ["training", "batch", "--course", "潜水"])
    assert missing.exit_code != 0 and "no course '潜水'" in missing.output


def test_loops_inspecting_dangerous_sites_go_to_trained_volunteers():
    from geo_patrol.planning.crew import SLOTS, ZoneSpot, propose_crew

    pool = pd.DataFrame({
        "number": ["V1", "V2", "V3", "V4"], "name": ["张伟", "王芳", "李娜", "刘洋"],
        "occupation": ["security_guard", "retired_resident", "property_staff", "sanitation"],
        "duties": [["巡逻防控"]] * 4,
        "skills": [["急救"], [], [], []],  # declared only: counts for nothing
        "certified": [[], ["hazmat_inspection"], ["hazmat_inspection", "weapons_inspection"],
                      ["first_aid"]],
        "lon": [109.84, 109.84, 109.90, 109.84], "lat": [40.62] * 4,
        **{slot: [10, 10, 1, 10] for slot in SLOTS}})
    zones = [ZoneSpot(1, 109.84, 40.62, 0.0, ("hazmat_inspection",)),
             ZoneSpot(2, 109.84, 40.62, 0.0, ("hazmat_inspection", "weapons_inspection")),
             ZoneSpot(3, 109.84, 40.62, 0.0)]
    crew = propose_crew(pool, zones, slots=("morning",))
    by_zone = dict(zip(crew["zone"], crew["number"]))
    assert by_zone[1] == "V2"  # the only free volunteer certified for dangerous goods nearby
    assert by_zone[2] == "V3"  # far, but the only one holding both certificates
    assert crew.set_index("zone").at[2, "certified_for"] == \
        "hazmat_inspection,weapons_inspection"
    assert by_zone[3] == "V4"  # first-aid certificate beats a declared skill
    assert bool(crew.set_index("zone").at[3, "first_aid"])
    # nobody left who holds the certificate: the zone gets no proposal rather than anybody
    alone = propose_crew(pool[pool["number"] != "V3"], zones[1:2], slots=("morning",))
    assert alone.empty


def test_the_plan_names_the_certificate_a_loop_needs(demo_world):
    from geo_patrol.planning.plan import PlanParams
    from geo_patrol.services.planning import plan_area
    from geo_patrol.store.areas import find_area
    from geo_patrol.store.results import busiest_district, find_run

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        run = find_run(conn, demo_world["run"].run_id)
        district = busiest_district(conn, run["id"])
        plan = plan_area(conn, run, find_area(conn, district), PlanParams(zones=4, minutes=90),
                         settings=settings)
        certified = dict(conn.execute(sa.text(
            "SELECT number, certified_skills(id, (CAST(:end AS timestamptz) AT TIME ZONE :tz)"
            "::date) FROM volunteers"), {"end": run["window_end"], "tz": settings.timezone}
        ).all())
    needs = dict(zip(plan.zones["zone"], plan.zones["loop_skills"]))
    assert any(needs.values())  # the demo's loops do inspect sites that need a certificate
    loops = plan.crew[plan.crew["slot"] != "passive"]
    for row in loops.itertuples():
        wanted = {s for s in needs[row.zone].split(",") if s}
        assert wanted <= set(certified[row.number]), (row.zone, row.number)
        assert row.certified_for == needs[row.zone]


def _on_the_web(world):
    """The first-aid sheet loaded; the app, and a command's client signed in with its form
    token."""
    from web import create_app
    from tests.helpers import make_user, sign_in

    engine, settings = world["engine"], world["settings"]
    load_training(engine, _sheet(world["dir"] / "fa.csv", FIRST_AID), settings=settings)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    command = app.test_client()
    return app, command, sign_in(command, make_user(engine, "t-command", "command"))


def test_training_on_the_web_scoped_escaped_and_exported(world):
    from tests.helpers import make_user, sign_in

    engine = world["engine"]
    app, command, token = _on_the_web(world)
    page = command.get("/training?course=应急救护培训&size=3")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and 'id="shares"' in text and 'id="batches"' in text
    assert "阿尔丁社区" in text and "富强社区" in text and "李娜" not in text  # masked
    only = command.get("/training?community=富强社区").get_data(as_text=True)
    rows = only.split('id="status"')[1].split("</tbody>")[0]
    assert "富强社区" in rows and "阿尔丁社区" not in rows
    # a session typed on the page, with markup in its text: stored, shown escaped
    posted = command.post("/training", data={
        "csrf_token": token, "course": "<b>调解</b>实务", "skill": "mediation",
        "validity_months": "24", "duty": "调解员", "held_on": "2026-11-20",
        "mode": "classroom", "place": "<script>alert(1)</script>", "trainer": "司法所",
        "batch": "第1期", "passed": "A04, B02", "present": "A02", "absent": ""})
    body = posted.get_data(as_text=True)
    assert posted.status_code == 200 and 'id="entered"' in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert "&lt;b&gt;调解&lt;/b&gt;实务" in body
    with engine.connect() as conn:
        passed = conn.execute(sa.text(
            "SELECT array_agg(v.number ORDER BY v.number) FROM attendance a "
            "JOIN volunteers v ON v.id = a.volunteer_id JOIN training_sessions s "
            "ON s.id = a.session_id JOIN courses c ON c.id = s.course_id "
            "WHERE c.skill = 'mediation' AND a.result = 'passed'")).scalar_one()
        logged = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'training_session'")).scalar_one()
    assert passed == ["A04", "B02"] and logged == 1
    before = count(engine, "attendance")
    bad = command.post("/training", data={"csrf_token": token, "course": "应急救护培训",
                                          "held_on": "2026-11-21", "passed": "A01 Z99"})
    page = bad.get_data(as_text=True)  # said beside the list that holds it, what was typed kept
    assert bad.status_code == 400 and 'id="error-passed"' in page and "Z99" in page
    assert ">A01 Z99</textarea>" in page
    assert count(engine, "attendance") == before  # nothing stored
    # CSV for Excel, with formula-looking text escaped; the API in JSON
    csv = command.get("/training/status.csv")
    assert csv.status_code == 200 and csv.data.startswith(b"\xef\xbb\xbf")
    assert "&lt;b&gt;" not in csv.data.decode("utf-8-sig")
    api = command.get("/api/training/status").get_json()
    row = next(r for r in api["rows"] if r["community"] == "富强社区"
               and r["course"] == "<b>调解</b>实务")
    assert (row["volunteers"], row["current"]) == (1, 1)
    batches = command.get("/api/training/batches?course=应急救护培训&size=2").get_json()
    assert batches["batches"] and all(len(b["volunteers"]) <= 2 for b in batches["batches"])
    assert command.get("/api/training/batches").status_code == 400
    assert command.get("/api/training/batches?course=潜水").status_code == 400

    # an officer sees their own community only; a planner and a volunteer not the page
    officer = app.test_client()
    otoken = sign_in(officer, make_user(engine, "t-officer", "officer", areas=["富强社区"]))
    seen = officer.get("/training").get_data(as_text=True)
    assert "富强社区" in seen and "阿尔丁社区" not in seen
    assert officer.post("/training", data={"course": "x", "csrf_token": otoken}
                        ).status_code == 403
    rows = officer.get("/api/training/status").get_json()["rows"]
    assert {r["community"] for r in rows} == {"富强社区"}
    planner = app.test_client()
    sign_in(planner, make_user(engine, "t-planner", "planner"))
    assert planner.get("/training").status_code == 403
    volunteer = app.test_client()
    sign_in(volunteer, make_user(engine, "t-volunteer", "volunteer", volunteer="A01"))
    assert volunteer.get("/training").status_code == 403
    me = volunteer.get("/me").get_data(as_text=True)
    assert 'id="my-certificates"' in me and "应急救护" in me


def _strict_json(text: str):
    """``text`` parsed as JSON proper: NaN, Infinity and -Infinity are refused."""
    import json

    def refuse(constant: str):
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_the_training_api_is_strict_json(world):
    """A missing value (a course's duty) is null: a strict parser reads the API."""
    _app, command, token = _on_the_web(world)
    # a course for a duty beside one without (first aid): the latter's duty is missing
    assert command.post("/training", data={
        "csrf_token": token, "course": "调解实务", "skill": "mediation",
        "validity_months": "24", "duty": "调解员", "held_on": "2026-11-20",
        "mode": "classroom", "place": "司法所", "trainer": "司法所", "batch": "第1期",
        "passed": "A04", "present": "", "absent": ""}).status_code == 200
    resp = command.get("/api/training/status")
    assert resp.status_code == 200
    doc = _strict_json(resp.get_data(as_text=True))
    assert doc["rows"] and any(v is None for r in doc["rows"] for v in r.values())
    assert doc == resp.get_json()  # the same document, whichever parser reads it


def test_uploading_a_sign_in_sheet_on_the_web(world):
    from web import create_app
    from tests.helpers import make_user, sign_in
    import io

    engine, settings = world["engine"], world["settings"]
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    client = app.test_client()
    token = sign_in(client, make_user(engine, "u-command", "command"))
    data = "\n".join([SHEET_HEADER, *FIRST_AID]).encode("gbk")
    resp = client.post("/uploads", data={"csrf_token": token, "kind": "training",
                                         "file": (io.BytesIO(data), "签到表.csv")},
                       content_type="multipart/form-data", follow_redirects=True)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
    assert "签到表.csv：4 条记录已保存" in resp.get_data(as_text=True)
    assert count(engine, "attendance") == 4
