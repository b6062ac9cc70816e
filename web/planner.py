"""The planner: parameters, the proposal on a map, its tables, and its exports (GeoJSON and an
offline briefing). Plans are computed on demand from a stored run and kept briefly in memory,
so the page, its map frame and its exports share one computation."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from geo_patrol.access import Resource
from geo_patrol.errors import InputError, JobPendingError
from geo_patrol.planning.crew import SLOTS
from geo_patrol.planning.force import weekly
from geo_patrol.planning.plan import Plan, PlanParams, plan_geojson
from geo_patrol.render.maps import map_html
from geo_patrol.render.plan import plan_briefing_html
from geo_patrol.render.plan import plan_map as draw_plan
from geo_patrol.render.rota import figures_rows, figures_tech, shortfall_rows, week_rows
from geo_patrol.services import jobs, places, results
from geo_patrol.services.planning import WEEKDAYS, force, load_force, set_force
from web.auth import principal, requires
from web.db import get_conn, get_db, note_written, settings
from web.downloads import csv_route
from web.params import (capped_int, current_run, download, float_arg, int_arg, lang,
                        local_path)
from web.rota import page_context
from web.uploads import saved_upload

bp = Blueprint("planner", __name__)


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


def current_plan() -> tuple[Plan | None, dict | None, list[dict], dict | None]:
    """The plan the request asks for (``?area=&zones=&minutes=&speed=&dwell=&run=``), the run,
    the areas the user may plan, and the job that makes the plan (joined when it is queued or
    running; the plan once it is done)."""
    me = principal()
    me.within(Resource.COVERAGE)
    conn = get_conn()
    run = current_run(conn)
    if run is None:
        return None, None, [], None
    choices = [r for r in results.area_table(conn, run["id"], within=me.area_ids)
               .sort_values(["level", "name"]).to_dict("records")
               if r["level"] in ("district", "community")]
    area_id = int_arg("area")
    if area_id is None:
        return None, run, choices, None
    me.check_area(area_id, "area")
    area = next((a for a in choices if a["area_id"] == area_id), None)
    if area is None:
        raise InputError(f"area {area_id} has no results in run {run['id']}")
    params = _params()
    # an officer's plan proposes only volunteers of their own communities
    within = None if me.community_ids is None else sorted(me.community_ids)
    job = jobs.submit(get_db(), settings(), me.username, "zones", {
        "run_id": run["id"], "area_id": area_id, "area_name": area["name"],
        "plan": jobs.plan_params(params), "within": within})
    plan = jobs.plan_of(get_db(), settings(), job["id"]) if job["state"] == "done" else None
    return plan, run, choices, job


def required_plan() -> Plan:
    """The plan of the request; exports and the map need an area, and the plan made (they
    wait up to ``JOB_WAIT_S`` for one being made)."""
    plan, _, _, job = current_plan()
    if job is None:
        raise InputError("name the area to plan: ?area=ID")
    if plan is None and job["state"] in ("queued", "running"):
        job = jobs.wait(get_db(), job["id"], settings().job_wait_s,
                        by=principal().username, waiters=settings().job_waiters_per_user)
        if job["state"] == "done":
            plan = jobs.plan_of(get_db(), settings(), job["id"])
    if plan is None:
        if job["state"] == "failed":
            raise InputError(job["error"] or "the plan could not be made")
        raise JobPendingError("the plan is still being made: try again when it is ready",
                              job=job)
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
    rota_job = jobs.mine(get_db(), settings(), job_id, principal().username, "rota") \
        if (job_id := int_arg("rota_job")) else None
    if rota_job is not None and rota_job["state"] == "done":  # the rota made: show it
        note_written()
        return redirect(url_for("planner.planner_page", area=int_arg("area"),
                                rota=rota_job["result"]["rota_id"]) + "#rota")
    plan, run, choices, job = current_plan()
    query = request.query_string.decode()
    area_id = int_arg("area")
    table = _force() if area_id is not None and run is not None else None
    rotas = page_context(area_id if run is not None else None)
    if rotas["rota"] is not None:
        view = rotas["rota"]
        rotas.update(rota_figures=list(zip(figures_rows(view.summary, lang()),
                                           figures_tech(view.summary, lang()))),
                     rota_week=week_rows(view, lang()),
                     rota_short=shortfall_rows(view.summary, lang()))
    return render_template("planner.html", run=run, plan=plan, job=job, rota_job=rota_job,
                           choices=choices, **rotas,
                           crew=_crew_for(plan) if plan else None, query=query,
                           params=_params() if job else PlanParams(),
                           area_id=area_id, force=table,
                           force_week=weekly(table, SLOTS) if table is not None else None,
                           slots=SLOTS, weekdays=WEEKDAYS,
                           **area_groups(choices, area_id))


def area_groups(choices: list[dict], area_id: int | None) -> dict[str, Any]:
    """The areas to plan as the picker shows them: each district, then its communities under
    it (``groups``: (district, [communities])); and the area the page opens on when none was
    asked for (``opens_on``): the user's district (the first they may plan; a community
    officer's first community), shown on a map until a plan is asked for."""
    if not choices:
        return {"groups": [], "loose": [], "opens_on": None}
    district_of = results.districts_of(get_conn())
    districts = [c for c in choices if c["level"] == "district"]
    members: dict[int, list[dict]] = {d["area_id"]: [] for d in districts}
    loose = []
    for c in choices:
        if c["level"] == "community":
            members.get(district_of.get(c["area_id"], -1), loose).append(c)
    groups = [(d, members[d["area_id"]]) for d in districts]
    if not districts:  # an officer: their communities, grouped under their districts' names
        loose = [c for c in choices if c["level"] == "community"]
    opens_on = None
    if area_id is None:
        # the dashboard's district: the one with the most streets patrolled
        first = max(districts, key=lambda d: d["covered_m"] or 0) if districts else \
            (loose[0] if loose else None)
        opens_on = first["area_id"] if first else None
    return {"groups": groups, "loose": loose, "opens_on": opens_on}


