"""Call-outs that run themselves: ranking by travel time in each volunteer's mode within the
city's ETA cap (and who was left out, and why), rings of escalation run by the real job
worker, answers whose counts add up, cancel and close, and SOS from Traccar Client's real
request shapes — on the demo database, the real web app and the position port."""

from __future__ import annotations

import datetime as dt
import json
import re
import socket
import time
import urllib.request
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from geo_patrol.ingest.positions import alarm_of, decode_request
from tests.helpers import make_user, sign_in

SITE = (109.8430, 40.6503)  # lon, lat: a street corner of the demo town
#: Short timers: a ring has 2 s to accept, an SOS 3 s to be acknowledged.
RULES = """
[categories.other]
label_zh = "其他"
[dispatch]
eta_cap_min = 15
ring_size = 1
ring_s = 2
rings = 2
sos_ack_s = 3
sos_call = 2
"""


@pytest.fixture(scope="module")
def world(demo_world, tmp_path_factory):
    from geo_patrol.services.devices import add_device
    from web import create_app

    path = tmp_path_factory.mktemp("rules") / "rules.toml"
    path.write_text(RULES, encoding="utf-8")
    settings = demo_world["settings"].with_(rules_file=str(path))
    engine = demo_world["engine"]
    with engine.begin() as conn:
        people = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE active ORDER BY number LIMIT 12")).scalars().all()
        conn.execute(sa.text("UPDATE volunteers SET occupation = 'retired_resident' "
                             "WHERE number = ANY(:n)"), {"n": people})
    for n in people:
        add_device(engine, f"dx-{n}", n)
    app = create_app({"GEO_PATROL_SETTINGS": settings, "TESTING": True})
    make_user(engine, "d-command", "command")
    make_user(engine, "d-command2", "command")
    return {"engine": engine, "settings": settings, "app": app, "numbers": people}


def _send(client, number: str, lon: float, lat: float, *, ago_s: float = 0,
          extra: str = "") -> None:
    t = int(time.time() - ago_s)
    resp = client.get(f"/osmand?id=dx-{number}&lat={lat}&lon={lon}&timestamp={t}{extra}")
    assert resp.status_code == 200, resp.data


def _vid(engine, number: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM volunteers WHERE number = :n"),
                            {"n": number}).scalar_one()


def _targets(engine, callout_id: int) -> dict[str, tuple[str, int, bool]]:
    with engine.connect() as conn:
        return {r.number: (r.status, r.ring, r.sent_at is not None) for r in conn.execute(
            sa.text("SELECT v.number, t.status, t.ring, t.sent_at FROM callout_targets t "
                    "JOIN volunteers v ON v.id = t.volunteer_id WHERE t.callout_id = :c"),
            {"c": callout_id})}


def _wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def _sos_state(engine, volunteer_id: int) -> str:
    """What the database holds of a volunteer's SOS and the queue's timers (a failure's
    message: which step did not happen)."""
    with engine.connect() as conn:
        sos = conn.execute(sa.text(
            "SELECT id, created_at, acknowledged_at, escalated_at, closed_at FROM callouts "
            "WHERE kind = 'sos' AND raised_by = :v"), {"v": volunteer_id}).mappings().all()
        try:  # the deployment's queue (public schema of the same database)
            queue = conn.execute(sa.text(
                "SELECT task_name, status, scheduled_at, args::text FROM "
                "public.procrastinate_jobs ORDER BY id DESC LIMIT 8")).all()
        except sa.exc.DBAPIError as exc:
            queue = [str(exc.orig)]
    return f"now {dt.datetime.now(dt.UTC)}; SOS {list(map(dict, sos))}; queue {queue}"


def _park_everyone(world) -> None:
    """Every test's volunteers start far from the site (a stale elsewhere)."""
    with world["engine"].begin() as conn:
        conn.execute(sa.text("DELETE FROM live_positions WHERE device_id IN "
                             "(SELECT id FROM devices WHERE device_id LIKE 'dx-%')"))
        conn.execute(sa.text("UPDATE callouts SET closed_at = now(), outcome = 'resolved' "
                             "WHERE closed_at IS NULL"))


# -- the demo ---------------------------------------------------------------------------------

# the replay runs first, on the world as the demo leaves it (later tests park and call)
def test_demo_live_shows_a_call_out_and_an_sos(world, demo_world):
    """``geo-patrol demo live``: during the replay a phone's SOS and a call-out by the
    command, answered by replayed volunteers."""
    from click.testing import CliRunner
    from waitress.server import create_server

    from geo_patrol.cli import cli

    engine = world["engine"]
    _park_everyone(world)
    make_user(engine, "demo-command", "command")
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT coalesce(max(id), 0) FROM callouts")).scalar_one()
    srv = create_server(world["app"], host="127.0.0.1", port=0, threads=4)
    thread = __import__("threading").Thread(target=srv.run, daemon=True)
    thread.start()
    try:
        result = CliRunner(env={
            "DATABASE_URL": demo_world["url"], "GEO_PATROL_DATA_DIR": str(demo_world["root"]
                                                                          / "data"),
            "GEO_PATROL_RULES_FILE": world["settings"].rules_file,
            "GEO_PATROL_METRIC_CRS": ""}).invoke(cli, [
                "--city", "baotou", "demo", "live", "--url",
                f"http://127.0.0.1:{srv.effective_port}/osmand", "--speed", "200",
                "--minutes", "10", "--concurrency", "8"], catch_exceptions=False)
    finally:
        srv.close()
    assert result.exit_code == 0, result.output
    assert "by demo-command" in result.output, result.output
    # the first called accepts and sets out (unless their own position marked them arrived)
    assert re.search(r"sos \d+: BT\d+: (accept, on_way|(accept, )?arrived)", result.output), \
        result.output
    with engine.connect() as conn:
        made = conn.execute(sa.text(
            "SELECT c.kind, c.raised_by IS NOT NULL, count(t.volunteer_id) FILTER "
            "(WHERE t.status IN ('accepted', 'on_way', 'arrived')) FROM callouts c "
            "LEFT JOIN callout_targets t ON t.callout_id = c.id WHERE c.id > :b "
            "GROUP BY c.id ORDER BY c.id"), {"b": before}).all()
    kinds = {k: (raised, accepted) for k, raised, accepted in made}
    assert kinds["sos"][0] is True and kinds["sos"][1] >= 1 and kinds["callout"][1] >= 1


def test_demo_live_scenes_happen_when_the_replayed_are_recent_enough_to_be_called():
    """The default replay (the busiest hour at ten times its pace) stamps its positions up to
    54 minutes before they are sent: the SOS and the call-out come once the others' positions
    are recent enough for the nearest to be called (``[dispatch] fresh_min``), not before."""
    from geo_patrol.demo.replay import requests_for
    from geo_patrol.services.demo import _stamp, scene_moments

    rng = np.random.default_rng(3)
    t0 = 1_700_000_000.0
    fixes = pd.DataFrame([
        {"number": f"BT{n:04d}", "t": t0 + 15 * k, "lon": 109.84 + 1e-4 * (n + k / 50),
         "lat": 40.65 + 1e-4 * rng.normal(), "accuracy_m": 8.0, "speed_mps": 1.2}
        for n in range(6) for k in range(240)])  # six phones, one fix in 15 s, an hour
    fresh_s = 600.0
    for speed, minutes in ((10.0, 60.0), (10.0, 40.0), (200.0, 10.0), (1.0, 60.0)):
        now = time.time()
        part = fixes[fixes["t"] < t0 + 60 * minutes]
        requests = requests_for(part, speed=speed, now=now)
        moments = scene_moments(requests, fresh_s)
        assert moments.sos is not None and moments.callout is not None, (speed, minutes)
        for i in (moments.sos, moments.callout):
            sent = now + requests[i].at_s
            # what the ranking sees: each other phone's last position sent a few dozen
            # requests before (stored by then)
            seen = {}
            for r in requests[:max(i - 32, 0)]:
                seen[r.device] = _stamp(r)
            others = [t for d, t in seen.items() if d != requests[i].device]
            assert others and sent - max(others) <= fresh_s, (speed, minutes, sent - max(others))
        span = requests[-1].at_s
        assert span / 3 <= requests[moments.sos].at_s <= span
        assert moments.site is not None


