import os
import pwd
import shutil
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from geo_patrol.errors import DatabaseError, MissingDependencyError
from geo_patrol.store import cluster as cluster_mod
from geo_patrol.store.cluster import LocalCluster


@pytest.fixture
def fresh_cluster(reachable_dir):
    c = LocalCluster(reachable_dir / "c", extra_settings={"fsync": "off"})
    yield c
    c.destroy()


def _uid_of(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Uid:"):
            return int(line.split()[1])
    raise AssertionError("no Uid line")


def test_up_is_idempotent_and_down_stops(fresh_cluster):
    c = fresh_cluster
    assert not c.is_running()
    c.start()
    assert c.is_running()
    with psycopg.connect(c.url(driver="postgresql")) as conn:
        version = conn.execute("SELECT postgis_full_version()").fetchone()[0]
    assert "POSTGIS=" in version

    started = time.perf_counter()
    c.start()  # already running: no restart, same port
    assert time.perf_counter() - started < 2.0
    assert c.running_port() == c.state().port

    assert c.stop() is True
    assert not c.is_running()
    assert c.stop() is False
    c.start()  # restarts with the data kept
    assert c.is_running()


def test_server_runs_unprivileged(fresh_cluster):
    c = fresh_cluster
    c.start()
    pid = int((c.pgdata / "postmaster.pid").read_text().splitlines()[0])
    uid = _uid_of(pid)
    if os.geteuid() == 0:
        assert uid != 0
        assert uid == pwd.getpwnam(c.run_as).pw_uid
        assert c.pgdata.stat().st_uid == uid
    else:
        assert uid == os.geteuid()
    # the connection facts are private to the caller
    assert c.state_file.stat().st_mode & 0o077 == 0


def test_password_is_required(fresh_cluster):
    c = fresh_cluster
    c.start()
    state = c.state()
    with pytest.raises(psycopg.OperationalError, match="password authentication failed"):
        psycopg.connect(host="127.0.0.1", port=c.running_port(), user=state.role,
                        password="wrong", dbname=state.dbname)


def test_port_taken_by_someone_else_moves(fresh_cluster):
    import socket

    c = fresh_cluster
    c.start()
    port = c.running_port()
    c.stop()
    with socket.socket() as squatter:
        # the stopped server's connections may leave the port in TIME_WAIT
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind(("127.0.0.1", port))
        squatter.listen()
        c.start()
        assert c.running_port() != port
    with psycopg.connect(c.url(driver="postgresql")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_restart_keeps_the_port_despite_time_wait(fresh_cluster):
    c = fresh_cluster
    c.start()
    port = c.running_port()
    conns = [psycopg.connect(c.url(driver="postgresql")) for _ in range(3)]
    c.stop()  # the server closes these first: their server side waits in TIME_WAIT
    for conn in conns:
        conn.close()
    c.start()
    assert c.running_port() == port
    with psycopg.connect(c.url(driver="postgresql")) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_restart_after_a_crash(fresh_cluster):
    """SIGKILL to the postmaster (as in a crash); the next start recovers, data kept."""
    c = fresh_cluster
    c.start()
    with psycopg.connect(c.url(driver="postgresql"), autocommit=True) as conn:
        conn.execute("CREATE TABLE kept (x int)")
        conn.execute("INSERT INTO kept VALUES (1)")
    c.kill()
    assert not c.is_running()
    for _ in range(30):  # backends notice the dead postmaster within a moment
        try:
            c.start()
            break
        except DatabaseError:
            time.sleep(1)
    with psycopg.connect(c.url(driver="postgresql")) as conn:
        assert conn.execute("SELECT x FROM kept").fetchall() == [(1,)]


def test_missing_server_binaries_name_the_package(monkeypatch, tmp_path):
    monkeypatch.setattr(cluster_mod, "_SERVER_ROOT", tmp_path)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MissingDependencyError, match="apt-get install postgresql"):
        cluster_mod.find_server_bindir()


def test_unreachable_data_dir_is_explained():
    if os.geteuid() != 0:
        pytest.skip("only root hands the data directory to another user")
    private = Path(tempfile.mkdtemp(prefix="gp-private-"))  # mode 700, owned by root
    try:
        c = LocalCluster(private / "inner" / "cluster")
        with pytest.raises(DatabaseError, match="not accessible to the database user"):
            c.init()
    finally:
        shutil.rmtree(private)


def test_app_answers_503_while_the_database_is_down(fresh_cluster, reachable_dir):
    """A stopped database is a 503 (JSON or page), never a 500; after the restart the same
    app (and its pool) serves again."""
    from geo_patrol.settings import Settings
    from geo_patrol.store.accounts import add_user, issue_token
    from tests.conftest import city_engine
    from web import create_app

    c = fresh_cluster
    c.start()
    engine = city_engine(c.url())
    add_user(engine, "cmd", "command", "a long enough password")
    token = issue_token(engine, "cmd")
    engine.dispose()
    app = create_app({"GEO_PATROL_SETTINGS": Settings(database_url=c.url(),
                                                      data_dir=reachable_dir / "d")})
    client = app.test_client()
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/runs", headers=auth).status_code == 200
    c.stop()
    down_api = client.get("/api/runs", headers=auth)
    down_page = client.get("/dashboard", headers=auth)
    assert down_api.status_code == 503 and down_api.get_json()["error"] == "DatabaseError"
    assert down_page.status_code == 503 and "<html" in down_page.get_data(as_text=True)
    c.start()
    assert client.get("/api/runs", headers=auth).status_code == 200
    assert client.get("/dashboard", headers=auth).status_code == 200
