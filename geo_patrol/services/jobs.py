"""Long work as jobs: an analysis, a zones plan, a rota, crime patterns, a campaign's progress
or a district briefing asked for on a page runs on a job queue kept in PostgreSQL
(procrastinate), never on the request; the page shows its progress and then its stored
result.

A job is its kind and parameters; its key adds the inputs they were read from (the latest
analysis run and upload, and the force entered), so the same request joins the job that is queued
or running instead of starting another, and reads the finished result until an input
changes. A user may have :attr:`Settings.jobs_per_user` jobs queued or running at once.

Workers run in ``geo-patrol serve`` (a thread) and alone in ``geo-patrol worker``; a web app
not started by either starts one in its process on the first job. A worker renews a lease
on the job it runs (:attr:`Settings.job_lease_s`); a running job whose lease lapsed lost its
worker and is queued again by the next request (:func:`requeue`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import heapq
import json
import logging
import pickle
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import procrastinate

from geo_patrol.errors import (
    BusyError,
    ConflictError,
    GeoPatrolError,
    InputError,
    JobPendingError,
    NotFoundError,
)
from geo_patrol.planning.plan import Plan, PlanParams
from geo_patrol.services import campaigns, crime, evidence, trials
from geo_patrol.services import rota as rota_service
from geo_patrol.services.analysis import analyze
from geo_patrol.services.background import Background
from geo_patrol.services.cities import OpenCity, open_city, open_deployment
from geo_patrol.services.maps import district_briefing
from geo_patrol.services.planning import plan_area
from geo_patrol.services.rota import create as create_rota
from geo_patrol.settings import Settings
from geo_patrol.store import jobs as store
from geo_patrol.store.db import database_url
from geo_patrol.store.areas import find_area
from geo_patrol.store.results import find_run

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from geo_patrol.store.db import Database

log = logging.getLogger(__name__)

#: The queue of this application's jobs, and its one task (a job of a city, by id).
QUEUE = "geo_patrol"
TASK = "geo_patrol.run_job"

#: The queue's task that runs a timer of a city (an escalation due, an alarm's deadline).
TIMER_TASK = "geo_patrol.run_timer"

#: Reports progress: the share done (0-1) and the step under way.
Progress = Callable[[float, str], None]


@dataclass
class Outcome:
    """What a job gives: a small JSON result, and a payload for one too rich for JSON."""

    result: dict[str, Any]
    payload: bytes | None = None


_F = TypeVar("_F", bound=Callable[..., Any])


def _registry(table: dict[str, _F]) -> Callable[[str], Callable[[_F], _F]]:
    """A decorator factory that files a function in ``table`` under the name it is given."""
    def named(name: str) -> Callable[[_F], _F]:
        def register(func: _F) -> _F:
            table[name] = func
            return func
        return register
    return named


Runner = Callable[["Engine", Settings, dict[str, Any], Progress], Outcome]
RUNNERS: dict[str, Runner] = {}
#: ``@runner(kind)``: the function that runs a job of ``kind``.
runner = _registry(RUNNERS)

#: Timers: work due at a time (a call-out's next ring, an SOS not acknowledged), run by a
#: worker, never on a web thread. Registered by the service they belong to.
Timer = Callable[["Engine", Settings, dict[str, Any]], None]
TIMERS: dict[str, Timer] = {}
#: ``@timer(name)``: the function a timer of ``name`` runs when due.
timer = _registry(TIMERS)


def defer_timer(settings: Settings, name: str, delay_s: float, params: dict[str, Any], *,
                once: bool = False) -> bool:
    """Run the timer ``name`` of the city with ``params`` in ``delay_s`` seconds (a worker of
    the deployment runs it; one is started in this process if none runs). With ``once``,
    not while the same timer of the city is waiting to run already (``False``: it is)."""
    if name not in TIMERS:
        raise NotFoundError(f"no timer {name!r}")
    lock = f"timer:{settings.city}:{name}" if once else None
    try:
        _deferrer(settings).configure_task(
            TIMER_TASK, queue=QUEUE, schedule_in={"seconds": max(0.0, float(delay_s))},
            queueing_lock=lock,
        ).defer(city=settings.city, name=name, params=params)
    except procrastinate.exceptions.AlreadyEnqueued:
        return False
    _set_alarm(settings, time.time() + max(0.0, float(delay_s)) + ALARM_LATE_S)
    ensure_worker(settings)
    return True


#: The alarms of the timers this process deferred, per deployment (``time.time()`` they
#: fall due, a heap): its worker thread wakes the deployment's workers then. A timer whose
#: alarm is lost with its process is still found by the workers' poll.
_ALARMS: dict[str, list[float]] = {}
_ALARMS_LOCK = threading.Lock()
#: An alarm rings this much after its timer's time (the queue compares with the database's
#: clock), and again after :data:`ALARM_AGAIN_S` in case the clocks differ more.
ALARM_LATE_S = 0.01
ALARM_AGAIN_S = 0.25


def _set_alarm(settings: Settings, at: float) -> None:
    with _ALARMS_LOCK:
        heap = _ALARMS.setdefault(_conninfo(settings), [])
        heapq.heappush(heap, at)
        heapq.heappush(heap, at + ALARM_AGAIN_S)


def _rung(conninfo: str, now: float) -> tuple[bool, float | None]:
    """Whether an alarm of the deployment is due (those due are taken), and when the next
    falls due."""
    with _ALARMS_LOCK:
        heap = _ALARMS.get(conninfo) or []
        due = False
        while heap and heap[0] <= now:
            heapq.heappop(heap)
            due = True
        return due, heap[0] if heap else None


def _within(params: dict[str, Any]) -> frozenset[int] | None:
    within = params.get("within")
    return None if within is None else frozenset(int(i) for i in within)


@runner("zones")
def _zones(engine: Engine, settings: Settings, params: dict[str, Any],
           progress: Progress) -> Outcome:
    progress(0.1, "reading")
    with engine.connect() as conn:
        run = find_run(conn, int(params["run_id"]))
        progress(0.2, "planning")
        plan = plan_area(conn, run, {"id": int(params["area_id"]), "name": params["area_name"]},
                         PlanParams(**params["plan"]), settings=settings,
                         within=_within(params))
    return Outcome({"area_id": plan.area["id"], "seconds": plan.seconds},
                   pickle.dumps(plan, protocol=pickle.HIGHEST_PROTOCOL))


@runner("rota")
def _rota(engine: Engine, settings: Settings, params: dict[str, Any],
          progress: Progress) -> Outcome:
    options = dict(params["options"])
    if options.get("start"):
        options["start"] = dt.date.fromisoformat(options["start"])
    with engine.connect() as conn:  # an unknown area fails before the study is made
        find_area(conn, int(params["area_id"]))
    progress(0.05, "forecast")
    favoured = favoured_forecast(engine, settings, params["by"])
    progress(0.1, "planning")
    rota_id, _ = create_rota(engine, settings, area_id=int(params["area_id"]),
                             by=params["by"], within=_within(params), favoured=favoured,
                             **options)
    return Outcome({"rota_id": rota_id})


@runner("trial")
def _trial(engine: Engine, settings: Settings, params: dict[str, Any],
           progress: Progress) -> Outcome:
    """A trial designed on the forecast the city's stored crime study favours: looked at
    (``action`` ``preview``: the design and its power, stored as the job's payload) or
    stored (``create``: its id as the result); or a stored trial's report as it stands on
    ``today`` (``report``: the report as the payload)."""
    if params["action"] == "report":
        progress(0.1, "counting")
        got = trials.report(engine, settings, int(params["trial"]),
                            today=dt.date.fromisoformat(params["today"]))
        return Outcome({"trial": got.trial["id"], "verdict": got.verdict},
                       pickle.dumps(got, protocol=pickle.HIGHEST_PROTOCOL))
    options = dict(params["options"])
    if options.get("start"):
        options["start"] = dt.date.fromisoformat(options["start"])
    progress(0.05, "forecast")
    favoured = favoured_forecast(engine, settings, params["by"])
    progress(0.4, "designing")
    if params["action"] == "create":
        trial_id, _ = trials.create(engine, settings, by=params["by"], within=_within(params),
                                    favoured=favoured, **options)
        return Outcome({"trial_id": trial_id})
    got = trials.design(engine, settings, within=_within(params), favoured=favoured,
                        **options)
    return Outcome({"spots": len(got.spots), "power": round(got.power, 4)},
                   pickle.dumps(got, protocol=pickle.HIGHEST_PROTOCOL))


@runner("dose")
def _dose(engine: Engine, settings: Settings, params: dict[str, Any],
          progress: Progress) -> Outcome:
    """The dose a stored rota's hot spots received up to ``today``, as a reader whose
    communities are ``within`` sees it, with its hot spots on their streets for the dose
    map (the payload: the evidence page, its map, CSV and API read the one result)."""
    progress(0.1, "measuring")
    got = evidence.dose(engine, settings, int(params["rota"]), within=_within(params),
                        today=dt.date.fromisoformat(params["today"]))
    progress(0.8, "drawing")
    spots = evidence.dose_spots(engine, got) if len(got.places) else None
    return Outcome({"rota": int(params["rota"]), "places": int(len(got.places))},
                   pickle.dumps(evidence.Measured(got, spots),
                                protocol=pickle.HIGHEST_PROTOCOL))


def rota_dose(db: Database, settings: Settings, by: str, rota_id: int, *,
              within: frozenset[int] | None = None, wait_s: float = 0.0
              ) -> tuple[dict[str, Any], evidence.Measured | None]:
    """The dose of a stored rota's hot spots as it stands today, for a reader whose
    communities are ``within``: its job (joined by every reader of the same scope asking
    the same day) and, once done, what it stored; the job is waited for up to ``wait_s``."""
    rota_service.reached(db, rota_id, within=within)
    job = submit(db, settings, by, "dose", {
        "rota": int(rota_id), "within": None if within is None else sorted(within),
        "today": settings.today().isoformat()})
    if job["state"] in ("queued", "running") and wait_s > 0:
        job = wait(db, int(job["id"]), wait_s, by=by, waiters=settings.job_waiters_per_user)
    return job, made_by(db, settings, int(job["id"])) if job["state"] == "done" else None


def rota_dose_now(db: Database, settings: Settings, by: str, rota_id: int, *,
                  within: frozenset[int] | None = None) -> evidence.Measured:
    """The stored dose of :func:`rota_dose` for a download, a map or an API answer,
    waited for up to ``job_wait_s`` (not at all when as many of the reader's requests
    wait already as may): a failed job is the input's error, one still running
    :class:`JobPendingError` (the job, to follow)."""
    job, made = rota_dose(db, settings, by, rota_id, within=within,
                          wait_s=settings.job_wait_s)
    if made is not None:
        return made
    if job["state"] == "failed":
        raise InputError(job["error"] or "the patrol dose could not be measured")
    raise JobPendingError("the patrol dose is still being measured: try again when it is "
                          "ready", job=job)


def trial_report(db: Database, settings: Settings, by: str, trial_id: int, *,
                 within: frozenset[int] | None = None, today: dt.date | None = None,
                 wait_s: float = 0.0) -> tuple[dict[str, Any] | None, trials.Report | None]:
    """A trial's report as it stands on ``today`` (the city's today), for a reader whose
    communities are ``within``: the job that makes it (``None`` for a trial not started,
    whose report is only its design) and, once it is done, the stored report. Every reader
    asking for the same trial and day joins the one job, and reads its stored report until
    an incident or a track is added; the job is waited for up to ``wait_s``."""
    trial = trials.reached(db, trial_id, within=within)
    on = today or settings.today()
    if on < trial["start_day"]:  # nothing counted yet: its design, read at once
        return None, trials.report(db, settings, trial_id, today=on)
    job = submit(db, settings, by, "trial", {"action": "report", "trial": int(trial_id),
                                             "today": on.isoformat()})
    if job["state"] in ("queued", "running") and wait_s > 0:
        job = wait(db, int(job["id"]), wait_s, by=by, waiters=settings.job_waiters_per_user)
    return job, made_by(db, settings, int(job["id"])) if job["state"] == "done" else None


def _study(params: dict[str, Any]) -> crime.Study:
    until = params.get("until")
    return crime.Study(area_id=params.get("area_id"), within=_within(params),
                       crime=params.get("crime", "property"), days=int(params.get("days", 90)),
                       until=dt.date.fromisoformat(until) if until else None)


def study_params(study: crime.Study, today: dt.date) -> dict[str, Any]:
    """A crime job's parameters: its study, and the day whose open near-repeat alerts it
    shows (a study stored yesterday is made again today)."""
    return {"area_id": study.area_id,
            "within": None if study.within is None else sorted(study.within),
            "crime": study.crime, "days": study.days,
            "until": None if study.until is None else study.until.isoformat(),
            "today": today.isoformat()}


def crime_study(db: Database, settings: Settings, by: str, study: crime.Study, *,
                today: dt.date | None = None) -> crime.Page:
    """The stored page of ``study`` that the crime pages and API read (its job's parameters
    as theirs, :func:`study_params`), made as a job when it is not stored yet: run here when
    no worker has taken it (a job waiting on another never waits for a free worker),
    waited for while one runs it."""
    job = submit(db, settings, by, "crime", study_params(study, today or settings.today()))
    if job["state"] == "queued":  # a request's database runs it on its primary engine
        execute(getattr(db, "engine", db), settings, int(job["id"]))
        job = status(db, settings, int(job["id"]))
    if job["state"] == "running":
        job = wait(db, int(job["id"]), settings.job_wait_s)  # a worker's, not a web thread
    if job["state"] == "done":
        return made_by(db, settings, int(job["id"]))
    if job["state"] == "failed":
        raise InputError(job["error"] or "the crime study could not be made")
    raise ConflictError("the crime study is still being made: try again when it is ready")


def favoured_forecast(db: Database, settings: Settings, by: str) -> dict[str, Any]:
    """The forecast the city's stored crime study favours (the study ``/crime`` shows the
    whole city's readers, :func:`crime_study`), as :func:`crime.favoured_method` says it;
    computed here when ``by`` has no job to spare."""
    try:
        return crime.favoured_of(crime_study(db, settings, by, crime.Study()))
    except BusyError:
        return crime.favoured_method(db, settings)


@runner("crime")
def _crime(engine: Engine, settings: Settings, params: dict[str, Any],
           progress: Progress) -> Outcome:
    today = dt.date.fromisoformat(params["today"]) if params.get("today") else None
    made = crime.page(engine, settings, _study(params), progress, today=today)
    return Outcome({"incidents": made.incidents},
                   pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))


@runner("crime_tile")
def _crime_tile(engine: Engine, settings: Settings, params: dict[str, Any],
                progress: Progress) -> Outcome:
    """The dashboard's crime figures of a study (:func:`crime.summary`; its parameters are
    a crime job's, :func:`study_params`)."""
    today = dt.date.fromisoformat(params["today"]) if params.get("today") else None
    progress(0.1, "hot spots")
    made = crime.summary(engine, settings, _study(params), today=today)
    return Outcome({"incidents": made["incidents"]},
                   pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))


