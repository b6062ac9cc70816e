"""Shared fixtures: one real PostGIS cluster per test session, a fresh database per test."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from geo_patrol.settings import Settings
from geo_patrol.store.cluster import LocalCluster
from geo_patrol.cities import City
from geo_patrol.services.cities import ensure_city
from geo_patrol.services.jobs import stop_workers
from geo_patrol.store.db import create_engine

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"
TEMPLATE_DB = "gp_template"
#: The city every test database holds (tests of several cities add more).
CITY = City(key="baotou", name="包头市", name_en="Baotou", timezone="Asia/Shanghai")
_counter = itertools.count()


#: Seconds a module's job worker is given to finish the job it runs when the module ends: the
#: module's database is dropped next, the job's work with it.
STOP_S = 5.0


def city_engine(url: str, city: City = CITY) -> Engine:
    """The engine of ``city`` in the database at ``url``, its deployment migrated and the city
    added if it is not there yet."""
    return ensure_city(url, city)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real third-party data beside the repository (never copied into it)."""
    assert SHARED_DATA.is_dir(), f"missing {SHARED_DATA}: the tests read real data from there"
    return SHARED_DATA


def _reachable_tmpdir(prefix: str) -> Path:
    # As root the server runs as another user, who must be able to pass through the directory.
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o711)
    return root


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A temporary directory the embedded server's user can enter."""
    root = _reachable_tmpdir("gp-test-")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[LocalCluster]:
    """A throwaway cluster run by the project's own cluster manager (durability off)."""
    root = _reachable_tmpdir("gp-test-pg-")
    cluster = LocalCluster(root / "cluster", extra_settings={
        "fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"})
    cluster.start()
    city_engine(cluster.url()).dispose()
    # the migrated database becomes the template every test copies
    with cluster.connect_admin() as conn:
        conn.execute(f"ALTER DATABASE {cluster.dbname} RENAME TO {TEMPLATE_DB}")
        conn.execute(f"ALTER DATABASE {TEMPLATE_DB} WITH IS_TEMPLATE true")
    yield cluster
    cluster.destroy()
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def db_url(pg_cluster: LocalCluster) -> Iterator[str]:
    """URL of a fresh, migrated database that is dropped after the test."""
    name = f"gp_test_{next(_counter)}"
    pg_cluster.ensure_database(name, template=TEMPLATE_DB)
    yield pg_cluster.url(name)
    stop_workers(timeout=STOP_S)  # a job worker the test started lets go of its database
    pg_cluster.drop_database(name)


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    eng = create_engine(db_url, city=CITY.key)
    yield eng
    eng.dispose()


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=db_url, data_dir=tmp_path / "data", city=CITY.key)


@pytest.fixture
def runner(db_url: str, tmp_path: Path) -> CliRunner:
    """A CLI runner whose environment points at the test database."""
    return CliRunner(env={"DATABASE_URL": db_url, "GEO_PATROL_DATA_DIR": str(tmp_path / "d"),
                          "GEO_PATROL_METRIC_CRS": ""})


#: The last day of :func:`demo_world`'s data.
DEMO_UNTIL = (2026, 11, 28)


@pytest.fixture
def on_demo_day(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clock stands on the demo world's last day (for what is open "today": near-repeat
    alerts), in this process and the app it serves."""
    import datetime as dt

    monkeypatch.setattr(Settings, "today", lambda self, now=None: dt.date(*DEMO_UNTIL))


DEMO_TEMPLATE_DB = "gp_demo_template"


@pytest.fixture(scope="session")
def demo_template(pg_cluster: LocalCluster, tmp_path_factory: pytest.TempPathFactory):
    """The two-day small demo generated, loaded through the ordinary loaders and analysed
    once per session, kept as a template database that each module's world copies."""
    import datetime as dt

    from geo_patrol.services.analysis import analyze
    from geo_patrol.demo.generate import generate
    from geo_patrol.services.demo import last_days, load_demo

    pg_cluster.ensure_database(DEMO_TEMPLATE_DB, template=TEMPLATE_DB)
    url = pg_cluster.url(DEMO_TEMPLATE_DB)
    root = tmp_path_factory.mktemp("demo-template")
    settings = Settings(database_url=url, data_dir=root / "data", city=CITY.key)
    until = dt.date(*DEMO_UNTIL)
    manifest = generate(root / "files", seed=7, scale="small", until=until, days=2)
    eng = create_engine(url, city=CITY.key)
    results = load_demo(eng, root / "files", settings)
    run = analyze(eng, *last_days(until, 2), settings=settings)
    eng.dispose()  # a template takes no connections
    return {"manifest": manifest, "files": root / "files", "results": results, "run": run,
            "data": root / "data"}


@pytest.fixture(scope="module")
def demo_world(pg_cluster: LocalCluster, demo_template: dict,
               tmp_path_factory: pytest.TempPathFactory):
    """A database with a two-day small demo loaded and analysed (shared by a module): a copy
    of :func:`demo_template`, with its own data directory (the same deployment secret)."""
    name = f"gp_demo_{next(_counter)}"
    pg_cluster.ensure_database(name, template=DEMO_TEMPLATE_DB)
    url = pg_cluster.url(name)
    root = tmp_path_factory.mktemp("demo")
    if demo_template["data"].exists():  # its deployment secret (ID numbers' key) with it
        shutil.copytree(demo_template["data"], root / "data")
    # the tests' local receivers stand in for a deployment's intranet gateways
    settings = Settings(database_url=url, data_dir=root / "data", city=CITY.key,
                        channel_hosts="127.0.0.1")
    eng = create_engine(url, city=CITY.key)
    yield {"url": url, "settings": settings, "engine": eng, "run": demo_template["run"],
           "manifest": demo_template["manifest"], "files": demo_template["files"],
           "results": demo_template["results"], "root": root}
    eng.dispose()
    stop_workers(timeout=STOP_S)
    pg_cluster.drop_database(name)


#: The longest files, started first so that the parallel runner (one file per process at a
#: time) does not end on one of them alone.
LONGEST_FIRST = ("test_reliability_run.py", "test_demo.py", "test_notebooks.py",
                 "test_benchmarks.py",
                 "test_attacker.py", "test_history.py", "test_planning.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
