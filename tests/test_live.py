"""The live loop: Traccar Client / OsmAnd requests decoded, positions stored once and flagged
like file loads, live coverage equal to a full analysis of the same day, the force now, and
call-outs by walking distance — on the real demo database and the real web app."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import signal
import time
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given, settings as hsettings
from hypothesis import strategies as st

from geo_patrol.ingest.positions import KNOT_MPS, PositionRefused, decode_request
from tests.helpers import count, make_user, sign_in

NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=dt.UTC).timestamp()


# -- the protocol -----------------------------------------------------------------------------

#: Query strings as Traccar's OsmAnd decoder tests receive them from real apps.
OSMAND_REQUESTS = [
    ("id=902064&lat=42.06288&lon=-88.23412&timestamp=2016-01-27T18%3A55%3A47Z&hdop=6.0"
     "&altitude=224.0&speed=0.0", 1453920947.0),
    ("id=902064&lat=42.06288&lon=-88.23412&timestamp=1442068686579&hdop=6.0&altitude=224.0"
     "&speed=0.0", 1442068686.579),
    ("lat=49.60688&lon=6.15788&timestamp=2014-06-04+09%3A10%3A11&altitude=384.7&speed=0.0"
     "&id=353861053849681", 1401873011.0),
    ("id=123456&timestamp=1377177267&lat=60.0&lon=30.0&speed=0.0&bearing=0.0&altitude=0"
     "&hdop=0.0", 1377177267.0),
    ("id=123456&timestamp=1377177267&location=60.0,30.0", 1377177267.0),
    ("id=123456789012345&timestamp=1504763810&lat=40.7232948571&lon=-74.0061408571"
     "&bearing=7.19889788244&speed=40&ignition=true&rpm=933&fuel=24", 1504763810.0),
]


@pytest.mark.parametrize("query,when", OSMAND_REQUESTS)
def test_osmand_query_shapes_decode(query, when):
    [p], key = decode_request(query, b"", now=NOW)
    assert key is None and p.device and -90 <= p.lat <= 90
    assert p.t == round(when * 1e6)
    if "speed=40" in query:
        assert p.speed_mps == pytest.approx(40 * KNOT_MPS)  # knots on the wire
        assert p.attrs["ignition"] == "true" and p.attrs["rpm"] == "933"  # kept as attributes
        assert p.heading == pytest.approx(7.19889788244)


def test_osmand_without_time_and_form_body():
    [p], _ = decode_request("", b"lat=60.0&lon=30.0&speed=0.0&heading=0.0&vacc=0&hacc=0"
                            b"&altitude=0&deviceid=123456&batt=87&key=s3cret", now=NOW)
    assert p.device == "123456" and p.t == round(NOW * 1e6)  # no timestamp: received now
    assert p.battery_pct == 87 and p.attrs["vacc"] == "0"


def test_traccar_client_json_detected_by_body():
    body = {"location": {"timestamp": "2026-11-27T11:59:30.000Z",
                         "coords": {"latitude": 40.6505, "longitude": 109.8427, "accuracy": 6.2,
                                    "speed": 1.4, "heading": 88.0, "altitude": 1050.3},
                         "is_moving": True, "odometer": 1234.5, "event": "motionchange",
                         "battery": {"level": 0.64, "is_charging": False},
                         "activity": {"type": "walking"}},
            "device_id": "5391"}
    # sent as text/plain or with no type at all: the body tells it is JSON
    [p], key = decode_request("key=abc", json.dumps(body).encode(), now=NOW)
    assert (p.device, p.lat, p.lon, p.accuracy_m, p.speed_mps) == \
        ("5391", 40.6505, 109.8427, 6.2, 1.4)
    assert p.battery_pct == pytest.approx(64) and p.moving is True and key == "abc"
    assert p.t == round(dt.datetime(2026, 11, 27, 11, 59, 30, tzinfo=dt.UTC).timestamp() * 1e6)
    assert json.loads(p.attrs["activity"]) == {"type": "walking"}
    # a phone's buffer sent at once: a list of locations
    body["location"] = [body["location"], {**body["location"],
                                           "timestamp": "2026-11-27T11:59:40.000Z"}]
    assert len(decode_request("", json.dumps(body).encode(), now=NOW)[0]) == 2


@pytest.mark.parametrize("query,body,reason", [
    ("lat=40.6&lon=109.8", b"", "no_id"),
    ("id=7&timestamp=1764000000", b"", "no_position"),
    ("id=7&lat=NaN&lon=109.8", b"", "bad_number"),
    ("id=7&lat=nord&lon=109.8", b"", "bad_number"),
    ("id=7&lat=95&lon=109.8", b"", "out_of_range"),
    ("id=7&lat=40.6&lon=109.8&timestamp=yesterday", b"", "bad_time"),
    ("id=7&lat=40.6&lon=109.8&timestamp=1990-01-01T00:00:00Z", b"", "bad_time"),
    ("id=7&lat=40.6&lon=109.8&timestamp=2030-01-01T00:00:00Z", b"", "future_time"),
    # beyond any calendar (the year 33658, 1e305 s): refused, not a server error
    ("id=7&lat=40.6&lon=109.8&timestamp=1e15", b"", "future_time"),
    ("id=7&lat=40.6&lon=109.8&timestamp=1e308", b"", "future_time"),
    ("", b'{"device_id": "7", "location": {"timestamp": "2026-11-27T11:59:40.000Z", '
         b'"coords": {"latitude": ' + b"9" * 400 + b', "longitude": 109.8}}}', "bad_number"),
    ("", b'{"device_id": "7", "location": {"coords": {"latitude": NaN}}}', "malformed"),
    ("", b'{"device_id": "7"', "malformed"),
    ("", b'{"device_id": "7", "location": {"timestamp": 1}}', "no_position"),
    ("", b"{" + b" " * 70_000 + b"}", "too_large"),
])
def test_malformed_requests_are_refused_with_a_reason(query, body, reason):
    with pytest.raises(PositionRefused) as err:
        decode_request(query, body, now=NOW)
    assert err.value.reason == reason and str(err.value)


_values = st.one_of(st.text(max_size=12), st.integers(), st.floats(allow_nan=True),
                    st.booleans(), st.none())


@hsettings(max_examples=300, deadline=None)
@given(fields=st.dictionaries(st.sampled_from(
    ["id", "deviceid", "lat", "lon", "location", "timestamp", "speed", "bearing", "batt",
     "accuracy", "key", "x"]), st.text(max_size=24), max_size=8),
    doc=st.recursive(_values, lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(["device_id", "location", "coords", "timestamp",
                                         "latitude", "longitude", "battery", "level"]),
                        inner, max_size=4)), max_leaves=12),
    as_json=st.booleans())
def test_decoder_never_fails_otherwise(fields, doc, as_json):
    """Whatever arrives: positions that are valid, or a refusal with a reason; never a 500."""
    from urllib.parse import urlencode

    body = json.dumps(doc).encode() if as_json else b""
    try:
        positions, _ = decode_request(urlencode(fields), body, now=NOW)
    except PositionRefused as exc:
        assert exc.reason
        return
    for p in positions:
        assert p.device and -90 <= p.lat <= 90 and -180 <= p.lon <= 180
        assert math.isfinite(p.lat) and p.t <= (NOW + 300) * 1e6


# -- intake, flags, coverage ------------------------------------------------------------------

@pytest.fixture(scope="module")
def replayed(demo_world):
    """An hour of the demo's stored fixes, shifted to end a few minutes ago, as requests."""
    from geo_patrol.demo.replay import requests_for
    from geo_patrol.services.devices import add_device
    from geo_patrol.store import live as live_store

    engine = demo_world["engine"]
    with engine.connect() as conn:
        start = live_store.busiest_hour(conn)
        fixes = live_store.fixes_for_replay(conn, start, start + dt.timedelta(hours=1))
    numbers = sorted(fixes["number"].unique())
    for n in numbers:
        add_device(engine, f"demo-{n}", n)
    # all in the past, ending a few minutes ago; within the first hour after local midnight
    # it ends just before midnight instead, so the replayed hour lies in one local day
    zone = ZoneInfo(demo_world["settings"].timezone)
    end = time.time() - 300
    local_end = dt.datetime.fromtimestamp(end, zone)
    if (local_end - dt.timedelta(minutes=70)).date() != local_end.date():
        end = dt.datetime.combine(local_end.date(), dt.time(), zone).timestamp() - 300
    requests = requests_for(fixes, speed=1e6, now=end)
    return {"requests": requests, "numbers": numbers, "fixes": fixes,
            "day": dt.datetime.fromtimestamp(end, zone).date()}


