"""What an attacker would try, on the demo with one account per role: forged track owners,
session replay after sign-out, open redirects, scope leaks, formula injection, error bodies,
and every role against every route of the OpenAPI description."""

from __future__ import annotations

import json
import re

import pytest
import sqlalchemy as sa

from geo_patrol.access import MATRIX, Role
from tests.helpers import PASSWORD, count, make_user, sign_in
from tests.test_access import DAY, ROLES, world  # noqa: F401  (the shared fixture)
from web.openapi import SPEC


def test_a_volunteer_cannot_upload_anothers_positions(world, tmp_path):  # noqa: F811
    engine = world["engine"]
    with engine.connect() as conn:
        other = conn.execute(sa.text("SELECT number, id FROM volunteers WHERE id <> :v "
                                     "ORDER BY id LIMIT 1"), {"v": world["volunteer_id"]}).one()
    before = count(engine, "patrol_fixes", f"volunteer_id = {other.id}")
    csv = ("volunteer,time,lon,lat\n" + "\n".join(
        f"{number},2026-11-27T09:{m:02d}:00+08:00,109.90{m:02d},40.650"
        for m, number in enumerate([world["volunteer"], other.number, other.number])))
    resp = world["clients"]["volunteer"].post(
        "/api/tracks", data={"file": (__import__("io").BytesIO(csv.encode()), "forged.csv"),
                             "crs": "wgs84", "csrf_token": world["clients"]["volunteer"].csrf},
        content_type="multipart/form-data")
    assert resp.status_code == 403, resp.get_data(as_text=True)
    body = resp.get_json()
    assert other.number in body["message"] and "row 3" in body["message"]
    assert "/tmp" not in body["message"]
    assert count(engine, "patrol_fixes", f"volunteer_id = {other.id}") == before


def test_a_session_ends_at_sign_out(world):  # noqa: F811
    app, engine = world["app"], world["engine"]
    make_user(engine, "s-replay", "command")
    client = app.test_client()
    csrf = sign_in(client, "s-replay")
    stolen = client.get_cookie("session").value
    assert client.get("/api/me").status_code == 200
    client.post("/logout", data={"csrf_token": csrf})
    replay = app.test_client()
    replay.set_cookie("session", stolen)
    assert replay.get("/api/me").status_code == 401
    # a new password ends every session signed in before it
    from geo_patrol.store.accounts import set_password

    other = app.test_client()
    sign_in(other, "s-replay")
    assert other.get("/api/me").status_code == 200
    set_password(engine, "s-replay", PASSWORD + "!")
    assert other.get("/api/me").status_code == 401


def test_language_switch_redirects_only_locally(world):  # noqa: F811
    client = world["clients"]["anonymous"]
    for target in ("//evil.example/", "/\\evil.example", "https://evil.example/",
                   "/%0d%0aSet-Cookie:x", "javascript:alert(1)"):
        location = client.get("/lang/en", query_string={"next": target}).headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
        assert "evil" not in location
    assert client.get("/lang/en?next=/hazards").headers["Location"] == "/hazards"


def test_summary_answers_area_bound_users(world):  # noqa: F811
    rows = world["clients"]["officer"].get("/api/summary?level=community").get_json()
    assert [r["id"] for r in rows] == [world["a"]]


def test_officers_plans_propose_only_their_own_volunteers(world):  # noqa: F811
    engine = world["engine"]
    with engine.connect() as conn:
        own = set(conn.execute(sa.text("SELECT number FROM volunteers WHERE community_id = :a"),
                               {"a": world["a"]}).scalars())
    doc = world["clients"]["officer"].get(f"/api/plan?area={world['a']}&zones=2").get_json()
    crew = [entry.split(": ")[1].split(" ")[0] for f in doc["features"]
            if f["properties"]["kind"] == "zone" for entry in f["properties"]["crew"]]
    assert crew and set(crew) <= own
    page = world["clients"]["officer"].get(f"/planner?area={world['a']}&zones=2")
    shown = set(re.findall(r"<td[^>]*>(BT\d+)</td>", page.get_data(as_text=True)))
    assert shown and shown <= own