# -- the protocol -----------------------------------------------------------------------------

def test_traccar_client_sos_shapes_decode():
    now = time.time()
    # OsmAnd protocol: Traccar Client before 9 and OsmAnd send alarm=sos in the query
    [p], _ = decode_request(f"id=77&lat=40.65&lon=109.84&timestamp={int(now)}&alarm=sos",
                            b"", now=now)
    assert alarm_of(p.attrs) == "sos"
    # Traccar Client 9+: the SOS button's position carries extras {"alarm": "sos"}
    body = {"device_id": "77", "location": {
        "timestamp": dt.datetime.fromtimestamp(now, dt.UTC).isoformat(),
        "coords": {"latitude": 40.65, "longitude": 109.84, "accuracy": 5.0, "speed": 0.0},
        "is_moving": False, "event": "getCurrentPosition", "extras": {"alarm": "sos"},
        "battery": {"level": 0.5, "is_charging": False}, "activity": {"type": "still"}}}
    [q], _ = decode_request("", json.dumps(body).encode(), now=now)
    assert alarm_of(q.attrs) == "sos"
    [r], _ = decode_request(f"id=77&lat=40.65&lon=109.84&timestamp={int(now)}", b"", now=now)
    assert alarm_of(r.attrs) is None


# -- ranking ----------------------------------------------------------------------------------

def test_ranked_by_travel_time_in_each_mode_with_the_left_out(world):
    from geo_patrol.services.callouts import rank

    engine, settings = world["engine"], world["settings"]
    _park_everyone(world)
    walker, taxi, stale, off, far, medic = world["numbers"][:6]
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE volunteers SET occupation = 'taxi_driver' "
                             "WHERE number = :n"), {"n": taxi})
        conn.execute(sa.text("UPDATE volunteers SET active = false WHERE number = :n"),
                     {"n": off})
    client = world["app"].test_client()
    try:
        _send(client, walker, 109.8440, 40.6510)
        _send(client, taxi, 109.8500, 40.6560)   # ~900 m off, by car
        _send(client, stale, 109.8432, 40.6505, ago_s=3600)
        _send(client, off, 109.8431, 40.6504)
        _send(client, far, 109.8900, 40.6700)    # kilometres off: beyond 15 min on foot
        ranking = rank(engine, settings, lon=SITE[0], lat=SITE[1])
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE volunteers SET occupation = 'retired_resident', "
                                 "active = true WHERE number = ANY(:n)"), {"n": [taxi, off]})
    called = ranking.called.set_index("number")
    assert {walker, taxi} <= set(called.index)
    assert called.loc[walker, "mode"] == "walk" and called.loc[taxi, "mode"] == "drive"
    # a car is faster than walking the same streets
    assert called.loc[taxi, "eta_s"] < called.loc[taxi, "walk_m"] / 1.3
    assert (ranking.called["eta_s"] <= 15 * 60).all()
    assert list(ranking.called["eta_s"]) == sorted(ranking.called["eta_s"])
    why = dict(zip(ranking.left_out["number"], ranking.left_out["reason"]))
    assert why[stale] == "stale" and why[off] == "off_duty" and why[far] == "too_far"
    assert not {stale, off, far} & set(called.index)
    # a skill required: the uncertified are left out for it
    skilled = rank(engine, settings, lon=SITE[0], lat=SITE[1], skill="first_aid")
    reasons = dict(zip(skilled.left_out["number"], skilled.left_out["reason"]))
    assert reasons.get(walker) == "no_skill" or walker in set(skilled.called["number"])


def test_a_volunteer_with_an_open_sos_is_not_called_to_another_incident(world):
    """Someone who has called for help is in trouble themselves: a call-out nearby leaves
    them out and says why, until their SOS is closed."""
    from geo_patrol.services.callouts import raise_sos, rank

    engine, settings = world["engine"], world["settings"]
    _park_everyone(world)
    helper, victim = world["numbers"][9], world["numbers"][11]  # no other test's SOS
    client = world["app"].test_client()
    with engine.connect() as conn:
        victim_id = conn.execute(sa.text("SELECT id FROM volunteers WHERE number = :n"),
                                 {"n": victim}).scalar_one()
    _send(client, helper, 109.8436, 40.6507)
    _send(client, victim, 109.8440, 40.6510)
    sos = raise_sos(engine, settings, victim_id, lon=109.8440, lat=40.6510)
    try:
        ranking = rank(engine, settings, lon=SITE[0], lat=SITE[1], exclude=(victim_id,))
        assert helper in set(ranking.called["number"])  # the SOS's own call-out
        ranking = rank(engine, settings, lon=SITE[0], lat=SITE[1])
        why = dict(zip(ranking.left_out["number"], ranking.left_out["reason"]))
        assert why.get(victim) == "in_sos" and victim not in set(ranking.called["number"])
        assert helper in set(ranking.called["number"])
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE callouts SET closed_at = now(), outcome = 'resolved' "
                                 "WHERE id = :i"), {"i": sos})
    assert victim in set(rank(engine, settings, lon=SITE[0], lat=SITE[1]).called["number"])


def test_streets_that_do_not_join_the_site_leave_a_volunteer_unreachable(world):
    """The city's streets are read once and searched from the site; a street added (here
    one joined to nothing) is seen by the next call-out, and so is its removal."""
    from geo_patrol.services.callouts import rank

    engine, settings = world["engine"], world["settings"]
    _park_everyone(world)
    walker, lone = world["numbers"][6:8]
    client = world["app"].test_client()
    _send(client, walker, 109.8440, 40.6510)
    first = rank(engine, settings, lon=SITE[0], lat=SITE[1])
    assert walker in set(first.called["number"])
    street = ("SELECT ST_SetSRID(ST_MakeLine(ST_MakePoint(109.8460, 40.6521), "
              "ST_MakePoint(109.8463, 40.6521)), 4326) AS g")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO street_segments (u, v, key, piece, node_from, node_to, highway, "
            "length_m, geom, geom_m) SELECT 9000000000001, 9000000000002, 0, 0, "
            "9000000000001, 9000000000002, 'residential', ST_Length(g::geography), g, "
            "ST_Transform(g, (SELECT value::int FROM deployment WHERE key = 'metric_srid')) "
            f"FROM ({street}) s"))
    try:
        _send(client, lone, 109.84615, 40.6521)  # on the new street, joined to nothing
        ranking = rank(engine, settings, lon=SITE[0], lat=SITE[1])
        why = dict(zip(ranking.left_out["number"], ranking.left_out["reason"]))
        assert why.get(lone) == "unreachable" and walker in set(ranking.called["number"])
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM street_segments WHERE u = 9000000000001"))
    again = rank(engine, settings, lon=SITE[0], lat=SITE[1])
    both = pd.concat([again.called, again.left_out]).set_index("number")
    assert both.loc[lone, "reason"] in ("", "too_far")  # on the demo's streets again
    assert np.isfinite(both.loc[lone, "walk_m"])


