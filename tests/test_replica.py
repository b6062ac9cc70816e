"""Serving at scale: a PostgreSQL streaming standby beside the primary; with
``GEO_PATROL_READ_DATABASE_URL`` set, pages and the API read from the standby and every write
goes to the primary."""

from __future__ import annotations

import shutil
import time

import psycopg
import pytest

from geo_patrol.services.demo import BAOTOU_DISTRICTS
from geo_patrol.services.sources import load_boundaries
from geo_patrol.settings import Settings
from geo_patrol.store.cluster import LocalCluster

from tests.conftest import _reachable_tmpdir, city_engine
from tests.helpers import follow_job, make_user, sign_in
from web import create_app

FAST = {"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}


@pytest.fixture(scope="module")
def pair():
    root = _reachable_tmpdir("gp-test-replica-")
    primary = LocalCluster(root / "primary", extra_settings={
        **FAST, "wal_level": "replica", "max_wal_senders": "4"})
    primary.start()
    engine = city_engine(primary.url())
    standby = LocalCluster(root / "standby")
    standby.init_standby(primary)
    standby.start()
    yield primary, standby, engine
    engine.dispose()
    standby.destroy()
    primary.destroy()
    shutil.rmtree(root, ignore_errors=True)


def _sql(cluster: LocalCluster, query: str):
    with psycopg.connect(cluster.url(driver="postgresql"), autocommit=True) as conn:
        return conn.execute(query).fetchone()[0]


def _caught_up(primary: LocalCluster, standby: LocalCluster) -> None:
    target = _sql(primary, "SELECT pg_current_wal_lsn()::text")
    for _ in range(200):
        if _sql(standby, f"SELECT pg_last_wal_replay_lsn() >= '{target}'::pg_lsn"):
            return
        time.sleep(0.05)
    raise AssertionError("the standby did not catch up in 10 s")


def test_pages_read_from_the_standby_and_writes_go_to_the_primary(pair, tmp_path):
    primary, standby, engine = pair
    assert _sql(standby, "SELECT pg_is_in_recovery()") is True
    assert _sql(primary, "SELECT pg_is_in_recovery()") is False
    settings = Settings(database_url=primary.url(), read_database_url=standby.url(),
                        data_dir=tmp_path / "data")
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    client = app.test_client()
    client.csrf = sign_in(client, make_user(engine, "replica-admin", "admin"))
    _caught_up(primary, standby)
    first = client.get("/api/areas?level=district").get_json()
    assert first.get("features") == [], first
    # the standby stops replaying: a district file loaded on the primary is not yet visible
    _sql(standby, "SELECT pg_wal_replay_pause()")
    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                    code_field="adcode", settings=settings)
    resp = client.get("/api/areas?level=district")
    assert resp.status_code == 200 and resp.get_json()["features"] == []
    # signing in again writes a session: the primary takes it while the standby is paused
    other = app.test_client()
    sign_in(other, make_user(engine, "replica-command", "command"))
    # replaying again: the page shows what the primary holds
    _sql(standby, "SELECT pg_wal_replay_resume()")
    _caught_up(primary, standby)
    doc = client.get("/api/areas?level=district").get_json()
    assert len(doc["features"]) == 9
    assert "青山区" in {f["properties"]["name"] for f in doc["features"]}
    page = client.get("/dashboard", headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200 and "指挥看板" in page.get_data(as_text=True)


def test_the_page_after_a_form_shows_what_it_did(pair, tmp_path):
    """Read your writes: after a form, the browser reads from the primary until the standby
    has replayed the write."""
    primary, standby, engine = pair
    settings = Settings(database_url=primary.url(), read_database_url=standby.url(),
                        data_dir=tmp_path / "data")
    app = create_app({"TESTING": True, "GEO_PATROL_SETTINGS": settings})
    client = app.test_client()
    csrf = sign_in(client, make_user(engine, "replica-analyst", "admin"))
    _caught_up(primary, standby)
    _sql(standby, "SELECT pg_wal_replay_pause()")
    try:
        resp = client.post("/analyse", data={"from": "2026-11-20", "to": "2026-11-26",
                                             "csrf_token": csrf})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:3000]
        # the analysis runs as a job: its progress, then the new run, read from the primary
        location, page = follow_job(client, resp.headers["Location"])
        assert page.status_code == 200 and "run=" in location, location
        run_id = int(location.rsplit("run=", 1)[1])
        with psycopg.connect(standby.url(driver="postgresql")) as conn:
            assert conn.execute("SELECT count(*) FROM city_baotou.analysis_runs WHERE id = %s",
                                (run_id,)).fetchone()[0] == 0  # not on the standby yet
    finally:
        _sql(standby, "SELECT pg_wal_replay_resume()")
    _caught_up(primary, standby)
    # replayed: reads go back to the standby (the mark is dropped)
    assert client.get("/api/areas?level=district").status_code == 200
    with client.session_transaction() as sess:
        assert "gp_wrote_at" not in sess
