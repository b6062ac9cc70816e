"""The planner: parameters, the proposal on a map, its tables, and its exports (GeoJSON and an
offline briefing). Plans are computed on demand from a stored run and kept briefly in memory,
so the page, its map frame and its exports share one computation."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from typing import Any

from flask import Blueprint, Response, g, jsonify, redirect, render_template, request, url_for

from geo_patrol.access import Resource
from geo_patrol.errors import InputError
from geo_patrol.planning.crew import SLOTS
from geo_patrol.planning.force import weekly
from geo_patrol.planning.plan import Plan, PlanParams, plan_geojson
from geo_patrol.render.maps import map_html
from geo_patrol.render.plan import plan_briefing_html
from geo_patrol.render.plan import plan_map as draw_plan
from geo_patrol.render.rota import figures_rows, shortfall_rows, week_rows
from geo_patrol.services.planning import WEEKDAYS, force, load_force, plan_area, set_force
from geo_patrol.store import results
from web.auth import principal, requires
from web.db import get_conn, get_engine, settings
from web.params import (
    capped_int,
    csv_response,
    current_run,
    float_arg,
    int_arg,
    lang,
    local_path,
)
from web.rota import page_context
from web.uploads import saved_upload

bp = Blueprint("planner", __name__)
_CACHE: OrderedDict[tuple, Plan] = OrderedDict()
_LOCK = threading.Lock()
CACHE_SIZE = 8


def _params() -> PlanParams:
    params = PlanParams(zones=capped_int("zones", request.args.get("zones"), 4),
                        minutes=float_arg("minutes", 90.0),
                        speed_kmh=float_arg("speed", 4.5),
                        dwell_min=float_arg("dwell", 10.0),
                        hazard_weight=float_arg("hazard_weight", 1.0),
                        incident_weight=float_arg("incident_weight", 0.25),
                        alert_weight=float_arg("alert_weight", 1.0))
    params.check()
    return params


def current_plan() -> tuple[Plan | None, dict | None, list[dict]]:
    """The plan the request asks for (``?area=&zones=&minutes=&speed=&dwell=&run=``), the run,
    and the areas the user may plan."""
    me = principal()
    me.within(Resource.COVERAGE)
    conn = get_conn()
    run = current_run(conn)
    if run is None:
        return None, None, []
    choices = [r for r in results.area_table(conn, run["id"], within=me.area_ids)
               .sort_values(["level", "name"]).to_dict("records")
               if r["level"] in ("district", "community")]
    area_id = int_arg("area")
    if area_id is None:
        return None, run, choices
    me.check_area(area_id, "area")
    area = next((a for a in choices if a["area_id"] == area_id), None)
    if area is None:
        raise InputError(f"area {area_id} has no results in run {run['id']}")
    params = _params()
    # an officer's plan proposes only volunteers of their own communities
    # every city's schema counts its ids from 1: the city is part of what a plan is of
    key = (g.gp_city, run["id"], area_id, params, me.community_ids)
    with _LOCK:
        plan = _CACHE.get(key)
    if plan is None:
        plan = plan_area(conn, run, {"id": area_id, "name": area["name"]}, params,
                         settings=settings(), within=me.community_ids)
        with _LOCK:
            _CACHE[key] = plan
            while len(_CACHE) > CACHE_SIZE:
                _CACHE.popitem(last=False)
    return plan, run, choices


def required_plan() -> Plan:
    """The plan of the request; exports and the map need an area."""
    plan, _, _ = current_plan()
    if plan is None:
        raise InputError("name the area to plan: ?area=ID")
    return plan


def _people() -> bool:
    """Whether the reader may see who is proposed (roster numbers, masked names); planners
    see only the occupation proposed for each slot."""
    return principal().grant(Resource.PEOPLE) is not None


def _crew_for(plan: Plan) -> Any:
    return plan.crew if _people() else plan.crew.assign(number="—", name="")


@bp.get("/planner")
@requires(Resource.COVERAGE)
def planner_page() -> Any:
    plan, run, choices = current_plan()
    query = request.query_string.decode()
    area_id = int_arg("area")
    table = _force() if area_id is not None and run is not None else None
    rotas = page_context(area_id if run is not None else None)
    if rotas["rota"] is not None:
        view = rotas["rota"]
        rotas.update(rota_figures=figures_rows(view.summary, lang()),
                     rota_week=week_rows(view, lang()),
                     rota_short=shortfall_rows(view.summary, lang()))
    return render_template("planner.html", run=run, plan=plan, choices=choices, **rotas,
                           crew=_crew_for(plan) if plan else None, query=query,
                           params=_params() if plan else PlanParams(),
                           area_id=area_id, force=table,
                           force_week=weekly(table, SLOTS) if table is not None else None,
                           slots=SLOTS, weekdays=WEEKDAYS)


def _force() -> Any:
    """The force of the area asked for (``?area=&weeks=``), in the user's scope."""
    me = principal()
    area_id = int_arg("area")
    if area_id is not None:
        me.check_area(area_id, "area")
    return force(get_engine(), settings(), area_id=area_id,
                 within=me.within(Resource.COVERAGE),
                 weeks=capped_int("weeks", request.args.get("weeks"), 4))


