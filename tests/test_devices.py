"""The phones that send positions: registered, listed and disabled from the command, and the
refused requests read by the city's own days."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from geo_patrol.cli import cli
from geo_patrol.services.devices import devices, refusals
from geo_patrol.services.sources import load_volunteers
from tests.helpers import write_roster


def test_devices_from_the_command(runner, engine, settings, tmp_path):
    load_volunteers(engine, write_roster(tmp_path / "roster.csv", [("V1", "甲乙", "", "保安")]),
                    settings=settings)
    added = runner.invoke(cli, ["devices", "add", "phone-1", "V1"])
    assert added.exit_code == 0, added.output
    assert "registered phone-1 to V1" in added.output
    # the address printed is one the app can use: the position port's root, or the web
    # app's /osmand without a slash after it (that one answers 404)
    assert "server URL for the app: http://SERVER:5055/?id=phone-1&key=" in added.output
    web = runner.invoke(cli, ["devices", "rotate", "phone-1", "--url",
                              "http://127.0.0.1:8000/osmand"])
    assert web.exit_code == 0, web.output
    assert "server URL for the app: http://127.0.0.1:8000/osmand?id=phone-1&key=" in web.output
    listed = runner.invoke(cli, ["devices", "list"])
    assert listed.exit_code == 0, listed.output
    assert listed.output.startswith("phone-1\tV1\t") and "\tactive\t" in listed.output
    assert "last=never" in listed.output
    removed = runner.invoke(cli, ["devices", "remove", "phone-1"])
    assert removed.exit_code == 0 and "disabled phone-1" in removed.output
    assert "\tdisabled\t" in runner.invoke(cli, ["devices", "list"]).output
    again = runner.invoke(cli, ["devices", "remove", "phone-1"])
    assert again.exit_code == 1 and "no active device 'phone-1'" in again.output
    # the times are shown in the zone the caller passes (the city's)
    table = devices(engine, tz="America/Chicago")
    assert str(table["created_at"].dt.tz) == "America/Chicago"


def test_refusals_are_read_by_the_city_s_own_days(engine, settings):
    """Two cities 26 hours apart never share a date: each reads its refusals from its own
    today, not the server's."""
    east = settings.with_(timezone="Pacific/Kiritimati")  # UTC+14
    west = settings.with_(timezone="Etc/GMT+12")  # UTC-12
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        for cfg in (east, west):
            conn.execute(sa.text(
                "INSERT INTO intake_refusals (day, reason, device, count, last_at) "
                "VALUES (:d, 'unknown_device', :v, 1, :t)"),
                {"d": cfg.today(now), "v": cfg.timezone, "t": now})
    seen_east = refusals(engine, east, days=0)
    seen_west = refusals(engine, west, days=0)
    assert set(seen_east["device"]) == {east.timezone}
    assert set(seen_west["device"]) == {east.timezone, west.timezone}
    assert str(seen_east["last_at"].dt.tz) == "Pacific/Kiritimati"
