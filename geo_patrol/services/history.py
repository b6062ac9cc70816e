"""History re-analysed on Dask distributed: every local day of a span, in every city asked for,
is one task that reads that (city, day)'s fixes (one partition) and runs the pure day engine
(:func:`geo_patrol.analysis.days.analyse_day`); the days' visits come back and are stored,
each replacing only its own day. Windows of any length are then composed from them.

The cluster is a :class:`distributed.LocalCluster` of ``workers`` processes by default, or any
scheduler given by address, so the same command runs on a real cluster (its workers need this
package and the database). The results equal the single-process engine's.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from geo_patrol.analysis.days import Streets, analyse_day, day_bounds
from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes
from geo_patrol.errors import InputError
from geo_patrol.services.analysis import default_params, read_scope, read_streets
from geo_patrol.settings import Settings
from geo_patrol.store import days as day_store
from geo_patrol.store.db import create_engine, engine_city
from geo_patrol.store.uploads import Timer
from geo_patrol.store.windows import read_fixes

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: at most this many days at once (a decade): larger spans are re-analysed in several runs
MAX_DAYS = 3660


@dataclass
class HistorySummary:
    """What a re-analysis did."""

    days: int               # city-days
    fixes: int
    seconds: float          # all of it, the cluster's start included
    compute_seconds: float  # from the first task submitted to the last day stored
    workers: int
    dashboard: str | None
    cities: int = 1


@dataclass
class _Inputs:
    """What a worker builds a city's :class:`Streets` from (sent once per worker)."""

    city: str
    segments: Any
    hazards: Any
    polygons: dict[int, Any]
    params: AnalysisParams
    reach_m: float
    timezone: str
    key: str
    hazards_key: str

    @property
    def cache_key(self) -> str:
        return f"{self.city}:{self.key}:{self.hazards_key}"


_streets: dict[str, Streets] = {}   # per worker process, by city and streets key
_engines: dict[tuple[str, str], Any] = {}  # per worker process, by database URL and city
#: Cities' streets a worker keeps (tasks arrive city by city)
KEEP_STREETS = 2


def _worker_streets(inputs: _Inputs) -> Streets:
    if inputs.cache_key not in _streets:
        while len(_streets) >= KEEP_STREETS:
            _streets.pop(next(iter(_streets)))
        _streets[inputs.cache_key] = Streets.build(
            inputs.segments, inputs.hazards, inputs.polygons, params=inputs.params,
            reach_m=inputs.reach_m, timezone=inputs.timezone)
    return _streets[inputs.cache_key]


def _read_day(url: str, city: str, day: dt.date, timezone: str) -> Fixes:
    if (url, city) not in _engines:
        _engines[url, city] = create_engine(url, city=city)
    with _engines[url, city].connect() as conn:
        return Fixes(*read_fixes(conn, *day_bounds(day, timezone)))


def day_task(url: str, inputs: _Inputs, day: dt.date) -> tuple[dt.date, bytes, int]:
    """One Dask task: a city-day's fixes read from its partition and analysed (no writes)."""
    streets = _worker_streets(inputs)
    visits = analyse_day(streets, _read_day(url, inputs.city, day, inputs.timezone), day)
    if (visits.key, visits.hazards_key) != (inputs.key, inputs.hazards_key):
        raise InputError("a worker built other streets than the scheduler's client")
    return day, visits.to_bytes(), visits.fixes


def reanalyze(engine: Engine, first: dt.date, last: dt.date, *, settings: Settings,
              params: AnalysisParams | None = None, **options: Any) -> HistorySummary:
    """Re-analyse one city's local days ``first``..``last`` (inclusive): see
    :func:`reanalyze_cities`."""
    return reanalyze_cities([(engine, settings)], first, last, params=params, **options)


def reanalyze_cities(cities: list[tuple[Engine, Settings]], first: dt.date, last: dt.date, *,
                     params: AnalysisParams | None = None, workers: int = 2,
                     scheduler: str | None = None, progress: bool = True,
                     echo: Callable[[str], None] = lambda _line: None) -> HistorySummary:
    """Re-analyse the local days ``first``..``last`` (inclusive) of each city (its engine and
    settings) on one Dask cluster and store each city-day's visits, replacing those only."""
    from distributed import Client, LocalCluster, as_completed  # deferred: dask is slow to import

    if last < first:
        raise InputError(f"the span ends ({last}) before it starts ({first})")
    days = [first + dt.timedelta(days=i) for i in range((last - first).days + 1)]
    if len(days) > MAX_DAYS:
        raise InputError(f"at most {MAX_DAYS} days are re-analysed at once; split the span")
    if scheduler is None and workers < 1:
        raise InputError("a local cluster needs at least one worker")
    timer = Timer()
    jobs: dict[str, tuple[Engine, str, _Inputs]] = {}
    for engine, settings in cities:
        city_params = params or default_params(settings)
        with engine.connect() as conn:
            whole = read_scope(conn, None)
            streets = read_streets(conn, city_params, settings, whole)
        city = engine_city(engine)
        jobs[city] = (engine, streets.key, _Inputs(
            city, whole.segments, whole.hazards, whole.community_polygons, city_params,
            streets.reach_m, settings.timezone, streets.key, streets.hazards_key))
    cluster = None if scheduler else LocalCluster(
        n_workers=workers, threads_per_worker=1, processes=True,
        dashboard_address="127.0.0.1:0", silence_logs=logging.WARNING)
    fixes = 0
    try:
        with Client(scheduler or cluster) as client:
            dashboard = client.dashboard_link
            echo(f"Dask dashboard: {dashboard}")
            n_workers = len(client.scheduler_info(n_workers=-1)["workers"])
            compute = Timer()
            futures = {}
            for city, (engine, _key, inputs) in jobs.items():  # city by city
                shared = client.scatter(inputs, broadcast=True)
                url = engine.url.render_as_string(hide_password=False)
                for day in days:
                    futures[client.submit(day_task, url, shared, day, key=f"{city}-day-{day}",
                                          pure=False)] = city
            with tqdm(total=len(futures), unit="day", disable=not progress) as bar:
                for future in as_completed(list(futures)):
                    day, data, n = future.result()
                    engine, key, _inputs = jobs[futures.pop(future)]
                    with engine.begin() as conn:
                        day_store.write_day(conn, day_store.StoredDay(day, key, data, n))
                    fixes += n
                    bar.update()
                    future.release()
            compute_seconds = compute.seconds
    finally:
        if cluster is not None:
            cluster.close()
    seconds = timer.seconds
    n_days = len(days) * len(jobs)
    log.info("re-analysed %d city-days (%d fixes) in %.1f s", n_days, fixes, seconds)
    return HistorySummary(n_days, fixes, seconds, compute_seconds, n_workers, dashboard,
                          len(jobs))