def _wait(futures):
    return sum(f.result(30) for f in futures)


def test_positions_stored_once_flagged_and_covered_as_a_full_analysis(demo_world, replayed):
    from geo_patrol.services.intake import Intake
    from geo_patrol.services.live_coverage import LiveCoverage
    from geo_patrol.services.analysis import analyze

    engine, settings = demo_world["engine"], demo_world["settings"]
    intake = Intake(engine, settings)
    coverage = LiveCoverage(engine, settings)
    other = LiveCoverage(engine, settings)  # another process's worker, taking a turn
    requests = replayed["requests"]
    try:
        # three batches, coverage advanced after each: incremental, not a recomputation;
        # the second by the other worker, so the first finds the day moved on without it
        # (what it holds in memory is read again, not written back over the other's)
        thirds = np.array_split(np.arange(len(requests)), 3)
        for turn, part in enumerate(thirds):
            _wait([intake.submit(requests[i].query, requests[i].body) for i in part])
            assert (other if turn == 1 else coverage).update() > 0
        # an app that did not hear the answer sends again: stored once
        again = [intake.submit(r.query, r.body) for r in requests[:40]]
        assert _wait(again) == 40
        # a planted GPS jump (33 km in a second) is flagged like in a file load
        jump = requests[-1]
        [pos], _ = decode_request(jump.query, jump.body, now=time.time())
        spike = f"id={pos.device}&lat={pos.lat + 0.3}&lon={pos.lon}&timestamp={pos.t / 1e6 + 1}"
        _wait([intake.submit(spike, b"")])
    finally:
        intake.close()
    assert intake.stats["resent"] >= 40
    stored = count(engine, "live_positions")
    assert stored == len(requests) + 1
    assert count(engine, "patrol_fixes", "upload_id IN (SELECT id FROM uploads WHERE kind = "
                 "'live')") == stored
    assert count(engine, "live_positions", "flags & 1 = 1") == 1  # the jump
    assert count(engine, "live_positions", "flags & 8 = 8") == 0  # phones keep their order
    with engine.connect() as conn:
        n_fixes = conn.execute(sa.text(
            "SELECT sum(n_fixes) FROM tracks t JOIN uploads u ON u.id = t.upload_id "
            "WHERE u.kind = 'live'")).scalar_one()
    assert n_fixes == stored  # every position in exactly one track
    coverage.update()
    # tracks that ended (the replay stopped minutes ago) got their lines
    with engine.connect() as conn:
        lines, points = conn.execute(sa.text(
            "SELECT count(*), coalesce(sum(ST_NPoints(geom)), 0) FROM tracks t JOIN uploads u "
            "ON u.id = t.upload_id WHERE u.kind = 'live' AND geom IS NOT NULL")).one()
    assert lines > 0 and points > 0.9 * stored
    # the same day analysed from scratch: the same covered metres, segment by segment
    zone = ZoneInfo(settings.timezone)
    day = replayed["day"]  # the local day the replayed hour lies in
    start = dt.datetime.combine(day, dt.time(), zone)
    run = analyze(engine, start, start + dt.timedelta(days=1), settings=settings)
    with engine.connect() as conn:
        full = pd.read_sql_query(sa.text(
            "SELECT segment_id, covered_m FROM segment_results WHERE run_id = :r "
            "AND covered_m > 0"), conn, params={"r": run.run_id})
        mine = pd.read_sql_query(sa.text(
            "SELECT segment_id, covered_m FROM live_cover WHERE day = :d"),
            conn, params={"d": day})
    both = full.merge(mine, on="segment_id", how="outer", suffixes=("_full", "_live")).fillna(0)
    assert len(full) > 50
    assert (both["covered_m_full"] - both["covered_m_live"]).abs().max() < 1e-6
    assert both["covered_m_live"].sum() == pytest.approx(run.stats["covered_m"], abs=0.1)


