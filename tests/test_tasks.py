"""Tasks checked against the volunteers' own fixes (real-shaped demo tracks): walked fully,
half and not at all; points once per task; reports paid only where the reporter was;
payouts that sum to the ledger and never pay an item twice; who may take a task."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
import sqlalchemy as sa

from geo_patrol.analysis.delivery import verify, walking_fixes
from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from geo_patrol.rules import load_rules

#: The map's parameters (30 m reach, 120 s gap) and the packaged rules (80 % / 30 %, 8 km/h,
#: a stop of 10 minutes within 50 m).
RULE = {"params": AnalysisParams(), "rules": load_rules()}


def test_a_verdict_from_fixes_along_and_off_the_route():
    import shapely

    street = np.array([shapely.LineString([(0, 0), (1000, 0)])], dtype=object)
    t = np.arange(0, 801, 10.0)  # 1.25 m/s along the street, a fix every 10 s
    x, y, ok = t * 1.25, np.zeros_like(t), np.ones(len(t), bool)
    full = verify(street, np.zeros((0, 2)), x, y, t, ok, **RULE)
    assert full.state == "delivered" and full.walked_share == pytest.approx(1.0)
    half = verify(street, np.zeros((0, 2)), x[t <= 400], y[t <= 400], t[t <= 400],
                  ok[t <= 400], **RULE)
    assert half.state == "partly" and half.walked_share == pytest.approx(0.53, abs=0.02)
    away = verify(street, np.zeros((0, 2)), x, y + 500, t, ok, **RULE)
    assert away.state == "missed" and away.walked_share == 0
    # flagged fixes do not count; a car's speed does not walk a street
    assert verify(street, np.zeros((0, 2)), x, y, t, np.zeros(len(t), bool), **RULE
                  ).state == "missed"
    fast = verify(street, np.zeros((0, 2)), t * 15, y, t, ok, **RULE)
    assert fast.state == "missed" and fast.too_fast > 0
    keep, dropped = walking_fixes(np.array([0, 10, 500, 20.0]), np.zeros(4),
                                  np.array([0, 10, 20, 30.0]), np.ones(4, bool), max_kmh=8)
    assert keep.tolist() == [0, 1, 3] and dropped == 1  # the jump out and back dropped
    # a stop needs 10 minutes within 50 m: walking past is not a stop, staying is
    stop = np.array([[500.0, 0.0]])
    assert verify(street, stop, x, y, t, ok, **RULE).state == "partly"
    stay_t = np.r_[t[t < 400], np.arange(400, 1000, 10.0), t[t >= 400] + 600]
    stay_x = np.r_[x[t < 400], np.full(60, 500.0), x[t >= 400]]
    stayed = verify(street, stop, stay_x, np.zeros_like(stay_x), stay_t,
                    np.ones(len(stay_t), bool), **RULE)
    assert stayed.state == "delivered" and stayed.stops_made == 1
    # fixes jumping between the stop and 3 km away (under the speed flag) are no stay
    hop_t = np.arange(0, 13 * 60, 55.0)
    hop_x = np.where(np.arange(len(hop_t)) % 2 == 0, 500.0, 3500.0)
    hopped = verify(street, stop, hop_x, np.zeros_like(hop_x), hop_t,
                    np.ones(len(hop_t), bool), **RULE)
    assert hopped.stops_made == 0 and hopped.state == "missed"


@pytest.fixture
def walked(demo_world):
    """The demo's longest patrol: its volunteer, window, the streets it walked, streets
    2 km away, and its line."""
    engine = demo_world["engine"]
    with engine.connect() as conn:
        track = conn.execute(sa.text(
            "SELECT t.id, t.volunteer_id, v.community_id, t.started_at, t.ended_at, "
            "ST_AsText(t.geom) FROM tracks t JOIN volunteers v ON v.id = t.volunteer_id "
            "WHERE t.kind = 'patrol' ORDER BY t.n_fixes DESC LIMIT 1")).one()
        path = ("(SELECT ST_MakeLine(f.geom_m ORDER BY f.t) FROM patrol_fixes f WHERE "
                "f.volunteer_id = :v AND f.t BETWEEN :a AND :b AND f.flags = 0)")
        args = {"v": track[1], "a": track[3], "b": track[4]}
        on = [r[0] for r in conn.execute(sa.text(
            f"SELECT g.id FROM street_segments g WHERE ST_DWithin(ST_LineInterpolatePoint("
            f"ST_LineMerge(g.geom_m), 0.5), {path}, 8) AND g.length_m > 40 ORDER BY g.id"),
            args)]
        off = [r[0] for r in conn.execute(sa.text(
            f"SELECT g.id FROM street_segments g WHERE NOT ST_DWithin(g.geom_m, {path}, 2000) "
            f"ORDER BY g.id LIMIT :n"), {**args, "n": len(on)})]
    assert len(on) >= 6
    return {"volunteer": track[1], "community": track[2], "start": track[3],
            "end": track[4], "wkt": track[5], "on": on, "off": off}


def _task(engine, walked, segments, *, offered_to):  # noqa: ANN001
    from geo_patrol.store import tasks as store

    start = walked["start"] - dt.timedelta(minutes=5)
    with engine.begin() as conn:
        store.create_tasks(conn, [{
            "rota_walk_id": None, "kind": "streets", "community_id": walked["community"],
            "day": start.date(), "window_start": start,
            "window_end": walked["end"] + dt.timedelta(minutes=5), "minutes": 90.0,
            "length_m": 1000.0, "segment_ids": segments, "hazard_ids": [],
            "hotspot_segment_id": None, "points": 10, "offered_to": offered_to,
            "wkt": walked["wkt"]}], by="test")
        return conn.execute(sa.text("SELECT max(id) FROM tasks")).scalar_one()


def test_tasks_walked_fully_half_and_not_at_all_and_paid_once(demo_world, walked):
    from geo_patrol.services import tasks

    engine, settings = demo_world["engine"], demo_world["settings"]
    me = walked["volunteer"]
    half = walked["on"][: len(walked["on"]) // 2] + walked["off"][: len(walked["on"]) // 2]
    ids = {name: _task(engine, walked, segs, offered_to=me)
           for name, segs in (("full", walked["on"]), ("half", half), ("none", walked["off"]))}
    with engine.connect() as conn:
        other = conn.execute(sa.text(
            "SELECT id FROM volunteers WHERE community_id <> :c AND active LIMIT 1"),
            {"c": walked["community"]}).scalar_one()
    # only the volunteer it is offered to takes it
    with pytest.raises(NotFoundError):
        tasks.answer(engine, volunteer_id=other, task_id=ids["full"], accept=True, by="x",
                     now=walked["start"])
    with pytest.raises(ForbiddenError):
        tasks.answer(engine, volunteer_id=None, task_id=ids["full"], accept=True, by="x",
                     now=walked["start"])
    for name in ("full", "none"):  # other streets at the same time: both may be held
        assert tasks.answer(engine, volunteer_id=me, task_id=ids[name], accept=True,
                            by="v", now=walked["start"]) == "accepted"
    # some of the same streets at the same time: one walk is paid once
    with pytest.raises(ConflictError):
        tasks.answer(engine, volunteer_id=me, task_id=ids["half"], accept=True, by="v",
                     now=walked["start"])
    # nothing is checked before its window closes
    assert tasks.check(engine, settings, now=walked["start"]) == []
    after = walked["end"] + dt.timedelta(hours=1)
    done = {c.task_id: c for c in tasks.check(engine, settings, now=after)}
    assert done[ids["full"]].state == "delivered" and done[ids["full"]].points == 10
    assert done[ids["none"]].state == "missed" and done[ids["none"]].points == 0
    assert tasks.answer(engine, volunteer_id=me, task_id=ids["half"], accept=True, by="v",
                        now=walked["start"]) == "accepted"
    done |= {c.task_id: c for c in tasks.check(engine, settings, now=after)}
    assert 0.3 <= done[ids["half"]].verdict["walked_share"] < 0.8
    assert done[ids["half"]].state == "partly" and done[ids["half"]].points == 5
    # taken as the walk ends: the walk before it proves nothing
    late = _task(engine, walked, walked["on"], offered_to=me)
    tasks.answer(engine, volunteer_id=me, task_id=late, accept=True, by="v",
                 now=walked["end"])
    (checked,) = tasks.check(engine, settings, now=after, task_ids=[late])
    assert checked.state == "missed" and checked.points == 0
    with pytest.raises(ConflictError):  # checked: it cannot change any more
        tasks.answer(engine, volunteer_id=me, task_id=ids["full"], accept=False, by="v")
    # checking again adds nothing; the points are the volunteer's
    assert tasks.check(engine, settings, now=walked["end"] + dt.timedelta(hours=2),
                       task_ids=list(ids.values())) == []
    own, points = tasks.my_tasks(engine, me)
    assert points >= 15 and set(ids.values()) <= set(own["id"])
    # planned against delivered dose for the week
    dose = tasks.dose(engine, within=None, since=walked["start"].date() - dt.timedelta(days=1),
                      until=walked["end"].date() + dt.timedelta(days=1))
    row = dose[dose["community_id"] == walked["community"]].iloc[0]
    assert row["planned_min"] >= 270 and 0 < row["delivered_min"] < row["planned_min"]
    # a payout sums to the ledger and never pays an item twice
    day = walked["start"].date()
    with engine.connect() as conn:
        owed = conn.execute(sa.text(
            "SELECT coalesce(sum(points), 0) FROM points_ledger WHERE payout_id IS NULL "
            "AND earned_on BETWEEN :a AND :b"), {"a": day - dt.timedelta(days=30),
                                                   "b": day}).scalar_one()
    payout_id, lines = tasks.payout(engine, start=day - dt.timedelta(days=30), end=day,
                                    by="command")
    assert lines["points"].sum() == owed and owed >= 15
    line = lines[lines["items"].str.contains(f"task {ids['full']}")].iloc[0]
    assert f"task {ids['half']}" in line["items"] and "*" in line["name"]
    # paying the same period again has nothing to pay: it says so and records no payout
    def recorded() -> tuple[int, int]:
        with engine.connect() as conn:
            return (conn.execute(sa.text("SELECT count(*) FROM payouts")).scalar_one(),
                    conn.execute(sa.text("SELECT count(*) FROM audit_log "
                                         "WHERE action = 'payout'")).scalar_one())

    before = recorded()
    with pytest.raises(InputError, match="Nothing to pay") as refused:
        tasks.payout(engine, start=day - dt.timedelta(days=30), end=day, by="command")
    assert "No payout was recorded" in (refused.value.msgid or "")
    assert recorded() == before and tasks.payouts(engine)["id"].max() == payout_id


def _first_walked_fix(conn: sa.Connection, walked: dict) -> tuple[int, tuple]:
    """The city's metric SRID, and where and when the walked volunteer's first clean fix of
    the walk was (metric x, y and its time)."""
    srid = conn.execute(sa.text(
        "SELECT value::int FROM deployment WHERE key = 'metric_srid'")).scalar_one()
    fix = conn.execute(sa.text(
        "SELECT ST_X(geom_m), ST_Y(geom_m), t FROM patrol_fixes WHERE volunteer_id = :v "
        "AND t BETWEEN :a AND :b AND flags = 0 ORDER BY t LIMIT 1"),
        {"v": walked["volunteer"], "a": walked["start"], "b": walked["end"]}).one()
    return srid, tuple(fix)


def test_a_report_far_from_the_reporters_track_is_flagged_not_paid(demo_world, walked):
    from geo_patrol.services import tasks

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.begin() as conn:
        srid, (x, y, t) = _first_walked_fix(conn, walked)
        ids = []
        for dx in (20.0, 2000.0):  # where they were, and 2 km away, at the same time
            ids.append(conn.execute(sa.text("""
                INSERT INTO reports (volunteer_id, reported_at, category, text, verification,
                                     reward, geom, geom_m)
                VALUES (:v, :t, 'other', 'test', 'verified', 0,
                        ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), :srid), 4326),
                        ST_SetSRID(ST_MakePoint(:x, :y), :srid))
                RETURNING id"""), {"v": walked["volunteer"], "t": t, "x": x + dx, "y": y,
                                   "srid": srid}).scalar_one())
        # the same hazard reported again 20 m away ten minutes later: linked, not paid
        ids.append(conn.execute(sa.text("""
            INSERT INTO reports (volunteer_id, reported_at, category, text, verification,
                                 reward, geom, geom_m)
            VALUES (:v, :t + interval '10 minutes', 'other', 'again', 'verified', 0,
                    ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), :srid), 4326),
                    ST_SetSRID(ST_MakePoint(:x, :y), :srid))
            RETURNING id"""), {"v": walked["volunteer"], "t": t, "x": x + 40.0, "y": y,
                               "srid": srid}).scalar_one())
    result = tasks.credit_reports(engine, settings)
    assert ids[0] in result["paid"] and ids[1] in result["flagged"]
    assert ids[2] in result["duplicates"] and ids[2] not in result["paid"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT duplicate_of FROM reports WHERE id = :i"),
                            {"i": ids[2]}).scalar_one() == ids[0]
    assert ids[1] not in result["paid"]
    again = tasks.credit_reports(engine, settings)
    assert ids[0] not in again["paid"] and ids[1] in again["flagged"]


def test_a_back_dated_report_cannot_take_an_earlier_ones_place(demo_world, walked):
    """The first report is the first received: one made later but back-dated (a phone
    says when a report was made) repeats it; a rejected report is nobody's first."""
    from geo_patrol.services import tasks

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.begin() as conn:
        (x, y), t = conn.execute(sa.text(
            "SELECT ARRAY[ST_X(geom_m), ST_Y(geom_m)], t FROM patrol_fixes "
            "WHERE volunteer_id = :v AND t BETWEEN :a AND :b AND flags = 0 ORDER BY t LIMIT 1"),
            {"v": walked["volunteer"], "a": walked["start"], "b": walked["end"]}).one()
        other = conn.execute(sa.text(
            "SELECT id FROM volunteers WHERE id <> :v AND active ORDER BY id LIMIT 1"),
            {"v": walked["volunteer"]}).scalar_one()
        srid = conn.execute(sa.text(
            "SELECT value::int FROM deployment WHERE key = 'metric_srid'")).scalar_one()
        made = {}
        for name, who, said, got, dx in (
                ("honest", walked["volunteer"], 0, 1, 900.0),
                ("back_dated", other, -10, 20, 920.0)):
            made[name] = conn.execute(sa.text("""
                INSERT INTO reports (volunteer_id, reported_at, received_at, category, text,
                                     verification, reward, geom, geom_m)
                VALUES (:v, :t + make_interval(mins => :said),
                        :t + make_interval(mins => :got), 'backdate-test', 'x', 'pending', 0,
                        ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), :srid), 4326),
                        ST_SetSRID(ST_MakePoint(:x, :y), :srid))
                RETURNING id"""), {"v": who, "t": t, "said": said, "got": got,
                                   "x": x + dx, "y": y, "srid": srid}).scalar_one()

    def first_of() -> dict[int, int | None]:
        with engine.connect() as conn:
            return dict(conn.execute(sa.text(
                "SELECT id, duplicate_of FROM reports WHERE id = ANY(:ids)"),
                {"ids": list(made.values())}).all())

    tasks.credit_reports(engine, settings)
    assert first_of() == {made["honest"]: None, made["back_dated"]: made["honest"]}
    with engine.begin() as conn:  # the honest report turns out false after all
        conn.execute(sa.text("UPDATE reports SET verification = 'rejected' WHERE id = :i"),
                     {"i": made["honest"]})
    tasks.credit_reports(engine, settings)
    assert first_of() == {made["honest"]: None, made["back_dated"]: None}


