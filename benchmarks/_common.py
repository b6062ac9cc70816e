"""Shared benchmark plumbing: a throwaway database, timing, peak memory, the JSON last line."""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import resource
import shutil
import socket
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from geo_patrol.settings import Settings
from geo_patrol.store.cluster import LocalCluster
from geo_patrol.cities import City
from geo_patrol.services.cities import ensure_city

#: The city every benchmark database holds.
BENCH_CITY = City(key="baotou", name="包头市", name_en="Baotou", timezone="Asia/Shanghai")
#: The last day of the demo the benchmarks generate.
DEMO_UNTIL = dt.date(2026, 11, 28)
#: The hand-built worlds of the benchmarks and the tests lie in Baotou's UTM zone (their
#: metric CRS), keep Beijing time, and are walked on a Friday (a school day): its window.
METRIC = "EPSG:32649"
CST = ZoneInfo(BENCH_CITY.timezone)
WALK_DAY = dt.datetime(2026, 11, 27, tzinfo=CST)
WALK_WINDOW = (WALK_DAY, WALK_DAY + dt.timedelta(days=1))


def city_engine(url: str) -> Engine:
    """The benchmark city's engine in the database at ``url``."""
    return ensure_city(url, BENCH_CITY)

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
#: The embedded cluster of the running benchmark (``None`` with ``DATABASE_URL``), for the
#: fault runs that stop and start it.
CURRENT_CLUSTER: LocalCluster | None = None


@contextlib.contextmanager
def benchmark_database() -> Iterator[tuple[Engine, Settings]]:
    """A migrated database: ``DATABASE_URL`` when set, else a temporary embedded cluster."""
    url = os.environ.get("DATABASE_URL")
    root = Path(tempfile.mkdtemp(prefix="gp-bench-"))
    root.chmod(0o711)
    cluster = None
    try:
        if not url:
            cluster = LocalCluster(root / "cluster", extra_settings={
                "max_wal_size": "4GB", "checkpoint_timeout": "30min"})
            cluster.start()
            url = cluster.url()
        global CURRENT_CLUSTER
        CURRENT_CLUSTER = cluster
        engine = city_engine(url)
        yield engine, Settings(database_url=url, data_dir=root / "data", city=BENCH_CITY.key)
        engine.dispose()
    finally:
        if cluster is not None:
            cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def workspace(prefix: str) -> Iterator[tuple[Path, Engine, Settings]]:
    """A temporary folder (named ``prefix...``) and a benchmark database, both removed after."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmp, benchmark_database() as (
            engine, settings):
        yield Path(tmp), engine, settings


def demo_arguments(parser: argparse.ArgumentParser, *, scale: str, requests: int) -> None:
    """The demo's scale and how many requests each page, tile or search is timed over."""
    parser.add_argument("--scale", default=scale, choices=["small", "city"])
    parser.add_argument("--requests", type=int, default=requests)


@contextlib.contextmanager
def looping(step: Callable[[], object], pause_s: float = 0.01) -> Iterator[None]:
    """``step`` called over and over on a thread while the block runs (a pause after each call
    that did nothing), then the thread stopped."""
    stop = threading.Event()

    def run() -> None:
        while not stop.is_set():
            if not step():
                time.sleep(pause_s)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        worker.join(timeout=10)


@contextlib.contextmanager
def demo_database(scale: str, until: dt.date, days: int = 7) -> Iterator[
        tuple[Engine, Settings, Any]]:
    """A benchmark database holding the demo at ``scale`` up to ``until``, loaded through the
    ordinary loaders and its last ``days`` analysed: the engine, the settings and the run.

    A ``DATABASE_URL`` whose database holds that run already (the demo loaded by an earlier
    run of a benchmark) is used as it is, migrated: loading ``--scale city`` takes a quarter
    of an hour."""
    from geo_patrol.demo.generate import generate
    from geo_patrol.services.analysis import RunSummary, analyze
    from geo_patrol.services.demo import last_days, load_demo
    from geo_patrol.store.db import migrate

    window = last_days(until, days)
    with tempfile.TemporaryDirectory(prefix="gp-demo-") as tmp, benchmark_database() as (
            engine, settings):
        migrate(engine)
        loaded = _loaded_run(engine, *window)
        if loaded is not None:
            print(f"the demo is loaded already: run {loaded}")
            yield engine, settings, RunSummary(run_id=loaded, replaced=False, seconds=0.0)
            return
        files = Path(tmp) / "demo"
        generate(files, seed=7, scale=scale, until=until)
        load_demo(engine, files, settings)
        yield engine, settings, analyze(engine, *window, settings=settings)


def _loaded_run(engine: Engine, start: dt.datetime, end: dt.datetime) -> int | None:
    """The latest whole-city run of ``start``-``end`` in the database (``None``: none)."""
    with engine.connect() as conn:
        return conn.execute(sa.text(
            "SELECT max(id) FROM analysis_runs WHERE area_id IS NULL AND window_start = :s "
            "AND window_end = :e"), {"s": start, "e": end}).scalar()


def serve_app(engine: Engine, settings: Settings) -> tuple[str, dict[str, str], Any]:
    """The web app on a free loopback port (waitress, 4 threads, in this process) with a
    command account's API token: its address, the request headers that authorise, and the
    server (``close()`` stops it)."""
    from waitress.server import create_server

    from geo_patrol.errors import ConflictError
    from geo_patrol.services.accounts import add_user, issue_token, set_password
    from web import create_app

    password = "bench-password-" + str(os.getpid())
    try:
        add_user(engine, "bench", "command", password)
    except ConflictError:  # a database reused from an earlier run
        set_password(engine, "bench", password)
    auth = {"Authorization": "Bearer " + issue_token(engine, "bench")}
    app = create_app({"GEO_PATROL_SETTINGS": settings})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{port}", auth, server


def count(engine: Engine, table: str, where: str = "true") -> int:
    """How many rows of ``table`` meet ``where``."""
    with engine.connect() as conn:
        found = conn.execute(sa.text(f"SELECT count(*) FROM {table} WHERE {where}")).scalar_one()
    return int(found)


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile of timings (NaN when none)."""
    return float(np.percentile(values, q)) if values else float("nan")


def peak_rss_mib() -> float:
    """Peak resident memory of this process so far (MiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class Stopwatch:
    def __enter__(self) -> Stopwatch:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def emit(figures: dict) -> None:
    """The last line of every benchmark: its figures as one JSON object."""
    print(json.dumps(figures, ensure_ascii=False, sort_keys=True))
