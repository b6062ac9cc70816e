"""Long work as jobs on the PostgreSQL queue (procrastinate): the same request joins the job
under way, a finished result is read until its inputs change, a user's jobs are capped, a
failure is kept with its message, ``geo-patrol worker`` runs what is queued, and a job whose
worker was killed is queued again once its lease lapses."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from geo_patrol.cli import cli
from geo_patrol.errors import BusyError
from geo_patrol.planning.plan import Plan, PlanParams
from geo_patrol.services import jobs
from geo_patrol.store import jobs as store
from geo_patrol.store.results import busiest_district
from tests.helpers import follow_job, make_user, sign_in


@pytest.fixture(scope="module")
def area(demo_world) -> dict:
    with demo_world["engine"].connect() as conn:
        district = busiest_district(conn, demo_world["run"].run_id)
        name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :d"),
                            {"d": district}).scalar_one()
    return {"run_id": demo_world["run"].run_id, "area_id": district, "area_name": name,
            "within": None}


@pytest.fixture(scope="module")
def community(demo_world, area) -> dict:
    """A small community (its plans are the quickest)."""
    with demo_world["engine"].connect() as conn:
        row = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a JOIN street_segments s ON s.area_id = a.id "
            "WHERE a.level = 'community' GROUP BY a.id, a.name HAVING count(*) >= 50 "
            "ORDER BY count(*) LIMIT 1")).one()
    return {**area, "area_id": row.id, "area_name": row.name}


def _zones(area: dict, zones: int) -> dict:
    return {**area, "plan": jobs.plan_params(PlanParams(zones=zones, minutes=45))}


def test_a_plan_runs_once_for_two_requests_and_is_read_back(demo_world, area):
    engine, settings = demo_world["engine"], demo_world["settings"]
    first = jobs.submit(engine, settings, "j-planner", "zones", _zones(area, 2))
    second = jobs.submit(engine, settings, "j-planner", "zones", _zones(area, 2))
    assert first["state"] in ("queued", "running") and second["id"] == first["id"]
    done = jobs.wait(engine, first["id"], 240)
    assert done["state"] == "done" and done["progress"] == 1, done
    plan = jobs.plan_of(engine, settings, first["id"])
    assert isinstance(plan, Plan) and len(plan.zones) == 2
    assert plan.area["id"] == area["area_id"]
    # asked again with the same inputs: the stored result, no new job
    again = jobs.submit(engine, settings, "j-other", "zones", _zones(area, 2))
    assert again["id"] == first["id"]
    # a new upload changes the inputs: the next request makes a new plan
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO uploads (kind, filename, sha256, size_bytes, rows_stored, "
            "rows_flagged, options, summary) VALUES ('hazards', 'new.csv', repeat('a', 64), "
            "0, 0, 0, '{}', '{}')"))
    fresh = jobs.submit(engine, settings, "j-planner", "zones", _zones(area, 2))
    assert fresh["id"] != first["id"]
    assert jobs.wait(engine, fresh["id"], 240)["state"] == "done"


def test_a_user_has_at_most_a_few_jobs_running(demo_world, area):
    engine, settings = demo_world["engine"], demo_world["settings"]
    with engine.begin() as conn:  # as many of this user's jobs as allowed, still queued
        for zones in range(5, 5 + settings.jobs_per_user):
            store.insert_job(conn, kind="zones", key=f"held-{zones}",
                             params=_zones(area, zones), by="j-busy")
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one()
    with pytest.raises(BusyError, match="4 of your jobs are still running"):
        jobs.submit(engine, settings, "j-busy", "zones", _zones(area, 11))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one() == before
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM jobs WHERE requested_by = 'j-busy'"))


def test_a_failed_job_keeps_its_message_and_the_page_shows_it(demo_world, area):
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    make_user(engine, "j-command", "command")
    job = jobs.submit(engine, settings, "j-command", "rota", {
        "area_id": 999_999, "by": "j-command", "within": None,
        "options": {"start": "2026-12-03", "days": 3, "revisit_days": 2, "minutes": 60.0,
                    "seed": 0}})
    failed = jobs.wait(engine, job["id"], 240)
    assert failed["state"] == "failed" and "999999" in failed["error"], failed
    # the same request again reads the failure (the same inputs fail the same way)
    assert jobs.submit(engine, settings, "j-command", "rota", failed["params"])["id"] == job["id"]
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    client = app.test_client()
    sign_in(client, "j-command")
    page = client.get(f"/planner?area={area['area_id']}&rota_job={job['id']}",
                      headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert 'id="rota-failed"' in page and "未能生成排班" in page and "999999" in page
    status = client.get(f"/api/jobs/{job['id']}").get_json()
    assert status["state"] == "failed" and status["error"] == failed["error"]
    assert client.get("/api/jobs/999999").status_code == 404


def test_the_worker_command_runs_what_is_queued(demo_world, area):
    engine, settings = demo_world["engine"], demo_world["settings"]
    jobs.stop_workers()  # no worker in this process: the command runs the job
    with engine.begin() as conn:
        job_id = store.insert_job(conn, kind="zones", key="cli-worker",
                                  params=_zones(area, 3), by="j-cli")
    jobs.queue(settings, job_id)
    runner = CliRunner(env={"DATABASE_URL": demo_world["url"],
                            "GEO_PATROL_DATA_DIR": str(demo_world["root"] / "data")})
    result = runner.invoke(cli, ["--city", "baotou", "worker", "--until-empty"])
    assert result.exit_code == 0, result.output
    with engine.connect() as conn:
        assert store.job(conn, job_id)["state"] == "done"
    assert len(jobs.plan_of(engine, settings, job_id).zones) == 3


def test_a_job_whose_worker_was_killed_runs_again_once_its_lease_lapses(demo_world, community):
    engine = demo_world["engine"]
    settings = demo_world["settings"].with_(job_lease_s=2.0)
    jobs.stop_workers()  # the job is taken by the worker process below, then it is killed
    params = _zones(community, 2)
    with engine.begin() as conn:
        key = jobs.job_key("zones", params, store.inputs_stamp(conn))
        job_id = store.insert_job(conn, kind="zones", key=key, params=params, by="j-killed")
    jobs.queue(settings, job_id)
    env = {**os.environ, "DATABASE_URL": demo_world["url"],
           "GEO_PATROL_DATA_DIR": str(demo_world["root"] / "data"),
           "GEO_PATROL_JOB_LEASE_S": "2"}
    worker = subprocess.Popen([str(Path(sys.executable).parent / "geo-patrol"), "--city",
                               "baotou", "worker"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while True:
            with engine.connect() as conn:
                row = store.job(conn, job_id)
            if row["state"] != "queued" or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        assert row["state"] == "running" and row["attempts"] == 1, row
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    # within its lease the job still counts as running: the same request joins it
    assert jobs.submit(engine, settings, "j-killed", "zones", params)["id"] == job_id
    time.sleep(2.5)
    with engine.connect() as conn:  # nobody renews it: it would stay "running" for ever
        assert store.job(conn, job_id)["state"] == "running"
    # the next request finds the lease lapsed: the job queued again and run by a live worker
    assert jobs.submit(engine, settings, "j-killed", "zones", params)["id"] == job_id
    done = jobs.wait(engine, job_id, 240)
    assert done["state"] == "done" and done["attempts"] == 2, done
    assert len(jobs.plan_of(engine, settings, job_id).zones) == 2


def test_a_job_lost_by_every_worker_fails_and_frees_its_key(demo_world, community):
    engine = demo_world["engine"]
    settings = demo_world["settings"].with_(job_lease_s=1.0, job_attempts=2)
    params = _zones(community, 3)
    with engine.begin() as conn:
        key = jobs.job_key("zones", params, store.inputs_stamp(conn))
        job_id = store.insert_job(conn, kind="zones", key=key, params=params, by="j-lost")
        conn.execute(sa.text(  # taken twice by workers that died
            "UPDATE jobs SET state = 'running', attempts = 2, "
            "heartbeat_at = now() - interval '1 minute' WHERE id = :i"), {"i": job_id})
    lost = jobs.status(engine, settings, job_id)
    assert lost["state"] == "failed" and lost["error_kind"] == "WorkerLost", lost
    with engine.begin() as conn:
        assert store.active_jobs(conn, "j-lost") == 0
    # the same request again starts anew
    fresh = jobs.submit(engine, settings, "j-lost", "zones", params)
    assert fresh["id"] != job_id and fresh["state"] in ("queued", "running", "done")
    assert jobs.wait(engine, fresh["id"], 240)["state"] == "done"


def test_crime_patterns_are_stored_and_read_until_an_incident_is_added(demo_world):
    from geo_patrol.ingest.ledgers import crime_class
    from geo_patrol.services import crime

    engine, settings = demo_world["engine"], demo_world["settings"]
    params = jobs.study_params(crime.Study(days=45), settings.today())
    first = jobs.submit(engine, settings, "j-crime", "crime", params)
    # asked for again while it runs: the same job
    assert jobs.submit(engine, settings, "j-other", "crime", params)["id"] == first["id"]
    assert jobs.wait(engine, first["id"], 240)["state"] == "done"
    job, made = jobs.stored(engine, settings, "j-crime", "crime", params)
    assert job["id"] == first["id"] and isinstance(made, crime.Page)
    fresh = crime.page(engine, settings, crime.Study(days=45))
    assert made.incidents == fresh.incidents > 0 and made.end == fresh.end
    assert int(made.spots.hot.sum()) == int(fresh.spots.hot.sum())
    assert set(made.curves) == {"zh", "en"} and "<svg" in made.curves["zh"]
    # downloads and the API read the stored page: no second job, nothing computed
    assert jobs.result(engine, settings, "j-api", "crime", params, what="the study") is made
    # the near-repeat alerts open today are tomorrow's no more: a new day, a new page
    tomorrow = jobs.study_params(crime.Study(days=45),
                                 settings.today() + dt.timedelta(days=1))
    assert jobs.submit(engine, settings, "j-tomorrow", "crime", tomorrow)["id"] != first["id"]
    # a new incident makes the stored page out of date: the next request computes anew
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO incidents (key, category, occurred_on, attrs, geom, geom_m) "
            "SELECT 'job-test-' || id, category, occurred_on, attrs, geom, geom_m "
            "FROM incidents WHERE occurred_on IS NOT NULL ORDER BY occurred_on DESC LIMIT 1"))
    again = jobs.submit(engine, settings, "j-crime", "crime", params)
    assert again["id"] != first["id"]
    assert jobs.wait(engine, again["id"], 240)["state"] == "done"
    with engine.connect() as conn:
        added = conn.execute(sa.text("SELECT category FROM incidents WHERE key LIKE 'job-test-%'"
                                     )).scalar_one()
    expected = made.incidents + (crime_class(added) == "property")
    assert jobs.made_by(engine, settings, again["id"]).incidents == expected


def test_two_clicks_on_analyse_make_one_job(demo_world):
    from web import create_app

    engine, settings = demo_world["engine"], demo_world["settings"]
    make_user(engine, "j-analyst", "command")
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    client = app.test_client()
    csrf = sign_in(client, "j-analyst")
    form = {"from": "2026-11-25", "to": "2026-11-26", "csrf_token": csrf}
    first, second = (client.post("/analyse", data=form) for _ in range(2))
    assert first.status_code == second.status_code == 302
    assert "analysis_job=" in first.headers["Location"]
    assert first.headers["Location"] == second.headers["Location"]
    location, page = follow_job(client, first.headers["Location"])
    assert page.status_code == 200 and "run=" in location, location


def test_the_inputs_change_with_every_statement_that_adds_removes_or_sets_rows(demo_world):
    """A job's key reads the versions the tables' triggers keep: added or removed rows
    (committed) change them, a statement that changed nothing or was rolled back does not."""
    engine = demo_world["engine"]

    def stamp() -> dict[str, int]:
        with engine.connect() as conn:
            return store.inputs_stamp(conn)

    before = stamp()
    with engine.begin() as conn:  # adds nothing
        conn.execute(sa.text("INSERT INTO incidents (key, category, occurred_on, attrs, geom, "
                             "geom_m) SELECT key, category, occurred_on, attrs, geom, geom_m "
                             "FROM incidents WHERE false"))
        conn.execute(sa.text("DELETE FROM hazards WHERE false"))
    assert stamp() == before
    with pytest.raises(RuntimeError), engine.begin() as conn:  # rolled back
        conn.execute(sa.text(
            "INSERT INTO incidents (key, category, occurred_on, attrs, geom, geom_m) "
            "SELECT 'stamp-rolled-back', category, occurred_on, attrs, geom, geom_m "
            "FROM incidents LIMIT 1"))
        raise RuntimeError("changed my mind")
    assert stamp() == before
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO incidents (key, category, occurred_on, attrs, geom, geom_m) "
            "SELECT 'stamp-' || id, category, occurred_on, attrs, geom, geom_m "
            "FROM incidents ORDER BY id LIMIT 2"))
    added = stamp()
    assert added["incidents"] == before["incidents"] + 1  # one statement, two rows
    assert {k: v for k, v in added.items() if k != "incidents"} == \
        {k: v for k, v in before.items() if k != "incidents"}
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM incidents WHERE key LIKE 'stamp-%'"))
        community = conn.execute(sa.text(
            "SELECT id FROM areas WHERE level = 'community' ORDER BY id LIMIT 1")).scalar_one()
        conn.execute(sa.text("INSERT INTO force_hours (community_id, weekday, slot, hours, "
                             "set_by) VALUES (:c, 0, 'day', 5, 'stamp-test')"), {"c": community})
    after = stamp()
    assert after["incidents"] == added["incidents"] + 1 and after["force"] == before["force"] + 1
    with engine.begin() as conn:  # the force set again, to another number: a change too
        conn.execute(sa.text("UPDATE force_hours SET hours = 6 WHERE set_by = 'stamp-test'"))
    assert stamp()["force"] == after["force"] + 1
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM force_hours WHERE set_by = 'stamp-test'"))