@runner("campaigns")
def _campaigns(engine: Engine, settings: Settings, params: dict[str, Any],
               progress: Progress) -> Outcome:
    """One campaign's progress (``campaign_id``), or those running over a district (the
    dashboard's tiles), on ``on``."""
    on = dt.date.fromisoformat(params["on"])
    progress(0.1, "counting")
    if params.get("campaign_id") is not None:
        made = [campaigns.progress(engine, settings, int(params["campaign_id"]),
                                   within=_within(params), on=on)]
    else:
        made = campaigns.active(engine, settings, within=_within(params),
                                district_id=params.get("district_id"), on=on)
    return Outcome({"campaigns": len(made)}, pickle.dumps(made, protocol=pickle.HIGHEST_PROTOCOL))


@runner("analysis")
def _analysis(engine: Engine, settings: Settings, params: dict[str, Any],
              progress: Progress) -> Outcome:
    """An analysis run of a period (``start``, ``end``: ISO 8601 with offset)."""
    progress(0.1, "analysing")
    summary = analyze(engine, dt.datetime.fromisoformat(params["start"]),
                      dt.datetime.fromisoformat(params["end"]), settings=settings)
    return Outcome({"run_id": summary.run_id, "seconds": summary.seconds})


#: Who asks for the crime study a briefing job reads, when it is not stored yet.
BRIEFING_REQUESTER = "briefing"


