"""Rotas on the planner: make one for an area and period, see a stored one (the week, a map
per day, the shortfall, the walks), and export it (CSV, GeoJSON, offline briefing, API)."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, request, url_for

from geo_patrol.access import Resource
from geo_patrol.errors import InputError
from geo_patrol.render.exports import localised_table
from geo_patrol.render.maps import map_html
from geo_patrol.render.rota import rota_briefing_html, rota_geojson, rota_map, walk_rows
from geo_patrol.services import jobs, places
from geo_patrol.services import rota as service
from web.auth import principal, requires
from web.db import get_conn, get_db, settings
from web.params import (capped_int, csv_response, day_arg, download, float_value, int_arg,
                        int_value, lang)

bp = Blueprint("rota", __name__)


def _people() -> bool:
    """Whether the reader may see who walks (roster numbers, masked names)."""
    return principal().grant(Resource.PEOPLE) is not None


def rota_view(rota_id: int, *, day: Any = None) -> service.RotaView:
    """A stored rota in the reader's scope (404 outside it)."""
    me = principal()
    return service.view(get_db(), settings(), rota_id,
                        within=me.within(Resource.COVERAGE), people=_people(), day=day)


def _requested() -> service.RotaView:
    rota_id = int_arg("rota")
    if rota_id is None:
        raise InputError("name the rota: ?rota=ID")
    return rota_view(rota_id)


def page_context(area_id: int | None) -> dict[str, Any]:
    """What the planner page shows of rotas for ``area_id``: the stored ones, the one asked
    for (``?rota=``, else the newest) and its day (``?day=``, else the first)."""
    if area_id is None:
        return {"rotas": None, "rota": None}
    me = principal()
    stored = service.listing(get_db(), area_id=area_id, within=me.within(Resource.COVERAGE))
    chosen = int_arg("rota")
    if chosen is None and len(stored):
        chosen = int(stored.iloc[0]["id"])
    if chosen is None:
        return {"rotas": stored, "rota": None}
    view = rota_view(chosen)
    days = view.days()
    day = day_arg(request.args["day"]) if request.args.get("day") else days[0]
    if day not in days:
        raise InputError(f"day {day} is not in rota {chosen}")
    rows = walk_rows(view, lang())
    return {"rotas": stored, "rota": view, "rota_day": day, "rota_days": days,
            "rota_walks": rows[rows["day"] == day] if len(rows) else rows,
            "people": _people()}


@bp.post("/planner/rota")
@requires(Resource.COVERAGE, "write")
def make() -> Any:
    """Plan and store a rota from the form; then show it on the planner."""
    me = principal()
    form = request.form
    area = form.get("area", "")
    if not area.isdigit():
        raise InputError("choose the area")

    options = {"start": day_arg(form["from"]).isoformat() if form.get("from") else None,
               "days": capped_int("days", form.get("days"), 7, cap="rota_days"),
               "revisit_days": capped_int("revisit_days", form.get("revisit_days"), 3),
               "minutes": float_value("minutes", form.get("minutes"), 90.0),
               "seed": int_value("seed", form.get("seed"), 0) or 0}
    service.check_options(options["days"], options["revisit_days"], options["minutes"],
                          options["seed"])
    within = me.within(Resource.COVERAGE, "write")
    job = jobs.submit(get_db(), settings(), me.username, "rota", {
        "area_id": int(area), "by": me.username, "options": options,
        "within": None if within is None else sorted(within)})
    return redirect(url_for("planner.planner_page", area=int(area), rota_job=job["id"])
                    + "#rota")


@bp.get("/maps/rota")
@requires(Resource.COVERAGE)
def rota_map_page() -> Any:
    view = _requested()
    day = day_arg(request.args["day"]) if request.args.get("day") else None
    m = rota_map(view, lang(), day=day, basemap=settings().basemap, people=_people())
    return Response(map_html(m, lang=lang()), mimetype="text/html")  # scripts with the CSP nonce


@bp.get("/planner/rota.csv")
@requires(Resource.COVERAGE)
def rota_csv() -> Any:
    view = _requested()
    return csv_response(localised_table(view.table(), lang()), f"rota-{view.header['id']}.csv")


@bp.get("/planner/rota.geojson")
@requires(Resource.COVERAGE)
def rota_export() -> Any:
    view = _requested()
    return download(json.dumps(rota_geojson(view), ensure_ascii=False, default=str),
                    f"rota-{view.header['id']}.geojson", "application/geo+json")


@bp.get("/planner/rota-briefing")
@requires(Resource.COVERAGE)
def rota_briefing() -> Any:
    view = _requested()
    # a briefing carries roster numbers at most, never names
    view.walks["name"] = None
    page = rota_briefing_html(view, lang=lang(), basemap=settings().basemap,
                              tiles=places.embedded_tiles(
                                  get_conn(), tuple(walk_rows(view, lang()).total_bounds)))
    return download(page, f"rota-{view.header['id']}.html", "text/html")


@bp.get("/api/rotas")
@requires(Resource.COVERAGE)
def api_rotas() -> Any:
    """The stored rotas in scope (``?area=`` for one area), newest first."""
    me = principal()
    area_id = int_arg("area")
    if area_id is not None:
        me.check_area(area_id, "area")
    table = service.listing(get_db(), area_id=area_id, within=me.within(Resource.COVERAGE))
    return jsonify(rotas=[{**r, "start_day": r["start_day"].isoformat(),
                           "created_at": r["created_at"].isoformat(), "walks": int(r["walks"])}
                          for r in table.to_dict("records")])


@bp.get("/api/rotas/<int:rota_id>")
@requires(Resource.COVERAGE)
def api_rota(rota_id: int) -> Any:
    """One rota as GeoJSON: its walks and, in ``properties``, its figures and days."""
    return Response(json.dumps(rota_geojson(rota_view(rota_id)), ensure_ascii=False,
                               default=str), mimetype="application/json")
