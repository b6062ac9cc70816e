"""JSON/GeoJSON API over stored data."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from geo_patrol.access import Resource
from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.store.areas import area_summary
from geo_patrol.store.models import AREA_LEVELS
from geo_patrol.store.results import ids_param
from web.auth import principal, requires
from web.params import int_arg

bp = Blueprint("api", __name__, url_prefix="/api")


def _engine():  # noqa: ANN202
    from web import get_engine

    return get_engine(current_app)


@bp.get("/health")
def health() -> Any:
    with _engine().connect() as conn:
        conn.execute(sa.text("SELECT 1"))
    return jsonify(status="ok")


@bp.get("/areas")
@requires(Resource.COVERAGE)
def areas() -> Any:
    """Areas of one level as a GeoJSON FeatureCollection (``?level=district``)."""
    within = principal().area_ids
    level = request.args.get("level", "district")
    if level not in AREA_LEVELS:
        msg = f"unknown level {level!r}: use one of {', '.join(AREA_LEVELS)}"
        raise InputError(msg)
    with _engine().connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.id, a.name, a.code, p.name AS parent, "
            "ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, 0.0002), 6) AS geometry "
            "FROM areas a LEFT JOIN areas p ON p.id = a.parent_id WHERE a.level = :level "
            "AND (CAST(:within AS integer[]) IS NULL OR a.id = ANY(CAST(:within AS integer[])))"
            " ORDER BY a.code NULLS LAST, a.name"),
            {"level": level, "within": ids_param(within)}).mappings().all()
    features = [{"type": "Feature", "id": r["id"], "geometry": json.loads(r["geometry"]),
                 "properties": {"name": r["name"], "code": r["code"], "parent": r["parent"],
                                "level": level}} for r in rows]
    return jsonify(type="FeatureCollection", features=features)


@bp.get("/summary")
@requires(Resource.COVERAGE)
def summary() -> Any:
    """Per-area size, sub-areas and street length (``?level=district``)."""
    within = principal().area_ids
    level = request.args.get("level", "district")
    if level not in AREA_LEVELS:
        msg = f"unknown level {level!r}"
        raise InputError(msg)
    with _engine().connect() as conn:
        table = area_summary(conn, level=level)
    if within is not None:
        table = table[table["id"].isin(within)]
    if table.empty:
        msg = f"no {level} areas loaded"
        raise NotFoundError(msg)
    return jsonify(table.to_dict(orient="records"))


def _feature_collection(frame: Any) -> Any:
    """A GeoDataFrame as GeoJSON (timestamps as ISO strings)."""
    import pandas as pd

    frame = frame.copy()
    for col in frame.columns:
        if pd.api.types.is_datetime64_any_dtype(frame[col]):
            frame[col] = [v.isoformat() if pd.notna(v) else None for v in frame[col]]
    return json.loads(frame.to_json(na="null", drop_id=True, to_wgs84=False))


@bp.get("/runs")
@requires(Resource.COVERAGE)
def runs() -> Any:
    """Stored analysis runs, newest first."""
    from geo_patrol.store.results import list_runs

    with _engine().connect() as conn:
        table = list_runs(conn)
    return jsonify(json.loads(table.to_json(orient="records", date_format="iso")))


def _area_arg() -> int | None:
    """``?area=ID``, which must lie in the user's scope (404 otherwise)."""
    area = int_arg("area")
    if area is not None:
        principal().check_area(area)
    return area


def _run_or_404(conn: Any, run_id: int) -> dict:
    from geo_patrol.store.results import find_run

    return find_run(conn, run_id)


@bp.get("/runs/<int:run_id>/areas")
@requires(Resource.COVERAGE)
def run_areas(run_id: int) -> Any:
    """Coverage per area of a run (``?level=community``), worst first."""
    from geo_patrol.store.results import area_table

    within = principal().area_ids
    level = request.args.get("level")
    if level is not None and level not in AREA_LEVELS:
        raise InputError(f"unknown level {level!r}")
    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        table = area_table(conn, run_id, level=level, within=within)
    return jsonify(json.loads(table.to_json(orient="records", force_ascii=False)))


@bp.get("/runs/<int:run_id>/gaps")
@requires(Resource.COVERAGE)
def run_gaps(run_id: int) -> Any:
    """Gaps of a run as GeoJSON, highest priority first (``?area=ID&limit=N``)."""
    from geo_patrol.store.results import gap_layer

    me, area = principal(), _area_arg()
    limit = int_arg("limit", 200, low=1, high=5000)
    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        frame = gap_layer(conn, run_id, area, limit=limit,
                          within=me.within(Resource.COVERAGE))
    return jsonify(_feature_collection(frame))


