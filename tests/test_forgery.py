"""Work that cannot be forged, and what an attacker found: each finding of the security review
as a test that failed before its fix (the chain "take a closed task, post a walk dated inside
its window, get paid" is broken at each of its three links, tested separately)."""

from __future__ import annotations

import datetime as dt
import re

import pytest
import sqlalchemy as sa

from tests.helpers import ID_PATTERN, PHONE_PATTERN, make_user, sign_in
from web import create_app


@pytest.fixture(scope="module")
def web(demo_world):
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    engine = demo_world["engine"]
    with engine.connect() as conn:
        district = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'district' ORDER BY id LIMIT 1")).scalar_one()
    clients = {}
    for role in ("command", "planner"):
        client = app.test_client()
        client.csrf = sign_in(client, make_user(engine, f"f-{role}", role))
        clients[role] = client
    return {"app": app, "clients": clients, "district": district}


# --- finding 4: no personal data in the planner's briefing ------------------------------------

def test_the_plan_briefing_names_nobody(web, demo_world):
    planner = web["clients"]["planner"]
    resp = planner.get(f"/planner/briefing?area={web['district']}&zones=3&minutes=60",
                       headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 200, resp.data[:200]
    page = resp.get_data(as_text=True)
    with demo_world["engine"].connect() as conn:
        people = conn.execute(sa.text("SELECT number, name FROM volunteers")).all()
    assert not [n for n, _ in people if re.search(rf"(?<![0-9A-Za-z]){n}(?![0-9A-Za-z])", page)]
    assert not [name for _, name in people if name in page]
    assert not re.search(PHONE_PATTERN, page) and not re.search(ID_PATTERN, page)
    assert "居住地距" not in page and "建议人数" in page


# --- finding 5: what drives cost is capped, with a clear 400 in the user's language ----------

@pytest.mark.parametrize(("path", "field"), [
    ("/planner?area={d}&zones=200&minutes=90", "责任区数"),
    ("/planner?area={d}&zones=4&minutes=600", "单次路线（分钟）"),
    ("/crime?days=3600", "天数"),
    ("/api/plan?area={d}&zones=50", "责任区数"),
])
def test_expensive_parameters_are_capped(web, path, field):
    resp = web["clients"]["command"].get(path.format(d=web["district"]),
                                          headers={"Accept-Language": "zh-CN"})
    assert resp.status_code == 400, (path, resp.status_code)
    text = resp.get_data(as_text=True)
    assert field in text and "之间" in text, text[:300]


def test_a_long_rota_is_refused_before_any_work(web, demo_world):
    command = web["clients"]["command"]
    with demo_world["engine"].connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM rotas")).scalar_one()
    resp = command.post("/planner/rota", data={"area": str(web["district"]), "days": "28",
                                                "csrf_token": command.csrf},
                        headers={"Accept-Language": "en"})
    assert resp.status_code == 400
    assert "Days must lie between 1 and 14" in resp.get_data(as_text=True)
    with demo_world["engine"].connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM rotas")).scalar_one() == before


# --- finding 7: sign-in limits per address and per username, back-off not lock-out ---------

def _login_form(client):
    return re.search(r'name="csrf_token" value="([^"]+)"',
                     client.get("/login").get_data(as_text=True))[1]


def test_spraying_many_names_from_one_address_is_limited(demo_world):
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"],
                      "GEO_PATROL_LOGIN_LIMIT": "5 per minute"})
    client = app.test_client()
    token = _login_form(client)
    codes = [client.post("/login", data={"username": f"spray-{i}", "password": "x" * 12,
                                         "csrf_token": token}).status_code for i in range(7)]
    assert codes[:5] == [401] * 5 and codes[5:] == [429, 429]