def test_officers_get_tracks_clipped_to_their_community(world):  # noqa: F811
    import shapely

    engine = world["engine"]
    with engine.connect() as conn:
        outline = shapely.from_wkb(bytes(conn.execute(sa.text(
            "SELECT ST_AsBinary(geom) FROM areas WHERE id = :a"), {"a": world["a"]}).scalar()))
    doc = world["clients"]["officer"].get(f"/api/tracks?area={world['a']}&day={DAY}").get_json()
    lines = [shapely.geometry.shape(f["geometry"]) for f in doc["features"]]
    assert lines
    fuzz = outline.buffer(1e-4)  # the 5 m simplification may step just over the line
    assert all(fuzz.contains(line) for line in lines)


def test_planners_see_no_personal_data_on_reports(world):  # noqa: F811
    engine = world["engine"]
    with engine.connect() as conn:
        numbers = set(conn.execute(sa.text(
            "SELECT v.number FROM reports r JOIN volunteers v ON v.id = r.volunteer_id")).scalars())
        texts = {t for t in conn.execute(sa.text("SELECT text FROM reports")).scalars() if t}
    html = world["clients"]["planner"].get("/reports").get_data(as_text=True)
    assert numbers and not [n for n in numbers if n in html]
    assert texts and not [t for t in texts if t in html]
    command = world["clients"]["command"].get("/reports").get_data(as_text=True)
    assert [n for n in numbers if n in command]
    hazards = world["clients"]["planner"].get(f"/api/runs/{world['run']}/hazards").get_json()
    assert all(f["properties"]["inspector"] is None for f in hazards["features"])


def test_form_text_that_a_spreadsheet_would_run_is_refused(world):  # noqa: F811
    engine = world["engine"]
    before = count(engine, "hazards")
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE id = :a"), {"a": world["a"]}).one()
    for name in ("=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)"):
        code = world["clients"]["officer"].post("/hazards/new", data={
            "category": "school", "name": name, "lon": lon, "lat": lat,
            "csrf_token": world["clients"]["officer"].csrf}).status_code
        assert code == 400, name
    assert count(engine, "hazards") == before


def test_api_errors_are_json(world):  # noqa: F811
    client = world["clients"]["command"]
    for resp, code in ((client.get("/api/no-such-thing"), 404), (client.delete("/api/me"), 405),
                       (client.post("/api/reports", json={}), 400)):
        assert resp.status_code == code and resp.is_json, (code, resp.data[:80])
        assert set(resp.get_json()) == {"error", "message"}


def test_sign_in_limit_says_when_to_retry_and_failures_are_audited(world):  # noqa: F811
    from web import create_app

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": world["app"].config[
        "GEO_PATROL_SETTINGS"], "GEO_PATROL_LOGIN_LIMIT": "2 per minute"})
    client = app.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      client.get("/login").get_data(as_text=True)).group(1)
    codes = []
    for _ in range(3):
        resp = client.post("/login", data={"username": "nobody-here", "password": "x" * 12,
                                           "csrf_token": token})
        codes.append(resp.status_code)
    assert codes[-1] == 429 and int(resp.headers["Retry-After"]) > 0
    assert count(world["engine"], "audit_log",
                 "action = 'login_failed' AND actor = 'nobody-here'") >= 1


def test_refused_unmasking_is_audited(world):  # noqa: F811
    engine = world["engine"]
    before = count(engine, "audit_log", "action = 'unmask_refused'")
    for role in ("planner", "command"):
        world["clients"][role].post(f"/volunteers/{world['volunteer_id']}/unmask",
                                    data={"reason": "", "csrf_token": world["clients"][role].csrf})
    assert count(engine, "audit_log", "action = 'unmask_refused'") == before + 2


def test_pages_never_show_nan(world):  # noqa: F811
    for path in ("/reports", "/audit", "/hazards", "/volunteers"):
        text = re.sub(r"<[^>]+>", " ", world["clients"]["command"].get(path).get_data(as_text=True))
        assert not re.search(r"\b(nan|NaN|NaT|None)\b", text), path