@bp.get("/runs/<int:run_id>/hazards")
@requires(Resource.HAZARDS)
def run_hazards(run_id: int) -> Any:
    """Hazards with their compliance as GeoJSON; the inspector's name is masked."""
    from geo_patrol.privacy import mask_name
    from geo_patrol.store.results import hazard_layer

    within, area = principal().within(Resource.HAZARDS), _area_arg()
    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        frame = hazard_layer(conn, run_id, area, request.args.get("category"),
                             request.args.get("status"), within=within)
    frame["inspector"] = frame["inspector"].map(lambda v: mask_name(v) if isinstance(v, str)
                                                else None)
    return jsonify(_feature_collection(frame))


@bp.get("/runs/<int:run_id>/daily/<int:area_id>")
@requires(Resource.COVERAGE)
def run_daily(run_id: int, area_id: int) -> Any:
    """An area's covered length per day of a run."""
    from geo_patrol.store.results import daily_series

    principal().check_area(area_id)
    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        table = daily_series(conn, run_id, area_id)
    return jsonify(json.loads(table.to_json(orient="records", date_format="iso")))


@bp.get("/me")
def me() -> Any:
    """The signed-in user; for a volunteer, their own roster record (masked)."""
    from geo_patrol.store.registry import volunteer_table

    user = principal()
    body: dict[str, Any] = {"username": user.username, "role": user.role.value}
    if user.volunteer_id is not None:
        with _engine().connect() as conn:
            record = volunteer_table(conn, volunteer_id=user.volunteer_id)
        body["volunteer"] = json.loads(record.to_json(orient="records", force_ascii=False))[0]
    return jsonify(body)


@bp.get("/tracks")
@requires(Resource.TRACKS)
def tracks() -> Any:
    """One local day's tracks as GeoJSON: ``?day=YYYY-MM-DD`` and ``?area=ID``, or for a
    volunteer account their own (``area`` not needed)."""
    from geo_patrol.access import Grant
    from geo_patrol.store.results import track_layer
    from web.maps import parse_day

    me = principal()
    settings = current_app.config["GEO_PATROL_SETTINGS"]
    day = parse_day(request.args.get("day", ""))
    if me.grant(Resource.TRACKS) is Grant.OWN:
        area, volunteer = None, me.volunteer_id
    else:
        me.within(Resource.TRACKS)
        area, volunteer = _area_arg(), None
        if area is None:
            raise InputError("name the area: ?area=ID")
    with _engine().connect() as conn:
        frame = track_layer(conn, area, day, settings.timezone, volunteer_id=volunteer)
    return jsonify(_feature_collection(frame))


@bp.post("/tracks")
@requires(Resource.TRACKS, "write")
def upload_track() -> Any:
    """Upload a GPX/GeoJSON/CSV track file (multipart field ``file``); a volunteer account
    uploads its own tracks only. Returns the load summary (201, or 200 if already stored)."""
    from geo_patrol.access import Grant

    me = principal()
    volunteer = request.form.get("volunteer") or None
    if me.grant(Resource.TRACKS, "write") is Grant.OWN:
        with _engine().connect() as conn:
            volunteer = conn.execute(sa.text("SELECT number FROM volunteers WHERE id = :i"),
                                     {"i": me.volunteer_id}).scalar_one()
    result = _load_upload("tracks", crs=request.form.get("crs") or None,
                          tz=request.form.get("tz") or None, volunteer=volunteer)
    return jsonify(summary=result.summary_line(), stored=result.stored,
                   flagged=result.flagged,
                   duplicate=result.duplicate), 200 if result.duplicate else 201


@bp.post("/reports")
@requires(Resource.HAZARDS, "report")
def send_report() -> Any:
    """A volunteer's report: JSON ``{category, text, lon, lat}`` (WGS-84)."""
    from geo_patrol.loading import enter_report

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("send a JSON object with category, text, lon and lat")
    report_id = enter_report(_engine(), volunteer_id=principal().volunteer_id,
                             category=str(body.get("category", "")),
                             text=str(body["text"]) if body.get("text") else None,
                             lon=body.get("lon"), lat=body.get("lat"),
                             settings=current_app.config["GEO_PATROL_SETTINGS"])
    return jsonify(id=report_id, verification="pending"), 201


def _load_upload(kind: str, **options: Any) -> Any:
    """Save the request's ``file`` to a temporary directory and load it as ``kind``."""
    from web.uploads import load_upload

    return load_upload(_engine(), current_app.config["GEO_PATROL_SETTINGS"], kind,
                       request.files.get("file"), **options)


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3 description of this API."""
    from web.openapi import SPEC

    return jsonify(SPEC)
