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
