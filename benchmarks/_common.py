"""Shared benchmark plumbing: a throwaway database, timing, peak memory, the JSON last line."""

from __future__ import annotations

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
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from geo_patrol.settings import Settings
from geo_patrol.store.cluster import LocalCluster
from geo_patrol.cities import City
from geo_patrol.services.cities import ensure_city

#: The city every benchmark database holds.
BENCH_CITY = City(key="baotou", name="包头市", name_en="Baotou", timezone="Asia/Shanghai")


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
def demo_database(scale: str, until: dt.date, days: int = 7) -> Iterator[
        tuple[Engine, Settings, Any]]:
    """A benchmark database holding the demo at ``scale`` up to ``until``, loaded through the
    ordinary loaders and its last ``days`` analysed: the engine, the settings and the run."""
    from geo_patrol.demo.generate import generate
    from geo_patrol.services.analysis import analyze
    from geo_patrol.services.demo import last_days, load_demo

    with tempfile.TemporaryDirectory(prefix="gp-demo-") as tmp, benchmark_database() as (
            engine, settings):
        files = Path(tmp) / "demo"
        generate(files, seed=7, scale=scale, until=until)
        load_demo(engine, files, settings)
        yield engine, settings, analyze(engine, *last_days(until, days), settings=settings)


def serve_app(engine: Engine, settings: Settings) -> tuple[str, dict[str, str], Any]:
    """The web app on a free loopback port (waitress, 4 threads, in this process) with a
    command account's API token: its address, the request headers that authorise, and the
    server (``close()`` stops it)."""
    from waitress.server import create_server

    from geo_patrol.services.accounts import add_user, issue_token
    from web import create_app

    add_user(engine, "bench", "command", "bench-password-" + str(os.getpid()))
    auth = {"Authorization": "Bearer " + issue_token(engine, "bench")}
    app = create_app({"GEO_PATROL_SETTINGS": settings})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    threading.Thread(target=server.run, daemon=True).start()
    return f"http://127.0.0.1:{port}", auth, server


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
