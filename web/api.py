"""JSON/GeoJSON API over stored data."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.store.areas import area_summary
from geo_patrol.store.models import AREA_LEVELS

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
def areas() -> Any:
    """Areas of one level as a GeoJSON FeatureCollection (``?level=district``)."""
    level = request.args.get("level", "district")
    if level not in AREA_LEVELS:
        msg = f"unknown level {level!r}: use one of {', '.join(AREA_LEVELS)}"
        raise InputError(msg)
    with _engine().connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.id, a.name, a.code, p.name AS parent, "
            "ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, 0.0002), 6) AS geometry "
            "FROM areas a LEFT JOIN areas p ON p.id = a.parent_id WHERE a.level = :level "
            "ORDER BY a.code NULLS LAST, a.name"), {"level": level}).mappings().all()
    features = [{"type": "Feature", "id": r["id"], "geometry": json.loads(r["geometry"]),
                 "properties": {"name": r["name"], "code": r["code"], "parent": r["parent"],
                                "level": level}} for r in rows]
    return jsonify(type="FeatureCollection", features=features)


@bp.get("/summary")
def summary() -> Any:
    """Per-area size, sub-areas and street length (``?level=district``)."""
    level = request.args.get("level", "district")
    if level not in AREA_LEVELS:
        msg = f"unknown level {level!r}"
        raise InputError(msg)
    with _engine().connect() as conn:
        table = area_summary(conn, level=level)
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
def runs() -> Any:
    """Stored analysis runs, newest first."""
    from geo_patrol.store.results import list_runs

    with _engine().connect() as conn:
        table = list_runs(conn)
    return jsonify(json.loads(table.to_json(orient="records", date_format="iso")))


def _run_or_404(conn: Any, run_id: int) -> dict:
    from geo_patrol.store.results import find_run

    return find_run(conn, run_id)


@bp.get("/runs/<int:run_id>/areas")
def run_areas(run_id: int) -> Any:
    """Coverage per area of a run (``?level=community``), worst first."""
    from geo_patrol.store.results import area_table

    level = request.args.get("level")
    if level is not None and level not in AREA_LEVELS:
        raise InputError(f"unknown level {level!r}")
    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        table = area_table(conn, run_id, level=level)
    return jsonify(json.loads(table.to_json(orient="records", force_ascii=False)))


@bp.get("/runs/<int:run_id>/gaps")
def run_gaps(run_id: int) -> Any:
    """Gaps of a run as GeoJSON, highest priority first (``?area=ID&limit=N``)."""
    from geo_patrol.store.results import gap_layer

    limit = min(request.args.get("limit", 200, type=int), 5000)
    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        frame = gap_layer(conn, run_id, request.args.get("area", type=int), limit=limit)
    return jsonify(_feature_collection(frame))


@bp.get("/runs/<int:run_id>/hazards")
def run_hazards(run_id: int) -> Any:
    """Hazards with their compliance as GeoJSON; the inspector's name is masked."""
    from geo_patrol.privacy import mask_name
    from geo_patrol.store.results import hazard_layer

    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        frame = hazard_layer(conn, run_id, request.args.get("area", type=int),
                             request.args.get("category"), request.args.get("status"))
    frame["inspector"] = frame["inspector"].map(lambda v: mask_name(v) if isinstance(v, str)
                                                else None)
    return jsonify(_feature_collection(frame))


@bp.get("/runs/<int:run_id>/daily/<int:area_id>")
def run_daily(run_id: int, area_id: int) -> Any:
    """An area's covered length per day of a run."""
    from geo_patrol.store.results import daily_series

    with _engine().connect() as conn:
        _run_or_404(conn, run_id)
        table = daily_series(conn, run_id, area_id)
    return jsonify(json.loads(table.to_json(orient="records", date_format="iso")))


@bp.get("/openapi.json")
def openapi() -> Any:
    """The OpenAPI 3 description of this API."""
    from web.openapi import SPEC

    return jsonify(SPEC)