def test_drawing_ended_tracks_never_waits_on_the_intake(demo_world, replayed):
    """The coverage updater draws ended tracks beside the intake, which extends the same rows:
    a track locked by a batch being stored is skipped and drawn next time (no wait, so no
    deadlock and no stalled batch)."""
    from geo_patrol.services.intake import Intake
    from geo_patrol.store import live as live_store

    engine = demo_world["engine"]
    intake = Intake(engine, demo_world["settings"])
    try:
        _wait([intake.submit(r.query, r.body) for r in replayed["requests"][:200]])
    finally:
        intake.close()
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)  # every live track has ended
    with engine.begin() as conn:
        live_store.close_tracks(conn, later)
        ids = conn.execute(sa.text(
            "SELECT t.id FROM tracks t JOIN uploads u ON u.id = t.upload_id "
            "WHERE u.kind = 'live' AND t.geom IS NOT NULL ORDER BY t.id LIMIT 2")
        ).scalars().all()
        assert len(ids) == 2
        conn.execute(sa.text("UPDATE tracks SET geom = NULL WHERE id = ANY(:i)"), {"i": ids})
    with engine.connect() as batch, engine.connect() as updater:
        with batch.begin():  # a batch extending the first track holds its row
            batch.execute(sa.text("SELECT 1 FROM tracks WHERE id = :i FOR UPDATE"),
                          {"i": ids[0]})
            with updater.begin():
                updater.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                assert live_store.close_tracks(updater, later) == 1
                drawn = dict(updater.execute(sa.text(
                    "SELECT id, geom IS NOT NULL FROM tracks WHERE id = ANY(:i)"),
                    {"i": ids}).all())
            assert drawn == {ids[0]: False, ids[1]: True}
        with updater.begin():
            assert live_store.close_tracks(updater, later) == 1  # its turn once released


def test_refusals_store_nothing_and_are_counted(demo_world, replayed):
    from geo_patrol.services.devices import add_device, refusals
    from geo_patrol.services.intake import Intake

    engine, settings = demo_world["engine"], demo_world["settings"]
    device = f"demo-{replayed['numbers'][0]}"
    add_device(engine, "locked-phone", replayed["numbers"][1], secret="s" * 20)
    before = count(engine, "live_positions")
    intake = Intake(engine, settings)
    now = int(time.time())
    bad = [(f"id=unknown-phone&lat=40.6&lon=109.8&timestamp={now}", "unknown_device"),
           (f"id={device}&lat=31.23&lon=121.47&timestamp={now}", "outside_areas"),  # Shanghai
           (f"id=locked-phone&lat=40.6&lon=109.8&timestamp={now}", "wrong_secret"),
           (f"id=locked-phone&lat=40.6&lon=109.8&timestamp={now}&key=wrong", "wrong_secret"),
           (f"id={device}&lat=40.6&lon=109.8&timestamp={now + 86400}", "future_time")]
    try:
        for query, reason in bad:
            with pytest.raises(PositionRefused) as err:
                intake.submit(query, b"")
            assert err.value.reason == reason
        ok = intake.submit(f"id=locked-phone&lat=40.65&lon=109.84&timestamp={now}&key={'s' * 20}",
                           b"")
        assert ok.result(30) == 1
    finally:
        intake.close()
    assert count(engine, "live_positions") == before + 1
    table = refusals(engine, settings)
    counted = dict(zip(table["reason"], table["count"]))
    assert counted["wrong_secret"] >= 2 and counted["unknown_device"] >= 1
    assert "unknown-phone" in set(table["device"])


def test_the_writer_reads_the_registry_again_so_that_requests_do_not(demo_world, replayed):
    """After a batch, once half of ``device_registry_s`` has gone by, the writer reads the
    device registry again: the requests on the position port's loop find it fresh instead of
    all waiting while one of them reads it."""
    from geo_patrol.services.devices import add_device
    from geo_patrol.services.intake import Intake

    engine, settings = demo_world["engine"], demo_world["settings"]
    device = f"demo-{replayed['numbers'][0]}"
    intake = Intake(engine, settings.with_(device_registry_s=1.0))
    try:
        assert intake._device(device) is not None  # the first read, by a request
        first = intake._registry_at
        add_device(engine, "registry-phone", replayed["numbers"][2])  # not read yet
        time.sleep(0.6)
        now = int(time.time())
        assert intake.submit(f"id={device}&lat=40.65&lon=109.84&timestamp={now}",
                             b"").result(30) == 1
        deadline = time.monotonic() + 10
        while intake._registry_at == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert intake._registry_at > first and "registry-phone" in intake._registry
    finally:
        intake.close()


def test_database_down_answers_503_and_stores_nothing(demo_world, replayed):
    """The intake's answer when the database is unreachable: retry later (503), not 500."""
    from geo_patrol.errors import DatabaseError
    from geo_patrol.services.intake import Intake
    from geo_patrol.store.db import create_engine
    from web.live import answer_positions

    good = Intake(demo_world["engine"], demo_world["settings"])
    dead_url = sa.engine.make_url(demo_world["url"]).set(port=1)  # nobody listens there
    dead = create_engine(dead_url.render_as_string(hide_password=False), city="baotou")
    intake = Intake(dead, demo_world["settings"])
    assert good._device("demo-" + replayed["numbers"][0]) is not None  # registry read
    good.close()
    # what the dead one would have read before the database went away
    intake._registry, intake._extent, intake._srid = good._registry, good._extent, good._srid
    intake._registry_at = time.monotonic()
    query = (f"id=demo-{replayed['numbers'][0]}&lat=40.65&lon=109.84"
             f"&timestamp={int(time.time())}")
    try:
        with pytest.raises(DatabaseError):
            intake.submit(query, b"").result(30)
        status, _ = answer_positions(intake.submit, query.encode(), b"", "127.0.0.1")
        assert status == 503
    finally:
        intake.close()
        dead.dispose()


