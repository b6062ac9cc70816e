"""The force a rota is sized to: volunteer-hours per community, weekday and time slot from
past patrols, or as the planner set them."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.planning.crew import SLOTS
from geo_patrol.planning.force import force_table, slot_hours, weekly
from geo_patrol.services.planning import force, set_force
from tests.helpers import make_user, sign_in


def test_patrol_hours_fall_in_their_slots():
    mon = pd.Timestamp("2026-11-23")  # a Monday
    spans = pd.DataFrame({
        "volunteer_id": [1, 1, 2, 3],
        "community_id": [10, 10, 10, 20],
        "start": [mon + pd.Timedelta(hours=17.5), mon + pd.Timedelta(hours=20),
                  mon + pd.Timedelta(hours=7), mon + pd.Timedelta(days=8, hours=9)],
        "end": [mon + pd.Timedelta(hours=19), mon + pd.Timedelta(hours=21),
                mon + pd.Timedelta(hours=8), mon + pd.Timedelta(days=8, hours=11)]})
    out = slot_hours(spans, SLOTS, weeks=2).set_index(["community_id", "weekday", "slot"])
    # 17:30-19:00 is half an hour of afternoon and an hour of evening; 20-21 another hour
    assert out.loc[(10, 0, "afternoon"), "observed_hours"] == pytest.approx(0.25)
    assert out.loc[(10, 0, "evening"), "observed_hours"] == pytest.approx(1.0)
    assert out.loc[(10, 0, "evening"), "volunteers"] == pytest.approx(0.5)  # one, once in 2 weeks
    assert out.loc[(10, 0, "morning"), "observed_hours"] == pytest.approx(0.5)
    # Tuesday of the next week, 9-11: one hour of morning, one of midday
    assert out.loc[(20, 1, "morning"), "observed_hours"] == pytest.approx(0.5)
    assert out.loc[(20, 1, "midday"), "observed_hours"] == pytest.approx(0.5)
    places = pd.DataFrame({"community_id": [10, 20, 30], "community": ["甲", "乙", "丙"]})
    planner_set = pd.DataFrame({"community_id": [20], "weekday": [1], "slot": ["evening"],
                                "hours": [6.0]})
    table = force_table(places, out.reset_index(), planner_set, SLOTS)
    assert len(table) == 3 * 7 * 4
    week = weekly(table, SLOTS).set_index("community")
    assert week.loc["甲", "total"] == pytest.approx(1.75, abs=0.06)
    assert week.loc["乙", "evening"] == 6.0 and week.loc["丙", "total"] == 0


def test_force_of_the_demo_agrees_with_its_tracks_and_can_be_set(demo_world, tmp_path):
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    end = dt.date(2026, 11, 28)
    table = force(engine, settings, end=end, weeks=1)
    assert table.attrs["weeks"] == 1
    with engine.connect() as conn:
        # the evening slot (18-22) of every patrol, summed in SQL
        evening = conn.execute(sa.text("""
            SELECT coalesce(sum(extract(epoch FROM
                   least(t.ended_at AT TIME ZONE 'Asia/Shanghai',
                         date_trunc('day', t.started_at AT TIME ZONE 'Asia/Shanghai')
                         + interval '22 hours')
                   - greatest(t.started_at AT TIME ZONE 'Asia/Shanghai',
                              date_trunc('day', t.started_at AT TIME ZONE 'Asia/Shanghai')
                              + interval '18 hours'))) FILTER (WHERE
                   least(t.ended_at AT TIME ZONE 'Asia/Shanghai',
                         date_trunc('day', t.started_at AT TIME ZONE 'Asia/Shanghai')
                         + interval '22 hours')
                   > greatest(t.started_at AT TIME ZONE 'Asia/Shanghai',
                              date_trunc('day', t.started_at AT TIME ZONE 'Asia/Shanghai')
                              + interval '18 hours')), 0) / 3600
            FROM tracks t JOIN volunteers v ON v.id = t.volunteer_id
            WHERE t.kind = 'patrol' AND v.community_id IS NOT NULL
              AND t.started_at >= TIMESTAMPTZ '2026-11-22 00:00+08'
              AND t.started_at < TIMESTAMPTZ '2026-11-29 00:00+08'""")).scalar_one()
        community, name = conn.execute(sa.text(
            "SELECT id, name FROM areas WHERE level = 'community' ORDER BY id LIMIT 1")).one()
    got = table.loc[table["slot"] == "evening", "observed_hours"].sum()
    assert evening > 1 and got == pytest.approx(float(evening), abs=0.05 * 28)
    # set by hand through the planner page, then cleared; an officer may not
    make_user(engine, "f-planner", "planner")
    make_user(engine, "f-officer", "officer", areas=[name])
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    planner, officer = app.test_client(), app.test_client()
    token = sign_in(planner, "f-planner")
    officer_token = sign_in(officer, "f-officer")
    form = {"community": community, "weekday": "fri", "slot": "evening", "hours": "14.5",
            "next": "/planner"}
    assert officer.post("/planner/force", data={**form, "csrf_token": officer_token}
                        ).status_code == 403
    assert planner.post("/planner/force", data={**form, "csrf_token": token}).status_code == 302
    rows = planner.get(f"/api/force?area={community}").get_json()["rows"]
    fri = next(r for r in rows if r["weekday"] == 4 and r["slot"] == "evening")
    assert fri["set_hours"] == 14.5 and fri["hours"] == 14.5
    bad = planner.post("/planner/force", data={**form, "hours": "lots", "csrf_token": token})
    assert bad.status_code == 400
    assert planner.post("/planner/force", data={**form, "hours": "-3", "csrf_token": token}
                        ).status_code == 400
    csv = planner.get(f"/planner/force.csv?area={community}")
    assert csv.data.decode("utf-8-sig").startswith("community_id,community,weekday,slot")
    assert planner.post("/planner/force", data={**form, "hours": "", "csrf_token": token}
                        ).status_code == 302
    rows = planner.get(f"/api/force?area={community}").get_json()["rows"]
    fri = next(r for r in rows if r["weekday"] == 4 and r["slot"] == "evening")
    assert fri["set_hours"] is None and fri["hours"] == fri["observed_hours"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_log WHERE action = 'force_set'"
                                    " AND actor = 'f-planner'")).scalar_one() == 2
    with pytest.raises(InputError, match="weekday"):
        set_force(engine, community_id=community, weekday="someday", slot="evening",
                  hours=1, by="t")
    with pytest.raises(InputError, match="slot"):
        set_force(engine, community_id=community, weekday="mon", slot="night", hours=1, by="t")
    with pytest.raises(NotFoundError):
        set_force(engine, community_id=999999, weekday="mon", slot="evening", hours=1, by="t")


def test_an_availability_sheet_sets_the_force_all_or_nothing(demo_world, tmp_path):
    from click.testing import CliRunner

    from geo_patrol.cli import cli
    from geo_patrol.ingest.availability import read_availability
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        (a, name_a), (b, name_b) = conn.execute(sa.text(
            "SELECT id, name FROM areas WHERE level = 'community' ORDER BY id DESC LIMIT 2")
        ).all()
    sheet = tmp_path / "可巡逻时段.csv"
    sheet.write_bytes(("社区,星期,时段,工时\n"
                       f"{name_a},工作日,晚间,6\n{name_a},周六,上午,3.5小时\n"
                       f"{b},周末,晚上,2\n").encode("gbk"))
    table = read_availability(sheet)
    assert len(table) == 5 + 1 + 2 and set(table["slot"]) == {"evening", "morning"}
    bad = tmp_path / "bad.csv"
    bad.write_text(f"社区,星期,时段,工时\n{name_a},周一,晚间,4\n{name_a},someday,晚间,4\n",
                   encoding="utf-8")
    with pytest.raises(InputError, match="row 3, weekday: .* is not a weekday"):
        read_availability(bad)
    twice = tmp_path / "twice.csv"
    twice.write_text(f"社区,星期,时段,工时\n{name_a},每天,晚间,4\n{name_a},周二,晚上,1\n",
                     encoding="utf-8")
    with pytest.raises(InputError, match="same weekday and slot twice"):
        read_availability(twice)
    unknown = tmp_path / "unknown.csv"
    unknown.write_text(f"社区,星期,时段,工时\n{name_a},周一,晚间,4\n无此社区,周一,晚间,4\n",
                       encoding="utf-8")
    make_user(engine, "av-planner", "planner")
    make_user(engine, "av-officer", "officer", areas=[name_b])
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    planner, officer = app.test_client(), app.test_client()
    token, officer_token = sign_in(planner, "av-planner"), sign_in(officer, "av-officer")

    def hours(community: int) -> dict:
        rows = planner.get(f"/api/force?area={community}").get_json()["rows"]
        return {(r["weekday"], r["slot"]): r["set_hours"] for r in rows
                if r["set_hours"] is not None}

    def post(client, path, csrf):  # noqa: ANN001
        with path.open("rb") as fh:
            return client.post("/planner/force/upload", data={
                "file": (fh, path.name), "csrf_token": csrf, "next": "/planner"},
                content_type="multipart/form-data")

    for wrong in (bad, unknown):  # a clear 400, and nothing set
        resp = post(planner, wrong, token)
        page = resp.get_data(as_text=True)  # the bad row named, or listed in its table
        assert resp.status_code == 400 and ("row 3" in page or "<tr><td>3</td>" in page)
        assert hours(a) == {}
    assert post(officer, sheet, officer_token).status_code == 403
    assert post(planner, sheet, token).status_code == 302
    assert hours(a) == {**{(d, "evening"): 6.0 for d in range(5)}, (5, "morning"): 3.5}
    assert hours(b) == {(5, "evening"): 2.0, (6, "evening"): 2.0}
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT details FROM audit_log WHERE action = 'force_load' "
                                    "AND actor = 'av-planner'")).scalar_one() == {
            "slots": 8, "communities": 2}
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(tmp_path / "d"),
                            "GEO_PATROL_METRIC_CRS": ""})
    out = runner.invoke(cli, ["plan", "force-load", str(sheet)])
    assert out.exit_code == 0 and "8 weekday slots set in 2 communities" in out.output
    for community in (a, b):  # back to what the patrols show, for the other tests
        for key in hours(community):
            set_force(engine, community_id=community, weekday=key[0], slot=key[1], hours=None,
                      by="test")