def test_scripts_run_only_by_the_responses_nonce(world):  # noqa: F811
    client = world["clients"]["command"]
    for path in ("/dashboard", f"/maps/district/{world['district']}",
                 f"/maps/community/{world['a']}", "/hazards"):
        resp = client.get(path)
        policy = resp.headers["Content-Security-Policy"]
        script_src = next(p for p in policy.split("; ") if p.startswith("script-src"))
        assert "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src
        assert "'sha256-" not in script_src, path  # nothing allowed for what the body holds
        nonce = re.fullmatch(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{22,})'", script_src)
        assert nonce, script_src
        inline = re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", resp.get_data(as_text=True))
        assert all(f'nonce="{nonce.group(1)}"' in tag for tag in inline), path
        assert not re.search(r"\son[a-z]+=", re.sub(r"<script.*?</script>", "",
                                                   resp.get_data(as_text=True), flags=re.S))


# --- every role against every route ---------------------------------------------------------

def _expected(view, role: str) -> set[int]:
    """The codes the access matrix allows for ``role`` on a view (ids from other scopes may
    also give 404, missing parameters 400)."""
    required = getattr(view, "required", None)
    if role == "anonymous":
        return {401}
    if required is None:
        return {200, 400, 404}
    grant = MATRIX.get(required, {}).get(Role(role))
    return {403} if grant is None else {200, 400, 403, 404}


def test_every_route_of_the_openapi_description_follows_the_matrix(world):  # noqa: F811
    app = world["app"]
    ids = {"run_id": world["run"], "area_id": world["b"]}  # community B: outside the officer
    adapter = app.url_map.bind("localhost")
    checked = 0
    for path, ops in SPEC["paths"].items():
        if "get" not in ops or path in ("/api/health", "/api/openapi.json"):
            continue
        url = "/api" + path if not path.startswith("/api") else path
        url = re.sub(r"\{(\w+)\}", lambda m: str(ids.get(m.group(1), 1)), url)
        endpoint, _ = adapter.match(url.split("?")[0], method="GET")
        view = app.view_functions[endpoint]
        for role in ROLES:
            code = world["clients"][role].get(url).status_code
            assert code in _expected(view, role), (role, url, code)
            checked += 1
    assert checked >= 5 * 8
    print(f"scope: {checked} OpenAPI route x role checks, 0 outside the matrix")
    # an officer asking for community B's figures learns nothing
    assert world["clients"]["officer"].get(f"/api/runs/{world['run']}/daily/{world['b']}"
                                           ).status_code == 404


def test_every_page_follows_the_matrix_with_ids_from_other_scopes(world):  # noqa: F811
    """Every GET route of the app (pages, map documents, exports), each id taken from
    community B or its district, which the officer is not bound to."""
    app = world["app"]
    engine = world["engine"]
    with engine.connect() as conn:
        district_b = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'district' AND :b IN (SELECT area_subtree(id))"),
            {"b": world["b"]}).scalar_one()
        volunteer_b = conn.execute(sa.text("SELECT id FROM volunteers WHERE community_id = :b "
                                           "LIMIT 1"), {"b": world["b"]}).scalar_one()
    values = {"area_id": world["b"], "district_id": district_b, "run_id": world["run"],
              "volunteer_id": volunteer_b, "hazard_id": 1, "z": 14, "x": 13100, "y": 6150,
              "layer": "gaps", "fmt": "csv", "code": "zh", "name": "leaflet.js",
              "filename": "app.js", "campaign_id": 1, "rota_id": 1, "task_id": 1,
              "media_id": 1, "copy": "thumb", "job_id": 1, "callout_id": 1, "notice_id": 1,
              "message_id": 1}
    checked = 0
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in ("auth.logout", "static"):
            continue
        url = rule.build(values, append_unknown=False)[1]
        view = app.view_functions[rule.endpoint]
        public = rule.endpoint in __import__("web.auth", fromlist=["PUBLIC"]).PUBLIC
        for role in ROLES:
            code = world["clients"][role].get(url).status_code
            allowed = {200, 302, 400} if public else _expected(view, role) | {302}
            assert code in allowed, (role, url, code)
            if role == "officer" and re.search(r"<int:(area|district)_id>", rule.rule):
                assert code in (403, 404), (url, code)  # B is outside the officer's scope
            checked += 1
    assert checked >= 5 * 25
    print(f"scope: {checked} page route x role checks with ids from other scopes, "
          "0 outside the matrix")