def test_guessing_one_name_from_many_addresses_backs_off_without_locking_out(demo_world,
                                                                             monkeypatch):
    from web import auth

    engine = demo_world["engine"]
    make_user(engine, "f-target", "planner")
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    now = [1000.0]
    # the sign-in's own clock only: the process's (its event loops' timers) runs on
    monkeypatch.setattr(auth, "monotonic", lambda: now[0])
    codes = []
    for i in range(5):  # each guess from another address
        client = app.test_client()
        token = _login_form(client)
        resp = client.post("/login", data={"username": "F-Target", "password": "wrong guess",
                                           "csrf_token": token},
                           environ_base={"REMOTE_ADDR": f"10.9.0.{i + 1}"},
                           headers={"Accept-Language": "zh-CN"})
        codes.append(resp.status_code)
    # three free failures, then the account's back-off answers whatever the address
    assert codes == [401, 401, 401, 429, 429]
    assert 1 <= int(resp.headers["Retry-After"]) <= 2
    assert "请 2 秒后再试" in resp.get_data(as_text=True)
    # the real user, after the wait, signs in: a back-off, not a lock-out
    now[0] += 2.5
    client = app.test_client()
    from tests.helpers import PASSWORD

    ok = client.post("/login", data={"username": "f-target", "password": PASSWORD,
                                     "csrf_token": _login_form(client)},
                     environ_base={"REMOTE_ADDR": "10.9.1.1"})
    assert ok.status_code == 302
    # and the waits never grow past the ceiling
    backoff = auth.SignInBackoff(free=3, max_s=60)
    for _ in range(40):
        backoff.failed("x", 0.0)
    assert backoff.wait_s("x", 0.0) == 60


# --- findings 1-3: the chain "a closed task, a made-up walk, paid", broken at each link -------

@pytest.fixture(scope="module")
def route(demo_world):
    """The demo's longest patrol: its streets and its fixes (WGS-84, epoch seconds), to be
    sent again by phones as another volunteer's walk."""
    engine = demo_world["engine"]
    with engine.connect() as conn:
        track = conn.execute(sa.text(
            "SELECT t.volunteer_id, v.community_id, t.started_at, t.ended_at, "
            "ST_AsText(t.geom) FROM tracks t JOIN volunteers v ON v.id = t.volunteer_id "
            "WHERE t.kind = 'patrol' ORDER BY t.n_fixes DESC LIMIT 1")).one()
        every = conn.execute(sa.text(
            "SELECT extract(epoch FROM f.t)::float8, ST_X(ST_Transform(f.geom_m, 4326)), "
            "ST_Y(ST_Transform(f.geom_m, 4326)) FROM patrol_fixes f WHERE f.volunteer_id = :v "
            "AND f.t BETWEEN :a AND :b AND f.flags = 0 ORDER BY f.t"),
            {"v": track[0], "a": track[2], "b": track[3]}).all()
        # a phone reporting every 20 s or so (as Traccar Client's default does): fewer requests
        fixes = [every[0]]
        for fix in every[1:]:
            if fix[0] - fixes[-1][0] >= 20 or fix is every[-1]:
                fixes.append(fix)
        path = ("(SELECT ST_MakeLine(f.geom_m ORDER BY f.t) FROM patrol_fixes f WHERE "
                "f.volunteer_id = :v AND f.t BETWEEN :a AND :b AND f.flags = 0)")
        segments = [r[0] for r in conn.execute(sa.text(
            f"SELECT g.id FROM street_segments g WHERE ST_DWithin(ST_LineInterpolatePoint("
            f"ST_LineMerge(g.geom_m), 0.5), {path}, 8) AND g.length_m > 40 ORDER BY g.id"),
            {"v": track[0], "a": track[2], "b": track[3]})]
        walkers = conn.execute(sa.text(
            "SELECT id, number FROM volunteers WHERE community_id = :c AND active AND id <> :v "
            "ORDER BY id LIMIT 4"), {"c": track[1], "v": track[0]}).all()
    assert len(segments) >= 6 and len(fixes) >= 20 and len(walkers) == 4
    return {"community": track[1], "wkt": track[4], "fixes": fixes, "segments": segments,
            "walkers": walkers}


def _task(engine, route, volunteer_id: int, start: dt.datetime, end: dt.datetime) -> int:
    from geo_patrol.store import tasks as store

    with engine.begin() as conn:
        store.create_tasks(conn, [{
            "rota_walk_id": None, "kind": "streets", "community_id": route["community"],
            "day": start.date(), "window_start": start, "window_end": end, "minutes": 90.0,
            "length_m": 1000.0, "segment_ids": route["segments"], "hazard_ids": [],
            "hotspot_segment_id": None, "points": 10, "offered_to": volunteer_id,
            "wkt": route["wkt"]}], by="test")
        return conn.execute(sa.text("SELECT max(id) FROM tasks")).scalar_one()