# -- rings, answers, close --------------------------------------------------------------------

def _call(world, count: int = 1) -> int:
    from geo_patrol.services.callouts import call_out
    from geo_patrol.store.accounts import principal_named

    with world["engine"].connect() as conn:
        command = principal_named(conn, "d-command")
    return call_out(world["engine"], world["settings"], command, lon=SITE[0], lat=SITE[1],
                    category="dispute", note="两人争执", count=count)


def _volunteer(world, number: str):
    from geo_patrol.access import Principal, Role

    return Principal(id=0, username=f"v-{number}", role=Role.VOLUNTEER,
                     volunteer_id=_vid(world["engine"], number))


def test_rings_escalate_in_the_worker_until_the_command(world):
    engine = world["engine"]
    _park_everyone(world)
    a, b, c = world["numbers"][6:9]
    client = world["app"].test_client()
    for n, (lon, lat) in zip((a, b, c), [(109.8432, 40.6504), (109.8436, 40.6507),
                                         (109.8440, 40.6510)]):
        _send(client, n, lon, lat)
    callout_id = _call(world)
    first = _targets(engine, callout_id)
    rings = {n: r for n, (_, r, _) in first.items()}
    assert sorted(rings.values()) == [1, 2]  # one a ring, two rings
    sent = [n for n, (s, _, was) in first.items() if was]
    assert len(sent) == 1 and first[sent[0]][0] == "sent" and rings[sent[0]] == 1
    # nobody accepts: the worker calls ring 2 after 2 s ...
    second = _wait_for(lambda: [n for n, (s, r, was) in _targets(engine, callout_id).items()
                                if r == 2 and was])
    assert second
    # ... and after ring 2's 2 s, the station's group and the command
    with engine.connect() as conn:
        escalated = _wait_for(lambda: conn.execute(sa.text(
            "SELECT escalated_at FROM callouts WHERE id = :c"), {"c": callout_id}
        ).scalar_one() is not None or conn.commit())
    assert escalated
    with engine.connect() as conn:
        actions = conn.execute(sa.text(
            "SELECT action FROM audit_log WHERE target = :t ORDER BY id"),
            {"t": f"callout {callout_id}"}).scalars().all()
    assert actions[:1] == ["callout"] and "callout_ring" in actions \
        and "callout_escalate" in actions


def _two_near_the_site(world) -> None:  # noqa: ANN001
    """Everyone else parked far away, two volunteers reporting near the site."""
    _park_everyone(world)
    a, b = world["numbers"][6:8]
    client = world["app"].test_client()
    _send(client, a, 109.8432, 40.6504)
    _send(client, b, 109.8436, 40.6507)


def test_nobody_accepts_the_station_and_the_command_are_told(world):
    """After the last ring, one message goes to the chat of the police station over the
    incident's community and one to the city's (the command's), delivered through apprise
    to a local gateway; the command's outbox lists it."""
    from geo_patrol.services import notify
    from tests.test_notify import Receiver

    engine, settings = world["engine"], world["settings"]
    _two_near_the_site(world)
    with engine.connect() as conn:
        station = conn.execute(sa.text(
            "SELECT s.name FROM areas s WHERE s.level = 'station' AND ST_Covers(s.geom, "
            "ST_SetSRID(ST_MakePoint(:x, :y), 4326)) LIMIT 1"),
            {"x": SITE[0], "y": SITE[1]}).scalar_one()
    receiver = Receiver()
    made = [notify.add_channel(engine, settings, scope="station", station=station, by="test",
                               url=f"json://127.0.0.1:{receiver.port}/station"),
            notify.add_channel(engine, settings, scope="city", by="test",
                               url=f"json://127.0.0.1:{receiver.port}/command")]
    sender = notify.Sender(engine, settings, notify.SendPolicy(base_s=0.1))
    try:
        callout_id = _call(world)
        ref = f"callout {callout_id} escalated"

        def told() -> bool:
            sender.run_once()
            states = notify.states(engine, "callout", ref)
            return len(states) == 2 and set(states["state"]) == {"delivered"}

        assert _wait_for(told)
        posts = {}
        for r in receiver.requests:
            body = json.loads(r["body"])
            if body["title"].startswith("召集无人接受"):
                posts[r["path"]] = body
        assert set(posts) == {"/station", "/command"}
        text = posts["/station"]["message"]
        assert "两人争执" in text and "2 called, none accepted" in text
        assert f"/live?callout={callout_id}" in text
        with engine.connect() as conn:  # one message, kept once
            assert conn.execute(sa.text(
                "SELECT count(*) FROM notify_messages WHERE ref = :r"), {"r": ref}
            ).scalar_one() == 1
        board = notify.outbox(engine, None, tz=settings.timezone)
        mine = board[board["ref"] == ref]
        assert len(mine) == 2 and mine["number"].isna().all()
        # the board says it escalated, and nothing about chats that received nothing
        command = world["app"].test_client()
        sign_in(command, "d-command")
        page = command.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
        assert 'id="callout-escalated"' in page and 'id="callout-unreached"' not in page
    finally:
        sender.close()
        receiver.close()
        for channel_id in made:
            notify.remove_channel(engine, channel_id, by="test")


def test_nobody_within_reach_is_escalated_at_once_and_said_so(world):
    """A call-out with nobody to call does not wait a ring for nothing: the station and the
    command are told at once, and the board says nobody could be called, not "ring 1 of
    3"."""
    engine = world["engine"]
    _park_everyone(world)
    callout_id = _call(world)
    with engine.connect() as conn:
        escalated, called = conn.execute(sa.text(
            "SELECT c.escalated_at, (SELECT count(*) FROM callout_targets t "
            "WHERE t.callout_id = c.id) FROM callouts c WHERE c.id = :c"),
            {"c": callout_id}).one()
        why = conn.execute(sa.text(
            "SELECT details->>'reason' FROM audit_log WHERE action = 'callout_escalate' "
            "AND target = :t"), {"t": f"callout {callout_id}"}).scalar_one()
        told = conn.execute(sa.text("SELECT body FROM notify_messages WHERE ref = :r"),
                            {"r": f"callout {callout_id} escalated"}).scalar_one()
    assert called == 0 and escalated is not None and why == "nobody within reach"
    assert "Nobody within reach to call" in told and "范围内无义警可呼叫" in told
    command = world["app"].test_client()
    sign_in(command, "d-command")
    page = command.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
    assert 'id="callout-nobody"' in page and "到达时限内无义警可呼叫" in page
    assert 'id="callout-escalated"' in page and "第 1 轮" not in page
    command.get("/lang/en")
    page = command.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
    assert "Open: nobody within reach could be called" in page