def test_an_officers_proposal_waits_for_the_commands_review(world):  # noqa: F811
    import json

    engine, run = world["engine"], world["run"]
    with engine.connect() as conn:
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE id = :a"), {"a": world["a"]}).one()
    officer, command = world["clients"]["officer"], world["clients"]["command"]
    for name in ("待审核的加油站", "将被驳回的加油站"):
        assert officer.post("/hazards/new", data={
            "category": "gas_station", "name": name, "lon": lon, "lat": lat,
            "csrf_token": officer.csrf}).status_code == 302
    with engine.connect() as conn:
        ids = dict(conn.execute(sa.text(
            "SELECT name, id FROM hazards WHERE name IN ('待审核的加油站', '将被驳回的加油站')")).all())

    def on_map() -> set[str]:
        doc = command.get(f"/maps/community/{world['a']}?run={run}").get_data(as_text=True)
        return {n for n in ids if n in doc or json.dumps(n)[1:-1] in doc}

    def in_api() -> set[str]:
        features = command.get(f"/api/runs/{run}/hazards?area={world['a']}").get_json()
        return {f["properties"]["name"] for f in features["features"]} & set(ids)

    assert on_map() == set() and in_api() == set()  # not an ordinary open hazard
    review = command.get("/hazards").get_data(as_text=True)
    assert all(n in review for n in ids) and 'value="accept"' in review
    assert 'value="accept"' not in officer.get("/hazards").get_data(as_text=True)
    # only the command reviews
    assert officer.post(f"/hazards/{ids['待审核的加油站']}/review", data={
        "decision": "accept", "csrf_token": officer.csrf}).status_code == 403
    for name, decision in (("待审核的加油站", "accept"), ("将被驳回的加油站", "reject")):
        assert command.post(f"/hazards/{ids[name]}/review", data={
            "decision": decision, "csrf_token": command.csrf}).status_code == 302
    assert on_map() == {"待审核的加油站"}
    assert count(engine, "hazards", f"id = {ids['将被驳回的加油站']}") == 0
    assert count(engine, "audit_log", "action IN ('hazard_accept', 'hazard_reject')") == 2
    assert json.dumps(in_api(), default=list)  # accepted: listed with its (never visited) status
    assert in_api() == {"待审核的加油站"}


def test_upload_errors_name_the_file_not_where_it_was_kept(world):  # noqa: F811
    import io

    command = world["clients"]["command"]
    resp = command.post("/uploads", data={
        "kind": "hazards", "crs": "wgs84", "csrf_token": command.csrf,
        "file": (io.BytesIO("名称,类别,经度,纬度\n幼儿园,学校,abc,40.6\n".encode()), "台账.csv")},
        content_type="multipart/form-data")
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "gp-upload-" not in page and "/tmp" not in page
    error = re.search(r'<div class="form-error" id="form-error" role="alert">(.*?)</div>',
                      page, re.S).group(1)
    assert "台账.csv" in error and "经度" in error and "“abc”不是数字" in error, error


