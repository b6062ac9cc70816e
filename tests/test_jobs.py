"""Long work as jobs on the PostgreSQL queue (procrastinate): the same request joins the job
under way, a finished result is read until its inputs change, a user's jobs are capped, a
failure is kept with its message, and ``geo-patrol worker`` runs what is queued."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from geo_patrol.cli import cli
from geo_patrol.errors import BusyError
from geo_patrol.planning.plan import Plan, PlanParams
from geo_patrol.services import jobs
from geo_patrol.store import jobs as store
from geo_patrol.store.results import busiest_district
from tests.helpers import make_user, sign_in


@pytest.fixture(scope="module")
def area(demo_world) -> dict:
    with demo_world["engine"].connect() as conn:
        district = busiest_district(conn, demo_world["run"].run_id)
        name = conn.execute(sa.text("SELECT name FROM areas WHERE id = :d"),
                            {"d": district}).scalar_one()
    return {"run_id": demo_world["run"].run_id, "area_id": district, "area_name": name,
            "within": None}


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
    with engine.begin() as conn:  # two of this user's jobs still queued
        for zones in (5, 6):
            store.insert_job(conn, kind="zones", key=f"held-{zones}",
                             params=_zones(area, zones), by="j-busy")
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM jobs")).scalar_one()
    with pytest.raises(BusyError, match="2 of your jobs are still running"):
        jobs.submit(engine, settings, "j-busy", "zones", _zones(area, 7))
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