def test_a_position_the_database_refuses_fails_its_own_request_not_the_batch(demo_world,
                                                                           replayed):
    """A batch refused for what one request holds (here a day whose partition is missing, as
    a time zone changed after fixes were stored leaves) is stored again in halves: the other
    phones' positions are stored and answered, that request alone fails (503: its phone
    retries), and nothing of it is stored."""
    from geo_patrol.errors import DatabaseError
    from geo_patrol.services.intake import Intake
    from geo_patrol.store.fixes import partition_name
    from web.live import answer_positions

    engine, settings = demo_world["engine"], demo_world["settings"]
    now = time.time()
    zone = ZoneInfo(settings.timezone)
    gap = dt.datetime.fromtimestamp(now, zone) - dt.timedelta(days=300)
    name = partition_name(gap.date())
    with engine.begin() as conn:  # the name taken, by no partition of patrol_fixes
        conn.execute(sa.text(f'CREATE TABLE "{name}" (x int)'))
    numbers = replayed["numbers"][:7]
    when = [int(now) - 20 - k for k in range(len(numbers))]
    when[3] = int(gap.timestamp())
    queries = [f"id=demo-{n}&lat=40.65&lon=109.84&timestamp={t}"
               for n, t in zip(numbers, when)]
    intake = Intake(engine, settings.with_(live_keep_days=400.0))
    try:
        with intake._cond:  # the writer takes them as one batch
            futures = [intake.submit(q, b"", now=now) for q in queries]
        for k, future in enumerate(futures):
            if k == 3:
                with pytest.raises(DatabaseError, match="no partition"):
                    future.result(30)
            else:
                assert future.result(30) == 1
        status, _ = answer_positions(intake.submit, queries[3].encode(), b"", "127.0.0.1")
        assert status == 503
    finally:
        intake.close()
        with engine.begin() as conn:
            conn.execute(sa.text(f'DROP TABLE "{name}"'))
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT v.number, extract(epoch FROM p.t)::bigint FROM live_positions p "
            "JOIN volunteers v ON v.id = p.volunteer_id "
            "WHERE p.t = ANY(CAST(:t AS timestamptz[]))"),
            {"t": [dt.datetime.fromtimestamp(t, dt.UTC) for t in when]}).all()
    assert sorted(stored) == sorted((n, t) for k, (n, t) in enumerate(zip(numbers, when))
                                    if k != 3)


def test_a_request_is_decoded_once_whichever_city_takes_it(demo_world, replayed, monkeypatch):
    """The deployment's intake finds a request's city from the decoded request and hands that
    on: one decoding per request, stored or refused."""
    from geo_patrol.services import intake as intake_service
    from geo_patrol.services.intake import Intake, Intakes

    decoded = []

    def counted(*args, **kwargs):
        decoded.append(args)
        return decode_request(*args, **kwargs)

    monkeypatch.setattr(intake_service, "decode_request", counted)
    here = Intake(demo_world["engine"], demo_world["settings"])
    elsewhere = Intake(demo_world["engine"], demo_world["settings"])
    monkeypatch.setattr(elsewhere, "_device", lambda device: None)  # a city without devices
    intakes = Intakes({"elsewhere": elsewhere, "baotou": here})
    now = int(time.time())
    try:
        assert intakes.submit(f"id=demo-{replayed['numbers'][7]}&lat=40.6507&lon=109.8431"
                              f"&timestamp={now}", b"").result(30) == 1
        assert len(decoded) == 1
        with pytest.raises(PositionRefused, match="no_position|no position"):
            intakes.submit(f"id=demo-{replayed['numbers'][7]}&timestamp={now}", b"")
        assert len(decoded) == 2
    finally:
        here.close()
        elsewhere.close()


def test_serve_starts_the_intake_and_a_coverage_process(demo_world, replayed, monkeypatch):
    """``serve --positions-port``: one call starts each city's intake, its writer and its
    coverage worker in processes of their own; the coverage advances from the positions
    taken, and the writer ends with the intake."""
    import multiprocessing

    from geo_patrol.services import intake as intake_service
    from geo_patrol.store import live as live_store

    engine = demo_world["engine"]
    monkeypatch.setattr(intake_service, "_COVERAGE_STARTED", set())  # none started here yet
    with engine.connect() as conn:
        before = live_store.cursor(conn)
    intakes = intake_service.start_intake(
        {"baotou": (engine, demo_world["settings"].with_(live_update_s=0.5))}, processes=True)
    workers = [p for p in multiprocessing.active_children() if p.name == "live-coverage"]
    writers = [p for p in multiprocessing.active_children() if p.name == "position-writer"]
    try:
        assert len(workers) == 1 and len(writers) == 1
        assert intakes.submit(f"id=demo-{replayed['numbers'][8]}&lat=40.6511&lon=109.8436"
                              f"&timestamp={int(time.time())}", b"").result(120) == 1
        # (the first request waits for the writer's process to start: a new interpreter)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                if live_store.cursor(conn) > before:
                    break
            assert workers[0].is_alive(), workers[0].exitcode
            time.sleep(0.5)
        with engine.connect() as conn:
            assert live_store.cursor(conn) > before
    finally:
        intakes.close()
        for worker in workers:
            worker.terminate()
            worker.join(10)
    assert not writers[0].is_alive()


# -- the web: intake, the force now, call-outs ------------------------------------------------

@pytest.fixture(scope="module")
def app(demo_world):
    from web import create_app

    return create_app({"GEO_PATROL_SETTINGS": demo_world["settings"], "TESTING": True})