def test_planners_get_no_names_numbers_or_inspectors_anywhere(world):  # noqa: F811
    engine, run, planner = world["engine"], world["run"], world["clients"]["planner"]
    with engine.connect() as conn:
        numbers = set(conn.execute(sa.text("SELECT number FROM volunteers")).scalars())
        inspectors = {n for n in conn.execute(sa.text(
            "SELECT v.name FROM hazard_results r JOIN volunteers v ON v.id = r.last_inspector_id"
            " WHERE r.run_id = :r"), {"r": run}).scalars()}
    masked = {n[0] + "*" * (len(n) - 1) for n in inspectors}
    assert masked
    docs = {
        "plan api": planner.get(f"/api/plan?area={world['a']}&zones=2").get_data(as_text=True),
        "planner": planner.get(f"/planner?area={world['a']}&zones=2").get_data(as_text=True),
        "map": planner.get(f"/maps/community/{world['a']}?run={run}").get_data(as_text=True),
        "export": planner.get(f"/export/{run}/hazards.csv").get_data(as_text=True)}
    for what, doc in docs.items():
        assert not [n for n in numbers if re.search(rf"\b{n}\b", doc)], what
        assert not [m for m in masked if m in doc or json.dumps(m)[1:-1] in doc], what
    # the command sees who is proposed and who inspected
    command = world["clients"]["command"].get(f"/export/{run}/hazards.csv").get_data(as_text=True)
    assert [m for m in masked if m in command]


# --- a district's command, its devices, and jobs that wait ---------------------------------

def _district_command(world, name: str):  # noqa: ANN202
    """A command bound to the world's district (signed in, English pages), and two
    volunteers of its communities and one of a community outside it."""
    engine = world["engine"]
    with engine.connect() as conn:
        district = conn.execute(sa.text("SELECT name FROM areas WHERE id = :d"),
                                {"d": world["district"]}).scalar_one()
        inside = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE community_id = ANY(ARRAY(SELECT "
            "area_subtree(:d))) ORDER BY id LIMIT 2"), {"d": world["district"]}).scalars().all()
        outside = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE community_id IS NOT NULL AND NOT "
            "community_id = ANY(ARRAY(SELECT area_subtree(:d))) ORDER BY id LIMIT 1"),
            {"d": world["district"]}).scalar_one()
    client = world["app"].test_client()
    client.csrf = sign_in(client, make_user(engine, name, "command", areas=[district]))
    client.set_cookie("lang", "en")
    return client, inside, outside


def _holder(engine, device: str):  # noqa: ANN202
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT v.number, d.disabled_at IS NULL AS active, d.secret_sha256 FROM devices d "
            "JOIN volunteers v ON v.id = d.volunteer_id WHERE d.device_id = :d"),
            {"d": device}).one_or_none()


def test_a_district_command_reaches_only_its_own_districts_devices(world):  # noqa: F811
    from geo_patrol.services.devices import add_device, new_secret

    engine = world["engine"]
    command, (mine, also_mine), theirs = _district_command(world, "sec-dc")
    add_device(engine, "sec-theirs", theirs, secret=new_secret())
    before = _holder(engine, "sec-theirs")
    # another district's phone: not found, no new secret shown, nothing changed
    for action in ("rotate", "remove"):
        resp = command.post(f"/devices/sec-theirs/{action}", data={"csrf_token": command.csrf})
        assert resp.status_code == 404, (action, resp.status_code)
        assert "key=" not in resp.get_data(as_text=True)
    assert _holder(engine, "sec-theirs") == before
    # another district's volunteer: as unknown as one not on the roster
    resp = command.post("/devices", data={"device_id": "sec-new", "number": theirs,
                                          "csrf_token": command.csrf})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "key=" not in page
    assert f"No volunteer “{theirs}”" in page and _holder(engine, "sec-new") is None
    # another district's phone id cannot be taken over for one's own volunteer
    resp = command.post("/devices", data={"device_id": "sec-theirs", "number": mine,
                                          "rebind": "1", "csrf_token": command.csrf})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "key=" not in page
    assert "outside your communities" in page and 'value="sec-theirs"' in page
    command.set_cookie("lang", "zh")
    page = command.post("/devices", data={"device_id": "sec-theirs", "number": mine,
                                          "csrf_token": command.csrf}).get_data(as_text=True)
    assert "已登记给您辖区以外的义警" in page
    command.set_cookie("lang", "en")
    assert _holder(engine, "sec-theirs") == before
    # one's own: a new secret; a phone of one volunteer moves to another only when asked
    resp = command.post("/devices", data={"device_id": "sec-mine", "number": mine,
                                          "csrf_token": command.csrf})
    assert resp.status_code == 200 and "key=" in resp.get_data(as_text=True)
    resp = command.post("/devices/sec-mine/rotate", data={"csrf_token": command.csrf})
    assert resp.status_code == 200 and "key=" in resp.get_data(as_text=True)
    resp = command.post("/devices", data={"device_id": "sec-mine", "number": also_mine,
                                          "csrf_token": command.csrf})
    page = resp.get_data(as_text=True)
    assert resp.status_code == 400 and "key=" not in page
    assert f"is registered to {mine}" in page and 'id="error-device_id"' in page
    assert 'value="sec-mine"' in page and _holder(engine, "sec-mine").number == mine
    resp = command.post("/devices", data={"device_id": "sec-mine", "number": also_mine,
                                          "rebind": "1", "csrf_token": command.csrf})
    assert resp.status_code == 200 and _holder(engine, "sec-mine").number == also_mine


