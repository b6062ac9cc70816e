"""Accounts and the access matrix of the reliability promises, cell by cell, on the demo."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from geo_patrol.store.accounts import issue_token
from tests.helpers import ID_PATTERN, PHONE_PATTERN, PASSWORD, count, make_user, sign_in
from web import create_app

DAY = "2026-11-27"
ROLES = ("command", "officer", "planner", "volunteer", "anonymous")


@pytest.fixture(scope="module")
def world(demo_world):
    """The demo with one account per role; the officer and the volunteer belong to community
    A; community B is another community with hazards and gaps."""
    engine = demo_world["engine"]
    with engine.connect() as conn:
        a, a_code = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a JOIN volunteers v ON v.community_id = a.id "
            "JOIN tracks t ON t.volunteer_id = v.id WHERE a.level = 'community' "
            "GROUP BY a.id ORDER BY count(*) DESC LIMIT 1")).one()
        b = conn.execute(sa.text(
            "SELECT h.community_id FROM hazards h WHERE h.community_id <> :a "
            "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"), {"a": a}).scalar_one()
        volunteer, volunteer_id = conn.execute(sa.text(
            "SELECT v.number, v.id FROM volunteers v JOIN tracks t ON t.volunteer_id = v.id "
            "WHERE v.community_id = :a AND t.started_at::date = :d GROUP BY v.id "
            "ORDER BY count(*) DESC LIMIT 1"), {"a": a, "d": DAY}).one()
        district = conn.execute(sa.text("SELECT parent_id FROM areas WHERE id = :a"),
                                {"a": a}).scalar_one()
        while conn.execute(sa.text("SELECT level FROM areas WHERE id = :d"),
                           {"d": district}).scalar_one() != "district":
            district = conn.execute(sa.text("SELECT parent_id FROM areas WHERE id = :d"),
                                    {"d": district}).scalar_one()
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"],
                      "GEO_PATROL_LOGIN_LIMIT": "1000 per minute"})
    clients = {}
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            options = {"officer": {"areas": [a_code]},
                       "volunteer": {"volunteer": volunteer}}.get(role, {})
            client.csrf = sign_in(client, make_user(engine, f"m-{role}", role, **options))
        else:
            client.csrf = ""
        clients[role] = client
    return {"app": app, "clients": clients, "a": a, "b": b, "district": district,
            "volunteer": volunteer, "volunteer_id": volunteer_id,
            "run": demo_world["run"].run_id, "engine": engine}


def status(world, role: str, path: str, method: str = "get", **kwargs) -> int:
    client = world["clients"][role]
    if method == "post" and "data" in kwargs:  # forms carry the session's CSRF token
        kwargs = {**kwargs, "data": {**kwargs["data"], "csrf_token": client.csrf}}
    return getattr(client, method)(path, **kwargs).status_code


def expect(world, path: str, codes: dict[str, int], method: str = "get", **kwargs) -> None:
    got = {role: status(world, role, path, method, **kwargs) for role in codes}
    assert got == codes, path


def json_of(world, role: str, path: str):  # noqa: ANN201
    resp = world["clients"][role].get(path)
    assert resp.status_code == 200, (role, path, resp.status_code)
    return resp.get_json()


# --- volunteer personal data ---------------------------------------------------------------

def test_people(world):
    expect(world, "/volunteers", {"command": 200, "officer": 200, "planner": 403,
                                  "volunteer": 403, "anonymous": 401})
    expect(world, "/me", {"command": 404, "officer": 404, "planner": 404, "volunteer": 200,
                          "anonymous": 401})
    expect(world, "/api/me", {"command": 200, "officer": 200, "planner": 200,
                              "volunteer": 200, "anonymous": 401})
    # the officer sees only their own community's volunteers, masked
    with world["engine"].connect() as conn:
        name_a = conn.execute(sa.text("SELECT name FROM areas WHERE id = :a"),
                              {"a": world["a"]}).scalar_one()
        own = conn.execute(sa.text("SELECT count(*) FROM volunteers WHERE community_id = :a"),
                           {"a": world["a"]}).scalar_one()
    seen = 0
    for page in range(1, own // 50 + 2):  # the registry pages by 50
        html = world["clients"]["officer"].get(f"/volunteers?page={page}").get_data(as_text=True)
        body = html.split('<tbody>')[1].split('</tbody>')[0]  # the registry table
        rows = body.count("<tr>")
        assert rows == min(50, own - seen) and body.count(name_a) == rows
        assert "****" in body and not re.search(PHONE_PATTERN, html)
        assert f"共 {own} 行" in html
        seen += rows
    assert seen == own
    # a volunteer sees their own record, and only theirs
    me = json_of(world, "volunteer", "/api/me")["volunteer"]
    assert me["number"] == world["volunteer"] and "****" in me["phone"]
    assert world["volunteer"] in world["clients"]["volunteer"].get("/me").get_data(as_text=True)


def test_unmask_needs_role_and_reason_and_is_logged(world):
    vid = world["volunteer_id"]
    path = f"/volunteers/{vid}/unmask"
    for role, code in {"officer": 403, "planner": 403, "volunteer": 403,
                       "anonymous": 401}.items():
        client = world["clients"][role]
        assert client.post(path, data={"reason": "checking a duplicate entry",
                                       "csrf_token": client.csrf}).status_code == code, role
    command = world["clients"]["command"]
    before = count(world["engine"], "audit_log", "action = 'unmask'")
    short = command.post(path, data={"reason": "why", "csrf_token": command.csrf})
    assert short.status_code == 400
    no_csrf = command.post(path, data={"reason": "checking a duplicate entry"})
    assert no_csrf.status_code == 400
    assert count(world["engine"], "audit_log", "action = 'unmask'") == before
    shown = command.post(path, data={"reason": "checking a duplicate entry",
                                     "csrf_token": command.csrf})
    html = shown.get_data(as_text=True)
    assert shown.status_code == 200 and re.search(PHONE_PATTERN, html)
    assert re.search(ID_PATTERN, html)  # decrypted from the stored cipher
    assert shown.headers["Cache-Control"].startswith("private, no-store")
    with world["engine"].connect() as conn:
        entry = conn.execute(sa.text("SELECT actor, target, reason FROM audit_log "
                                     "WHERE action = 'unmask' ORDER BY id DESC LIMIT 1")).one()
    assert entry == ("m-command", f"volunteer {world['volunteer']}",
                     "checking a duplicate entry")
    # a volunteer outside a district-bound command's districts is not found
    expect(world, "/audit", {"command": 200, "officer": 403, "planner": 403, "volunteer": 403,
                             "anonymous": 401})
    assert "checking a duplicate entry" in command.get("/audit").get_data(as_text=True)


def test_a_page_refused_on_opening_says_whom_it_is_for(world):
    """A volunteer who only opens the command's messages page is told the page is for the
    district command and community officers, in the page's language (it said they may not
    *change* call-outs); a refused change still says what may not be changed."""
    said = {"zh": "此页面供分局指挥、社区民警账号使用，当前义警账号无法打开。",
            "en": "This page is for district command and community officer accounts; this "
                  "volunteer account cannot open it."}
    volunteer = world["clients"]["volunteer"]
    for lang, words in said.items():
        page = volunteer.get(f"/notify?lang={lang}")
        text = page.get_data(as_text=True)
        assert page.status_code == 403 and words in text, text[-600:]
        assert "修改" not in text and "may not change" not in text
        # headed as a page not open to this account, not as an act refused
        heading = {"zh": "无权访问", "en": "Not allowed"}[lang]
        assert f"<h2>{heading} <span" in text and "无权操作" not in text, text[-900:]
        # and the way back to the volunteer's own page, in the page's language
        back = {"zh": "返回我的首页", "en": "Back to my start page"}[lang]
        assert f'id="back-home" href="/">{back}</a>' in text, text[-600:]
    # the administrator is not named beside the district command (it may do all it may)
    planner = world["clients"]["planner"].get("/audit?lang=en").get_data(as_text=True)
    assert "This page is for district command accounts; this planner account" in planner
    # a change refused: what may not be changed
    posted = volunteer.post("/notify/channels?lang=en", data={
        "csrf_token": volunteer.csrf, "scope": "city", "url": "json://127.0.0.1:9/x"})
    assert posted.status_code == 403
    assert "This volunteer account may not change devices." in posted.get_data(as_text=True)


def test_audit_log_is_append_only(world):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with world["engine"].begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_log"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        with world["engine"].begin() as conn:
            conn.execute(sa.text("UPDATE audit_log SET reason = 'x'"))


# --- tracks --------------------------------------------------------------------------------

def test_tracks(world):
    a, b = world["a"], world["b"]
    expect(world, f"/api/tracks?area={a}&day={DAY}", {
        "command": 200, "officer": 200, "planner": 403, "volunteer": 200, "anonymous": 401})
    expect(world, f"/api/tracks?area={b}&day={DAY}", {
        "command": 200, "officer": 404, "planner": 403, "volunteer": 200, "anonymous": 401})
    expect(world, f"/maps/community/{a}?day={DAY}", {
        "command": 200, "officer": 200, "planner": 403, "volunteer": 403, "anonymous": 401})
    # planners get the aggregated map (coverage), not the raw tracks
    assert status(world, "planner", f"/maps/community/{a}") == 200
    assert "track" not in world["clients"]["planner"].get(
        f"/community/{a}").get_data(as_text=True).split("<main>")[1].lower()
    # a volunteer's tracks are their own, whatever area they ask for
    with world["engine"].connect() as conn:
        own = conn.execute(sa.text(
            "SELECT count(*) FROM tracks WHERE volunteer_id = :v AND geom IS NOT NULL "
            "AND started_at >= CAST(:d AS date)::timestamp AT TIME ZONE 'Asia/Shanghai' "
            "AND started_at < (CAST(:d AS date) + 1)::timestamp AT TIME ZONE 'Asia/Shanghai'"),
            {"v": world["volunteer_id"], "d": DAY}).scalar_one()
    mine = json_of(world, "volunteer", f"/api/tracks?area={b}&day={DAY}")["features"]
    assert own > 0 and len(mine) == own
    area = json_of(world, "command", f"/api/tracks?area={a}&day={DAY}")["features"]
    assert len(area) > len(mine)
    assert status(world, "command", f"/api/tracks?area={a}&day=yesterday") == 400


def test_track_upload_with_token(world, shared_data):
    token = issue_token(world["engine"], "m-volunteer", "app")
    client = world["app"].test_client()
    gpx = shared_data / "gps" / "limerick_bus_304.gpx"
    if not gpx.exists():
        gpx = next((shared_data).rglob("*.gpx"))
    with gpx.open("rb") as fh:
        # a token from a volunteer account stores the file as that volunteer's, whatever it says
        resp = client.post("/api/tracks", data={"file": (fh, gpx.name), "crs": "wgs84",
                                                "volunteer": "SOMEONE-ELSE"},
                           headers={"Authorization": f"Bearer {token}"},
                           content_type="multipart/form-data")
    # Limerick lies outside Baotou: refused with a hint, nothing stored
    assert resp.status_code == 400 and "outside" in resp.get_json()["message"]
    assert client.post("/api/tracks", headers={"Authorization": "Bearer gp_wrong"}
                       ).status_code == 401
    planner = issue_token(world["engine"], "m-planner")
    assert client.post("/api/tracks", headers={"Authorization": f"Bearer {planner}"}
                       ).status_code == 403


# --- hazards and reports -------------------------------------------------------------------

def test_hazards_and_reports(world):
    run, a, b = world["run"], world["a"], world["b"]
    expect(world, "/hazards", {"command": 200, "officer": 200, "planner": 200,
                               "volunteer": 403, "anonymous": 401})
    expect(world, "/reports", {"command": 200, "officer": 200, "planner": 200,
                               "volunteer": 403, "anonymous": 401})
    expect(world, f"/api/runs/{run}/hazards", {"command": 200, "officer": 200, "planner": 200,
                                               "volunteer": 403, "anonymous": 401})
    expect(world, f"/api/runs/{run}/hazards?area={b}", {
        "command": 200, "officer": 404, "planner": 200})
    with world["engine"].connect() as conn:
        in_a = conn.execute(sa.text("SELECT count(*) FROM hazards WHERE community_id = :a"),
                            {"a": a}).scalar_one()
    assert len(json_of(world, "officer", f"/api/runs/{run}/hazards")["features"]) == in_a
    assert len(json_of(world, "command", f"/api/runs/{run}/hazards")["features"]) > in_a


def _point_in(world, area_id: int) -> tuple[float, float]:
    with world["engine"].connect() as conn:
        return conn.execute(sa.text("SELECT ST_X(p), ST_Y(p) FROM (SELECT "
                                    "ST_PointOnSurface(geom) AS p FROM areas WHERE id = :a) s"),
                            {"a": area_id}).one()


def test_hazard_entry_and_proposals(world):
    engine = world["engine"]
    lon_a, lat_a = _point_in(world, world["a"])
    lon_b, lat_b = _point_in(world, world["b"])
    form = {"category": "school", "name": "新建幼儿园", "lon": lon_a, "lat": lat_a}
    for role, code in {"planner": 403, "volunteer": 403, "anonymous": 401}.items():
        client = world["clients"][role]
        assert client.post("/hazards/new", data={**form, "csrf_token": client.csrf}
                           ).status_code == code, role
    before = count(engine, "hazards")
    officer = world["clients"]["officer"]
    outside = officer.post("/hazards/new", data={**form, "lon": lon_b, "lat": lat_b,
                                                 "csrf_token": officer.csrf})
    assert outside.status_code == 400 and count(engine, "hazards") == before
    assert officer.post("/hazards/new", data={**form, "csrf_token": officer.csrf}
                        ).status_code == 302
    command = world["clients"]["command"]
    assert command.post("/hazards/new", data={**form, "lon": lon_b, "lat": lat_b,
                                              "csrf_token": command.csrf}).status_code == 302
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT source, community_id FROM hazards "
                                    "WHERE name = '新建幼儿园' ORDER BY id")).all()
    assert rows == [("proposal", world["a"]), ("web", world["b"])]


def test_volunteer_reports_their_own(world):
    engine = world["engine"]
    lon, lat = _point_in(world, world["b"])
    token = issue_token(engine, "m-volunteer", "reports")
    client = world["app"].test_client()
    auth = {"Authorization": f"Bearer {token}"}
    sent = client.post("/api/reports", json={"category": "gas", "text": "液化气罐露天堆放",
                                             "lon": lon, "lat": lat}, headers=auth)
    assert sent.status_code == 201
    # a lone surrogate in the JSON (which UTF-8 cannot encode) is replaced, not a 500
    lone = client.post("/api/reports", data=json.dumps(
        {"category": "gas", "text": "楼道里\ud800有气味", "lon": lon, "lat": lat}),
        content_type="application/json", headers=auth)
    assert lone.status_code == 201, lone.get_data(as_text=True)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT text FROM reports WHERE id = :i"),
                            {"i": lone.get_json()["id"]}).scalar_one() == "楼道里?有气味"
    bad = client.post("/api/reports", json={"category": "ufo", "lon": lon, "lat": lat},
                      headers=auth)
    assert bad.status_code == 400 and "category" in bad.get_json()["message"]
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT volunteer_id, verification FROM reports "
                                   "WHERE id = :i"), {"i": sent.get_json()["id"]}).one()
    assert row == (world["volunteer_id"], "pending")
    assert "液化气罐露天堆放" in world["clients"]["volunteer"].get("/me").get_data(as_text=True)
    officer = issue_token(engine, "m-officer")
    assert client.post("/api/reports", json={"category": "gas", "lon": lon, "lat": lat},
                       headers={"Authorization": f"Bearer {officer}"}).status_code == 403
    # the officer of community A does not see a report made in community B
    assert "液化气罐露天堆放" not in world["clients"]["officer"].get("/reports").get_data(
        as_text=True)
    assert "液化气罐露天堆放" in world["clients"]["command"].get("/reports").get_data(
        as_text=True)


# --- coverage, plans, exports --------------------------------------------------------------

def test_coverage_and_exports(world):
    run, a, b, d = world["run"], world["a"], world["b"], world["district"]
    expect(world, "/dashboard", {"command": 200, "officer": 200, "planner": 200,
                                 "volunteer": 403, "anonymous": 401})
    expect(world, f"/community/{a}?run={run}", {"command": 200, "officer": 200, "planner": 200,
                                                "volunteer": 403, "anonymous": 401})
    expect(world, f"/community/{b}?run={run}", {"command": 200, "officer": 404, "planner": 200})
    expect(world, f"/maps/district/{d}?run={run}", {"command": 200, "officer": 404,
                                                    "planner": 200, "volunteer": 403,
                                                    "anonymous": 401})
    expect(world, f"/briefing/{d}?run={run}", {"command": 200, "officer": 404, "planner": 200,
                                               "volunteer": 403, "anonymous": 401})
    expect(world, f"/export/{run}/gaps.geojson", {"command": 200, "officer": 200,
                                                  "planner": 200, "volunteer": 403,
                                                  "anonymous": 401})
    expect(world, f"/api/runs/{run}/daily/{b}", {"command": 200, "officer": 404,
                                                 "planner": 200, "volunteer": 403})
    expect(world, f"/api/runs/{run}/gaps?area={b}", {"command": 200, "officer": 404})
    expect(world, "/api/runs", {"command": 200, "officer": 200, "planner": 200,
                                "volunteer": 403, "anonymous": 401})
    expect(world, f"/tiles/segments/{run}/14/13178/6143.pbf", {
        "command": 200, "officer": 200, "planner": 200, "volunteer": 403, "anonymous": 401})
    # the officer's exports and tables hold their own community only
    gaps = world["clients"]["officer"].get(f"/export/{run}/gaps.geojson").get_json()
    with world["engine"].connect() as conn:
        own = conn.execute(sa.text("SELECT count(*) FROM gap_results WHERE run_id = :r AND "
                                   "area_id = :a"), {"r": run, "a": a}).scalar_one()
    assert len(gaps["features"]) == own
    areas = json_of(world, "officer", f"/api/runs/{run}/areas")
    assert [r["area_id"] for r in areas] == [a]
    dashboard = world["clients"]["officer"].get("/dashboard").get_data(as_text=True)
    assert 'id="district-map"' not in dashboard and f"/community/{a}?" in dashboard
    # plans: the planner page, its map, exports and API
    plan = f"area={a}&zones=2&minutes=45&run={run}"
    for path in (f"/planner?{plan}", f"/maps/plan?{plan}", f"/planner/plan.geojson?{plan}",
                 f"/api/plan?{plan}"):
        expect(world, path, {"command": 200, "officer": 200, "planner": 200, "volunteer": 403,
                             "anonymous": 401})
    expect(world, f"/api/plan?area={b}&zones=2&minutes=45", {"command": 200, "officer": 404,
                                                            "planner": 200})
    # a planner sees who is proposed by roster number only; a command also by masked name
    crew = json_of(world, "planner", f"/api/plan?{plan}")
    zone = next(f for f in crew["features"] if f["properties"]["kind"] == "zone")
    assert zone["properties"]["crew"] and all(c.count(" ") == 1
                                              for c in zone["properties"]["crew"])
    # analysing is for command and planners
    expect(world, "/analyse", {"officer": 403, "volunteer": 403, "anonymous": 401},
           method="post", data={"from": "2026-11-26", "to": "2026-11-27"})


def test_every_endpoint_needs_sign_in(world):
    from web.auth import PUBLIC

    anonymous = world["clients"]["anonymous"]
    checked = 0
    for rule in world["app"].url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        path = re.sub(r"<(?:int:)?(\w+)>", "1", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            resp = anonymous.open(path, method=method)
            assert resp.status_code == 401, (method, path, resp.status_code)
            checked += 1
    assert checked >= 30


def test_no_personal_data_without_the_privileged_role(world):
    """Every page, API answer and export a non-command role can read is free of phone and ID
    patterns."""
    run, a, d = world["run"], world["a"], world["district"]
    paths = ["/dashboard", f"/community/{a}?run={run}", "/hazards", "/reports", "/volunteers",
             "/me", "/api/me", f"/api/runs/{run}/hazards", f"/api/runs/{run}/gaps",
             f"/api/runs/{run}/areas", f"/export/{run}/hazards.csv",
             f"/export/{run}/gaps.geojson", f"/export/{run}/communities.csv",
             f"/maps/community/{a}?run={run}&day={DAY}", f"/api/tracks?area={a}&day={DAY}",
             f"/briefing/{d}?run={run}", f"/maps/district/{d}?run={run}", "/uploads", "/audit",
             f"/planner?area={a}&zones=2&minutes=45", f"/api/plan?area={a}&zones=2&minutes=45",
             f"/planner/briefing?area={a}&zones=2&minutes=45"]
    readable = 0
    for role in ("command", "officer", "planner", "volunteer"):
        for path in paths:
            resp = world["clients"][role].get(path)
            if resp.status_code != 200:
                continue
            readable += 1
            body = resp.get_data(as_text=True)
            assert not re.search(PHONE_PATTERN, body), (role, path)
            assert not re.search(ID_PATTERN, body), (role, path)
    assert readable >= 45


# --- sign-in ------------------------------------------------------------------------------

def test_login_sessions_and_limits(world, demo_world):
    engine = world["engine"]
    make_user(engine, "m-limited", "planner")
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"],
                      "GEO_PATROL_LOGIN_LIMIT": "3 per minute",
                      "GEO_PATROL_LOGIN_BACKOFF_AFTER": 2})
    client = app.test_client()
    page = client.get("/login")
    assert page.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True))[1]
    wrong = {"username": "m-limited", "password": "not the password", "csrf_token": token}
    assert client.post("/login", data=wrong).status_code == 401
    assert client.post("/login", data={**wrong, "csrf_token": "forged"}).status_code == 400
    assert client.post("/login", data=wrong).status_code == 401
    assert client.post("/login", data={**wrong, "password": PASSWORD}).status_code == 429
    # a different account from the same address is not locked out by those attempts
    sign_in(client, make_user(engine, "m-other", "planner"))
    # the session cookie is HttpOnly and SameSite; the hash is Argon2, never the password
    cookie = client.get_cookie("session")
    assert cookie.http_only and cookie.same_site == "Lax"
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM users WHERE username = "
                                      "'m-other'")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert client.get("/dashboard").status_code == 200
    from geo_patrol.store.accounts import set_disabled

    set_disabled(engine, "m-other")
    assert client.get("/dashboard").status_code == 401  # the session dies with the account
    resp = client.get("/login")
    assert resp.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]


def test_users_cli(runner, engine, settings):
    from geo_patrol.cli import cli
    from geo_patrol.services.sources import load_boundaries
    from geo_patrol.services.demo import BAOTOU_DISTRICTS

    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                    code_field="adcode", settings=settings)
    env = {"GEO_PATROL_NEW_PASSWORD": PASSWORD}
    ok = runner.invoke(cli, ["users", "add", "qs-command", "--role", "command",
                             "--area", "青山区"], env=env)
    assert ok.exit_code == 0, ok.output
    again = runner.invoke(cli, ["users", "add", "qs-command", "--role", "command"], env=env)
    assert again.exit_code != 0 and "exists" in again.output
    short = runner.invoke(cli, ["users", "add", "x", "--role", "planner"],
                          env={"GEO_PATROL_NEW_PASSWORD": "short"})
    assert short.exit_code != 0 and "at least 10 characters" in short.output
    officer = runner.invoke(cli, ["users", "add", "o", "--role", "officer"], env=env)
    assert officer.exit_code != 0 and "--area" in officer.output
    listed = runner.invoke(cli, ["users", "list"])
    assert "qs-command" in listed.output and "青山区" in listed.output
    assert runner.invoke(cli, ["users", "disable", "qs-command"]).exit_code == 0
    assert "disabled" in runner.invoke(cli, ["users", "list"]).output
    token = runner.invoke(cli, ["users", "token", "qs-command"]).output.strip()
    assert token.startswith("gp_")
    with engine.connect() as conn:
        assert token not in str(conn.execute(sa.text("SELECT * FROM api_tokens")).all())
    # a district command bound to 青山区 sees only that district
    from geo_patrol.store.accounts import authenticate, set_disabled

    set_disabled(engine, "qs-command", False)
    user = authenticate(engine, "qs-command", PASSWORD)
    with engine.connect() as conn:
        qingshan = conn.execute(sa.text("SELECT id FROM areas WHERE name = '青山区'")).scalar()
    assert user.area_ids == frozenset({qingshan}) and user.community_ids == frozenset()


def _gpx_in(world, area_id: int) -> bytes:
    lon, lat = _point_in(world, area_id)
    points = "".join(f'<trkpt lat="{lat + i * 0.0002:.6f}" lon="{lon:.6f}">'
                     f"<time>2026-11-20T02:{i:02d}:00Z</time></trkpt>" for i in range(6))
    return (f'<?xml version="1.0"?><gpx version="1.1" creator="t"><trk><trkseg>{points}'
            "</trkseg></trk></gpx>").encode()


def test_volunteer_uploads_own_track(world):
    import io

    token = issue_token(world["engine"], "m-volunteer", "app upload")
    client = world["app"].test_client()
    auth = {"Authorization": f"Bearer {token}"}
    before = count(world["engine"], "tracks", f"volunteer_id = {world['volunteer_id']}")
    body = _gpx_in(world, world["a"])
    for expected in (201, 200):  # the second time it is already stored
        resp = client.post("/api/tracks", headers=auth, content_type="multipart/form-data",
                           data={"file": (io.BytesIO(body), "walk.gpx"), "crs": "wgs84",
                                 "volunteer": "SOMEONE-ELSE"})
        assert resp.status_code == expected, resp.get_json()
    assert resp.get_json()["duplicate"] is True
    assert count(world["engine"], "tracks",
                 f"volunteer_id = {world['volunteer_id']}") == before + 1


def test_upload_type_checks_and_archive_bombs(world, tmp_path):
    import io
    import zipfile

    command = world["clients"]["command"]
    engine = world["engine"]
    uploads = count(engine, "uploads")

    def post(name: str, data: bytes, kind: str = "hazards") -> object:
        return command.post("/uploads", content_type="multipart/form-data", data={
            "kind": kind, "crs": "wgs84", "csrf_token": command.csrf,
            "file": (io.BytesIO(data), name)})

    renamed = post("ledger.xlsx", b"MZ\x90\x00 this is an executable")
    assert renamed.status_code == 400 and "not a .xlsx file" in renamed.get_data(as_text=True)
    wrong_kind = post("roster.exe", b"MZ\x90\x00", kind="volunteers")
    assert wrong_kind.status_code == 400 and ".csv, .xlsx" in wrong_kind.get_data(as_text=True)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"0" * (50 * 1024 * 1024))
    assert len(bomb.getvalue()) < 100_000
    resp = post("ledger.xlsx", bomb.getvalue())
    assert resp.status_code == 413 and "archive refused" in resp.get_data(as_text=True)
    import gzip

    gz = gzip.compress(b"t,lon,lat\n" + b"0" * (40 * 1024 * 1024))
    resp = post("fixes.csv.gz", gz, kind="tracks")
    assert resp.status_code == 413
    assert count(engine, "uploads") == uploads


def test_district_bound_command_sees_its_district_only(world):
    """A command bound to one district: other districts' communities, volunteers and
    unmasking are not found (404), its own are."""
    engine = world["engine"]
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :d"),
                            {"d": world["district"]}).scalar_one()
        inside, outside = conn.execute(sa.text("""
            WITH RECURSIVE down AS (SELECT id FROM areas WHERE id = :d UNION
                                    SELECT a.id FROM areas a JOIN down ON a.parent_id = down.id)
            SELECT (SELECT min(v.id) FROM volunteers v WHERE v.community_id IN
                        (SELECT id FROM down)),
                   (SELECT min(v.id) FROM volunteers v WHERE v.community_id NOT IN
                        (SELECT id FROM down))"""), {"d": world["district"]}).one()
        other = conn.execute(sa.text("""
            WITH RECURSIVE down AS (SELECT id FROM areas WHERE id = :d UNION
                                    SELECT a.id FROM areas a JOIN down ON a.parent_id = down.id)
            SELECT min(r.area_id) FROM area_results r JOIN areas a ON a.id = r.area_id
            WHERE r.run_id = :r AND a.level = 'community' AND a.id NOT IN (SELECT id FROM down)
            """), {"d": world["district"], "r": world["run"]}).scalar_one()
    client = world["app"].test_client()
    token = sign_in(client, make_user(engine, "m-district", "command", areas=[name]))
    reason = {"reason": "checking a duplicate entry", "csrf_token": token}
    assert client.post(f"/volunteers/{inside}/unmask", data=reason).status_code == 200
    assert client.post(f"/volunteers/{outside}/unmask", data=reason).status_code == 404
    assert client.get(f"/community/{world['a']}?run={world['run']}").status_code == 200
    assert client.get(f"/community/{other}?run={world['run']}").status_code == 404
    listed = client.get("/volunteers").get_data(as_text=True).split("<tbody>")[1]
    with engine.connect() as conn:
        number = conn.execute(sa.text("SELECT number FROM volunteers WHERE id = :i"),
                              {"i": outside}).scalar_one()
    assert number not in listed


def test_readme_matrix_is_the_code():
    from geo_patrol.access import matrix_markdown
    from tests.conftest import REPO

    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- access-matrix -->\n")[1].split("\n<!-- /access-matrix -->")[0]
    assert block == matrix_markdown()


def test_a_page_reads_on_one_connection(world):
    """Services take the request's database: the volunteer's page (tasks near them, their
    tasks and points, call-outs, certificates) reads on one connection; the sign-in check
    takes one more, on the primary."""
    assert world["clients"]["volunteer"].get("/me").status_code == 200  # engines opened
    engine = world["app"].extensions["geo_patrol_engines"]["baotou"]
    checkouts: list[int] = []

    def count(*_args: object) -> None:
        checkouts.append(1)

    sa.event.listen(engine, "checkout", count)
    try:
        assert world["clients"]["volunteer"].get("/me").status_code == 200
    finally:
        sa.event.remove(engine, "checkout", count)
    assert len(checkouts) == 2