def test_the_board_names_later_rings_and_an_arrival_seen_by_position(world):
    """Everyone the call-out will reach is named, a later ring's volunteers as waiting (as
    not called once someone has accepted); a volunteer whose phone reached the site without
    an answer is shown arrived "by position", not as one who answered."""
    from geo_patrol.services import callouts
    from geo_patrol.store import live as live_store

    engine = world["engine"]
    _park_everyone(world)
    a, b, c = world["numbers"][6:9]
    client = world["app"].test_client()
    for n, (lon, lat) in zip((a, b, c), [(109.8432, 40.6504), (109.8434, 40.6505),
                                         (109.8440, 40.6510)]):
        _send(client, n, lon, lat)
    callout_id = _call(world, count=2)
    rings = {n: r for n, (_, r, _) in _targets(engine, callout_id).items()}
    assert rings == {a: 1, b: 1, c: 2}
    command = world["app"].test_client()
    sign_in(command, "d-command")
    page = command.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
    assert "待下一轮" in re.search(rf"<tr><td>{c} .*?</tr>", page).group(0)
    callouts.answer(engine, _volunteer(world, b), callout_id, "accept")  # no ring 2
    time.sleep(1.1)  # a position in whole seconds, taken after the call was sent
    _send(client, a, SITE[0], SITE[1])  # a never answers, but gets there
    with engine.begin() as conn:  # (or the live coverage's worker, as it runs here)
        live_store.mark_arrivals(conn, world["settings"].callout_arrival_m)
    assert _targets(engine, callout_id)[a][0] == "arrived"
    page = command.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
    rows = {n: re.search(rf"<tr><td>{n} .*?</tr>", page).group(0) for n in (a, b, c)}
    assert "已到达（按位置判定，未答复）" in rows[a]
    assert "已接受" in rows[b] and "按位置" not in rows[b]
    # someone accepted: ring 2 is not called, and the board does not say it waits
    assert "未呼叫" in rows[c] and "不再呼叫下一轮" in page


def test_arrived_follows_accepting_and_a_word_unseen_by_position_is_told(world):
    """"Arrived" is an answer to a call-out one accepted (not a first answer); the board
    tells an arrival the volunteer's own positions show from one only claimed."""
    from geo_patrol.errors import CalloutEndedError
    from geo_patrol.services import callouts

    engine = world["engine"]
    _park_everyone(world)
    a, b = world["numbers"][6:8]
    client = world["app"].test_client()
    _send(client, a, 109.8440, 40.6510, ago_s=60)  # a minute ago, 110 m from the site
    _send(client, b, 109.8441, 40.6511, ago_s=60)
    callout_id = _call(world, count=2)
    with pytest.raises(CalloutEndedError):
        callouts.answer(engine, _volunteer(world, a), callout_id, "arrived")
    assert _targets(engine, callout_id)[a][0] == "sent"
    for n in (a, b):
        callouts.answer(engine, _volunteer(world, n), callout_id, "accept")
        callouts.answer(engine, _volunteer(world, n), callout_id, "arrived")
    time.sleep(1.1)  # a position in whole seconds, taken after the call was sent
    _send(client, b, SITE[0], SITE[1])  # b's phone is there; a's never came
    command = world["app"].test_client()
    sign_in(command, "d-command")
    page = command.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
    rows = {n: re.search(rf"<tr><td>{n} .*?</tr>", page).group(0) for n in (a, b)}
    assert "自报已到达（位置未见到场）" in rows[a]
    assert "已到达" in rows[b] and "自报" not in rows[b]


def test_a_volunteer_who_declined_can_come_after_all(world):
    """"Decline" tapped by mistake is not final while the call-out is open: the phone keeps
    it on top in one line with a way back, and accepting then counts (and leads)."""
    engine = world["engine"]
    _park_everyone(world)
    a = world["numbers"][6]
    make_user(engine, f"dc-{a}", "volunteer", volunteer=a)
    client = world["app"].test_client()
    _send(client, a, 109.8432, 40.6504)
    callout_id = _call(world)
    phone = world["app"].test_client()
    token = sign_in(phone, f"dc-{a}")
    assert phone.post(f"/me/callouts/{callout_id}", data={
        "csrf_token": token, "answer": "decline"}).status_code == 303
    now = phone.get("/me/now").get_data(as_text=True)
    card = re.search(rf'<div class="callout now declined" id="now-{callout_id}".*?</div>',
                     now, re.S)
    assert card and "你已拒绝；该召集仍在进行。" in card.group(0)
    assert 'value="accept"' in card.group(0) and "我还是可以去" in card.group(0)
    assert phone.post(f"/me/callouts/{callout_id}", data={
        "csrf_token": token, "answer": "accept"}).status_code == 303
    with engine.connect() as conn:
        status, lead = conn.execute(sa.text(
            "SELECT t.status, c.lead_id = t.volunteer_id FROM callout_targets t JOIN callouts c "
            "ON c.id = t.callout_id WHERE t.callout_id = :c AND t.volunteer_id = :v"),
            {"c": callout_id, "v": _vid(engine, a)}).one()
    assert (status, lead) == ("accepted", True)
    assert 'data-status="accepted"' in phone.get("/me/now").get_data(as_text=True)


def test_the_phone_tells_the_way_from_where_the_volunteer_is_now(world):
    """On the way, the volunteer's card and the command's board tell the way and ETA from
    the volunteer's latest position, not the one from where the call found them."""
    from geo_patrol.services import callouts

    engine = world["engine"]
    _park_everyone(world)
    a = world["numbers"][5]
    make_user(engine, f"dw-{a}", "volunteer", volunteer=a)
    client = world["app"].test_client()
    _send(client, a, 109.8440, 40.6510, ago_s=240)  # some 340 m by the streets
    callout_id = _call(world)
    with engine.connect() as conn:
        called_m = conn.execute(sa.text(
            "SELECT walk_m FROM callout_targets WHERE callout_id = :c AND volunteer_id = :v"),
            {"c": callout_id, "v": _vid(engine, a)}).scalar_one()
    phone = world["app"].test_client()
    token = sign_in(phone, f"dw-{a}")

    def shown_m() -> int:
        card = phone.get("/me/now").get_data(as_text=True)
        return int(re.search(rf'id="now-{callout_id}".*?<p class="eta">距离 (\d+) 米', card,
                             re.S).group(1))

    assert shown_m() == round(called_m) and called_m > 250
    assert phone.post(f"/me/callouts/{callout_id}", data={
        "csrf_token": token, "answer": "on_way"}).status_code == 303
    command = world["app"].test_client()
    sign_in(command, "d-command")

    def board_m() -> int:
        page = command.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
        cells = re.findall(r"<td>(.*?)</td>", re.search(rf"<tr><td>{a} .*?</tr>", page).group(0))
        return int(cells[-3])  # distance m, ETA min, certified

    assert board_m() == round(called_m)
    _send(client, a, 109.8432, 40.6504)  # on the way: four minutes later, 20 m off
    assert shown_m() < 100 and board_m() < 100
    # closed by the command: the card says which call-out ended (what, and since when)
    callouts.close(engine, _command(world), callout_id, "resolved")
    with engine.connect() as conn:
        created = conn.execute(sa.text("SELECT created_at FROM callouts WHERE id = :c"),
                               {"c": callout_id}).scalar_one()
    card = re.search(rf'id="ended-{callout_id}".*?</div>',
                     phone.get("/me/now").get_data(as_text=True), re.S).group(0)
    at = created.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    assert f"{at} 的「矛盾纠纷」召集已结束：" in card, card
    with engine.connect() as conn:  # what the call found is kept for the record
        assert conn.execute(sa.text(
            "SELECT walk_m FROM callout_targets WHERE callout_id = :c AND volunteer_id = :v"),
            {"c": callout_id, "v": _vid(engine, a)}).scalar_one() == called_m


