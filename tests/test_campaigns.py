"""Campaigns: progress toward zero on a hand-made history, on the demo (against the database
itself), bad input refused with nothing stored, the CLI, the API and the scope."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from geo_patrol.analysis.campaign import burn_down, progress_table, with_dates
from geo_patrol.cli import cli
from geo_patrol.errors import InputError
from geo_patrol.services import campaigns
from tests.helpers import follow_job, make_user, sign_in

D = dt.date(2026, 10, 1)


def test_burn_down_follows_found_visited_and_status_by_day():
    hazards = pd.DataFrame({
        "hazard_id": [1, 2, 3], "name": ["甲", "乙", "丙"], "category": ["gas_lpg"] * 3,
        "status": ["rectified", "open", "cleared"], "district": ["九原区"] * 3,
        "community": ["A"] * 3,
        "found_on": [D - dt.timedelta(days=5), D + dt.timedelta(days=1), D + dt.timedelta(days=2)],
        "inspected_on": [D + dt.timedelta(days=3), None, None],
        "rechecked_on": [None, D + dt.timedelta(days=2), D + dt.timedelta(days=3)]})
    changes = pd.DataFrame({
        "hazard_id": [1, 2, 3, 1, 3, 1, 1],
        "day": [D - dt.timedelta(days=5), D + dt.timedelta(days=1), D + dt.timedelta(days=2),
                D + dt.timedelta(days=2), D + dt.timedelta(days=3), D + dt.timedelta(days=3),
                D + dt.timedelta(days=4)],
        "status": ["open", "open", "open", "rectified", "cleared", "open", "rectified"]})
    dated = with_dates(hazards, D)
    assert dated["found"].tolist() == [D, D + dt.timedelta(days=1), D + dt.timedelta(days=2)]
    assert dated["visited"].tolist() == [D + dt.timedelta(days=3), D + dt.timedelta(days=2),
                                         D + dt.timedelta(days=3)]
    days = burn_down(dated, changes, D, D + dt.timedelta(days=4)).set_index("day")
    assert days["found"].tolist() == [1, 2, 3, 3, 3]
    assert days["visited"].tolist() == [0, 0, 1, 3, 3]
    # hazard 1 rectified on day 2, reopened on day 3, rectified again on day 4
    assert days["rectified"].tolist() == [0, 0, 1, 0, 1]
    assert days["cleared"].tolist() == [0, 0, 0, 1, 1]
    assert days["open"].tolist() == [1, 2, 2, 2, 1]
    table = progress_table(dated)
    assert table.iloc[0][["found", "visited", "never_visited", "rectified", "cleared",
                          "open"]].tolist() == [3, 3, 0, 1, 1, 1]


def test_hazards_never_rechecked_are_found_and_never_visited():
    """Hazards whose ledger holds only the entry that found them (or none at all: no status
    date) are found on the campaign's first day at the latest and never visited."""
    hazards = pd.DataFrame({
        "hazard_id": [1, 2, 3], "name": ["甲", "乙", "丙"], "category": ["gas_lpg"] * 3,
        "status": ["open"] * 3, "district": ["九原区"] * 3, "community": ["A"] * 3,
        "found_on": [D - dt.timedelta(days=3), D + dt.timedelta(days=1), None],
        "inspected_on": [None] * 3, "rechecked_on": [None] * 3})
    changes = pd.DataFrame({"hazard_id": [1, 2], "status": ["open", "open"],
                            "day": [D - dt.timedelta(days=3), D + dt.timedelta(days=1)]})
    for frame, found in [(hazards, [D, D + dt.timedelta(days=1), D]),
                         (hazards.iloc[:2], [D, D + dt.timedelta(days=1)])]:
        dated = with_dates(frame, D)
        assert dated["found"].tolist() == found
        assert dated["visited"].tolist() == [None] * len(frame)
        days = burn_down(dated, changes, D, D + dt.timedelta(days=2))
        assert days["found"].tolist() == [len(frame) - 1, len(frame), len(frame)]
        assert days["visited"].tolist() == [0, 0, 0]
        assert days["open"].tolist() == days["found"].tolist()
        table = progress_table(dated)
        assert table.iloc[0][["found", "visited", "never_visited", "open"]].tolist() == \
            [len(frame), 0, len(frame), len(frame)]
        assert table.iloc[0]["share_visited"] == 0


