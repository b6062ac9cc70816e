"""Engines, migrations and deployment facts; the same code path for the embedded cluster and
an external ``DATABASE_URL``.

A deployment holds several cities. The deployment's own tables (the cities registry, the
parent of every city's fixes) live in ``public``; each city's tables live in its own schema
``city_<key>``, with its own migration history, and a city's engine finds them first on its
``search_path`` (PostGIS stays in ``public``), so the same SQL serves every city.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import URL, Connection, Engine

from geo_patrol.crs import epsg_code
from geo_patrol.errors import ConflictError, DatabaseError
from geo_patrol.settings import Settings
from geo_patrol.store.cluster import LocalCluster

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
DEPLOYMENT_DIR = Path(__file__).with_name("deployment")


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgres://`` / ``postgresql://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def local_cluster(settings: Settings) -> LocalCluster:
    return LocalCluster(settings.cluster_dir, run_as=settings.pg_user)


def database_url(settings: Settings, *, start: bool = False) -> str:
    """The URL to use: ``DATABASE_URL`` if set, else the embedded cluster (started if asked)."""
    if settings.database_url:
        return normalise_url(settings.database_url)
    cluster = local_cluster(settings)
    if start:
        cluster.start()
    elif not cluster.is_running():
        msg = "the local database is not running: run `geo-patrol db up`"
        raise DatabaseError(msg)
    return cluster.url()


def city_schema(city: str) -> str:
    """The schema holding a city's tables."""
    return f"city_{city}"


class Database(Protocol):
    """Where a service reads and writes: a city's :class:`Engine` (the CLI, workers, tests) or
    a web request's :class:`RequestDatabase` (the request's one read connection, and the
    primary for writes). Services take either and never open an engine of their own."""

    @property
    def url(self) -> URL: ...

    def connect(self) -> AbstractContextManager[Connection]: ...

    def begin(self) -> AbstractContextManager[Connection]: ...


class RequestDatabase:
    """One request's database: its reads on one connection (from the read replica when one is
    configured, opened on first use), its writes in transactions on the primary. Once the
    request has written, it reads on the primary too, so it sees what it wrote. :meth:`close`
    at the end of the request."""

    def __init__(self, primary: Engine, reader: Callable[[], Engine]) -> None:
        self.engine = primary
        self._reader = reader
        self._read_engine: Engine | None = None
        self._conns: dict[Engine, Connection] = {}

    @property
    def url(self) -> URL:
        return self.engine.url

    def read_connection(self) -> Connection:
        """The request's read connection (opened on first use)."""
        if self._read_engine is None:
            self._read_engine = self._reader()
        if self._read_engine not in self._conns:
            self._conns[self._read_engine] = self._read_engine.connect()
        return self._conns[self._read_engine]

    @contextmanager
    def connect(self) -> Iterator[Connection]:
        """The request's read connection, left open for the rest of the request; a failed
        statement rolls back so the next read starts clean."""
        conn = self.read_connection()
        try:
            yield conn
        except BaseException:
            if conn.in_transaction():
                conn.rollback()
            raise

    def begin(self) -> AbstractContextManager[Connection]:
        """A transaction on the primary, committed when the block ends."""
        self._read_engine = self.engine
        return self.engine.begin()

    def close(self) -> None:
        for conn in self._conns.values():
            conn.close()
        self._conns.clear()


def create_engine(url: str, *, city: str | None = None) -> Engine:
    """An engine whose pool survives a database restart (pre-ping); with ``city``, one that
    reads and writes that city's tables."""
    extra: dict[str, object] = {}
    if city is not None:
        extra["connect_args"] = {"options": f"-c search_path={city_schema(city)},public"}
        extra["execution_options"] = {"geo_patrol_city": city}
        extra.update(pool_size=3, max_overflow=12)  # a province's cities share one server
    return sa.create_engine(normalise_url(url), pool_pre_ping=True, future=True, **extra)


def _alembic_config(connection: Connection | None, where: Path = MIGRATIONS_DIR) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(where))
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache(maxsize=2)
def _head(where: Path) -> str | None:
    """The latest revision of a migration history (read once a process)."""
    return ScriptDirectory.from_config(_alembic_config(None, where)).get_current_head()


def city_head() -> str | None:
    """The latest revision of a city's schema (a forked history raises)."""
    return _head(MIGRATIONS_DIR)


def _at_head(conn: Connection, where: Path, revision: str, **opts: str) -> bool:
    """Whether upgrading to ``revision`` has nothing to do (a cheap look at the version
    table instead of a run of Alembic's environment)."""
    return revision == "head" and \
        MigrationContext.configure(conn, opts=opts).get_current_revision() == _head(where)


