"""Rotas through the web app and the CLI: made from the planner's form, read back as the
page, CSV, GeoJSON, API and an offline briefing; scoped by role; bad input changes nothing."""

from __future__ import annotations

import re

import sqlalchemy as sa
from click.testing import CliRunner

from geo_patrol.privacy import mask_name
from geo_patrol.render.assets import external_references
from geo_patrol.render.rota import hotspot_force
from tests.helpers import follow_job, make_user, sign_in


def _rotas(engine) -> int:  # noqa: ANN001
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM rotas")).scalar_one()


def test_a_rota_made_on_the_planner_and_read_back_everywhere(demo_world, tmp_path,
                                                             monkeypatch):
    from geo_patrol.services import crime
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        # the community whose volunteers patrol most: it has a force to plan with
        area, name = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a JOIN volunteers v ON v.community_id = a.id "
            "JOIN tracks t ON t.volunteer_id = v.id AND t.kind = 'patrol' "
            "WHERE a.level = 'community' GROUP BY a.id ORDER BY count(*) DESC LIMIT 1")).one()
        other = conn.execute(sa.text(
            "SELECT name FROM areas WHERE level = 'community' AND id <> :a ORDER BY id "
            "LIMIT 1"), {"a": area}).scalar_one()
        volunteer = conn.execute(sa.text("SELECT number FROM volunteers LIMIT 1")).scalar_one()
    make_user(engine, "w-planner", "planner")
    make_user(engine, "w-command", "command")
    make_user(engine, "w-officer", "officer", areas=[name])
    make_user(engine, "w-stranger", "officer", areas=[other])
    make_user(engine, "w-volunteer", "volunteer", volunteer=volunteer)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    clients = {}
    for role in ("planner", "command", "officer", "stranger", "volunteer"):
        clients[role] = app.test_client()
        clients[role].csrf = sign_in(clients[role], f"w-{role}")
    planner, command = clients["planner"], clients["command"]
    form = {"area": area, "from": "2026-12-03", "days": "3", "revisit_days": "2",
            "minutes": "60", "seed": "3", "csrf_token": planner.csrf}
    # bad input: a clear 400 and nothing stored
    before = _rotas(engine)
    for bad, word in (({"days": "40"}, "天数应在 1 至 14 之间"), ({"seed": "x"}, "应为整数"),
                      ({"revisit_days": "9"}, "revisit interval"), ({"from": "3.12."}, "“3.12.”不是日期"),
                      ({"minutes": "5"}, "单次路线（分钟）应在 10 至 240 之间")):
        resp = planner.post("/planner/rota", data={**form, **bad})
        assert resp.status_code == 400 and word in resp.get_data(as_text=True), (bad, resp)
    assert _rotas(engine) == before
    assert clients["officer"].post("/planner/rota", data={
        **form, "csrf_token": clients["officer"].csrf}).status_code == 403
    # the rota's forecast comes from the stored crime study (made as a job on the way),
    # never from an evaluation of its own
    def evaluated_again(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError("the rota ran its own forecast evaluation")

    monkeypatch.setattr(crime, "favoured_method", evaluated_again)
    made = planner.post("/planner/rota", data=form)
    assert made.status_code == 302 and "rota_job=" in made.headers["Location"]
    # a second click while the rota is being made joins the same job
    again = planner.post("/planner/rota", data=form)
    assert again.headers["Location"] == made.headers["Location"]
    shown, _ = follow_job(planner, made.headers["Location"])
    monkeypatch.undo()
    rota_id = int(re.search(r"rota=(\d+)", shown).group(1))
    assert _rotas(engine) == before + 1
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'rota_create' AND actor = 'w-planner'"
            " AND target = :t"), {"t": f"rota {rota_id}"}).scalar_one() == 1
        walks, given = conn.execute(sa.text(
            "SELECT count(*), count(volunteer_id) FROM rota_walks WHERE rota_id = :r"),
            {"r": rota_id}).one()
        names = [r[0] for r in conn.execute(sa.text(
            "SELECT v.name FROM rota_walks w JOIN volunteers v ON v.id = w.volunteer_id "
            "WHERE w.rota_id = :r"), {"r": rota_id})]
    assert walks > 0 and given > 0
    # the rota names the forecast /crime names, from the one stored study
    favoured = command.get("/api/crime/evaluation").get_json()["favoured"]
    forecast = planner.get(f"/api/rotas/{rota_id}").get_json()["properties"]["forecast"]
    assert forecast["method"] == favoured["method"] == "sepp"
    assert forecast["pai"] == favoured["pai"] and forecast["beats_random"]
    with engine.connect() as conn:
        studies = conn.execute(sa.text(
            "SELECT count(*) FROM jobs WHERE kind = 'crime' AND state = 'done' "
            "AND params->>'area_id' IS NULL AND params->>'within' IS NULL")).scalar_one()
    assert studies == 1
    crime_page = command.get("/crime").get_data(as_text=True)
    assert "近期警情带动的风险" in crime_page.split('id="rota-forecast"')[1].split("</p>")[0]
    # the page, the map document, the API
    page = planner.get(f"/planner?area={area}&rota={rota_id}").get_data(as_text=True)
    assert 'id="rota-figures"' in page and page.count("<tr") > 10
    assert planner.get(f"/planner?area={area}&rota={rota_id}&day=2026-12-09").status_code == 400
    doc = planner.get(f"/maps/rota?rota={rota_id}&day=2026-12-04").get_data(as_text=True)
    assert "gp-legend" in doc and external_references(doc) == []
    listed = planner.get(f"/api/rotas?area={area}").get_json()["rotas"]
    assert listed[0]["id"] == rota_id and listed[0]["walks"] == walks
    geo = planner.get(f"/api/rotas/{rota_id}").get_json()
    assert len(geo["features"]) == walks and geo["properties"]["walks"] == walks
    # the hot-spot stops Koper's dose asks for, those the force seen can make, what is missing
    said = hotspot_force(geo["properties"], "zh")
    assert said.startswith(f"计划 {geo['properties']['hotspot_due']} 次热点驻巡，现有力量可完成 "
                           f"{geo['properties']['hotspot_given']} 次") and said in page
    assert {f["properties"]["slot"] for f in geo["features"]} <= {
        "morning", "midday", "afternoon", "evening"}
    assert len(geo["properties"]["daily"]) == 3
    # planners see no people; the command sees roster numbers and masked names
    assert all(f["properties"]["number"] is None and f["properties"]["name"] is None
               for f in geo["features"])
    csv = command.get(f"/planner/rota.csv?rota={rota_id}").get_data().decode("utf-8-sig")
    lines = csv.strip().splitlines()
    # headers and values in the reader's language (the API keeps its keys)
    assert lines[0].startswith("任务序号,日期,时段,出发时间,时长（分钟）,任务类型,社区,义警编号,姓名")
    assert len(lines) == walks + 1
    assert {row.split(",")[2] for row in lines[1:]} <= {
        "早间 6–10 时", "午间 10–14 时", "下午 14–18 时", "晚间 18–22 时"}
    english = command.get(f"/planner/rota.csv?rota={rota_id}&lang=en").get_data().decode(
        "utf-8-sig").strip().splitlines()
    assert english[0].startswith("Walk,Day,Time slot,Starts at,Minutes,Kind,Community,"
                                 "Roster number,Name")
    assert {row.split(",")[5] for row in english[1:]} <= {"Street loop", "Hot-spot visit"}
    assert all(n not in csv for n in names)
    assert any(mask_name(n) in csv for n in names)
    exported = command.get(f"/planner/rota.geojson?rota={rota_id}")
    assert exported.headers["Content-Disposition"].endswith(f"rota-{rota_id}.geojson")
    # the briefing: offline, roster numbers at most, no names (not even masked)
    briefing = command.get(f"/planner/rota-briefing?rota={rota_id}").get_data(as_text=True)
    assert external_references(briefing) == []
    assert all(n not in briefing and mask_name(n) not in briefing for n in names)
    assert "巡逻排班表" in briefing and "每日排班" in briefing
    # scope: the officer of the rota's community reads it, another officer does not learn
    # that it exists, a volunteer may not read rotas
    assert clients["officer"].get(f"/api/rotas/{rota_id}").status_code == 200
    assert clients["stranger"].get(f"/api/rotas/{rota_id}").status_code == 404
    assert clients["stranger"].get(f"/planner/rota.csv?rota={rota_id}").status_code == 404
    assert rota_id not in [r["id"] for r in clients["stranger"].get("/api/rotas").get_json()
                           ["rotas"]]
    assert clients["volunteer"].get(f"/api/rotas/{rota_id}").status_code == 403
    assert planner.get("/api/rotas/999999").status_code == 404
    # the CLI makes and lists rotas too
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(tmp_path / "d"),
                            "GEO_PATROL_METRIC_CRS": ""})
    out = tmp_path / "walks.csv"
    made = runner.invoke(cli_group(), ["plan", "rota", "--area", name, "--from", "2026-12-03",
                                       "--days", "2", "--revisit-days", "2", "--csv", str(out)])
    assert made.exit_code == 0, made.output
    assert "hazard inspections due by rule" in made.output and "shortfall" in made.output
    assert "hot-spot stops planned, the force at hand can make" in made.output
    assert out.read_bytes().decode("utf-8-sig").startswith("id,day,slot")
    listed = runner.invoke(cli_group(), ["plan", "rotas", "--area", name])
    assert listed.exit_code == 0 and f"#{rota_id} {name}" in listed.output


def cli_group():  # noqa: ANN201
    from geo_patrol.cli import cli

    return cli