def test_the_same_photo_in_two_reports_is_one_finding_paid_once(demo_world, walked):
    """A report whose photo an earlier report has, byte for byte (sent again by its maker
    or another volunteer, elsewhere, days later, under another category), is linked to that
    one and not paid; the verifier's queue shows it looks like that one."""
    from geo_patrol.services import tasks
    from geo_patrol.store import reports as report_store

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.begin() as conn:
        srid, (x, y, t) = _first_walked_fix(conn, walked)
        made = []
        for category, dx, days, state in (("photo-first", 0.0, 0, "verified"),
                                          ("photo-again", 4000.0, 3, "pending")):
            made.append(conn.execute(sa.text("""
                INSERT INTO reports (volunteer_id, reported_at, category, text, verification,
                                     reward, geom, geom_m)
                VALUES (:v, :t + make_interval(days => :d), :c, 'photo', :s, 0,
                        ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), :srid), 4326),
                        ST_SetSRID(ST_MakePoint(:x, :y), :srid))
                RETURNING id"""), {"v": walked["volunteer"], "t": t, "d": days, "c": category,
                                   "s": state, "x": x + dx, "y": y,
                                   "srid": srid}).scalar_one())
            report_store.add_media(conn, made[-1], [{
                "sha256": "5a" * 32, "mime": "image/jpeg", "bytes": 1000, "width": 800,
                "height": 600, "exif_at": None, "exif_lon": None, "exif_lat": None,
                "exif_check": "none"}])
        assert report_store.earlier_reports(conn, radius_m=50.0, hours=24.0).get(made[1]) \
            == made[0]
        conn.execute(sa.text("UPDATE reports SET verification = 'verified' WHERE id = :i"),
                     {"i": made[1]})
    result = tasks.credit_reports(engine, settings)
    assert made[1] in result["duplicates"] and made[1] not in result["paid"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT duplicate_of FROM reports WHERE id = :i"),
                            {"i": made[1]}).scalar_one() == made[0]