def test_an_officer_calls_the_nearest_but_sees_only_their_own_volunteers_move(world):
    """A call-out reaches the nearest volunteers whatever their community; an officer bound
    to the site's community sees where theirs are (and their ETA as they move), never where
    another community's are: those keep the way they were called with."""
    from geo_patrol.services import callouts
    from geo_patrol.store.accounts import principal_named

    engine = world["engine"]
    _park_everyone(world)
    with engine.connect() as conn:
        home = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a WHERE a.level = 'community' AND ST_Contains("
            "a.geom, ST_SetSRID(ST_Point(:x, :y), 4326))"), {"x": SITE[0], "y": SITE[1]}).one()
        ours, theirs = (conn.execute(sa.text(
            f"SELECT number FROM volunteers WHERE active AND community_id {op} :c "
            "ORDER BY number LIMIT 1"), {"c": home.id}).scalar_one() for op in ("=", "<>"))
    for n in (ours, theirs):
        if n not in world["numbers"]:
            from geo_patrol.services.devices import add_device

            add_device(engine, f"dx-{n}", n)
    client = world["app"].test_client()
    _send(client, ours, 109.8432, 40.6504, ago_s=120)
    _send(client, theirs, 109.8434, 40.6505, ago_s=120)
    name = make_user(engine, f"d-officer-{home.id}", "officer", areas=[home.name])
    with engine.connect() as conn:
        officer = principal_named(conn, name)
    callout_id = callouts.call_out(engine, world["settings"], officer, lon=SITE[0],
                                   lat=SITE[1], category="dispute", note=None, count=2)
    assert {ours, theirs} <= set(_targets(engine, callout_id))
    _send(client, theirs, 109.8431, 40.6503)  # the other community's volunteer moves
    web = world["app"].test_client()
    sign_in(web, name)
    feed = web.get(f"/api/live?callout={callout_id}").get_json()["callout"]["people"]
    where = {p["number"]: (p["lat"], p["lon"]) for p in feed}
    assert where[ours] == (40.6504, 109.8432)
    assert where[theirs] == (None, None)
    # on the map, a line to where the officer's own volunteer is, none to the other
    assert web.get(f"/maps/live?callout={callout_id}").get_data(as_text=True).count(
        '"className": "gp-callout-line"') == 1
    board = web.get(f"/live/dispatch?callout={callout_id}").get_data(as_text=True)
    assert re.search(rf"<tr><td>{theirs} ", board)  # listed, with the way when called


def test_a_command_bound_to_a_district_reads_only_its_part_of_the_audit_log(world):
    """The audit log of a command bound to one district holds what it, the accounts bound
    within it and its volunteers did: not another district's call-outs."""
    from geo_patrol.store.accounts import audit

    engine = world["engine"]
    _park_everyone(world)
    with engine.connect() as conn:
        district = conn.execute(sa.text(
            "SELECT name FROM areas WHERE level = 'district' AND NOT ST_Contains(geom, "
            "ST_SetSRID(ST_Point(:x, :y), 4326)) ORDER BY id LIMIT 1"),
            {"x": SITE[0], "y": SITE[1]}).scalar_one()
    name = make_user(engine, "d-bound-audit", "command", areas=[district])
    callout_id = _call(world)  # by the city's command, outside that district
    with engine.begin() as conn:
        audit(conn, name, "unmask", "volunteer BT-own", reason="its own check")
    city, bound = world["app"].test_client(), world["app"].test_client()
    sign_in(city, "d-command")
    sign_in(bound, name)
    for client, sees in ((city, True), (bound, False)):
        page = client.get("/audit?lang=en&action=callout").get_data(as_text=True)
        assert bool(re.search(rf"Call-out #{callout_id}\b", page)) is sees, page[-3000:]
    assert "its own check" in bound.get("/audit?lang=en").get_data(as_text=True)


def test_a_ring_that_all_declined_calls_the_next_at_once(world, tmp_path):
    """When everyone called so far has declined, the next ring is called then, not when the
    ring's time (here 10 minutes) is up."""
    from geo_patrol.services import callouts
    from geo_patrol.store.accounts import principal_named

    engine = world["engine"]
    rules = tmp_path / "rules.toml"
    rules.write_text(RULES.replace("ring_s = 2", "ring_s = 600"), encoding="utf-8")
    slow = world["settings"].with_(rules_file=str(rules))
    _park_everyone(world)
    a, b = world["numbers"][6:8]
    client = world["app"].test_client()
    _send(client, a, 109.8432, 40.6504)
    _send(client, b, 109.8436, 40.6507)
    with engine.connect() as conn:
        command = principal_named(conn, "d-command")
    callout_id = callouts.call_out(engine, slow, command, lon=SITE[0], lat=SITE[1],
                                   category="dispute", note=None, count=1)
    first = [n for n, (_, _, sent) in _targets(engine, callout_id).items() if sent]
    assert len(first) == 1
    later = ({a, b} - set(first)).pop()
    callouts.answer(engine, _volunteer(world, first[0]), callout_id, "decline", settings=slow)
    assert _wait_for(lambda: _targets(engine, callout_id)[later][2], timeout=30)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT ring FROM callouts WHERE id = :c"),
                            {"c": callout_id}).scalar_one() == 2


def test_an_escalation_no_chat_received_is_told_on_the_board(world):
    """With no channel for the station or the command, the escalation fails for each, and
    the board says so beside "escalated", with the way to the channels (it read as if the
    station and the command had been told)."""
    from geo_patrol.services import notify

    engine, settings = world["engine"], world["settings"]
    _two_near_the_site(world)
    sender = notify.Sender(engine, settings, notify.SendPolicy(base_s=0.1))
    try:
        callout_id = _call(world)
        ref = f"callout {callout_id} escalated"

        def escalated() -> bool:
            sender.run_once()
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT escalated_at IS NOT NULL FROM callouts WHERE id = :i"),
                    {"i": callout_id}).scalar_one()

        assert _wait_for(escalated)
        assert notify.states(engine, "callout", ref).empty  # no chat to send it to
    finally:
        sender.close()
    command = world["app"].test_client()
    sign_in(command, "d-command")
    for accept, words in (("zh-CN", "但没有任何群收到"), ("en", "no chat received it")):
        page = command.get(f"/live/dispatch?callout={callout_id}",
                           headers={"Accept-Language": accept}).get_data(as_text=True)
        assert 'id="callout-escalated"' in page and words in page
        assert "/notify" in page.split('id="callout-unreached"')[1].split("</span>")[0]
    # the messages page words the failure for the group it went to, not for a person
    for lang, group, failed, why in (
            ("zh", "派出所群组和指挥中心", "失败", "派出所群组和指挥中心均未设置群聊渠道"),
            ("en", "The station and the command", "failed",
             "no chat of the police station or the command is set")):
        page = command.get(f"/notify?kind=callout&lang={lang}").get_data(as_text=True)
        body = page.split('id="outbox"')[1].split("</tbody>")[0]
        rows = [[re.sub(r"<[^>]+>", "", cell).strip()
                 for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
                for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)]
        groups = [r for r in rows if len(r) > 5 and r[2] == group and r[5] == failed]
        assert groups and all(r[-1] == why for r in groups), groups