def migrate_deployment(engine: Engine, revision: str = "head") -> None:
    """Upgrade the deployment's own schema (``public``) to ``revision``."""
    with engine.begin() as conn:
        if _at_head(conn, DEPLOYMENT_DIR, revision, version_table="deployment_version",
                    version_table_schema="public"):
            return
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis SCHEMA public"))
        # trigram similarity: the place search answers as one types
        conn.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm SCHEMA public"))
        command.upgrade(_alembic_config(conn, DEPLOYMENT_DIR), revision)


def migrate_city(conn: Connection, city: str, revision: str = "head") -> None:
    """Upgrade ``city``'s schema to ``revision`` within ``conn``'s transaction, creating the
    schema if needed."""
    schema = city_schema(city)
    conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    conn.execute(sa.text(f'SET LOCAL search_path TO "{schema}", public'))
    if not _at_head(conn, MIGRATIONS_DIR, revision):
        command.upgrade(_alembic_config(conn), revision)


def engine_city(engine: Engine) -> str:
    """The city of an engine made by :func:`create_engine` with ``city``."""
    city = engine.get_execution_options().get("geo_patrol_city")
    if city:
        return str(city)
    msg = "this engine is not a city's (create_engine(url, city=...))"
    raise DatabaseError(msg)


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade a city's schema (``engine`` from :func:`create_engine` with ``city``)."""
    with engine.begin() as conn:
        migrate_city(conn, engine_city(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Downgrade a city's schema to ``revision``."""
    with engine.begin() as conn:
        command.downgrade(_alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def open_deployment(settings: Settings, *, start: bool = True, upgrade: bool = True) -> Engine:
    """The deployment's engine (the cities registry), started and migrated."""
    engine = create_engine(database_url(settings, start=start))
    if upgrade:
        migrate_deployment(engine)
    return engine


def open_database(settings: Settings, *, start: bool = True, upgrade: bool = True) -> Engine:
    """The engine of the city ``settings.city`` (resolved: see
    :func:`geo_patrol.services.cities.open_city`), started and migrated."""
    if not settings.city:
        msg = "no city chosen: give --city (geo-patrol cities lists them)"
        raise ConflictError(msg)
    engine = create_engine(database_url(settings, start=start), city=settings.city)
    if upgrade:
        migrate(engine)
    return engine


def metric_srid(conn: Connection) -> int | None:
    """The deployment's metric SRID, or ``None`` before the first spatial load."""
    value = conn.execute(
        sa.text("SELECT value FROM deployment WHERE key = 'metric_srid'")).scalar_one_or_none()
    return int(value) if value is not None else None


def ensure_metric_srid(conn: Connection, crs: str) -> int:
    """Fix the deployment's metric CRS on first use; later loads must agree with it."""
    wanted = epsg_code(crs)
    stored = metric_srid(conn)
    if stored is None:
        conn.execute(sa.text("INSERT INTO deployment (key, value) VALUES ('metric_srid', :v)"),
                     {"v": str(wanted)})
        log.info("deployment metric CRS set to EPSG:%d", wanted)
        return wanted
    return stored


def require_metric_srid(conn: Connection, configured: str | None) -> int:
    """The stored metric SRID, checked against the configured one if any."""
    stored = metric_srid(conn)
    if configured and stored is not None and epsg_code(configured) != stored:
        msg = (f"GEO_PATROL_METRIC_CRS is {configured} but this database measures in "
               f"EPSG:{stored}")
        raise ConflictError(msg)
    if stored is None:
        msg = "no metric CRS chosen yet: load boundaries or streets first"
        raise ConflictError(msg)
    return stored


def wal_position(conn: Connection) -> str:
    """Where the primary's write-ahead log is now (after this session's last commit)."""
    return str(conn.execute(sa.text("SELECT pg_current_wal_lsn()::text")).scalar_one())


def replayed(conn: Connection, position: str) -> bool:
    """Whether a standby has replayed the primary's log up to ``position``."""
    return bool(conn.execute(sa.text(
        "SELECT coalesce(pg_last_wal_replay_lsn() >= CAST(:p AS pg_lsn), false)"),
        {"p": position}).scalar_one())


def ping(conn: Connection) -> None:
    """A round trip to the server (raises when it is unreachable)."""
    conn.execute(sa.text("SELECT 1"))


#: What the driver raises when the server went away mid-request (the transaction was rolled
#: back), and when a value does not fit its column (the user's input): callers map these to
#: a clear message without importing SQLAlchemy themselves.
CONNECTION_LOST: tuple[type[Exception], ...] = (sa.exc.OperationalError, sa.exc.InterfaceError)
BAD_VALUE: type[Exception] = sa.exc.DataError