def test_pages_answer_with_a_campaign_of_hazards_never_rechecked(engine, settings, tmp_path):
    """The campaign page, an officer's dashboard and the district briefing, while the
    campaign's hazards were found by the ledger and never rechecked nor inspected."""
    from geo_patrol.services.analysis import analyze
    from geo_patrol.services.sources import (
        load_boundaries,
        load_hazards,
        load_streets,
    )
    from tests.worlds import METRIC, write_area, write_hazards, write_osm
    from web import create_app

    world = settings.with_(metric_crs=METRIC, segment_max_m=200.0)
    load_boundaries(engine, write_area(tmp_path / "d.geojson", "测试区", -2000, -2000, 2000,
                                       2000), level="district", crs="wgs84", settings=world)
    load_boundaries(engine, write_area(tmp_path / "c.geojson", "测试社区", -300, -800, 700, 700),
                    level="community", crs="wgs84", settings=world)
    load_streets(engine, write_osm(tmp_path / "s.osm", [
        ("A", [(0, 0), (100, 0)]), ("B", [(0, 200), (100, 200)])]), settings=world)
    load_hazards(engine, write_hazards(tmp_path / "h.csv", [
        ("G1", "液化气站", "gas_lpg", 50, 100), ("S1", "实验小学", "school", 50, 300)]),
        crs="wgs84", settings=world)
    day = dt.datetime(2026, 11, 27, tzinfo=dt.timezone(dt.timedelta(hours=8)))
    analyze(engine, day, day + dt.timedelta(days=1), settings=world)
    today = world.today()
    with engine.connect() as conn:
        district = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'district'")).scalar_one()
    cid = campaigns.create(engine, world, name="清零行动", starts_on=today - dt.timedelta(days=30),
                           ends_on=today + dt.timedelta(days=30), districts=[district],
                           categories=["gas_lpg", "school"], by="tester")
    p = campaigns.progress(engine, world, cid)
    assert p.totals["found"] == 2 and p.totals["never_visited"] == 2

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": world})
    make_user(engine, "c-command", "command")
    make_user(engine, "c-officer", "officer", areas=["测试社区"])
    command, officer = app.test_client(), app.test_client()
    sign_in(command, "c-command")
    sign_in(officer, "c-officer")
    for client, path in [(command, "/campaigns"), (officer, "/campaigns"),
                         (officer, "/dashboard"), (command, "/dashboard"),
                         (command, f"/briefing/{district}")]:
        _, resp = follow_job(client, path)  # computed by a job, then read from its result
        assert resp.status_code == 200, (path, resp.get_data(as_text=True)[-2000:])
        if path != f"/briefing/{district}":
            assert "清零行动" in resp.get_data(as_text=True), path
    assert command.get(f"/api/campaigns/{cid}").get_json()["totals"]["never_visited"] == 2


@pytest.fixture(scope="module")
def campaign(demo_world):
    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        districts = conn.execute(sa.text(
            "SELECT DISTINCT d.id FROM areas d JOIN hazards h ON h.community_id IN "
            "(SELECT area_subtree(d.id)) WHERE d.level = 'district' ORDER BY d.id")).scalars().all()
    cid = campaigns.create(engine, settings, name="双清双打（测试）",
                           starts_on=dt.date(2026, 9, 1), ends_on=dt.date(2026, 12, 31),
                           districts=list(districts), categories=["gas_lpg", "school"],
                           by="tester")
    return {"id": cid, "districts": list(districts)}


def test_demo_campaign_progress_agrees_with_the_database(demo_world, campaign):
    engine, settings = demo_world["engine"], demo_world["settings"]
    on = dt.date(2026, 11, 28)
    p = campaigns.progress(engine, settings, campaign["id"], on=on)
    with engine.connect() as conn:
        found = conn.execute(sa.text("""
            SELECT count(*) FROM hazards h WHERE h.category IN ('gas_lpg', 'school')
              AND NOT h.proposed
              AND (SELECT min(changed_at AT TIME ZONE 'Asia/Shanghai')::date
                   FROM hazard_status_history s WHERE s.hazard_id = h.id) <= :on"""),
            {"on": on}).scalar_one()
        open_now = conn.execute(sa.text("""
            SELECT count(*) FROM hazards h WHERE h.category IN ('gas_lpg', 'school')
              AND NOT h.proposed AND h.status = 'open'
              AND (SELECT min(changed_at AT TIME ZONE 'Asia/Shanghai')::date
                   FROM hazard_status_history s WHERE s.hazard_id = h.id) <= :on"""),
            {"on": on}).scalar_one()
        inspected = conn.execute(sa.text("""
            SELECT count(DISTINCT r.hazard_id) FROM hazard_results r JOIN hazards h
              ON h.id = r.hazard_id WHERE h.category IN ('gas_lpg', 'school')
              AND r.first_inspection IS NOT NULL""")).scalar_one()
    t = p.totals
    assert t["found"] == found > 10 and t["open"] == open_now
    assert t["visited"] + t["never_visited"] == t["found"]
    assert inspected <= t["visited"] < t["found"]
    assert len(p.never_visited) == t["never_visited"]
    assert set(p.table["category"]) == {"gas_lpg", "school"}
    assert p.days.iloc[-1]["found"] == found and p.days.iloc[-1]["day"] == on
    assert p.days["found"].is_monotonic_increasing
    assert p.days.iloc[-1]["open"] == open_now
    assert len(p.schools) >= 1 and (p.schools["checked_days"] <= p.schools["due_days"]).all()


