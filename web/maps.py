"""Map documents shown in the pages' frames, vector tiles of street recency, and the local
front-end assets. The maps themselves come from :mod:`geo_patrol.services.maps`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request, send_file

from geo_patrol.access import Resource
from geo_patrol.render.assets import ASSETS, asset_path
from geo_patrol.render.maps import tile_bin_edges
from geo_patrol.render.basemap import MAX_SERVED_ZOOM
from geo_patrol.services import maps, places, results
from geo_patrol.services import search as places_search
from web.auth import principal, requires
from web.db import get_conn, get_db, settings
from web.params import day_arg, lang, stored_run

bp = Blueprint("maps", __name__)


def _html(page: str) -> Response:
    return Response(page, mimetype="text/html")


@bp.get("/maps/district/<int:district_id>")
@requires(Resource.COVERAGE)
def district_map(district_id: int) -> Any:
    me = principal()
    me.check_area(district_id, "district")
    conn = get_conn()
    return _html(maps.district_map(conn, stored_run(conn), district_id, lang=lang(),
                                   rules=settings().rules, tz=settings().timezone,
                                   basemap=settings().basemap, within=me.community_ids))


@bp.get("/maps/community/<int:area_id>")
@requires(Resource.COVERAGE)
def community_map(area_id: int) -> Any:
    me = principal()
    me.check_area(area_id, "area")
    day = request.args.get("day")
    if day:
        me.within(Resource.TRACKS)  # raw tracks: not for aggregate-only roles
    conn = get_conn()
    return _html(maps.community_map(conn, stored_run(conn), area_id, lang=lang(),
                                    rules=settings().rules, basemap=settings().basemap,
                                    day=day_arg(day) if day else None,
                                    tz=settings().timezone,
                                    people=me.grant(Resource.PEOPLE) is not None))


@bp.get("/tiles/segments/<int:run_id>/<int:z>/<int:x>/<int:y>.pbf")
@requires(Resource.COVERAGE)
def segment_tiles(run_id: int, z: int, x: int, y: int) -> Any:
    if not (0 <= z <= 22 and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        abort(404)
    tile = results.segment_tile(get_conn(), run_id, z, x, y,
                                within=principal().within(Resource.COVERAGE),
                                bin_edges=tile_bin_edges(z))
    return Response(tile, mimetype="application/vnd.mapbox-vector-tile",
                    headers={"Cache-Control": "private, max-age=3600"})


@bp.get("/tiles/base/<int:z>/<int:x>/<int:y>.pbf")
def base_tiles(z: int, x: int, y: int) -> Any:
    """The city's base map (streets with names, area outlines), for every signed-in role
    (no record of anyone in it)."""
    if not (0 <= z <= MAX_SERVED_ZOOM and 0 <= x < 2 ** z and 0 <= y < 2 ** z):
        abort(404)
    return Response(places.base_tile(get_db(), z, x, y),
                    mimetype="application/vnd.mapbox-vector-tile",
                    headers={"Cache-Control": "private, max-age=600"})


@bp.get("/search")
def search() -> Any:
    """The maps' search box: places, and the records the user's role may see, as one types."""
    q = request.args.get("q", "")
    kinds = frozenset(k for k in request.args.get("kinds", "").split(",")
                      if k in places_search.KINDS) or None
    found = places_search.search(get_conn(), q, principal(), lang=lang(), kinds=kinds,
                                 scoped=request.args.get("scoped") == "1")
    return jsonify(places_search.shown_in(found, request.args.get("datum", "wgs84")))


@bp.get("/search/place")
def place_name() -> Any:
    """The name of a point picked on a form's map (its street and cross streets, its
    community), for the line under the map that says where the place is."""
    lon = request.args.get("lon", type=float)
    lat = request.args.get("lat", type=float)
    if lon is None or lat is None:
        abort(400)
    scoped = request.args.get("scoped") == "1"
    return jsonify(places_search.place_name(get_conn(), lon, lat, lang=lang(),
                                            street=request.args.get("street") or None,
                                            who=principal() if scoped else None))


@bp.get("/search/street")
def street_line() -> Any:
    """A street chosen by name in a form, as GeoJSON for the form's map to draw."""
    line = places_search.street_line(get_conn(), request.args.get("name", ""))
    if line is None:
        abort(404)
    return jsonify({"line": line})


@bp.get("/vendor/<path:name>")
def vendor(name: str) -> Any:
    if name not in ASSETS:
        abort(404)
    return send_file(asset_path(name), max_age=86400)


@bp.get("/favicon.ico")
def favicon() -> Any:
    """The app's icon (browsers ask for it on every document, map documents included)."""
    return send_file(Path(__file__).parent / "static" / "favicon.svg",
                     mimetype="image/svg+xml", max_age=86400)