def _walk_by_phone(client, route, device: str, key: str | None, ends_at: float) -> None:
    """The route's fixes sent by a phone (OsmAnd query shape), shifted to end at
    ``ends_at``: a walk dated as the sender likes, sent now."""
    shift = ends_at - route["fixes"][-1][0]
    for t, lon, lat in route["fixes"]:
        query = {"id": device, "timestamp": int(t + shift), "lat": f"{lat:.7f}",
                 "lon": f"{lon:.7f}", "accuracy": "8"}
        if key:
            query["key"] = key
        resp = client.get("/osmand", query_string=query)
        assert resp.status_code == 200, resp.data


def _checked(engine, settings, task_id: int, at: dt.datetime):
    from geo_patrol.services import tasks

    (checked,) = tasks.check(engine, settings, now=at, task_ids=[task_id])
    return checked


def test_a_phone_is_registered_with_a_secret_by_default(demo_world, route):
    from click.testing import CliRunner

    from geo_patrol.cli import cli

    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(demo_world["root"] / "data")})
    number = route["walkers"][0][1]
    added = runner.invoke(cli, ["devices", "add", "f-default", number])
    assert added.exit_code == 0, added.output
    key = re.search(r"[?&]key=([\w-]+)", added.output)[1]
    assert len(key) >= 20
    # the intake re-reads the registry at once (30 s by default)
    web_app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"].with_(
        device_registry_s=0.0)})
    phone = web_app.test_client()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    lon, lat = route["fixes"][0][1:]
    anonymous = phone.get("/osmand", query_string={"id": "f-default", "lat": lat, "lon": lon,
                                                    "timestamp": now})
    assert anonymous.status_code in (401, 403) and b"wrong_secret" in anonymous.data
    assert phone.get("/osmand", query_string={"id": "f-default", "lat": lat, "lon": lon,
                                              "timestamp": now, "key": key}).status_code == 200
    # a new secret: the old one is refused from then on
    rotated = runner.invoke(cli, ["devices", "rotate", "f-default"])
    assert rotated.exit_code == 0 and key not in rotated.output
    old = phone.get("/osmand", query_string={"id": "f-default", "lat": lat, "lon": lon,
                                             "timestamp": now + 5, "key": key})
    assert old.status_code in (401, 403)
    weak = runner.invoke(cli, ["devices", "add", "f-weak-cli", number, "--no-secret"])
    assert weak.exit_code == 0 and "key=" not in weak.output and "WITHOUT a secret" in weak.output
    listed = runner.invoke(cli, ["devices", "list"]).output
    assert re.search(r"f-weak-cli.*secret=no \(weak\)", listed)


def test_link_1_positions_from_a_phone_without_a_secret_earn_nothing(demo_world, route, web):
    from geo_patrol.services import tasks
    from geo_patrol.services.devices import add_device, new_secret

    engine, settings = demo_world["engine"], demo_world["settings"]
    (weak_id, weak_no), (strong_id, strong_no) = route["walkers"][1:3]
    add_device(engine, "f-weak", weak_no, secret=None)  # the deliberate transition
    secret = new_secret()
    add_device(engine, "f-strong", strong_no, secret=secret)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    span = dt.timedelta(seconds=route["fixes"][-1][0] - route["fixes"][0][0])
    start, end = now - span - dt.timedelta(minutes=10), now + dt.timedelta(minutes=5)
    weak_task = _task(engine, route, weak_id, start, end)
    strong_task = _task(engine, route, strong_id, start, end)
    for task_id, vid in ((weak_task, weak_id), (strong_task, strong_id)):
        tasks.answer(engine, volunteer_id=vid, task_id=task_id, accept=True, by="v", now=start)
    phone = web["app"].test_client()
    ends = (now - dt.timedelta(minutes=1)).timestamp()
    _walk_by_phone(phone, route, "f-weak", None, ends)
    _walk_by_phone(phone, route, "f-strong", secret, ends)
    after = end + dt.timedelta(minutes=1)
    weak, strong = (_checked(engine, settings, t, after) for t in (weak_task, strong_task))
    assert strong.state == "delivered" and strong.points == 10  # the same walk, proven
    assert weak.state == "missed" and weak.points == 0
    assert weak.verdict["unproven_fixes"] >= len(route["fixes"]) - 2
    # the weak phone's walk still counts as history: its fixes are stored
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT count(*) FROM patrol_fixes WHERE volunteer_id = :v AND t >= :a"),
            {"v": weak_id, "a": start}).scalar_one()
    assert stored >= len(route["fixes"]) - 2