def test_first_to_accept_leads_states_add_up_and_close(world):
    from geo_patrol.errors import ConflictError, NotFoundError
    from geo_patrol.services import callouts

    engine = world["engine"]
    _park_everyone(world)
    a, b = world["numbers"][9:11]
    client = world["app"].test_client()
    _send(client, a, 109.8432, 40.6504)
    _send(client, b, 109.8434, 40.6505)
    callout_id = _call(world, count=2)
    callouts.answer(engine, _volunteer(world, b), callout_id, "accept")
    callouts.answer(engine, _volunteer(world, a), callout_id, "on_way")
    with engine.connect() as conn:
        lead = conn.execute(sa.text(
            "SELECT v.number FROM callouts c JOIN volunteers v ON v.id = c.lead_id "
            "WHERE c.id = :c"), {"c": callout_id}).scalar_one()
    assert lead == b  # the first to accept
    callouts.answer(engine, _volunteer(world, a), callout_id, "arrived")
    board = callouts.callouts(engine, None, tz="Asia/Shanghai").set_index("id").loc[callout_id]
    # accepted counts those on the way and arrived; never "accepted 0, arrived 1"
    assert (board.called, board.accepted, board.on_way, board.arrived) == (2, 2, 1, 1)
    callouts.answer(engine, _volunteer(world, b), callout_id, "decline")
    with engine.connect() as conn:
        lead = conn.execute(sa.text(
            "SELECT v.number FROM callouts c JOIN volunteers v ON v.id = c.lead_id "
            "WHERE c.id = :c"), {"c": callout_id}).scalar_one()
    assert lead == a  # the lead passes to the one still coming
    time.sleep(2.5)  # an accepted call-out is not escalated
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT escalated_at FROM callouts WHERE id = :c"),
                            {"c": callout_id}).scalar_one() is None
    # the command closes it with an outcome; then nothing more is answered
    command = _command(world)
    _, open_targets = callouts.callout_sites(engine, callout_id, command)
    assert open_targets["lon"].notna().sum() == 2  # the responders on the map while open
    with pytest.raises(Exception, match="outcome"):
        callouts.close(engine, command, callout_id, "done")
    callouts.close(engine, command, callout_id, "resolved")
    # a closed call-out tracks nobody: its page no longer shows where its responders are
    _, closed_targets = callouts.callout_sites(engine, callout_id, command)
    assert len(closed_targets) == 2 and closed_targets["lon"].isna().all()
    with pytest.raises(ConflictError):
        callouts.close(engine, command, callout_id, "cancelled")
    with pytest.raises(NotFoundError):
        callouts.answer(engine, _volunteer(world, b), callout_id, "accept")
    other = _call(world, count=1)
    callouts.close(engine, command, other, "cancelled")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT outcome, closed_by IS NOT NULL FROM callouts WHERE id = ANY(:i) ORDER BY id"),
            {"i": [callout_id, other]}).all()
        audited = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'callout_close'")).scalar_one()
    assert [tuple(r) for r in rows] == [("resolved", True), ("cancelled", True)]
    assert audited >= 2


def _command(world, name: str = "d-command"):
    from geo_patrol.store.accounts import principal_named

    with world["engine"].connect() as conn:
        return principal_named(conn, name)


# -- SOS --------------------------------------------------------------------------------------

def test_sos_from_traccar_client_on_both_ports(world):
    from geo_patrol.errors import ConflictError
    from geo_patrol.services import callouts
    from geo_patrol.services.intake import Intake
    from web.positions import serve_positions

    engine = world["engine"]
    _park_everyone(world)
    victim, helper, helper2, other = world["numbers"][:4]
    client = world["app"].test_client()
    _send(client, helper, 109.8434, 40.6506)
    _send(client, helper2, 109.8438, 40.6509)
    # Traccar Client 9's JSON to the position port: the SOS button's position
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    intake = Intake(engine, world["settings"])
    serve_positions(intake, "127.0.0.1", port)
    body = json.dumps({"device_id": f"dx-{victim}", "location": {
        "timestamp": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        "coords": {"latitude": SITE[1], "longitude": SITE[0], "accuracy": 6.0, "speed": 0.0,
                   "heading": -1, "altitude": 1050.0},
        "is_moving": False, "event": "getCurrentPosition", "extras": {"alarm": "sos"},
        "battery": {"level": 0.41, "is_charging": False}}}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status == 200
        vid = _vid(engine, victim)

        def raised():
            with engine.connect() as conn:
                return conn.execute(sa.text(
                    "SELECT id FROM callouts WHERE kind = 'sos' AND raised_by = :v "
                    "AND closed_at IS NULL"), {"v": vid}).scalar_one_or_none()
        sos = _wait_for(raised)
        assert sos
    finally:
        intake.close()
    called = _targets(engine, sos)
    assert victim not in called and called[helper][2]  # the nearest called, not the victim
    # a second press while it is open joins it
    _send(client, victim, SITE[0], SITE[1], extra="&alarm=sos")
    time.sleep(1.0)
    with engine.connect() as conn:
        assert conn.execute(sa.text(
            "SELECT count(*) FROM callouts WHERE kind = 'sos' AND raised_by = :v"),
            {"v": vid}).scalar_one() == 1
    # one officer acknowledges and owns it; a second is told who has it
    callouts.acknowledge(engine, _command(world), sos)
    with pytest.raises(ConflictError, match="d-command"):
        callouts.acknowledge(engine, _command(world, "d-command2"), sos)
    time.sleep(3.5)  # acknowledged in time: not escalated for want of an owner
    with engine.connect() as conn:
        assert not conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'sos_escalate' AND target = :t"),
            {"t": f"callout {sos}"}).scalar_one()
    # OsmAnd's alarm=sos from another phone, never acknowledged: escalated after 3 s
    _send(client, other, 109.8436, 40.6507, extra="&alarm=sos")
    oid = _vid(engine, other)

    def escalated():
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT count(*) FROM audit_log a JOIN callouts c ON a.target = 'callout ' "
                "|| c.id WHERE a.action = 'sos_escalate' AND c.raised_by = :v"),
                {"v": oid}).scalar_one()
    assert _wait_for(escalated), _sos_state(engine, oid)
    with engine.connect() as conn:
        actions = set(conn.execute(sa.text(
            "SELECT action FROM audit_log WHERE action LIKE 'sos%'")).scalars())
    assert {"sos", "sos_acknowledge", "sos_escalate"} <= actions