def _stored_attrs(engine: sa.Engine, number: str, t: float) -> dict:
    """The attributes stored with the live position of volunteer ``number`` at ``t``."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT p.attrs FROM live_positions p JOIN volunteers v ON v.id = p.volunteer_id "
            "WHERE v.number = :n AND p.t = to_timestamp(:t)"), {"n": number, "t": t}
        ).scalar_one()


def test_osmand_endpoint_and_the_force_now(app, demo_world, replayed):
    engine = demo_world["engine"]
    client = app.test_client()  # phones do not sign in
    number = replayed["numbers"][2]
    now = int(time.time())
    ok = client.get(f"/osmand?id=demo-{number}&lat=40.6501&lon=109.8422&timestamp={now}"
                    "&speed=1.5&batt=55")
    assert ok.status_code == 200 and ok.data == b"OK\n"
    body = json.dumps({"device_id": f"demo-{number}", "location": {
        "timestamp": dt.datetime.fromtimestamp(now + 10, dt.UTC).isoformat(),
        "coords": {"latitude": 40.6502, "longitude": 109.8423, "speed": 1.3},
        "is_moving": True}})
    assert client.post("/osmand", data=body, content_type="text/plain").status_code == 200
    # a position the phone says is mocked is stored flagged: it is no one's last position
    assert client.get(f"/osmand?id=demo-{number}&lat=40.6503&lon=109.8424&timestamp="
                      f"{now + 20}&mock=true").status_code == 200
    with engine.connect() as conn:
        flags = conn.execute(sa.text(
            "SELECT f.flags FROM patrol_fixes f JOIN volunteers v ON v.id = f.volunteer_id "
            "WHERE v.number = :n AND f.t = to_timestamp(:t)"),
            {"n": number, "t": now + 20}).scalar_one()
    assert flags & 16
    # a NUL character (which no text in PostgreSQL may hold) is dropped, not a failed batch
    # of everyone's positions
    nul = client.get(f"/osmand?id=demo-{number}&lat=40.6500&lon=109.8421&timestamp={now - 30}"
                     "&note=a%00b&x%00y=1")
    assert nul.status_code == 200, nul.data
    attrs = _stored_attrs(engine, number, now - 30)
    assert attrs["note"] == "ab" and attrs["xy"] == "1"
    # nor a lone surrogate in Traccar Client's JSON (which UTF-8 cannot encode): replaced
    lone = {"device_id": f"demo-{number}", "location": {
        "timestamp": dt.datetime.fromtimestamp(now - 31, dt.UTC).isoformat(),
        "coords": {"latitude": 40.6500, "longitude": 109.8421},
        "extras": {"note": "a\ud800b"}}}
    sent = client.post("/osmand", data=json.dumps(lone), content_type="application/json")
    assert sent.status_code == 200, sent.data
    attrs = _stored_attrs(engine, number, now - 31)
    assert json.loads(attrs["extras"]) == {"note": "a?b"}
    refused = client.get(f"/osmand?id=nobody&lat=40.65&lon=109.84&timestamp={now}")
    assert refused.status_code == 400 and b"unknown_device" in refused.data
    assert client.post("/osmand", data=b"x" * 70_000).status_code == 413

    make_user(engine, "l-command", "command")
    sign_in(client, "l-command")
    feed = client.get("/api/live").get_json()
    mine = [v for v in feed["volunteers"] if v["number"] == number]
    assert mine and mine[0]["state"] == "patrolling" and mine[0]["lat"] == 40.6502
    assert "*" in (mine[0]["name"] or "*")  # masked, as everywhere
    assert sum(feed["counts"].values()) == len(feed["volunteers"])
    # the refresh time is the city's local time, as the server formats it
    at = dt.datetime.fromisoformat(feed["at"])
    assert feed["at_text"] == at.astimezone(ZoneInfo("Asia/Shanghai")).strftime(
        "%Y-%m-%d %H:%M:%S")
    page = client.get("/live").get_data(as_text=True)
    assert 'id="live-counts"' in page and 'id="callout"' in page

    # a volunteer never sees the others; a planner gets no raw positions
    with engine.connect() as conn:
        community = conn.execute(sa.text(
            "SELECT a.name FROM volunteers v JOIN areas a ON a.id = v.community_id "
            "WHERE v.number = :n"), {"n": number}).scalar_one()
    make_user(engine, "l-volunteer", "volunteer", volunteer=number)
    make_user(engine, "l-planner", "planner")
    make_user(engine, "l-officer", "officer", areas=[community])
    for user, status in (("l-volunteer", 403), ("l-planner", 403)):
        other = app.test_client()
        sign_in(other, user)
        assert other.get("/api/live").status_code == status
        assert other.get("/live").status_code == status
    officer = app.test_client()
    sign_in(officer, "l-officer")
    seen = officer.get("/api/live").get_json()["volunteers"]
    assert seen and {v["community"] for v in seen} == {community}


def test_call_out_by_walking_time(app, demo_world, replayed):
    from geo_patrol.services.callouts import nearest_by_walking
    from geo_patrol.services.live_coverage import LiveCoverage

    engine, settings = demo_world["engine"], demo_world["settings"]
    numbers = replayed["numbers"][3:6]
    now = int(time.time())
    client = app.test_client()
    # three volunteers near an incident, one of them on the far side of a block
    spots = [(40.6505, 109.8427), (40.6512, 109.8440), (40.6490, 109.8410)]
    for n, (lat, lon) in zip(numbers, spots):
        assert client.get(f"/osmand?id=demo-{n}&lat={lat}&lon={lon}&timestamp={now}"
                          ).status_code == 200
    near = nearest_by_walking(engine, settings, lon=109.8430, lat=40.6503, count=10)
    assert set(numbers) <= set(near["number"])
    straight = np.hypot(*(np.array(live_xy(engine, near)) - np.array(
        live_xy_point(engine, 109.8430, 40.6503))[:, None]))
    assert (near["walk_m"].to_numpy() >= straight - 1.0).all()  # streets, not straight lines
    assert list(near["eta_s"]) == sorted(near["eta_s"])
    walkers = near["mode"] == "walk"  # the demo's roster: retired residents walk
    assert np.allclose(near["eta_s"][walkers],
                       near["walk_m"][walkers] / settings.rules.dispatch.walk_mps)

    make_user(engine, "c-command", "command")
    token = sign_in(client, "c-command")
    resp = client.post("/live/callout", data={"lon": "109.8430", "lat": "40.6503",
                                              "category": "dispute", "note": "两人争执",
                                              "count": "2", "csrf_token": token})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="callout-targets"' in page
    with engine.connect() as conn:
        callout_id, called = conn.execute(sa.text(
            "SELECT c.id, array_agg(v.number ORDER BY t.rank) FROM callouts c "
            "JOIN callout_targets t ON t.callout_id = c.id AND t.sent_at IS NOT NULL "
            "JOIN volunteers v ON v.id = t.volunteer_id GROUP BY c.id "
            "ORDER BY c.id DESC LIMIT 1")).one()
        audited = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'callout'")).scalar_one()
    assert called == list(near["number"][:2]) and audited >= 1

    # the first called volunteer sees it on their phone page, accepts, and walks there
    first = called[0]
    make_user(engine, "c-volunteer", "volunteer", volunteer=first)
    phone = app.test_client()
    vtoken = sign_in(phone, "c-volunteer")
    me = phone.get("/me").get_data(as_text=True)
    assert 'id="my-callouts"' in me and "两人争执" in me
    assert phone.post(f"/me/callouts/{callout_id}", data={"answer": "accept",
                                                          "csrf_token": vtoken}
                      ).status_code == 303
    assert client.get(f"/osmand?id=demo-{first}&lat=40.6503&lon=109.8430"
                      f"&timestamp={now + 60}").status_code == 200
    # marked by whichever coverage worker holds the lock: this one, or the app's own
    coverage, deadline = LiveCoverage(engine, settings), time.monotonic() + 30
    while True:
        coverage.update()
        with engine.connect() as conn:
            status = conn.execute(sa.text(
                "SELECT t.status FROM callout_targets t JOIN volunteers v "
                "ON v.id = t.volunteer_id WHERE t.callout_id = :c AND v.number = :n"),
                {"c": callout_id, "n": first}).scalar_one()
        if status == "arrived" or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert status == "arrived"


def test_a_call_out_needing_first_aid_skips_uncertified_volunteers(app, demo_world, replayed,
                                                                   tmp_path):
    from geo_patrol.services.callouts import nearest_by_walking
    from geo_patrol.services.sources import load_training

    engine, settings = demo_world["engine"], demo_world["settings"]
    today = settings.today()
    with engine.connect() as conn:
        held = dict(conn.execute(sa.text(
            "SELECT number, certified_skills(id, :d) FROM volunteers"), {"d": today}).all())
    # volunteers no other test of this module sends positions for
    free = [n for n in replayed["numbers"][12:] if "first_aid" not in held[n]][:3]
    medic, plain, declared = free
    with engine.begin() as conn:  # a skill declared on the roster is not a certificate
        conn.execute(sa.text("UPDATE volunteers SET skills = '{急救}' WHERE number = :n"),
                     {"n": declared})
    sheet = tmp_path / "急救签到表.csv"
    sheet.write_bytes(("课程,培训日期,义警编号,考核结果\n"
                       f"应急救护培训,{today - dt.timedelta(days=1)},{medic},合格\n"
                       f"应急救护培训,{today - dt.timedelta(days=1)},{plain},出勤\n").encode("gbk"))
    assert load_training(engine, sheet, settings=settings).stored == 2
    client = app.test_client()
    now = int(time.time()) - 30
    for n, (lat, lon) in zip(free, [(40.6520, 109.8452), (40.6506, 109.8428),
                                    (40.6504, 109.8431)]):
        assert client.get(f"/osmand?id=demo-{n}&lat={lat}&lon={lon}&timestamp={now}"
                          ).status_code == 200
    required = nearest_by_walking(engine, settings, lon=109.8430, lat=40.6503, count=50,
                                  skill="first_aid")
    assert medic in set(required["number"])
    assert not {plain, declared} & set(required["number"])
    assert required["certified"].all()
    with engine.connect() as conn:
        skills = conn.execute(sa.text(
            "SELECT certified_skills(id, :d) FROM volunteers WHERE number = ANY(:n)"),
            {"d": today, "n": required["number"].tolist()}).scalars().all()
    assert all("first_aid" in s for s in skills)
    preferred = nearest_by_walking(engine, settings, lon=109.8430, lat=40.6503, count=50,
                                   skill="first_aid", require_skill=False)
    assert {medic, plain, declared} <= set(preferred["number"])
    ranks = {n: i for i, n in enumerate(preferred["number"])}
    assert ranks[medic] < ranks[plain] and ranks[medic] < ranks[declared]  # though farther
    assert list(preferred["certified"]) == sorted(preferred["certified"], reverse=True)
    with pytest.raises(Exception, match="unknown skill"):
        nearest_by_walking(engine, settings, lon=109.8430, lat=40.6503, count=5,
                           skill="急救")

    make_user(engine, "fa-command", "command")
    token = sign_in(client, "fa-command")
    resp = client.post("/live/callout", data={
        "lon": "109.8430", "lat": "40.6503", "category": "incident", "count": "3",
        "skill": "first_aid", "skill_rule": "require", "csrf_token": token})
    assert resp.status_code == 303
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'name="skill"' in page and "✓" in page
    with engine.connect() as conn:
        callout = conn.execute(sa.text(
            "SELECT id, skill, skill_required FROM callouts ORDER BY id DESC LIMIT 1")).one()
        targets = conn.execute(sa.text(
            "SELECT v.number, t.certified FROM callout_targets t "
            "JOIN volunteers v ON v.id = t.volunteer_id WHERE t.callout_id = :c"),
            {"c": callout.id}).all()
    assert (callout.skill, callout.skill_required) == ("first_aid", True)
    assert targets and all(t.certified for t in targets)
    assert plain not in {t.number for t in targets}


def live_xy(engine, frame):
    return frame["x"].to_numpy(), frame["y"].to_numpy()


def live_xy_point(engine, lon, lat):
    import pyproj

    from geo_patrol.store.db import metric_srid

    with engine.connect() as conn:
        srid = metric_srid(conn)
    return pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{srid}", always_xy=True
                                       ).transform(lon, lat)


def test_retention_prunes_positions_as_received_but_keeps_fixes(demo_world):
    from geo_patrol.services.retention import apply_retention

    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.begin() as conn:
        vid = conn.execute(sa.text("SELECT min(volunteer_id) FROM live_positions")).scalar_one()
        old = conn.execute(sa.text(
            "UPDATE live_positions SET t = t - interval '10 days' WHERE volunteer_id = :v"),
            {"v": vid}).rowcount
    before, fixes = count(engine, "live_positions"), count(engine, "patrol_fixes")
    done = apply_retention(engine, settings, dt.date(2000, 1, 1))
    assert old > 0 and done["live_positions"] == old
    assert count(engine, "live_positions") == before - old
    assert count(engine, "patrol_fixes") == fixes  # the fixes follow their own retention


def test_the_position_port_speaks_the_same_protocol(demo_world, replayed):
    """``serve --positions-port``: the aiohttp port answers as ``/osmand`` does."""
    import socket
    import urllib.error
    import urllib.request

    from geo_patrol.services.devices import add_device
    from geo_patrol.services.intake import Intake
    from web.positions import serve_positions

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    intake = Intake(demo_world["engine"], demo_world["settings"])
    serve_positions(intake, "127.0.0.1", port)
    number = replayed["numbers"][6]
    add_device(demo_world["engine"], "unit%41", number)  # a "%" the port must not decode twice
    now = int(time.time())

    def post(query: str, body: bytes = b"") -> tuple[int, bytes]:
        req = urllib.request.Request(f"http://127.0.0.1:{port}/?{query}", data=body or b"",
                                     method="POST")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()

    try:
        before = count(demo_world["engine"], "live_positions")
        assert post(f"id=demo-{number}&lat=40.6507&lon=109.8431&timestamp={now}&batt=87.5"
                    "&ignition=true&driver=%E5%BC%A0") == (200, b"OK\n")
        body = json.dumps({"device_id": f"demo-{number}", "location": {
            "timestamp": now + 5, "coords": {"latitude": 40.6508, "longitude": 109.8432}}})
        assert post("", body.encode())[0] == 200
        assert post(f"id=unit%2541&lat=40.6509&lon=109.8433&timestamp={now + 10}") == \
            (200, b"OK\n")
        status, text = post(f"id=nobody&lat=40.65&lon=109.84&timestamp={now}")
        assert status == 400 and text.startswith(b"unknown_device")
        assert post("", b"{" + b" " * 70_000 + b"}")[0] == 413
        assert count(demo_world["engine"], "live_positions") == before + 3
        with demo_world["engine"].connect() as conn:  # stored as sent, NULL where not sent
            row = conn.execute(sa.text(
                "SELECT attrs, jsonb_typeof(attrs), battery_pct, speed_mps, heading, moving, "
                "lon, lat FROM live_positions p JOIN devices d ON d.id = p.device_id "
                "WHERE d.device_id = :d AND p.t = to_timestamp(:t)"),
                {"d": f"demo-{number}", "t": now}).one()
        assert row == ({"ignition": "true", "driver": "张"}, "object", 87.5, None, None, None,
                       109.8431, 40.6507)
    finally:
        intake.close()


def test_requests_naming_random_devices_cannot_grow_the_refusals(demo_world, monkeypatch):
    """A flood of refused requests, each naming a new device, is counted under a bounded
    number of rows a day; retention drops old days' counts."""
    from geo_patrol.store import live as live_store

    engine = demo_world["engine"]
    monkeypatch.setattr(live_store, "REFUSED_DEVICES_PER_DAY", 5)
    day = dt.date(2026, 12, 1)
    at = dt.datetime(2026, 12, 1, 12, tzinfo=dt.UTC)
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM intake_refusals WHERE day = :d"), {"d": day})
        for batch in range(3):  # several batches, some naming the same device twice
            live_store.count_refusals(conn, [(day, "unknown_device", f"flood-{batch}-{i}", 1, at)
                                             for i in range(400)]
                                      + [(day, "unknown_device", "flood-0-0", 1, at)])
        rows = dict(conn.execute(sa.text(
            "SELECT device, count FROM intake_refusals WHERE day = :d"), {"d": day}).all())
    assert len(rows) == 6 and rows[""] == 3 * 400 - 5  # five named, the rest together
    assert rows["flood-0-0"] == 4 and sum(rows.values()) == 3 * 401
    with engine.begin() as conn:
        live_store.prune_live(conn, at + dt.timedelta(days=1))
        assert conn.execute(sa.text("SELECT count(*) FROM intake_refusals WHERE day = :d"),
                            {"d": day}).scalar_one() == 0