def test_the_campaign_map_marks_each_unit_as_its_tables_count_it(demo_world, campaign):
    from geo_patrol.services.maps import campaign_map

    engine, settings = demo_world["engine"], demo_world["settings"]
    p = campaigns.progress(engine, settings, campaign["id"])
    layers = campaigns.map_layers(engine, settings, campaign["id"])
    t, states = p.totals, layers.units["state"].value_counts().to_dict()
    assert len(layers.units) == t["found"] > 10
    assert states.get("rectified", 0) == t["rectified"]
    assert states.get("cleared", 0) == t["cleared"]
    assert states.get("open_visited", 0) + states.get("open_never_visited", 0) == t["open"] > 0
    assert layers.units["street"].notna().mean() > 0.8  # named by their place
    assert layers.units.geometry.notna().all() and len(layers.area) > 0
    # the last check is inside the period, and a unit never visited has none there
    never = layers.units[layers.units["state"] == "open_never_visited"]
    assert never["last_check"].isna().all()
    doc = campaign_map(engine, settings, campaign["id"], lang="en")
    assert "Still open, never visited" in doc and "Campaign area" in doc
    assert "inspector" not in doc.lower() and "Last checked" in doc


def test_bad_campaigns_are_refused_and_nothing_is_stored(demo_world, campaign):
    engine, settings = demo_world["engine"], demo_world["settings"]

    def count():
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM campaigns")).scalar_one()

    before = count()
    good = {"name": "另一行动", "starts_on": dt.date(2026, 9, 1),
            "ends_on": dt.date(2026, 10, 1), "districts": campaign["districts"],
            "categories": ["school"], "by": "t"}
    for change, message in [({"name": " "}, "name the campaign"),
                            ({"ends_on": dt.date(2026, 8, 1)}, "ends on or after"),
                            ({"starts_on": None}, "first and last day"),
                            ({"districts": []}, "at least one district"),
                            ({"categories": ["piracy"]}, "unknown: piracy"),
                            ({"name": "双清双打（测试）"}, "exists already"),
                            ({"districts": [999999]}, "not a district")]:
        with pytest.raises(InputError, match=message):
            campaigns.create(engine, settings, **{**good, **change})
    assert count() == before


