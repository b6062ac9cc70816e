"""JSON/GeoJSON API over stored data."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
from flask import Blueprint, jsonify, request

from geo_patrol.access import Grant, Resource
from geo_patrol.errors import ForbiddenError, InputError, NotFoundError
from geo_patrol.privacy import mask_name
from geo_patrol.services import jobs, scope, trials
from geo_patrol.services import rota as rota_service
from geo_patrol.services.database import ping
from geo_patrol.services.results import (
    area_features,
    area_summary,
    area_table,
    daily_series,
    find_run,
    gap_layer,
    hazard_layer,
    list_runs,
    track_layer,
    volunteer_table,
)
from geo_patrol.vocab import AREA_LEVELS
from web.auth import principal, reports_limited, requires
from web.db import deployment, get_conn, get_db, settings
from web.openapi import SPEC
from web.params import day_arg, int_arg
from web.uploads import saved_upload

bp = Blueprint("api", __name__, url_prefix="/api")


def _level(default: str | None) -> str | None:
    level = request.args.get("level", default)
    if level is not None and level not in AREA_LEVELS:
        raise InputError(f"unknown level {level!r}: use one of {', '.join(AREA_LEVELS)}")
    return level


@bp.get("/health")
def health() -> Any:
    """The server and its database answer (the deployment's, before any city)."""
    with deployment().connect() as conn:
        ping(conn)
    return jsonify(status="ok")


@bp.get("/jobs/<int:job_id>")
@requires(Resource.COVERAGE)
def job_status(job_id: int) -> Any:
    """A job's state (queued, running, done, failed), progress (0-1) and error; what it made
    is read on its page. An officer sees the jobs they asked for, and those making the
    report of a trial they reach (which their page joined)."""
    me = principal()
    job = jobs.status(get_db(), settings(), job_id)
    if me.within(Resource.COVERAGE) is not None and job["requested_by"] != me.username \
            and not _joined_report(job):
        raise NotFoundError(f"no job {job_id}")
    return jsonify(id=job["id"], kind=job["kind"], state=job["state"],
                   progress=job["progress"], error=job["error"])


def _joined_report(job: dict[str, Any]) -> bool:
    """Whether ``job`` makes what every reader of a trial or a rota joins (the trial's
    report, the rota's dose) of one the reader reaches."""
    params = job["params"]
    try:
        if job["kind"] == "trial" and params.get("action") == "report":
            trials.reached(get_db(), int(params["trial"]),
                           within=principal().within(Resource.CRIME))
            return True
        if job["kind"] == "dose":
            rota_service.reached(get_db(), int(params["rota"]),
                                 within=principal().within(Resource.CRIME))
            return True
    except (NotFoundError, ForbiddenError):
        return False
    return False


@bp.get("/areas")
@requires(Resource.COVERAGE)
def areas() -> Any:
    """Areas of one level as a GeoJSON FeatureCollection (``?level=district``)."""
    features = area_features(get_conn(), _level("district"), within=principal().area_ids)
    return jsonify(type="FeatureCollection", features=features)


@bp.get("/summary")
@requires(Resource.COVERAGE)
def summary() -> Any:
    """Per-area size, sub-areas and street length (``?level=district``)."""
    within = principal().area_ids
    level = _level("district")
    table = area_summary(get_conn(), level=level)
    if within is not None:
        table = table[table["id"].isin(within)]
    if table.empty:
        msg = f"no {level} areas loaded"
        raise NotFoundError(msg)
    return jsonify(table.to_dict(orient="records"))


def _feature_collection(frame: Any) -> Any:
    """A GeoDataFrame as GeoJSON (timestamps as ISO strings)."""
    frame = frame.copy()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = [v.isoformat() if pd.notna(v) else None for v in frame[col]]
    return json.loads(frame.to_json(na="null", drop_id=True, to_wgs84=False))


@bp.get("/runs")
@requires(Resource.COVERAGE)
def runs() -> Any:
    """Stored analysis runs, newest first."""
    table = list_runs(get_conn())
    return jsonify(json.loads(table.to_json(orient="records", date_format="iso")))


def _area_arg() -> int | None:
    """``?area=ID``, which must lie in the user's scope (404 otherwise)."""
    area = int_arg("area")
    if area is not None:
        principal().check_area(area)
    return area


@bp.get("/runs/<int:run_id>/areas")
@requires(Resource.COVERAGE)
def run_areas(run_id: int) -> Any:
    """Coverage per area of a run (``?level=community``), worst first."""
    within, level = principal().area_ids, _level(None)
    conn = get_conn()
    find_run(conn, run_id)
    table = area_table(conn, run_id, level=level, within=within)
    return jsonify(json.loads(table.to_json(orient="records", force_ascii=False)))


@bp.get("/runs/<int:run_id>/gaps")
@requires(Resource.COVERAGE)
def run_gaps(run_id: int) -> Any:
    """Gaps of a run as GeoJSON, highest priority first (``?area=ID&limit=N``)."""
    me, area = principal(), _area_arg()
    limit = int_arg("limit", 200, low=1, high=5000)
    conn = get_conn()
    find_run(conn, run_id)
    frame = gap_layer(conn, run_id, area, limit=limit, within=me.within(Resource.COVERAGE))
    return jsonify(_feature_collection(frame))


@bp.get("/runs/<int:run_id>/hazards")
@requires(Resource.HAZARDS)
def run_hazards(run_id: int) -> Any:
    """Hazards with their compliance as GeoJSON; the inspector's name is masked (and left
    out for roles without access to personal data)."""
    me, area = principal(), _area_arg()
    conn = get_conn()
    find_run(conn, run_id)
    frame = hazard_layer(conn, run_id, area, request.args.get("category"),
                         request.args.get("status"), within=me.within(Resource.HAZARDS))
    people = me.grant(Resource.PEOPLE) is not None
    frame["inspector"] = frame["inspector"].map(
        lambda v: mask_name(v) if people and isinstance(v, str) else None)
    return jsonify(_feature_collection(frame))


@bp.get("/runs/<int:run_id>/daily/<int:area_id>")
@requires(Resource.COVERAGE)
def run_daily(run_id: int, area_id: int) -> Any:
    """An area's covered length per day of a run."""
    principal().check_area(area_id)
    conn = get_conn()
    find_run(conn, run_id)
    table = daily_series(conn, run_id, area_id)
    return jsonify(json.loads(table.to_json(orient="records", date_format="iso")))


@bp.get("/me")
def me() -> Any:
    """The signed-in user; for a volunteer, their own roster record (masked)."""
    user = principal()
    body: dict[str, Any] = {"username": user.username, "role": user.role.value}
    if user.volunteer_id is not None:
        record = volunteer_table(get_conn(), volunteer_id=user.volunteer_id)
        body["volunteer"] = json.loads(record.to_json(orient="records", force_ascii=False))[0]
    return jsonify(body)


@bp.get("/tracks")
@requires(Resource.TRACKS)
def tracks() -> Any:
    """One local day's tracks as GeoJSON: ``?day=YYYY-MM-DD`` and ``?area=ID`` (clipped to the
    area), or for a volunteer account their own (``area`` not needed)."""
    me = principal()
    day = day_arg(request.args.get("day", ""))
    if me.grant(Resource.TRACKS) is Grant.OWN:
        area, volunteer = None, me.volunteer_id
    else:
        me.within(Resource.TRACKS)
        area, volunteer = _area_arg(), None
        if area is None:
            raise InputError("name the area: ?area=ID")
    frame = track_layer(get_conn(), area, day, tz=settings().timezone, volunteer_id=volunteer)
    return jsonify(_feature_collection(frame))


@bp.post("/tracks")
@requires(Resource.TRACKS, "write")
def upload_track() -> Any:
    """Upload a GPX/GeoJSON/CSV track file (multipart field ``file``); a volunteer account
    uploads its own tracks only (a file naming anyone else is refused whole). Returns the
    load summary (201, or 200 if already stored)."""
    with saved_upload(request.files.get("file")) as path:
        result = scope.upload_file(get_db(), settings(), principal(), "tracks", path,
                                   **{k: request.form.get(k) for k in ("crs", "tz",
                                                                        "volunteer")})
    return jsonify(summary=result.summary_line(), stored=result.stored,
                   flagged=result.flagged,
                   duplicate=result.duplicate), 200 if result.duplicate else 201


@bp.post("/reports")
@requires(Resource.HAZARDS, "report")
@reports_limited
def send_report() -> Any:
    """A volunteer's report: JSON ``{category, text, lon, lat}`` (WGS-84)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("send a JSON object with category, text, lon and lat")
    report_id = scope.send_report(get_db(), settings(), principal(),
                                  category=str(body.get("category", "")),
                                  text=str(body["text"]) if body.get("text") else None,
                                  lon=body.get("lon"), lat=body.get("lat"))
    return jsonify(id=report_id, verification="pending"), 201


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3 description of this API."""
    return jsonify(SPEC)