def test_a_writer_in_its_own_process_stores_and_is_started_again_when_killed(demo_world,
                                                                            replayed):
    """``geo-patrol serve``'s intake stores in a writer process of its own: a position taken
    is stored and answered once committed; a writer killed is started again for the next
    batch, and a position re-sent is stored once."""
    from geo_patrol.services.intake import Intake

    engine = demo_world["engine"]
    intake = Intake(engine, demo_world["settings"], process=True)
    device = f"demo-{replayed['numbers'][-1]}"
    t0 = time.time() - 90.371  # after the replayed hour; a fraction no other test sends

    def send(i: int) -> int:
        query = f"id={device}&lat={40.65 + i * 1e-5}&lon=109.84&timestamp={t0 + i}"
        return intake.submit(query, b"").result(60)

    try:
        assert send(0) == 1
        first = intake._process.pid
        os.kill(first, signal.SIGKILL)
        intake._process.join(10)
        assert send(1) == 1  # the writer started again, before this batch
        assert intake._process.pid != first and intake._process.is_alive()
        assert send(1) == 1  # an app that missed the answer sends again
    finally:
        intake.close()
    assert intake._process is None
    assert intake.stats["stored"] == 2 and intake.stats["resent"] == 1
    with engine.connect() as conn:
        stored = conn.execute(sa.text(
            "SELECT count(*) FROM live_positions p JOIN devices d ON d.id = p.device_id "
            "WHERE d.device_id = :d AND p.t BETWEEN to_timestamp(:a) AND "
            "to_timestamp(:b)"), {"d": device, "a": t0 - 0.5, "b": t0 + 1.5}).scalar_one()
    assert stored == 2