def test_a_phone_id_another_city_holds_is_refused_when_registered(world, tmp_path):  # noqa: F811
    from geo_patrol.cities import City
    from geo_patrol.errors import InputError
    from geo_patrol.services.cities import ensure_city
    from geo_patrol.services.devices import add_device
    from geo_patrol.services.sources import load_volunteers
    from geo_patrol.settings import Settings
    from tests.helpers import write_roster

    engine = world["engine"]
    other = ensure_city(engine.url.render_as_string(hide_password=False),
                        City(key="secother", name="乌海市", name_en="Wuhai",
                             timezone="Asia/Shanghai"))
    try:
        load_volunteers(other, write_roster(tmp_path / "r.csv", [("W1", "甲", "", "保安")]),
                        settings=Settings(city="secother", data_dir=tmp_path / "d"))
        add_device(other, "sec-shared", "W1")
        command, (mine, _), _ = _district_command(world, "sec-dc2")
        resp = command.post("/devices", data={"device_id": "sec-shared", "number": mine,
                                              "csrf_token": command.csrf})
        page = resp.get_data(as_text=True)
        assert resp.status_code == 400 and "key=" not in page
        assert "is registered in 乌海市" in page and 'value="sec-shared"' in page
        assert _holder(engine, "sec-shared") is None
        with pytest.raises(InputError, match="another city"):
            add_device(engine, "sec-shared", mine)
        # disabled there, it may be registered here
        with other.begin() as conn:
            conn.execute(sa.text("UPDATE devices SET disabled_at = now()"))
        assert add_device(engine, "sec-shared", mine) is True
    finally:
        other.dispose()
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM public.cities WHERE key = 'secother'"))
            conn.execute(sa.text("DROP SCHEMA city_secother CASCADE"))


def _job_row(engine, kind: str, by: str, *, state: str, key: str | None = None,
             params: dict | None = None, result: dict | None = None,
             error: str | None = None) -> int:
    """A job as a worker would have left it (none runs it)."""
    import secrets

    from geo_patrol.store import jobs as store

    with engine.begin() as conn:
        job_id = store.insert_job(conn, kind=kind, key=key or secrets.token_hex(16),
                                  params=params or {}, by=by)
        assert job_id is not None
        store.start_job(conn, job_id)
        if state == "done":
            store.finish_job(conn, job_id, result=result or {}, payload=None)
        elif state == "failed":
            store.fail_job(conn, job_id, error=error or "failed", kind="InputError")
    return job_id