def test_only_a_new_fresh_sos_position_raises_an_alarm_filed_where_it_was_sent(world):
    """An SOS from a phone's buffer (sent 40 minutes ago) or re-sent after it was withdrawn
    raises no alarm; a position older than the live window is answered and dropped (a
    phone's buffer moves on, no old day is filled); an SOS is filed under the community
    where it was raised, not the volunteer's home; a fourth SOS within ten minutes is refused
    with a reason in the page's language."""
    from geo_patrol.errors import InputError
    from geo_patrol.services import callouts
    from geo_patrol.services.devices import refusals
    from geo_patrol.store.accounts import principal_named
    from geo_patrol.store.ledgers import community_at

    engine, settings = world["engine"], world["settings"]
    _park_everyone(world)
    number = world["numbers"][8]
    vid = _vid(engine, number)
    with engine.begin() as conn:
        here = community_at(conn, *SITE)
        home = conn.execute(sa.text("SELECT community_id FROM volunteers WHERE id = :v"),
                            {"v": vid}).scalar_one()
        elsewhere = conn.execute(sa.text(
            "SELECT min(id) FROM areas WHERE level = 'community' AND id <> :c"),
            {"c": here}).scalar_one()
        conn.execute(sa.text("UPDATE volunteers SET community_id = :c WHERE id = :v"),
                     {"c": elsewhere, "v": vid})
    make_user(engine, "f-vol", "volunteer", volunteer=number)
    helper = world["numbers"][6]  # near the site: called to each SOS
    make_user(engine, "f-helper", "volunteer", volunteer=helper)
    client = world["app"].test_client()
    _send(client, helper, 109.8434, 40.6506)

    def raised() -> list[tuple[int, int]]:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(
                "SELECT id, community_id FROM callouts WHERE kind = 'sos' AND raised_by = :v "
                "ORDER BY id"), {"v": vid})]

    try:
        _send(client, number, SITE[0], SITE[1], ago_s=2400, extra="&alarm=sos")  # buffered
        _send(client, number, SITE[0], SITE[1], ago_s=2300)  # answered after the one above
        assert raised() == []
        t = int(time.time())
        query = f"/osmand?id=dx-{number}&lat={SITE[1]}&lon={SITE[0]}&timestamp={t}&alarm=sos"
        assert client.get(query).status_code == 200
        assert _wait_for(raised) and raised()[0][1] == here != elsewhere
        sos_id = raised()[0][0]
        with engine.connect() as conn:
            me = principal_named(conn, "f-vol")
        callouts.withdraw_sos(engine, me, sos_id)
        assert client.get(query).status_code == 200  # the same request again: a replay
        _send(client, number, SITE[0], SITE[1], ago_s=1)
        assert len(raised()) == 1
        # older than the live window: answered, dropped, counted
        old = int(time.time() - (settings.live_keep_days + 1) * 86_400)
        with engine.connect() as conn:
            before = conn.execute(sa.text("SELECT count(*) FROM live_positions")).scalar_one()
        assert client.get(f"/osmand?id=dx-{number}&lat={SITE[1]}&lon={SITE[0]}"
                          f"&timestamp={old}&alarm=sos").status_code == 200
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT count(*) FROM live_positions")
                                ).scalar_one() == before
        _send(client, number, SITE[0], SITE[1])  # the refusals are counted with a batch
        table = refusals(engine, settings)
        assert f"dx-{number}" in set(table.loc[table["reason"] == "too_old", "device"])
        assert len(raised()) == 1
        # two more (withdrawn): a fourth within ten minutes is refused, in the page's language
        for _ in range(2):
            sos_id = callouts.raise_sos(engine, settings, vid, lon=SITE[0], lat=SITE[1])
            callouts.withdraw_sos(engine, me, sos_id)
        phone = world["app"].test_client()
        token = sign_in(phone, "f-vol")
        refused = phone.post("/me/sos", data={"csrf_token": token, "lon": str(SITE[0]),
                                               "lat": str(SITE[1])})
        # said on the phone's own page, in the SOS box left open, with 110 a tap away
        page = refused.get_data(as_text=True)
        assert refused.status_code == 400 and '<details class="sos" id="sos" open>' in page
        box = page.split('id="sos-form"')[1].split("</form>")[0]
        assert "您在最近 10 分钟内已发出 3 次求助" in box and 'href="tel:110"' in box
        with pytest.raises(InputError):
            callouts.raise_sos(engine, settings, vid, lon=SITE[0], lat=SITE[1])
        assert len(raised()) == 3
        # the volunteer called to all three is told once that the SOS has ended
        assert all(_targets(engine, i)[helper][2] for i, _ in raised())
        other = world["app"].test_client()
        sign_in(other, "f-helper")
        assert other.get("/me/now").get_data(as_text=True).count(f"{number} 的求助已结束") == 1
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE volunteers SET community_id = :c WHERE id = :v"),
                         {"c": home, "v": vid})


def _sos_from_the_phone(world, prefix: str, pair: slice):
    """A volunteer at the site sends an SOS from /me, a helper stands near it (accounts
    ``{prefix}-vol`` and ``{prefix}-helper``): the victim's phone, its form token, the
    answer to the SOS and the two numbers."""
    engine = world["engine"]
    _park_everyone(world)
    victim, helper = world["numbers"][pair]
    make_user(engine, f"{prefix}-vol", "volunteer", volunteer=victim)
    make_user(engine, f"{prefix}-helper", "volunteer", volunteer=helper)
    client = world["app"].test_client()
    _send(client, victim, SITE[0], SITE[1])
    _send(client, helper, 109.8434, 40.6506)
    phone = world["app"].test_client()
    token = sign_in(phone, f"{prefix}-vol")
    resp = phone.post("/me/sos", data={"csrf_token": token, "lon": "", "lat": ""})
    assert resp.status_code == 303
    return phone, token, resp, victim, helper


def test_sos_button_and_the_live_pages(world):
    engine = world["engine"]
    phone, token, resp, victim, helper = _sos_from_the_phone(world, "d", slice(4, 6))
    page = phone.get(resp.headers["Location"]).get_data(as_text=True)
    # the sender follows their alarm on the phone: sent, not yet taken, who is called
    assert 'id="sos-sent"' in page and "等待民警认领" in page
    assert re.search(r"已呼叫义警 [1-9]\d* 人 · 正在赶来 0 人 · 已到达 0 人", page), page
    command = world["app"].test_client()
    ctoken = sign_in(command, "d-command")
    live = command.get("/live/dispatch").get_data(as_text=True)
    assert 'id="sos-alarms" data-unacknowledged="1"' in live and victim in live
    # the helper's phone has it on top, with the place, the way there and big answers
    other = world["app"].test_client()
    sign_in(other, "d-helper")
    now = other.get("/me/now").get_data(as_text=True)
    assert "id=\"now-" in now and "uri.amap.com" in now and 'value="accept"' in now
    assert command.get("/static/sos.wav").status_code == 200
    with world["engine"].connect() as conn:
        sos_id = conn.execute(sa.text(
            "SELECT id FROM callouts WHERE kind = 'sos' AND closed_at IS NULL AND raised_by = "
            "(SELECT id FROM volunteers WHERE number = :n)"), {"n": victim}).scalar_one()
    taken = command.post(f"/live/callouts/{sos_id}/acknowledge", data={"csrf_token": ctoken})
    assert taken.status_code == 303
    phone.get("/lang/en")
    now = phone.get("/me/now").get_data(as_text=True)
    with world["engine"].connect() as conn:
        taken_at = conn.execute(sa.text("SELECT acknowledged_at FROM callouts WHERE id = :i"),
                                {"i": sos_id}).scalar_one()
    # the volunteer is told who took it, and when, in the city's time
    local = taken_at.astimezone(ZoneInfo(world["settings"].timezone)).strftime("%H:%M")
    assert f"d-command has taken it, {local}." in now, now
    # cancelled with the form's own button, whatever outcome its list shows
    closed = command.post(f"/live/callouts/{sos_id}/close",
                          data={"csrf_token": ctoken, "outcome": "resolved", "cancel": "1"})
    assert closed.status_code == 303
    with world["engine"].connect() as conn:
        assert conn.execute(sa.text("SELECT outcome FROM callouts WHERE id = :i"),
                            {"i": sos_id}).scalar_one() == "cancelled"
    assert 'id="sos-sent"' not in phone.get("/me/now").get_data(as_text=True)
    # a position nobody knows: the SOS is refused in the page's language, nothing raised
    make_user(engine, "d-nowhere", "volunteer", volunteer=world["numbers"][7])
    lost = world["app"].test_client()
    ltoken = sign_in(lost, "d-nowhere")
    refused = lost.post("/me/sos", data={"csrf_token": ltoken, "lon": "", "lat": ""})
    assert refused.status_code == 400
    assert "尚不知道你的位置" in refused.get_data(as_text=True)
    with world["engine"].connect() as conn:
        assert not conn.execute(sa.text(
            "SELECT count(*) FROM callouts WHERE kind = 'sos' AND raised_by = "
            "(SELECT id FROM volunteers WHERE number = :n)"),
            {"n": world["numbers"][7]}).scalar_one()


