"""One clock: every time a person reads is the city's local time, and a period is the
inclusive local dates it was asked for, on every page, picker, briefing and file name."""

from __future__ import annotations

import ast
import datetime as dt
import inspect
import pkgutil
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import sqlalchemy as sa

import geo_patrol
from geo_patrol import clock
from tests.browsing import browser, page, server, settle, shot, sign_in  # noqa: F401  (fixtures)
from tests.conftest import REPO
from tests.helpers import make_user

SHANGHAI = "Asia/Shanghai"
#: The fixed instant planted everywhere: 2026-12-03 23:50 UTC is 12-04 07:50 in Baotou.
INSTANT = dt.datetime(2026, 12, 3, 23, 50, tzinfo=dt.UTC)
LOCAL_SHORT, UTC_SHORT = "12-04 07:50", "12-03 23:50"


# --- the formatter itself (no database) ---------------------------------------------------

def test_an_instant_is_shown_at_the_city_time():
    assert clock.local_text(INSTANT, SHANGHAI, "short") == LOCAL_SHORT
    assert clock.local_text(INSTANT, SHANGHAI) == "2026-12-04 07:50"
    assert clock.local_text(INSTANT, "Asia/Urumqi", "short") == "12-04 05:50"
    assert clock.local_text(INSTANT, "Europe/London", "short") == UTC_SHORT
    # naive values are UTC, as the database hands them out; missing values print nothing
    assert clock.local_text(INSTANT.replace(tzinfo=None), SHANGHAI, "time") == "07:50"
    assert clock.local_text(pd.Timestamp(INSTANT), SHANGHAI, "second") == "2026-12-04 07:50:00"
    assert clock.local_text(None, SHANGHAI) == clock.local_text(pd.NaT, SHANGHAI) == ""
    assert clock.local_text(dt.date(2026, 12, 4), SHANGHAI) == "2026-12-04"


def test_a_period_is_the_local_dates_asked_for():
    zone = ZoneInfo(SHANGHAI)
    start = dt.datetime(2026, 12, 2, tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime(2026, 12, 5, tzinfo=zone).astimezone(dt.UTC)
    assert clock.period_days(start, end, SHANGHAI) == (dt.date(2026, 12, 2), dt.date(2026, 12, 4))
    assert clock.period_text(start, end, SHANGHAI) == "2026-12-02 – 2026-12-04"
    assert clock.period_stamp(start, end, SHANGHAI) == "20261202-20261204"
    assert clock.days_of(start, end, SHANGHAI) == [dt.date(2026, 12, d) for d in (2, 3, 4)]
    one = dt.datetime(2026, 12, 4, tzinfo=zone)
    assert clock.period_text(one, one + dt.timedelta(days=1), SHANGHAI) == "2026-12-04"


def test_a_csv_column_is_local():
    frame = pd.DataFrame({"at": pd.to_datetime([INSTANT, None], utc=True), "n": [1, 2]})
    out = clock.localise_frame(frame, SHANGHAI)
    assert out["at"].tolist() == ["2026-12-04 07:50:00", None]
    iso = clock.localise_frame(frame, SHANGHAI, "iso")
    assert iso["at"].iloc[0] == "2026-12-04T07:50:00+08:00"


def _library_functions():
    for info in pkgutil.walk_packages(geo_patrol.__path__, "geo_patrol."):
        if ".migrations" in info.name or info.name.endswith("__main__"):
            continue
        module = __import__(info.name, fromlist=["_"])
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if fn.__module__ == info.name:
                yield f"{info.name}.{name}", fn
        for cname, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ == info.name:
                for name, fn in inspect.getmembers(cls, inspect.isfunction):
                    yield f"{info.name}.{cname}.{name}", fn


def test_no_library_signature_defaults_a_time_zone():
    # the settings class holds the one default (for new cities); nothing else may
    defaulted = [name for name, fn in _library_functions()
                 if name != "geo_patrol.settings.Settings.__init__"
                 for p in inspect.signature(fn).parameters.values()
                 if p.name in ("tz", "timezone", "zone") and p.default is not inspect.Parameter.empty
                 and isinstance(p.default, str)]
    assert defaulted == []


def test_settings_are_read_from_the_environment_only_by_the_cli_and_the_app_factory():
    readers = []
    for path in [*Path(REPO / "geo_patrol").rglob("*.py"), *Path(REPO / "web").rglob("*.py")]:
        if "from_env" in path.read_text(encoding="utf-8"):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                     and isinstance(n.func, ast.Attribute) and n.func.attr == "from_env"]
            if calls:
                readers.append(path.relative_to(REPO).as_posix())
    allowed = {"geo_patrol/cli/__init__.py", "web/__init__.py", "web/commands.py"}
    assert set(readers) <= allowed, sorted(set(readers) - allowed)