@bp.post("/planner/force")
@requires(Resource.COVERAGE, "write")
def set_force_hours() -> Any:
    """Set (or, with no hours, clear) one community's hours in one weekday's slot."""
    me = principal()
    form = request.form
    text = form.get("hours", "").strip()
    try:
        hours = float(text) if text else None
    except ValueError:
        raise InputError(f"hours: a number, not {text[:20]!r}") from None
    community = form.get("community", "")
    if not community.isdigit():
        raise InputError("choose the community")
    set_force(get_engine(), community_id=int(community), weekday=form.get("weekday", ""),
              slot=form.get("slot", ""), hours=hours, by=me.username,
              within=me.within(Resource.COVERAGE, "write"))
    return redirect(local_path(form.get("next"), url_for("planner.planner_page")))


@bp.post("/planner/force/upload")
@requires(Resource.COVERAGE, "write")
def upload_force() -> Any:
    """Set the hours of an availability sheet (all or nothing)."""
    me = principal()
    with saved_upload(request.files.get("file")) as path:
        load_force(get_engine(), path, by=me.username,
                   within=me.within(Resource.COVERAGE, "write"))
    return redirect(local_path(request.form.get("next"), url_for("planner.planner_page")))


@bp.get("/planner/force.csv")
@requires(Resource.COVERAGE)
def force_csv() -> Any:
    return csv_response(_force(), "force.csv")


@bp.get("/api/force")
@requires(Resource.COVERAGE)
def api_force() -> Any:
    table = _force()
    return jsonify(weeks=table.attrs.get("weeks"), rows=[
        {k: (None if isinstance(v, float) and v != v else
             (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
        for r in table.to_dict("records")])


@bp.get("/maps/plan")
@requires(Resource.COVERAGE)
def plan_map() -> Any:
    plan = required_plan()
    m = draw_plan(plan, lang(), basemap=settings().basemap)
    return Response(map_html(m), mimetype="text/html")  # scripts with the CSP nonce


@bp.get("/planner/plan.geojson")
@requires(Resource.COVERAGE)
def plan_export() -> Any:
    plan = required_plan()
    doc = plan_geojson(plan, people=_people())
    return Response(json.dumps(doc, ensure_ascii=False), mimetype="application/geo+json",
                    headers={"Content-Disposition":
                             f"attachment; filename=plan-{plan.area['id']}.geojson"})


@bp.get("/planner/briefing")
@requires(Resource.COVERAGE)
def plan_briefing() -> Any:
    plan = required_plan()
    page = plan_briefing_html(plan, tz=settings().timezone, lang=lang(),
                              basemap=settings().basemap)
    return Response(page, mimetype="text/html", headers={
        "Content-Disposition": f"attachment; filename=plan-{plan.area['id']}.html"})


@bp.get("/api/plan")
@requires(Resource.COVERAGE)
def plan_api() -> Any:
    """The plan as GeoJSON with its figures (``?area=ID&zones=&minutes=&speed=&dwell=``)."""
    plan = required_plan()
    doc = plan_geojson(plan, people=_people())
    doc["properties"]["zones"] = json.loads(plan.zones.to_json(orient="records"))
    doc["properties"]["seconds"] = plan.seconds
    doc["properties"]["posts_gap"] = plan.posts_gap
    return jsonify(doc)