def test_a_batch_is_filed_under_each_positions_local_day():
    """The writer's local day of each position (one offset for a batch whose ends share it)
    is the day the zone's own clock shows, across midnight, a change of summer time and a
    phone's backlog of weeks."""
    from geo_patrol.services.intake import _local_days

    epoch = dt.date(1970, 1, 1)
    cases = {
        "Asia/Shanghai": ["2026-12-06T15:59:59.999999+00:00", "2026-12-06T16:00:00+00:00"],
        "Europe/Berlin": ["2026-03-28T22:59:00+00:00", "2026-03-28T23:00:00+00:00",
                          "2026-03-29T00:59:00+00:00", "2026-03-29T21:59:00+00:00",
                          "2026-03-29T22:00:00+00:00"],
        "America/New_York": ["2026-10-01T03:59:00+00:00", "2026-11-01T04:30:00+00:00",
                             "2026-11-01T05:30:00+00:00", "2026-11-02T04:59:00+00:00",
                             "2026-11-02T05:00:00+00:00"],
    }
    for zone, times in cases.items():
        when = [dt.datetime.fromisoformat(t) for t in times]
        t_us = np.array([round(w.timestamp() * 1e6) for w in when], dtype="int64")
        expected = [(w.astimezone(ZoneInfo(zone)).date() - epoch).days for w in when]
        for rows in ([i] for i in range(len(when))):  # each alone, then the batch whole
            assert _local_days(t_us[rows], zone).tolist() == [expected[rows[0]]], (zone, rows)
        assert _local_days(t_us, zone).tolist() == expected, zone
        # a batch within one day that crosses midnight or the change of offset
        pairs = [(i, i + 1) for i in range(len(when) - 1)]
        for a, b in pairs:
            assert _local_days(t_us[[a, b]], zone).tolist() == [expected[a], expected[b]]