# --- what a person reads ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def planted(demo_world, server):
    """The fixed instant written into every kind of record a page lists with its time."""
    engine = demo_world["engine"]
    with engine.begin() as conn:
        volunteer = conn.execute(sa.text(
            "SELECT v.number FROM volunteers v JOIN reports r ON r.volunteer_id = v.id "
            "GROUP BY v.number ORDER BY count(*) DESC, v.number LIMIT 1")).scalar_one()
        conn.execute(sa.text(
            "UPDATE reports SET reported_at = :t WHERE id = (SELECT r.id FROM reports r "
            "JOIN volunteers v ON v.id = r.volunteer_id WHERE v.number = :v "
            "ORDER BY r.id LIMIT 1)"), {"t": INSTANT, "v": volunteer})
        conn.execute(sa.text("UPDATE uploads SET loaded_at = :t WHERE id = "
                             "(SELECT min(id) FROM uploads)"), {"t": INSTANT})
        conn.execute(sa.text("INSERT INTO audit_log (at, actor, action, target, details) "
                             "VALUES (:t, 'c-command', 'export', 'clock', '{}')"), {"t": INSTANT})
        conn.execute(sa.text(
            "UPDATE hazard_results SET last_inspection = :t WHERE run_id = :r AND hazard_id = "
            "(SELECT min(hazard_id) FROM hazard_results WHERE run_id = :r)"),
            {"t": INSTANT, "r": demo_world["run"].run_id})
        hazard = conn.execute(sa.text(
            "SELECT h.name FROM hazards h JOIN hazard_results r ON r.hazard_id = h.id "
            "WHERE r.run_id = :r AND r.last_inspection = :t"),
            {"t": INSTANT, "r": demo_world["run"].run_id}).scalar_one()
    make_user(engine, "c-command", "command")
    make_user(engine, "c-volunteer", "volunteer", volunteer=volunteer)
    return {"hazard": hazard}


def _goto(pg, server: str, lang: str, path: str) -> str:  # noqa: ANN001
    from urllib.parse import quote

    pg.goto(f"{server}/lang/{lang}?next={quote(path, safe='/?=&')}", wait_until="networkidle")
    settle(pg)
    return pg.locator("body").inner_text()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_every_page_shows_the_local_time(page, server, planted, lang):  # noqa: F811
    sign_in(page, server, "c-command")
    # the hazard list pages by 50, worst first: the planted one is found by its name
    for path in ("/audit", "/uploads", "/reports", f"/hazards?q={planted['hazard']}"):
        text = _goto(page, server, lang, path)
        assert LOCAL_SHORT in text, f"{path} ({lang}) does not show {LOCAL_SHORT}"
        assert UTC_SHORT not in text, f"{path} ({lang}) shows the UTC time {UTC_SHORT}"
        shot(page, f"clock-{path.strip('/').split('?')[0]}-{lang}")
    # the hazard's popup on the map says the same
    rows = page.locator("table tr", has_text=planted["hazard"])
    assert LOCAL_SHORT in rows.first.inner_text()


@pytest.mark.browser
@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_volunteer_sees_their_report_at_local_time(page, server, planted, lang):  # noqa: F811
    sign_in(page, server, "c-volunteer")
    text = _goto(page, server, lang, "/me")
    assert LOCAL_SHORT in text and UTC_SHORT not in text


@pytest.mark.browser
def test_a_period_is_named_by_the_dates_asked_for(page, server, planted, demo_world,  # noqa: F811
                                                  tmp_path):
    first, last = dt.date(2026, 11, 27), dt.date(2026, 11, 28)
    sign_in(page, server, "c-command")
    _goto(page, server, "zh", "/dashboard")
    page.fill("input[name=from]", first.isoformat())
    page.fill("input[name=to]", last.isoformat())
    page.click("form[action$='/analyse'] button[type=submit]")
    page.wait_for_url(re.compile(r"[?&]run=\d+"), timeout=240_000)  # the analysis job done
    settle(page)  # the new run's own tiles (campaign, crime) are jobs: the page reloads once
    chosen = page.locator("select[name=run] option:checked").inner_text()
    assert f"{first} – {last}" in chosen
    assert "2026-11-26" not in chosen
    shot(page, "clock-dashboard-period")
    run_id = int(re.search(r"run=(\d+)", page.locator("#briefing").get_attribute("href"))[1])
    with demo_world["engine"].connect() as conn:
        community = conn.execute(sa.text(
            "SELECT area_id FROM area_results WHERE run_id = :r AND area_id IN "
            "(SELECT id FROM areas WHERE level = 'community') ORDER BY area_id LIMIT 1"),
            {"r": run_id}).scalar_one()
    _goto(page, server, "zh", f"/community/{community}?run={run_id}")
    days = [d for d in page.locator("select[name=day] option").all_inner_texts() if d != "—"]
    assert days == [first.isoformat(), last.isoformat()]
    _goto(page, server, "zh", f"/dashboard?run={run_id}")
    with page.expect_download(timeout=240_000) as download:  # drawn by a job, then saved
        page.click("#briefing")
    name = download.value.suggested_filename
    assert name.endswith(f"-{first:%Y%m%d}-{last:%Y%m%d}.html"), name
    saved = tmp_path / name
    download.value.save_as(saved)
    text = saved.read_text(encoding="utf-8")
    assert f"{first} – {last}" in text and "2026-11-26" not in text


def test_the_api_writes_instants_in_iso_8601_with_the_city_offset(demo_world):
    from flask import g

    from web import create_app

    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": demo_world["settings"]})
    with app.test_request_context("/api/me"):
        g.gp_city = "baotou"
        text = app.json.dumps({"at": INSTANT, "day": dt.date(2026, 12, 4),
                               "stamp": pd.Timestamp(INSTANT)})
    assert '"at": "2026-12-04T07:50:00+08:00"' in text.replace('":"', '": "')
    assert "2026-12-04T07:50:00+08:00" in text.split('"stamp"')[1]
    assert '2026-12-04"' in text.split('"day"')[1]