def test_nobody_decides_on_their_own_report(demo_world, walked):
    from geo_patrol.errors import ReportInputError
    from geo_patrol.services import reports
    from geo_patrol.store.accounts import add_user, principal_named

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.begin() as conn:
        number = conn.execute(sa.text("SELECT number FROM volunteers WHERE id = :v"),
                              {"v": walked["volunteer"]}).scalar_one()
        report = conn.execute(sa.text("""
            INSERT INTO reports (volunteer_id, reported_at, category, text, verification,
                                 reward, community_id, geom, geom_m)
            SELECT :v, now(), 'other', 'mine', 'pending', 0, :c, geom,
                   ST_Transform(geom, (SELECT value::int FROM deployment
                                       WHERE key = 'metric_srid'))
            FROM (SELECT ST_PointOnSurface(geom) AS geom FROM areas WHERE id = :c) a
            RETURNING id"""), {"v": walked["volunteer"], "c": walked["community"]}
        ).scalar_one()
    add_user(engine, "self-judge", "command", "self-judge-password", volunteer=number)
    with engine.connect() as conn:
        me = principal_named(conn, "self-judge")
    with pytest.raises(ReportInputError) as refused:
        reports.triage(engine, settings, me, report, action="verified")
    assert refused.value.code == "own"
    with engine.connect() as conn:  # nothing changed
        assert conn.execute(sa.text("SELECT verification FROM reports WHERE id = :i"),
                            {"i": report}).scalar_one() == "pending"