def test_link_2_positions_received_after_the_window_are_history_not_proof(demo_world, route,
                                                                         web):
    from geo_patrol.services import tasks
    from geo_patrol.services.devices import add_device, new_secret

    engine, settings = demo_world["engine"], demo_world["settings"]
    vid, number = route["walkers"][3]
    secret = new_secret()
    add_device(engine, "f-late", number, secret=secret)
    # a task of three hours ago: the grace for buffering phones is an hour
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)
    span = dt.timedelta(seconds=route["fixes"][-1][0] - route["fixes"][0][0])
    start = end - span - dt.timedelta(minutes=10)
    task_id = _task(engine, route, vid, start, end)
    tasks.answer(engine, volunteer_id=vid, task_id=task_id, accept=True, by="v", now=start)
    # the walk, dated inside the window, from the volunteer's own phone with its secret
    _walk_by_phone(web["app"].test_client(), route, "f-late", secret,
                   (end - dt.timedelta(minutes=2)).timestamp())
    checked = _checked(engine, settings, task_id, dt.datetime.now(dt.UTC))
    assert checked.state == "missed" and checked.points == 0
    assert checked.verdict["unproven_fixes"] >= len(route["fixes"]) - 2
    with engine.connect() as conn:  # stored, and drawn as coverage history
        assert conn.execute(sa.text(
            "SELECT count(*) FROM patrol_fixes WHERE volunteer_id = :v AND t BETWEEN :a AND :b"
            " AND flags = 0"), {"v": vid, "a": start, "b": end}
        ).scalar_one() >= len(route["fixes"]) - 2


def test_link_3_a_closed_task_cannot_be_taken(demo_world, route):
    from geo_patrol.errors import ConflictError
    from geo_patrol.services import tasks

    engine = demo_world["engine"]
    vid, number = route["walkers"][0]
    end = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(days=7)
    task_id = _task(engine, route, vid, end - dt.timedelta(hours=2), end)
    with pytest.raises(ConflictError):
        tasks.answer(engine, volunteer_id=vid, task_id=task_id, accept=True, by="v")
    # nor on the volunteer's page
    make_user(engine, "f-walker", "volunteer", volunteer=number)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    client = app.test_client()
    token = sign_in(client, "f-walker")
    resp = client.post(f"/me/tasks/{task_id}", data={"answer": "accept", "csrf_token": token})
    assert resp.status_code == 409
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT state, volunteer_id FROM tasks WHERE id = :t"),
                            {"t": task_id}).one() == ("offered", None)


# --- finding 6: rate limits and caps on the phones' endpoints ---------------------------------

def test_position_requests_are_rate_limited_per_device_and_per_address(demo_world, route):
    from geo_patrol.services.devices import add_device, new_secret

    engine = demo_world["engine"]
    secret = new_secret()
    add_device(engine, "f-flood", route["walkers"][0][1], secret=secret)
    # buckets refilled once in 100 s: what the test sees never depends on how fast it runs
    settings = demo_world["settings"].with_(intake_device_rate=0.01, intake_device_burst=3.0,
                                            intake_address_rate=0.01, intake_address_burst=8.0)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    phone = app.test_client()
    now = int(dt.datetime.now(dt.UTC).timestamp())
    lon, lat = route["fixes"][0][1:]
    codes = [phone.get("/osmand", query_string={
        "id": "f-flood", "key": secret, "lat": lat, "lon": lon, "timestamp": now + i}
    ).status_code for i in range(5)]
    assert codes[:3] == [200, 200, 200] and codes[3:] == [429, 429]
    # guessing secrets of other devices from the same address runs into the address's limit
    guesses = [phone.get("/osmand", query_string={
        "id": f"f-guess-{i}", "key": "x" * 20, "lat": lat, "lon": lon, "timestamp": now}
    ) for i in range(6)]
    assert guesses[-1].status_code == 429 and guesses[-1].headers["Retry-After"] == "1"
    # a request of more fields than any phone sends is a clear 400, not a server error
    many = "&".join(f"f{i}=1" for i in range(300))
    resp = app.test_client().get(f"/osmand?id=f-flood&{many}",
                                 environ_base={"REMOTE_ADDR": "10.9.2.1"})
    assert resp.status_code == 400 and b"malformed" in resp.data