def test_numbers_sent_as_one_array_literal_arrive_exactly(engine):
    """The intake sends its arrays of ids, µs and metres as one literal each: PostgreSQL reads
    back the same numbers (the largest ids and µs, floats to the last bit, NaN), in order."""
    from geo_patrol.store.bulk import number_array

    ints = np.array([0, -1, 2**31 - 1, 1_796_000_000_123_456, -(2**63)], dtype="int64")
    floats = np.array([0.1, 1 / 3, -0.0, 1e-300, 123456.78901234567, np.nan, np.inf])
    with engine.connect() as conn:
        got_ints, got_floats, empty = conn.execute(
            sa.text("SELECT CAST(:i AS bigint[]), CAST(:f AS float8[]), CAST(:e AS integer[])"),
            {"i": number_array(ints), "f": number_array(floats), "e": number_array([])}).one()
        # a list of numpy's numbers, or of ints where floats are asked for, converted first
        mixed = conn.execute(sa.text("SELECT CAST(:i AS bigint[]), CAST(:f AS float8[])"), {
            "i": number_array([np.int64(7), np.int64(2**40)], int),
            "f": number_array([1, 2.5], float)}).one()
    assert got_ints == ints.tolist()
    assert mixed == ([7, 2**40], [1.0, 2.5])
    assert np.array_equal(np.array(got_floats), floats, equal_nan=True)
    assert [math.copysign(1, v) for v in got_floats[:3]] == [1, 1, -1]
    assert empty == []


def test_a_batch_is_planned_for_the_table_as_it_is_not_as_it_was_empty(demo_world):
    """The writer keeps its connection and its prepared statements from batch to batch: a
    plan kept from when ``live_positions`` was empty (a new deployment, the live tables
    pruned) scans the table whole at every batch as it fills. Each batch's statements are
    planned anew."""
    from geo_patrol.store.bulk import driver_connection, number_array
    from geo_patrol.store.live import _PREVIOUS, _STORED_KEYS, open_batch

    def plans(raw) -> tuple[int, int]:  # noqa: ANN001  (both reads of a batch)
        return raw.execute("SELECT sum(generic_plans), sum(custom_plans) FROM "
                           "pg_prepared_statements WHERE statement = ANY(%s)",
                           ([q.replace("%s", "$1", 1).replace("%s", "$2")
                             for q in (_PREVIOUS, _STORED_KEYS)],)).fetchone()

    ids = np.array([1, 2, 3])
    with demo_world["engine"].connect() as conn:
        raw = driver_connection(conn)
        with conn.begin() as tx:
            # as after its rows were deleted and vacuumed: no page, none counted
            raw.execute("TRUNCATE live_positions")
            raw.execute("UPDATE pg_class SET reltuples = 0 WHERE oid = 'live_positions'::regclass")
            plan = "\n".join(r[0] for r in raw.execute(
                "EXPLAIN " + _PREVIOUS, (number_array(ids),)).fetchall())
            assert "Seq Scan on live_positions" in plan, plan  # what a kept plan would do
            for _ in range(15):
                open_batch(conn, ids, np.zeros(3, dtype="int64"))
            generic, custom = plans(raw)
            assert generic == 0 and custom >= 20, (generic, custom)
            # the same statement prepared by a connection's defaults keeps one plan
            raw.execute("SET LOCAL plan_cache_mode = auto")
            raw.execute("DEALLOCATE ALL")
            for _ in range(10):
                raw.execute(_PREVIOUS, (number_array(ids),), prepare=True)
            assert plans(raw)[0] > 0
            tx.rollback()