@runner("briefing")
def _briefing(engine: Engine, settings: Settings, params: dict[str, Any],
              progress: Progress) -> Outcome:
    """A district's (or a community's) offline briefing (an HTML file) of a run, in a
    language."""
    level = params.get("level", "district")
    forecast = None
    if params["figures"] and level == "district":  # the forecast the rotas follow: stored
        progress(0.05, "forecast")
        forecast = favoured_forecast(engine, settings, BRIEFING_REQUESTER)
    progress(0.1, "drawing")
    with engine.connect() as conn:
        page = district_briefing(conn, int(params["run_id"]), int(params["district_id"]),
                                 settings, lang=params["lang"], basemap=settings.basemap,
                                 figures=bool(params["figures"]), city=params["city"],
                                 level=level, forecast=forecast)
    return Outcome({"bytes": len(page)}, pickle.dumps(page, protocol=pickle.HIGHEST_PROTOCOL))


def job_key(kind: str, params: dict[str, Any], stamp: dict[str, int]) -> str:
    """One key per kind, parameters and inputs."""
    text = json.dumps([kind, params, stamp], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def submit(db: Database, settings: Settings, by: str, kind: str,
           params: dict[str, Any]) -> dict[str, Any]:
    """The job of ``kind`` with ``params``: the one queued or running (joined), the finished
    one whose inputs are unchanged (a failed one too: the same inputs fail the same way), or
    a new one queued."""
    if kind not in RUNNERS:
        raise NotFoundError(f"no job kind {kind!r}")
    requeue(db, settings)
    with db.begin() as conn:
        key = job_key(kind, params, store.inputs_stamp(conn))
        found = store.find_job(conn, key)
        if found is not None:
            if found["state"] == "queued":  # its worker may have stopped before taking it
                ensure_worker(settings)
            return found
        if store.active_jobs(conn, by) >= settings.jobs_per_user:
            msg = (f"{settings.jobs_per_user} of your jobs are still running: "
                   "wait for one to finish")
            raise BusyError(msg)
        job_id = store.insert_job(conn, kind=kind, key=key, params=params, by=by)
        if job_id is None:  # another request queued it first: join that one
            found = store.find_job(conn, key)
            assert found is not None
            return found
    queue(settings, job_id)
    ensure_worker(settings)
    with db.begin() as conn:
        queued = store.job(conn, job_id)
    assert queued is not None
    return queued


def queue(settings: Settings, job_id: int) -> None:
    """Hand a stored job of the city to the queue (a worker of the deployment runs it)."""
    _deferrer(settings).configure_task(TASK, queue=QUEUE).defer(city=settings.city,
                                                                job_id=job_id)


def requeue(db: Database, settings: Settings) -> list[int]:
    """Queue again the running jobs whose worker stopped (their lease lapsed), or fail
    those tried :attr:`Settings.job_attempts` times: the ids queued again."""
    with db.begin() as conn:
        lost = store.reap_lost(conn, settings.job_lease_s, settings.job_attempts)
    for job_id in lost:
        log.warning("job %s lost its worker: queued again", job_id)
        queue(settings, job_id)
    if lost:
        ensure_worker(settings)
    return lost


def status(db: Database, settings: Settings, job_id: int) -> dict[str, Any]:
    """A job's state, progress, step, result and error (404 when there is none); a job
    whose worker stopped is queued again first."""
    requeue(db, settings)
    with db.begin() as conn:  # the primary: the worker writes there
        found = store.job(conn, job_id)
    if found is None:
        raise NotFoundError(f"no job {job_id}")
    return found


def mine(db: Database, settings: Settings, job_id: int, by: str, kind: str, *,
         joinable: bool = False) -> dict[str, Any]:
    """A job of ``kind`` that ``by`` asked for, as :func:`status` gives it; any other job
    (another kind, another user's) is not found, as an absent one is: a page showing a
    job's progress, result or error shows only the reader's own. With ``joinable``, the
    reader may also follow another user's job of ``kind`` (one whose parameters carry no
    one's scope, which the reader's own request with the same parameters joins)."""
    found = status(db, settings, job_id)
    if found["kind"] != kind or (found["requested_by"] != by and not joinable):
        raise NotFoundError(f"no {kind} job {job_id} of yours")
    return found


#: The requests of each user now waiting for a job in this process (each holds a thread).
_WAITERS: Counter[str] = Counter()
_WAITERS_LOCK = threading.Lock()


@contextlib.contextmanager
def _waiter(by: str | None, most: int | None) -> Iterator[bool]:
    """One more request of ``by`` waiting, when fewer than ``most`` wait already
    (``False``: as many wait as may: this one does not)."""
    if by is None or most is None:
        yield True
        return
    with _WAITERS_LOCK:
        allowed = _WAITERS[by] < most
        if allowed:
            _WAITERS[by] += 1
    try:
        yield allowed
    finally:
        if allowed:
            with _WAITERS_LOCK:
                _WAITERS[by] -= 1
                if _WAITERS[by] <= 0:
                    del _WAITERS[by]


def wait(db: Database, job_id: int, timeout_s: float, *, by: str | None = None,
         waiters: int | None = None) -> dict[str, Any]:
    """The job once it has finished, or as it stands after ``timeout_s`` (a download asked
    for while its plan is being made waits a little for it). With ``by``, at most
    ``waiters`` of that user's requests wait at once in this process: any further one gets
    the job as it stands at once (asking many times cannot hold every web thread)."""
    with _waiter(by, waiters) as allowed:
        return _wait(db, job_id, timeout_s if allowed else 0.0)


def _wait(db: Database, job_id: int, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        with db.begin() as conn:  # the primary: the worker writes there
            found = store.job(conn, job_id)
        if found is None:
            raise NotFoundError(f"no job {job_id}")
        if found["state"] in ("done", "failed") or time.monotonic() >= deadline:
            return found
        time.sleep(0.25)


_MADE: OrderedDict[tuple[str, str, int], Any] = OrderedDict()
_MADE_LOCK = threading.Lock()


def made_by(db: Database, settings: Settings, job_id: int) -> Any:
    """What a finished job of the city made (its payload: a zones plan, a crime page, a
    briefing), kept in memory for the next requests; every city counts its jobs from 1."""
    key = (str(db.url), settings.city, job_id)
    with _MADE_LOCK:
        if key in _MADE:
            _MADE.move_to_end(key)
            return _MADE[key]
    with db.begin() as conn:  # the primary: a replica may not hold it yet
        blob = store.payload(conn, job_id)
    if blob is None:
        raise NotFoundError(f"job {job_id} stored nothing")
    made = pickle.loads(blob)  # written by this application's worker only  # noqa: S301
    with _MADE_LOCK:
        _MADE[key] = made
        while len(_MADE) > 16:
            _MADE.popitem(last=False)
    return made


def plan_of(db: Database, settings: Settings, job_id: int) -> Plan:
    """The zones plan a finished job of the city stored."""
    plan = made_by(db, settings, job_id)
    assert isinstance(plan, Plan)
    return plan


def stored(db: Database, settings: Settings, by: str, kind: str,
           params: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The job of ``kind`` and ``params`` (submitted, or joined) and, once it is done, what
    it made: pages read their stored result and show the job's progress until then."""
    job = submit(db, settings, by, kind, params)
    return job, made_by(db, settings, job["id"]) if job["state"] == "done" else None


def result(db: Database, settings: Settings, by: str, kind: str, params: dict[str, Any], *,
           what: str) -> Any:
    """What the job of ``kind`` and ``params`` made, for a download or an API answer: the
    stored result, or the one being made after waiting up to ``job_wait_s`` for it (the same
    request again joins the same job, so repeating it adds no work; no wait when as many of
    ``by``'s requests wait already as :attr:`Settings.job_waiters_per_user`). A failed job
    is the input's error; one still running after the wait is :class:`JobPendingError`
    (the job, to follow)."""
    job = submit(db, settings, by, kind, params)
    if job["state"] in ("queued", "running"):
        job = wait(db, job["id"], settings.job_wait_s, by=by,
                   waiters=settings.job_waiters_per_user)
    if job["state"] == "done":
        return made_by(db, settings, job["id"])
    if job["state"] == "failed":
        raise InputError(job["error"] or f"{what} could not be made")
    raise JobPendingError(f"{what} is still being made: try again when it is ready", job=job)


def execute(engine: Engine, settings: Settings, job_id: int) -> None:
    """Run one queued job to its end, recording progress, result or error."""
    with engine.begin() as conn:
        row = store.start_job(conn, job_id)
    if row is None:
        return

    def progress(share: float, step: str) -> None:
        with engine.begin() as conn:
            store.set_progress(conn, job_id, share, step)

    done = threading.Event()

    def beat() -> None:  # the lease: renewed while the job runs
        while not done.wait(settings.job_lease_s / 4):
            try:
                with engine.begin() as conn:
                    store.renew_lease(conn, job_id)
            except Exception:  # a missed beat is retried; a lapsed lease requeues the job
                log.warning("job %s: its lease could not be renewed", job_id, exc_info=True)

    heart = threading.Thread(target=beat, name=f"job-{job_id}-lease", daemon=True)
    heart.start()
    try:
        _run(engine, settings, job_id, row, progress)
    finally:
        done.set()
        heart.join()


def _run(engine: Engine, settings: Settings, job_id: int, row: dict[str, Any],
         progress: Progress) -> None:
    try:
        outcome = RUNNERS[row["kind"]](engine, settings, row["params"], progress)
    except GeoPatrolError as exc:
        with engine.begin() as conn:
            store.fail_job(conn, job_id, error=str(exc), kind=type(exc).__name__)
        return
    except Exception as exc:
        log.exception("job %s (%s) failed", job_id, row["kind"])
        with engine.begin() as conn:
            store.fail_job(conn, job_id, error="the job failed; the server's log says why",
                           kind=type(exc).__name__)
        return
    with engine.begin() as conn:
        store.finish_job(conn, job_id, result=outcome.result, payload=outcome.payload)


# -- the queue ---------------------------------------------------------------------------

_CITIES: dict[tuple[str, str], OpenCity] = {}
_WORKERS = Background("job-worker")
_APPS: dict[str, procrastinate.App] = {}
_QUEUE_LOCK = threading.Lock()


def _conninfo(settings: Settings) -> str:
    """The deployment's database as libpq connection info (the queue's own connections)."""
    url = database_url(settings)
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _app(settings: Settings, connector: procrastinate.connector.BaseConnector
         ) -> procrastinate.App:
    """The queue of ``settings``' deployment, with its one task: one job of one city (each
    city opened once per process)."""
    app = procrastinate.App(connector=connector)
    deployment = _conninfo(settings)

    def opened(city: str) -> OpenCity:
        with _QUEUE_LOCK:
            if (deployment, city) not in _CITIES:
                base = settings.with_(city=city)
                registry = open_deployment(base, start=False)
                try:
                    _CITIES[deployment, city] = open_city(registry, base)
                finally:
                    registry.dispose()
            return _CITIES[deployment, city]

    def run_job(city: str, job_id: int) -> None:
        city_now = opened(city)
        execute(city_now.engine, city_now.settings, job_id)

    def run_timer(city: str, name: str, params: dict[str, Any]) -> None:
        city_now = opened(city)
        try:
            TIMERS[name](city_now.engine, city_now.settings, params)
        except Exception:
            log.exception("timer %s %s of %s failed", name, params, city)

    app.task(name=TASK, queue=QUEUE)(run_job)
    app.task(name=TIMER_TASK, queue=QUEUE)(run_timer)
    return app


def _deferrer(settings: Settings) -> procrastinate.App:
    """The queue as this process adds jobs to it (opened once)."""
    conninfo = _conninfo(settings)
    with _QUEUE_LOCK:
        if conninfo not in _APPS:
            app = _app(settings, procrastinate.SyncPsycopgConnector(conninfo=conninfo))
            app.open()
            _APPS[conninfo] = app
        return _APPS[conninfo]


#: Two jobs at once (each on a thread of the worker): a page's quick job does not wait
#: behind a long plan. A new job wakes the worker at once (LISTEN/NOTIFY), and so does a
#: timer falling due (a call-out's next ring) that this process deferred (its alarm); the
#: poll finds the others.
_OPTIONS: dict[str, Any] = {"queues": [QUEUE], "listen_notify": True, "concurrency": 2,
                            "fetch_job_polling_interval": 2.0, "delete_jobs": "always"}


def run_worker(settings: Settings, *, wait: bool = True) -> None:
    """Run the jobs of every city of the deployment until stopped by a signal
    (``wait=False``: until the queue is empty)."""
    app = _app(settings, procrastinate.PsycopgConnector(conninfo=_conninfo(settings)))
    app.run_worker(wait=wait, **_OPTIONS)


async def _sweep(app: procrastinate.App, settings: Settings) -> None:
    """Drop the queue's entries taken by workers that stopped (no heartbeat for a lease):
    their jobs are queued again under new entries once their own lease lapses."""
    try:
        stalled = await app.job_manager.get_stalled_jobs(
            queue=QUEUE, seconds_since_heartbeat=max(settings.job_lease_s, 30.0))
        for entry in stalled:
            await app.job_manager.finish_job(entry, status=procrastinate.jobs.Status.FAILED,
                                             delete_job=True)
    except procrastinate.exceptions.ProcrastinateException:
        log.warning("the queue's stalled entries could not be swept", exc_info=True)


def _worker_thread(settings: Settings, stop: threading.Event) -> None:
    async def main() -> None:
        app = _app(settings, procrastinate.PsycopgConnector(conninfo=_conninfo(settings)))
        async with app.open_async():
            worker = asyncio.create_task(app.run_worker_async(
                install_signal_handlers=False, **_OPTIONS))
            swept = time.monotonic()
            conninfo = _conninfo(settings)
            while not stop.is_set() and not worker.done():
                due, after = _rung(conninfo, time.time())
                if due:  # a timer's time: the workers fetch it now, not at their next poll
                    try:
                        await store.wake_workers(app.connector, QUEUE)
                    except procrastinate.exceptions.ProcrastinateException:
                        log.warning("the job workers could not be woken", exc_info=True)
                await asyncio.sleep(0.2 if after is None
                                    else min(0.2, max(0.0, after - time.time())))
                if time.monotonic() - swept > settings.job_lease_s:
                    swept = time.monotonic()
                    await _sweep(app, settings)
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    try:
        asyncio.run(main())
    except procrastinate.exceptions.ConnectorException:
        # the database went away (a stopped server, a dropped test database): this thread
        # ends, and the next job asked for starts another
        log.warning("the job worker stopped: its database is unreachable")


def ensure_worker(settings: Settings) -> None:
    """A worker thread in this process, unless one runs already."""
    _WORKERS.ensure(_conninfo(settings), lambda stop: _worker_thread(settings, stop))


def stop_workers(timeout: float = 60.0) -> None:
    """Stop this process's worker threads (each finishes the job it runs, waited for at
    most ``timeout`` seconds) and close the queues it added jobs to."""
    with _QUEUE_LOCK:
        apps = list(_APPS.values())
        _APPS.clear()
        opened = list(_CITIES.values())
        _CITIES.clear()
    _WORKERS.stop(timeout=timeout)
    for app in apps:
        app.close()
    for city in opened:
        city.engine.dispose()


def plan_params(params: PlanParams) -> dict[str, Any]:
    """A zones job's plan parameters (as its ``params["plan"]``)."""
    return dataclasses.asdict(params)