def test_the_command_offers_a_rota_as_tasks_checks_them_and_pays(demo_world, walked):
    import pandas as pd

    from geo_patrol.render.exports import localised_table
    from geo_patrol.services import tasks
    from geo_patrol.services.rota import make_rota, save
    from geo_patrol.store.areas import find_area
    from geo_patrol.store.results import find_run
    from tests.helpers import make_user, sign_in
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.connect() as conn:
        area = find_area(conn, walked["community"])
        plan = make_rota(conn, settings, find_run(conn, demo_world["run"].run_id), area,
                         start=dt.date(2026, 12, 3), days=2, revisit_days=2, draws=5)
        number = conn.execute(sa.text("SELECT number FROM volunteers WHERE id = :v"),
                              {"v": walked["volunteer"]}).scalar_one()
    rota_id = save(engine, plan, by="test")
    make_user(engine, "t-command", "command")
    make_user(engine, "t-planner", "planner")
    make_user(engine, "t-walker", "volunteer", volunteer=number)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    command, planner, walker = app.test_client(), app.test_client(), app.test_client()
    tokens = {c: sign_in(c, u) for c, u in ((command, "t-command"), (planner, "t-planner"),
                                            (walker, "t-walker"))}
    # planners read tasks but do not offer them; volunteers see only their own, on /me
    assert planner.post(f"/planner/rota/{rota_id}/tasks",
                        data={"csrf_token": tokens[planner]}).status_code == 403
    assert walker.get("/tasks").status_code == 403
    assert command.post(f"/planner/rota/{rota_id}/tasks",
                        data={"csrf_token": tokens[command]}).status_code == 302
    command.post(f"/planner/rota/{rota_id}/tasks", data={"csrf_token": tokens[command]})
    with engine.connect() as conn:
        offered = conn.execute(sa.text(
            "SELECT count(*) FROM tasks t JOIN rota_walks w ON w.id = t.rota_walk_id "
            "WHERE w.rota_id = :r"), {"r": rota_id}).scalar_one()
    assert offered == len(plan.walks)  # each walk once, however often it is offered
    page = command.get("/tasks").get_data(as_text=True)
    assert 'id="dose"' in page and page.count("待认领") >= 1
    # a volunteer may not answer for a task that is not theirs
    with engine.connect() as conn:
        foreign = conn.execute(sa.text(
            "SELECT id FROM tasks WHERE offered_to IS NOT NULL AND offered_to <> :v LIMIT 1"),
            {"v": walked["volunteer"]}).scalar()
    if foreign is not None:
        assert walker.post(f"/me/tasks/{foreign}", data={
            "answer": "accept", "csrf_token": tokens[walker]}).status_code == 404
    assert walker.post("/me/tasks/1", data={"answer": "maybe",
                                            "csrf_token": tokens[walker]}).status_code == 400
    # a task made by hand: visit a hazard in a slot still to come
    with engine.connect() as conn:
        hazard = conn.execute(sa.text(
            "SELECT h.id FROM hazards h WHERE NOT h.proposed AND EXISTS (SELECT 1 FROM "
            "street_segments g WHERE ST_DWithin(h.geom_m, g.geom_m, 100)) LIMIT 1")).scalar_one()
    tomorrow = (settings.today() + dt.timedelta(days=1)).isoformat()
    form = {"hazard": hazard, "day": tomorrow, "slot": "evening", "number": number,
            "csrf_token": tokens[command]}
    for bad, code in (({"slot": "night"}, 400), ({"day": "2020-01-01"}, 400),
                      ({"hazard": "x"}, 400), ({"number": "NOBODY"}, 400),
                      ({"hazard": "999999"}, 400)):
        assert command.post("/tasks/new", data={**form, **bad}).status_code == code, bad
    assert planner.post("/tasks/new", data={**form, "csrf_token": tokens[planner]}
                        ).status_code == 403
    assert command.post("/tasks/new", data=form).status_code == 302
    with engine.connect() as conn:
        made = conn.execute(sa.text(
            "SELECT kind, hazard_ids, offered_to, state FROM tasks WHERE created_by = "
            "'t-command' ORDER BY id DESC LIMIT 1")).one()
    assert made == ("hotspot", [hazard], walked["volunteer"], "offered")
    assert command.post("/tasks/check", data={"csrf_token": tokens[command]}
                        ).status_code == 302
    csv = command.post("/tasks/payout", data={"from": "2026-11-01", "to": "2026-12-31",
                                              "csrf_token": tokens[command]})
    assert csv.status_code == 200
    paid = csv.get_data().decode("utf-8-sig")
    assert paid.startswith("义警编号,姓名,社区,积分,积分来源")  # in the reader's language
    assert "task " not in paid and "report " not in paid
    assert all(("任务 " in line or "线索 " in line) for line in paid.splitlines()[1:])
    # everything is paid now: a second payout of the period records nothing and says so
    english = command.post("/tasks/payout?lang=en", data={
        "from": "2026-11-01", "to": "2026-12-31", "csrf_token": tokens[command]})
    assert english.status_code == 400
    assert "Nothing to pay from 2026-11-01 to 2026-12-31" in english.get_data(as_text=True)
    chinese = command.post("/tasks/payout", data={
        "from": "2026-11-01", "to": "2026-12-31", "csrf_token": tokens[command]})
    assert chinese.status_code == 400 and "未记录发放" in chinese.get_data(as_text=True)
    assert localised_table(tasks.payout_lines(pd.DataFrame(), str), "en").columns.tolist() \
        == ["Roster number", "Name", "Community", "Points", "What it pays"]
    assert planner.post("/tasks/payout", data={"from": "2026-11-01", "to": "2026-12-31",
                                               "csrf_token": tokens[planner]}
                        ).status_code == 403
    assert command.post("/tasks/payout", data={"from": "2026-12-31", "to": "2026-11-01",
                                               "csrf_token": tokens[command]}
                        ).status_code == 400


def test_the_delivery_rules_are_checked_when_read():
    from geo_patrol.errors import InputError
    from geo_patrol.rules import parse_rules

    base = {"categories": {"other": {"every_days": 30}}}
    rules = parse_rules({**base, "delivery": {"delivered_share": 0.9, "points_loop": 12}}, "t")
    assert rules.delivery.delivered_share == 0.9 and rules.delivery.points("streets",
                                                                           "partly") == 6
    for bad, word in (({"delivered_share": 0.2}, "partly_share"), ({"pointz": 1}, "unknown"),
                      ({"max_walk_kmh": "fast"}, "number"),
                      ({"radius_m": 30}, "analysis radius")):
        with pytest.raises(InputError, match=word):
            parse_rules({**base, "delivery": bad}, "t")
