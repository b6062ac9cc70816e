"""Map documents (folium) shown in the pages' frames, and vector tiles of street recency."""

from __future__ import annotations

import datetime as dt
from typing import Any

import folium
import sqlalchemy as sa
from flask import Blueprint, Response, abort, current_app, request, send_file

from geo_patrol.access import Resource
from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.render import maps
from geo_patrol.render.assets import ASSETS, asset_path
from geo_patrol.store import results
from web.auth import principal, requires
from web.pages import _engine, _run, lang

bp = Blueprint("maps", __name__)


def _html(m: folium.Map) -> Response:
    return Response(m.get_root().render(), mimetype="text/html")


def _basemap() -> str | None:
    return current_app.config.get("GEO_PATROL_BASEMAP")


def parse_day(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputError(f"day {text!r} is not a date (YYYY-MM-DD)") from None


def _stored_run(conn: Any) -> dict:
    run = _run(conn)
    if run is None:
        raise NotFoundError("no analysis run yet")
    return run


@bp.get("/maps/district/<int:district_id>")
@requires(Resource.COVERAGE)
def district_map(district_id: int) -> Any:
    me = principal()
    me.check_area(district_id, "district")
    rules = current_app.config["GEO_PATROL_SETTINGS"].rules
    with _engine().connect() as conn:
        run = _stored_run(conn)
        layers = results.area_layers(conn, run, district_id, level="district", gap_limit=200,
                                     with_inspectors=False, within=me.community_ids)
    shown = layers.communities if not layers.communities.empty else layers.area
    m, shift = maps.base_map(tuple(shown.total_bounds), basemap=_basemap(), canvas=False)
    maps.add_areas(m, shown, lang(), shift, link=f"/community/{{id}}?run={run['id']}")
    if not shift:  # tiles are in WGS-84 web mercator; a GCJ-02 base map gets the gaps only
        maps.add_vector_streets(m, f"/tiles/segments/{run['id']}/{{z}}/{{x}}/{{y}}.pbf", lang())
    maps.add_gaps(m, layers.gaps, lang(), shift)
    maps.add_hazards(m, layers.hazards, lang(), shift, rules)
    maps.add_incident_bins(m, layers.incident_bins, lang(), shift)
    return _html(maps.finish(m, [maps.recency_legend(lang()), maps.compliance_legend(lang())]))


@bp.get("/maps/community/<int:area_id>")
@requires(Resource.COVERAGE)
def community_map(area_id: int) -> Any:
    me = principal()
    me.check_area(area_id, "area")
    settings = current_app.config["GEO_PATROL_SETTINGS"]
    day = request.args.get("day")
    if day:
        me.within(Resource.TRACKS)  # raw tracks: not for aggregate-only roles
    with _engine().connect() as conn:
        run = _stored_run(conn)
        layers = results.area_layers(conn, run, area_id, level="community")
        segments = results.segment_layer(conn, run["id"], area_id)
        tracks = results.track_layer(conn, area_id, parse_day(day), settings.timezone) \
            if day else None
    m, shift = maps.base_map(tuple(layers.area.total_bounds), basemap=_basemap())
    maps.add_areas(m, layers.area, lang(), shift)
    maps.add_segments(m, segments, lang(), shift)
    maps.add_gaps(m, layers.gaps, lang(), shift)
    maps.add_hazards(m, layers.hazards, lang(), shift, settings.rules)
    maps.add_incident_bins(m, layers.incident_bins, lang(), shift)
    if tracks is not None:
        maps.add_tracks(m, tracks, lang(), shift)
    return _html(maps.finish(m, [maps.recency_legend(lang()), maps.compliance_legend(lang())]))


@bp.get("/tiles/segments/<int:run_id>/<int:z>/<int:x>/<int:y>.pbf")
@requires(Resource.COVERAGE)
def segment_tiles(run_id: int, z: int, x: int, y: int) -> Any:
    if not (0 <= z <= 22 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        abort(404)
    within = principal().within(Resource.COVERAGE)
    with _engine().connect() as conn:
        tile = conn.execute(sa.text("""
            WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env),
            rows AS (
                SELECT ST_AsMVTGeom(ST_Transform(s.geom, 3857), b.env, 4096, 16, true) AS geom,
                       round((extract(epoch FROM (run.window_end - r.last_visit))
                              / 86400.0)::numeric, 1)::float AS days
                FROM b, street_segments s
                JOIN segment_results r ON r.segment_id = s.id AND r.run_id = :run
                JOIN analysis_runs run ON run.id = r.run_id
                WHERE s.geom && ST_Transform(b.env, 4326)
                  AND (CAST(:within AS integer[]) IS NULL
                       OR s.area_id = ANY(CAST(:within AS integer[]))))
            SELECT ST_AsMVT(rows, 'segments', 4096, 'geom') FROM rows"""),
            {"z": z, "x": x, "y": y, "run": run_id,
             "within": results.ids_param(within)}).scalar_one()
    return Response(bytes(tile or b""), mimetype="application/vnd.mapbox-vector-tile",
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.get("/vendor/<name>")
def vendor(name: str) -> Any:
    if name not in ASSETS:
        abort(404)
    return send_file(asset_path(name), max_age=86400)