def test_a_page_shows_only_the_readers_own_job_of_its_kind(world):  # noqa: F811
    engine, command = world["engine"], world["clients"]["command"]
    crime = _job_row(engine, "crime", "m-command", state="done")
    other_rota = _job_row(engine, "rota", "m-officer", state="failed",
                          error="sec-secret of the officer's communities")
    own_rota = _job_row(engine, "rota", "m-command", state="failed", error="sec-own error")
    assert command.get(f"/dashboard?analysis_job={crime}").status_code == 404
    assert command.get(f"/planner?rota_job={crime}").status_code == 404
    resp = command.get(f"/planner?area={world['a']}&rota_job={other_rota}")
    assert resp.status_code == 404 and "sec-secret" not in resp.get_data(as_text=True)
    resp = command.get(f"/planner?area={world['a']}&rota_job={own_rota}")
    assert resp.status_code == 200 and "sec-own error" in resp.get_data(as_text=True)
    # an analysis covers the city: whoever may start one follows the one under way
    analysis = _job_row(engine, "analysis", "m-planner", state="failed", error="sec-no tracks")
    resp = command.get(f"/dashboard?analysis_job={analysis}")
    assert resp.status_code == 200 and "sec-no tracks" in resp.get_data(as_text=True)
    assert world["clients"]["officer"].get(
        f"/dashboard?analysis_job={analysis}").status_code == 404


def _plan_being_made(world) -> tuple[int, object]:  # noqa: F811
    """The zones plan of the world's community (hazards weighing nothing) for an unbound
    command, being made (a worker holds it; none finishes it), and an app that waits 3 s
    for a job (two of a user's requests wait at once, by default)."""
    from geo_patrol.planning.plan import PlanParams
    from geo_patrol.services import jobs
    from geo_patrol.store import jobs as store
    from web import create_app

    engine, a = world["engine"], world["a"]
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :a"),
                            {"a": a}).scalar_one()
        stamp = store.inputs_stamp(conn)
    params = {"run_id": world["run"], "area_id": a, "area_name": name, "within": None,
              "plan": jobs.plan_params(PlanParams(zones=2, hazard_weight=0.0))}
    key = jobs.job_key("zones", params, stamp)
    with engine.connect() as conn:
        found = store.find_job(conn, key)
    job_id = found["id"] if found else _job_row(engine, "zones", "sec-waiter",
                                                state="running", key=key, params=params)
    if not found:
        make_user(engine, "sec-waiter", "command")
    settings = world["app"].config["GEO_PATROL_SETTINGS"].with_(job_wait_s=3.0)
    return job_id, create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings,
                               "GEO_PATROL_LOGIN_LIMIT": "1000 per minute"})


def test_requests_waiting_for_a_job_hold_few_threads(world):  # noqa: F811
    import threading
    import time

    job_id, app = _plan_being_made(world)
    clients = []
    for _ in range(4):
        client = app.test_client()
        sign_in(client, "sec-waiter")
        clients.append(client)
    url = f"/api/plan?area={world['a']}&zones=2&hazard_weight=0"
    answers: list[tuple[int, str | None, float]] = []

    def ask(client) -> None:  # noqa: ANN001
        started = time.monotonic()
        resp = client.get(url)
        answers.append((resp.status_code, resp.headers.get("Location"),
                        time.monotonic() - started))

    threads = [threading.Thread(target=ask, args=(c,)) for c in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == 4
    # two waited the whole wait; the others were answered at once; all with the job to follow
    took = sorted(s for _, _, s in answers)
    assert took[1] < 2.0 <= took[2], took
    assert {(status, where) for status, where, _ in answers} == {(202, f"/api/jobs/{job_id}")}
    body = clients[0].get(url).get_json()
    assert body["job"] == f"/api/jobs/{job_id}" and body["state"] == "running"
    # a download's page shows the job's progress (and reloads to the file when it is done)
    page = clients[0].get(f"/planner/plan.geojson?area={world['a']}&zones=2&hazard_weight=0")
    assert page.status_code == 202 and f'data-job="/api/jobs/{job_id}"' in page.get_data(
        as_text=True)


def test_a_value_off_the_forms_step_names_the_job_of_the_forms_value(world):  # noqa: F811
    job_id, app = _plan_being_made(world)
    client = app.test_client()
    sign_in(client, "sec-waiter")
    # the form's step for the weight is 0.1: 0.0001 and 0.04 are the weight 0, not new jobs
    for weight in ("0.0001", "0.04"):
        resp = client.get(f"/api/plan?area={world['a']}&zones=2&hazard_weight={weight}")
        assert (resp.status_code, resp.headers.get("Location")) == (202, f"/api/jobs/{job_id}")