def test_a_batch_of_positions_spends_the_device_bucket_by_position(demo_world, route):
    """A request carrying many positions (a JSON phone's buffer) counts each: one larger
    than the burst is taken from a full bucket, and the device then waits (429) instead of
    sending a thousand positions ten times a second."""
    from geo_patrol.services.devices import add_device, new_secret

    engine = demo_world["engine"]
    secret = new_secret()
    add_device(engine, "f-batch", route["walkers"][2][1], secret=secret)
    settings = demo_world["settings"].with_(intake_device_rate=0.01, intake_device_burst=3.0)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    now = int(dt.datetime.now(dt.UTC).timestamp())
    lon, lat = route["fixes"][0][1:]

    def batch(n: int, start: int) -> int:
        body = {"device_id": "f-batch", "location": [
            {"timestamp": dt.datetime.fromtimestamp(now - 60 + start + i, dt.UTC).isoformat(),
             "coords": {"latitude": lat, "longitude": lon}} for i in range(n)]}
        return app.test_client().post(f"/osmand?key={secret}", json=body).status_code

    assert batch(5, 0) == 200  # a buffer larger than the burst, from a full bucket
    assert batch(1, 10) == 429  # the bucket owes: the device waits
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM live_positions p JOIN devices d ON d.id = p.device_id "
            "WHERE d.device_id = 'f-batch'")).scalar_one() == 5


def test_requests_with_a_wrong_key_cannot_silence_the_real_phone(demo_world, route):
    """Requests naming a device with a wrong key spend their address's bucket, not the
    device's: the phone with its key, from elsewhere, is still taken."""
    from geo_patrol.services.devices import add_device, new_secret

    engine = demo_world["engine"]
    secret = new_secret()
    add_device(engine, "f-victim", route["walkers"][1][1], secret=secret)
    settings = demo_world["settings"].with_(intake_device_rate=0.01, intake_device_burst=3.0,
                                            intake_address_rate=0.01, intake_address_burst=8.0)
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    now = int(dt.datetime.now(dt.UTC).timestamp())
    lon, lat = route["fixes"][0][1:]
    attacker = [app.test_client().get("/osmand", query_string={
        "id": "f-victim", "key": "x" * 24, "lat": lat, "lon": lon, "timestamp": now},
        environ_base={"REMOTE_ADDR": "10.9.3.1"}).status_code for _ in range(8)]
    assert attacker == [403] * 8, attacker  # the device's bucket holds 3: none spent
    phone = app.test_client().get("/osmand", query_string={
        "id": "f-victim", "key": secret, "lat": lat, "lon": lon, "timestamp": now},
        environ_base={"REMOTE_ADDR": "10.9.3.2"})
    assert phone.status_code == 200


def test_made_up_device_ids_cost_no_query_each(demo_world, monkeypatch):
    """A device looked up and not found is not looked up again for a while, and unknown
    devices are looked up at a bounded rate: a flood of made-up ids costs few queries."""
    from geo_patrol.services import intake as intake_module
    from geo_patrol.services.intake import Intake
    from geo_patrol.store import live as live_store

    lookups = []
    real = live_store.device_registry

    def counted(conn, device=None):  # noqa: ANN001, ANN202
        if device is not None:
            lookups.append(device)
        return real(conn, device) if device is not None else real(conn)

    monkeypatch.setattr(live_store, "device_registry", counted)
    monkeypatch.setattr(intake_module, "LOOKUPS_PER_S", 5.0)
    intake = Intake(demo_world["engine"], demo_world["settings"])
    try:
        intake._device("nobody-0")  # reads the registry and looks "nobody-0" up
        for _ in range(20):  # the same unknown id again and again: no query
            assert intake._device("nobody-0") is None
        assert lookups == ["nobody-0"]
        for i in range(1, 200):  # made-up ids as fast as they come: at most a burst's worth
            assert intake._device(f"nobody-{i}") is None
        assert len(lookups) <= 1 + 2 * 5 + 2
    finally:
        intake.close()


