"""The "no movement during a patrol" alarm: positions sent through the OsmAnd protocol
endpoint showing a stop of N minutes raise one alarm, checked by the real job worker; a
moving volunteer raises none, nor a city with the alarm off; it is not raised twice for one
stop, one officer owns it, and it clears when the volunteer moves again or answers."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from tests.helpers import make_user, sign_in

SITE = (109.8430, 40.6503)  # lon, lat: a street corner of the demo town
#: 5 minutes without moving on patrol raise the alarm; every position asks for a check
#: within a second.
RULES = """
[categories.other]
label_zh = "其他"
[dispatch]
still_min = 5
"""
#: One fix a minute (tracks join fixes up to 2 minutes apart).
EVERY_S = 60


def _app(demo_world, tmp_path_factory, rules: str):
    from web import create_app

    path = tmp_path_factory.mktemp("rules") / "rules.toml"
    path.write_text(rules, encoding="utf-8")
    settings = demo_world["settings"].with_(rules_file=str(path), still_check_s=1.0)
    return settings, create_app({"GEO_PATROL_SETTINGS": settings, "TESTING": True})


@pytest.fixture(scope="module")
def world(demo_world, tmp_path_factory):
    from geo_patrol.services.devices import add_device

    engine = demo_world["engine"]
    with engine.begin() as conn:
        people = conn.execute(sa.text(
            "SELECT number FROM volunteers WHERE active ORDER BY number LIMIT 6")).scalars().all()
        conn.execute(sa.text("UPDATE volunteers SET occupation = 'retired_resident' "
                             "WHERE number = ANY(:n)"), {"n": people})
    for n in people:
        add_device(engine, f"st-{n}", n)
    settings, app = _app(demo_world, tmp_path_factory, RULES)
    off_settings, off_app = _app(demo_world, tmp_path_factory,
                                 RULES.replace("still_min = 5", "still_min = 0"))
    make_user(engine, "s-command", "command")
    make_user(engine, "s-command2", "command")
    return {"engine": engine, "settings": settings, "app": app, "off_settings": off_settings,
            "off_app": off_app, "numbers": people}


def _send(client, number: str, lon: float, lat: float, ago_s: float) -> None:
    t = int(time.time() - ago_s)
    resp = client.get(f"/osmand?id=st-{number}&lat={lat:.6f}&lon={lon:.6f}&timestamp={t}"
                      "&accuracy=5")
    assert resp.status_code == 200, resp.data


def _stop(client, number: str, minutes: float, *, lon: float = SITE[0], lat: float = SITE[1],
          until_ago_s: float = 0) -> None:
    """A volunteer standing at one place (a few metres of GPS noise) for ``minutes``."""
    steps = int(minutes * 60 // EVERY_S)
    for i in range(steps, -1, -1):
        jitter = 0.00003 * (i % 3 - 1)  # about 3 m
        _send(client, number, lon + jitter, lat - jitter, until_ago_s + i * EVERY_S)


def _walk(client, number: str, minutes: float) -> None:
    """A volunteer walking east at about 1.2 m/s, one fix a minute."""
    steps = int(minutes * 60 // EVERY_S)
    for i in range(steps, -1, -1):
        _send(client, number, SITE[0] + 0.00085 * (steps - i), SITE[1] + 0.0002,
              i * EVERY_S)


def _vid(engine, number: str) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT id FROM volunteers WHERE number = :n"),
                            {"n": number}).scalar_one()


def _alarms(engine, number: str) -> list[tuple[int, bool, str | None]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(
            "SELECT c.id, c.closed_at IS NULL, c.outcome FROM callouts c "
            "JOIN volunteers v ON v.id = c.raised_by WHERE c.kind = 'still' AND v.number = :n "
            "ORDER BY c.id"), {"n": number})]


def _audit(engine, callout_id: int) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(sa.text(
            "SELECT action FROM audit_log WHERE target = :t ORDER BY id"),
            {"t": f"callout {callout_id}"}).scalars())


def _wait_for(check, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.25)


def _command(world, name: str = "s-command"):
    from geo_patrol.store.accounts import principal_named

    with world["engine"].connect() as conn:
        return principal_named(conn, name)


def test_a_stop_raises_one_alarm_a_walk_none_and_it_clears_when_they_move(world):
    from geo_patrol.errors import ConflictError
    from geo_patrol.services import callouts

    from geo_patrol.store.ledgers import community_at

    engine = world["engine"]
    still, walker = world["numbers"][:2]
    with engine.begin() as conn:  # they live elsewhere: the alarm is filed where they stopped
        here = community_at(conn, *SITE)
        home = conn.execute(sa.text("SELECT community_id FROM volunteers WHERE number = :n"),
                            {"n": still}).scalar_one()
        conn.execute(sa.text(
            "UPDATE volunteers SET community_id = (SELECT min(id) FROM areas WHERE level = "
            "'community' AND id <> :c) WHERE number = :n"), {"c": here, "n": still})
    client = world["app"].test_client()
    _walk(client, walker, 6)
    _stop(client, still, 6)

    def raised():
        return _alarms(engine, still)
    found = _wait_for(raised)
    assert len(found) == 1 and found[0][1], found
    alarm = found[0][0]
    with engine.begin() as conn:
        filed = conn.execute(sa.text("SELECT community_id FROM callouts WHERE id = :c"),
                             {"c": alarm}).scalar_one()
        conn.execute(sa.text("UPDATE volunteers SET community_id = :h WHERE number = :n"),
                     {"h": home, "n": still})
    assert filed == here
    # the walker, checked by the same worker in the same runs: no alarm
    assert _alarms(engine, walker) == []
    # it calls nobody: no targets, no messages; the command's board has it as an alarm
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM callout_targets WHERE "
                                    "callout_id = :c"), {"c": alarm}).scalar_one() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM notify_messages WHERE "
                                    "ref LIKE :r"), {"r": f"callout {alarm}%"}).scalar_one() == 0
    shown = callouts.alarms(engine, None, tz="Asia/Shanghai")
    row = shown[shown["id"] == alarm].iloc[0]
    assert row["kind"] == "still" and row["number"] == still
    assert str(row["created_at"].tzinfo) == "Asia/Shanghai"
    # still not moving: more positions, more checks, still one alarm for this stop
    checks = _checks(world)
    _send(client, still, SITE[0], SITE[1], 0)
    _wait_for(lambda: _checks(world) > checks and _checked_since(world, checks), 30)
    time.sleep(2.5)
    assert len(_alarms(engine, still)) == 1
    # one officer owns it, a second is told who has it
    callouts.acknowledge(engine, _command(world), alarm)
    with pytest.raises(ConflictError, match="s-command"):
        callouts.acknowledge(engine, _command(world, "s-command2"), alarm)
    # they walk on, 76 m (beyond the 50 m stay radius) a few seconds after the last fix: a
    # step slower than the intake's speed-jump limit (200 km/h), so the fix is a clean one
    _send(client, still, SITE[0] + 0.0009, SITE[1], 0)
    assert _wait_for(lambda: not _alarms(engine, still)[0][1])
    assert _alarms(engine, still) == [(alarm, False, "resolved")]
    assert _audit(engine, alarm) == ["still", "still_acknowledge", "still_clear"]


def _checks(world) -> int:
    from web.live import intake

    with world["app"].app_context():
        found = intake()
        parts = getattr(found, "intakes", None)
        stats = [i.stats for i in parts.values()] if parts else [found.stats]
    return sum(s["still_checks"] for s in stats)


def _checked_since(world, checks: int) -> bool:
    """A check asked for after ``checks`` has been taken by the worker (none waits)."""
    with world["engine"].connect() as conn:
        return not conn.execute(sa.text(
            "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo' "
            "AND args->>'name' = 'still_check'")).scalar_one()


def test_the_volunteer_answers_and_a_new_stop_raises_a_new_alarm(world):
    engine = world["engine"]
    number = world["numbers"][2]
    make_user(engine, "s-vol", "volunteer", volunteer=number)
    client = world["app"].test_client()
    _stop(client, number, 6)
    first = _wait_for(lambda: _alarms(engine, number))
    assert len(first) == 1
    phone = world["app"].test_client()
    token = sign_in(phone, "s-vol")
    page = phone.get("/me/now").get_data(as_text=True)
    assert f'id="still-{first[0][0]}"' in page
    resp = phone.post(f"/me/still/{first[0][0]}", data={"csrf_token": token})
    assert resp.status_code == 303
    assert _alarms(engine, number) == [(first[0][0], False, "resolved")]
    assert "still_answer" in _audit(engine, first[0][0])
    assert f'id="still-{first[0][0]}"' not in phone.get("/me/now").get_data(as_text=True)
    # answered, still there: not raised again for the same stop
    checks = _checks(world)
    _send(client, number, SITE[0], SITE[1], 0)
    _wait_for(lambda: _checks(world) > checks and _checked_since(world, checks), 30)
    time.sleep(2.5)
    assert len(_alarms(engine, number)) == 1
    # another volunteer's alarm is not theirs to answer
    other = world["numbers"][3]
    _stop(client, other, 6)
    theirs = _wait_for(lambda: _alarms(engine, other))
    assert phone.post(f"/me/still/{theirs[0][0]}",
                      data={"csrf_token": token}).status_code == 404


def test_off_in_a_city_raises_none(world):
    from geo_patrol.services import callouts

    engine = world["engine"]
    number = world["numbers"][4]
    client = world["off_app"].test_client()
    _stop(client, number, 8)
    with world["off_app"].app_context():
        from web.live import intake

        found = intake()
        parts = getattr(found, "intakes", None)
        stats = [i.stats for i in parts.values()] if parts else [found.stats]
    assert sum(s["still_checks"] for s in stats) == 0  # nothing asked of the worker
    callouts.check_still(engine, world["off_settings"], {})  # and a check would raise none
    time.sleep(2.5)
    assert _alarms(engine, number) == []
    # the same positions where the alarm is on: raised
    callouts.check_still(engine, world["settings"], {})
    assert len(_alarms(engine, number)) == 1