def test_a_volunteer_safe_again_withdraws_their_own_sos(world):
    """"I am safe": the volunteer who sent an SOS withdraws it from their phone, in two
    steps. It leaves every /live, the volunteers it called are told, the board keeps it as
    withdrawn by the volunteer, audit-logged; nobody else can withdraw it, and the command
    cannot close one as "withdrawn"."""
    engine = world["engine"]
    phone, token, _, victim, helper = _sos_from_the_phone(world, "w", slice(10, 12))
    with engine.connect() as conn:
        sos_id = conn.execute(sa.text(
            "SELECT id FROM callouts WHERE kind = 'sos' AND closed_at IS NULL AND raised_by = "
            ":v"), {"v": _vid(engine, victim)}).scalar_one()
    assert _targets(engine, sos_id)[helper][0] == "sent"
    now = phone.get("/me/now").get_data(as_text=True)
    assert 'id="sos-withdraw"' in now and "我已安全：撤销求助" in now
    assert f'action="/me/sos/{sos_id}/withdraw"' in now
    # the helper called to it, and the command, cannot withdraw it
    other = world["app"].test_client()
    otoken = sign_in(other, "w-helper")
    assert other.post(f"/me/sos/{sos_id}/withdraw", data={"csrf_token": otoken}
                      ).status_code == 404
    command = world["app"].test_client()
    ctoken = sign_in(command, "d-command")
    assert command.post(f"/me/sos/{sos_id}/withdraw", data={"csrf_token": ctoken}
                        ).status_code in (403, 404)
    refused = command.post(f"/live/callouts/{sos_id}/close",
                           data={"csrf_token": ctoken, "outcome": "withdrawn"})
    assert refused.status_code == 400
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT closed_at FROM callouts WHERE id = :i"),
                            {"i": sos_id}).scalar_one() is None
    assert 'data-unacknowledged="1"' in command.get("/live/dispatch").get_data(as_text=True)
    # the volunteer is safe: withdrawn
    done = phone.post(f"/me/sos/{sos_id}/withdraw", data={"csrf_token": token})
    assert done.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT c.outcome, u.username FROM callouts c JOIN users u ON u.id = c.closed_by "
            "WHERE c.id = :i"), {"i": sos_id}).one()
        told = conn.execute(sa.text(
            "SELECT count(*) FROM notify_messages WHERE volunteer_id = :v AND ref = :r"),
            {"v": _vid(engine, helper), "r": f"callout {sos_id} sos_withdrawn"}).scalar_one()
        logged = conn.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'sos_withdraw' AND target = :t "
            "AND actor = 'w-vol'"), {"t": f"callout {sos_id}"}).scalar_one()
    assert tuple(row) == ("withdrawn", "w-vol") and told == 1 and logged == 1
    mine = phone.get("/me/now").get_data(as_text=True)
    assert 'id="sos-sent"' not in mine
    assert 'id="sos-ended"' in mine and "你的求助已结束：求助人已撤销（已安全）" in mine
    # the helper it called is told on the phone, not only by their channels
    theirs = other.get("/me/now").get_data(as_text=True)
    assert f'id="ended-{sos_id}"' in theirs and "你无需再前往。" in theirs
    assert f"{victim} 的求助已结束：求助人已撤销（已安全）" in theirs
    live = command.get("/live/dispatch").get_data(as_text=True)
    assert f'id="alarm-{sos_id}"' not in live
    board = command.get(f"/live?callout={sos_id}").get_data(as_text=True)
    assert "求助人已撤销（已安全）" in board
    # once only: a second withdrawal changes nothing, and says why in the page's language
    again = phone.post(f"/me/sos/{sos_id}/withdraw", data={"csrf_token": token})
    assert again.status_code == 404 and "该召集已不在进行" in again.get_data(as_text=True)


def test_a_command_bound_to_some_communities_keeps_only_their_channels(world):
    """Channels are scoped as records are: a command bound to a community sees, adds and
    removes only the channels of its police station and its volunteers, never the city's
    or another station's; refusals in the page's language, nothing changed."""
    from geo_patrol.services import notify

    engine = world["engine"]
    with engine.connect() as conn:
        (s1, c1), (s2, _) = conn.execute(sa.text(
            "SELECT st.name, min(com.name) FROM areas st JOIN areas com ON com.parent_id = st.id "
            "AND com.level = 'community' AND com.id IN (SELECT community_id FROM volunteers) "
            "WHERE st.level = 'station' GROUP BY st.name ORDER BY st.name LIMIT 2")).all()
        mine, theirs = (conn.execute(sa.text(
            "SELECT min(v.number) FROM volunteers v JOIN areas com ON com.id = v.community_id "
            f"WHERE com.name {op} :c"), {"c": c1}).scalar_one() for op in ("=", "<>"))
    city = notify.add_channel(engine, world["settings"], scope="city",
                              url="json://127.0.0.1:9/city-all", by="test")
    other = notify.add_channel(engine, world["settings"], scope="station", station=s2,
                               url="json://127.0.0.1:9/other-station", by="test")
    make_user(engine, "ch-cmd", "command", areas=[c1])
    client = world["app"].test_client()
    token = sign_in(client, "ch-cmd")
    page = client.get("/notify").get_data(as_text=True)
    form = page.split('id="add-channel"')[1].split("</form>")[0]
    listed = page.split('id="channels"')[1].split("</table>")[0]
    assert f'value="{s1}"' in form and f'value="{s2}"' not in form
    assert 'value="city"' not in form and 'name="scope"' in form
    assert f'name="channel" value="{city}"' not in listed
    assert f'name="channel" value="{other}"' not in listed and s2 not in listed

    def add(**fields):
        return client.post("/notify/channels", data={"csrf_token": token, "label": "",
                                                    "url": "json://127.0.0.1:9/mine",
                                                    **fields})

    def kept() -> int:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM notify_channels")).scalar_one()

    before = kept()
    refused = add(scope="city")
    assert refused.status_code == 400 and "全市渠道由市级指挥中心维护" in refused.get_data(
        as_text=True)
    refused = add(scope="station", station=s2)
    assert refused.status_code == 400 and f"您的辖区内没有名为“{s2}”的派出所" in \
        refused.get_data(as_text=True)
    refused = add(scope="volunteer", volunteer=theirs)
    page = refused.get_data(as_text=True)
    assert refused.status_code == 400 and f"没有编号为“{theirs}”的义警" in page
    # beside the field at fault, with what was typed kept
    assert 'id="error-volunteer"' in page and f'name="volunteer" value="{theirs}"' in page
    assert 'value="json://127.0.0.1:9/mine"' in page and '<option value="volunteer" selected>' \
        in page
    assert client.post("/notify/channels/remove", data={"csrf_token": token,
                                                         "channel": str(other)}
                       ).status_code == 404
    assert kept() == before
    assert add(scope="station", station=s1).status_code == 302
    assert add(scope="volunteer", volunteer=mine).status_code == 302
    assert kept() == before + 2
    listed = client.get("/notify").get_data(as_text=True).split('id="channels"')[1]
    assert s1 in listed and mine in listed