# --- finding 8: an officer offers tasks only to volunteers of their communities ---------------

def test_an_officer_cannot_offer_a_task_outside_their_communities(demo_world):
    engine = demo_world["engine"]
    with engine.connect() as conn:
        community, name = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a JOIN hazards h ON h.community_id = a.id "
            "WHERE a.level = 'community' AND NOT h.proposed GROUP BY a.id "
            "ORDER BY count(*) DESC LIMIT 1")).one()
        hazard = conn.execute(sa.text(
            "SELECT h.id FROM hazards h WHERE h.community_id = :c AND NOT h.proposed AND "
            "EXISTS (SELECT 1 FROM street_segments g WHERE ST_DWithin(h.geom_m, g.geom_m, 100))"
            " LIMIT 1"), {"c": community}).scalar_one()
        mine, theirs = (conn.execute(sa.text(
            f"SELECT number FROM volunteers WHERE active AND community_id {op} :c "
            "ORDER BY id LIMIT 1"), {"c": community}).scalar_one() for op in ("=", "<>"))
        before = conn.execute(sa.text("SELECT count(*) FROM tasks")).scalar_one()
    make_user(engine, "f-officer", "officer", areas=[name])
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    client = app.test_client()
    token = sign_in(client, "f-officer")
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date().isoformat()
    form = {"hazard": hazard, "day": tomorrow, "slot": "evening", "csrf_token": token}
    outside = client.post("/tasks/new", data={**form, "number": theirs})
    unknown = client.post("/tasks/new", data={**form, "number": "NOBODY-404"})
    # the same answer for a volunteer outside the scope and for one that does not exist
    assert outside.status_code == unknown.status_code == 400
    def same(page: str) -> str:  # the form's token and the script nonce vary per page
        return re.sub(r'(csrf-token" content|csrf_token" value|nonce)="[^"]*"', r'\1=""', page)

    assert same(outside.get_data(as_text=True).replace(theirs, "N")) == \
        same(unknown.get_data(as_text=True).replace("NOBODY-404", "N"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM tasks")).scalar_one() == before
    assert client.post("/tasks/new", data={**form, "number": mine}).status_code == 302


def test_an_officer_sees_only_their_communities_devices_and_refusals(demo_world, route):
    from geo_patrol.services.devices import add_device, new_secret

    engine = demo_world["engine"]
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :c"),
                            {"c": route["community"]}).scalar_one()
        other = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE active AND community_id <> :c ORDER BY id "
            "LIMIT 1"), {"c": route["community"]}).scalar_one()
    add_device(engine, "f-elsewhere", other, secret=new_secret())
    add_device(engine, "f-here", route["walkers"][0][1], secret=new_secret())
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    lon, lat = route["fixes"][0][1:]
    now = int(dt.datetime.now(dt.UTC).timestamp())
    for device in ("f-elsewhere", "f-here"):  # a wrong key: a refusal of each
        assert app.test_client().get("/osmand", query_string={
            "id": device, "key": "w" * 20, "lat": lat, "lon": lon, "timestamp": now}
        ).status_code == 403
    make_user(engine, "f-officer-2", "officer", areas=[name])
    make_user(engine, "f-command-2", "command")
    officer, command = app.test_client(), app.test_client()
    sign_in(officer, "f-officer-2")
    sign_in(command, "f-command-2")
    seen = officer.get("/devices").get_data(as_text=True)
    assert "f-here" in seen and "f-elsewhere" not in seen
    assert "f-elsewhere" in command.get("/devices").get_data(as_text=True)