def test_campaign_cli_api_and_scope(demo_world, campaign, tmp_path):
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(tmp_path / "d"),
                            "GEO_PATROL_METRIC_CRS": ""})
    with engine.connect() as conn:
        district = conn.execute(sa.text("SELECT name FROM areas WHERE id = :d"),
                                {"d": campaign["districts"][0]}).scalar_one()
    made = runner.invoke(cli, ["campaign", "create", "--name", "清查枪爆", "--from", "2026-10-01",
                               "--to", "2026-12-31", "--district", district, "--category",
                               "枪爆刀", "--category", "危化品"])
    assert made.exit_code == 0, made.output
    assert "dangerous_goods, guns_explosives_knives" in made.output
    listed = runner.invoke(cli, ["campaign", "list"])
    assert "清查枪爆" in listed.output and "双清双打（测试）" in listed.output
    csv = tmp_path / "p.csv"
    never = tmp_path / "n.csv"
    shown = runner.invoke(cli, ["campaign", "progress", "双清双打（测试）", "--on", "2026-11-28"])
    assert shown.exit_code == 0 and "never visited" in shown.output
    assert "school days checked in their windows" in shown.output
    assert runner.invoke(cli, ["campaign", "progress", str(campaign["id"]), "--csv", str(csv),
                               "--never-visited-csv", str(never)]).exit_code == 0
    assert csv.read_bytes().decode("utf-8-sig").startswith("district,category,found,visited")
    assert never.read_bytes().decode("utf-8-sig").startswith("district,community,category")
    bad = runner.invoke(cli, ["campaign", "create", "--name", "x", "--from", "2026-13-01",
                              "--to", "2026-12-01", "--district", district, "--category", "x"])
    assert bad.exit_code != 0 and "is not a date" in bad.output

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    with engine.connect() as conn:
        community = conn.execute(sa.text(
            "SELECT a.name FROM areas a JOIN hazards h ON h.community_id = a.id "
            "WHERE h.category = 'gas_lpg' GROUP BY a.name ORDER BY count(*) DESC LIMIT 1")
        ).scalar_one()
    make_user(engine, "m-command", "command")
    make_user(engine, "m-officer", "officer", areas=[community])
    make_user(engine, "m-planner", "planner")
    clients = {}
    for user in ("m-command", "m-officer", "m-planner"):
        clients[user] = app.test_client()
        sign_in(clients[user], user)
    whole = clients["m-command"].get(f"/api/campaigns/{campaign['id']}").get_json()
    mine = clients["m-officer"].get(f"/api/campaigns/{campaign['id']}").get_json()
    assert whole["totals"]["found"] > mine["totals"]["found"] > 0
    assert {r["community"] for r in mine["never_visited"]} <= {community}
    mapped = {u: clients[u].get(f"/maps/campaigns/{campaign['id']}")
              for u in ("m-command", "m-officer")}
    assert all(r.status_code == 200 for r in mapped.values())
    with engine.connect() as conn:
        others = conn.execute(sa.text(
            "SELECT name FROM areas WHERE level = 'community' AND name <> :c AND id IN "
            "(SELECT area_subtree(:d))"), {"c": community, "d": campaign["districts"][0]}
        ).scalars().all()
    seen = {u: r.get_data(as_text=True) for u, r in mapped.items()}
    def named(name: str, doc: str) -> bool:  # a name as the map's data writes it
        return json.dumps(name) in doc or f'"{name}"' in doc

    assert named(community, seen["m-officer"]) and named(community, seen["m-command"])
    assert others and not any(named(o, seen["m-officer"]) for o in others)
    assert any(named(o, seen["m-command"]) for o in others)
    assert clients["m-command"].get("/maps/campaigns/999999").status_code == 404
    assert clients["m-command"].get(f"/campaigns/{campaign['id']}/progress.csv").status_code == 200
    assert clients["m-command"].get("/api/campaigns/999999").status_code == 404
    token = sign_in(clients["m-planner"], "m-planner")
    refused = clients["m-planner"].post("/campaigns", data={
        "csrf_token": token, "name": "规划员行动", "from": "2026-10-01", "to": "2026-10-31",
        "district": campaign["districts"][0], "category": "school"})
    assert refused.status_code == 403
    token = sign_in(clients["m-command"], "m-command")
    wrong = clients["m-command"].post("/campaigns", data={
        "csrf_token": token, "name": "<script>alert(1)</script>", "from": "2026-10-31",
        "to": "2026-10-01", "district": campaign["districts"][0], "category": "school"})
    body = wrong.get_data(as_text=True)
    assert wrong.status_code == 400 and 'id="error-to"' in body  # beside the last day
    assert "<script>alert(1)</script>" not in body  # the form keeps it, escaped
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in body


def test_the_demo_campaign_counts_in_every_district(demo_world):
    """The demo's own campaign, as each district's briefing counts it (within the district)."""
    from geo_patrol.services.demo import demo_campaign
    from geo_patrol.store.crime import districts

    engine, settings = demo_world["engine"], demo_world["settings"]
    on = dt.date(2026, 11, 28)
    cid = demo_campaign(engine, settings, on)
    whole = campaigns.progress(engine, settings, cid, on=on).totals
    with engine.connect() as conn:
        ids = districts(conn)["id"].tolist()
    found = 0
    for district in ids:
        (p,) = [p for p in campaigns.district_progress(engine, settings, district, on=on)
                if p.campaign["id"] == cid]  # beside the campaigns the other tests made
        t = p.totals
        assert t["visited"] + t["never_visited"] == t["found"]
        found += t["found"]
    assert found == whole["found"] > 0