def _force() -> Any:
    """The force of the area asked for (``?area=&weeks=``), in the user's scope."""
    me = principal()
    area_id = int_arg("area")
    if area_id is not None:
        me.check_area(area_id, "area")
    return force(get_db(), settings(), area_id=area_id,
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
    set_force(get_db(), community_id=int(community), weekday=form.get("weekday", ""),
              slot=form.get("slot", ""), hours=hours, by=me.username,
              within=me.within(Resource.COVERAGE, "write"))
    return redirect(local_path(form.get("next"), url_for("planner.planner_page")))


@bp.post("/planner/force/upload")
@requires(Resource.COVERAGE, "write")
def upload_force() -> Any:
    """Set the hours of an availability sheet (all or nothing)."""
    me = principal()
    with saved_upload(request.files.get("file")) as path:
        load_force(get_db(), path, by=me.username,
                   within=me.within(Resource.COVERAGE, "write"))
    return redirect(local_path(request.form.get("next"), url_for("planner.planner_page")))


csv_route(bp, "/planner/force.csv", "force_csv", Resource.COVERAGE, _force, "force.csv")


@bp.get("/api/force")
@requires(Resource.COVERAGE)
def api_force() -> Any:
    """The force of the area asked for, as JSON (its weeks and rows)."""
    table = _force()
    # the app's JSON writes numpy numbers as numbers and a missing figure (NaN) as null
    return jsonify(weeks=table.attrs.get("weeks"), rows=table.to_dict("records"))


@bp.get("/maps/plan")
@requires(Resource.COVERAGE)
def plan_map() -> Any:
    plan = required_plan()
    m = draw_plan(plan, lang(), basemap=settings().basemap)
    return Response(map_html(m, lang=lang()), mimetype="text/html")  # scripts with the CSP nonce


@bp.get("/planner/plan.geojson")
@requires(Resource.COVERAGE)
def plan_export() -> Any:
    plan = required_plan()
    doc = plan_geojson(plan, people=_people())
    return download(json.dumps(doc, ensure_ascii=False), f"plan-{plan.area['id']}.geojson",
                    "application/geo+json")


@bp.get("/planner/briefing")
@requires(Resource.COVERAGE)
def plan_briefing() -> Any:
    plan = required_plan()
    page = plan_briefing_html(plan, tz=settings().timezone, lang=lang(),
                              basemap=settings().basemap,
                              tiles=places.embedded_tiles(get_conn(),
                                                          tuple(plan.segments.total_bounds)))
    return download(page, f"plan-{plan.area['id']}.html", "text/html")


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
