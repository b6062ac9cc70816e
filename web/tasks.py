"""Patrol tasks: the command's view (planned against delivered dose, the tasks, checking,
payouts), a rota offered as tasks, and a volunteer taking or turning down a task on /me."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, redirect, render_template, request, url_for

from geo_patrol.access import Resource
from geo_patrol.errors import N_, InputError
from geo_patrol.privacy import mask_name
from geo_patrol.render.exports import localised_table
from geo_patrol.render.maps import map_html
from geo_patrol.render.rota import task_map as draw
from geo_patrol.services import tasks as service
from web.auth import principal, requires
from web.db import get_conn, get_db, settings
from web.forms import refills
from web.params import MAX_ID, csv_response, day_arg, form_choice, lang, paging_args

bp = Blueprint("tasks", __name__)


@bp.get("/tasks")
@requires(Resource.TASKS)
def tasks_page() -> Any:
    """Planned against delivered dose per community and week, and the tasks of a day."""
    me = principal()
    within = me.within(Resource.TASKS)
    today = settings().today()
    day = day_arg(request.args["day"]) if request.args.get("day") else None
    since = today - dt.timedelta(weeks=4)
    dose = service.dose(get_db(), within=within, since=since,
                        until=today + dt.timedelta(weeks=2))
    paging = paging_args(sortable=service.TASK_SORTS, filters=service.TASK_FILTERS)
    if day is not None:
        paging = replace(paging, filters={**paging.filters, "day": day.isoformat()})
    elif paging.filter("day"):
        day = day_arg(paging.filters["day"])
    table = service.task_page(get_conn(), paging, within=within, since=since,
                              until=today + dt.timedelta(weeks=2),
                              now=dt.datetime.now(dt.UTC))
    ranked_communities, ranked_teams = service.rankings(get_db(), since=since, until=today,
                                                        within=within)
    people = me.grant(Resource.PEOPLE) is not None
    rows = table.rows
    rows["name"] = rows["name"].map(mask_name) if people else None
    if not people:
        rows["number"] = None
    return render_template("tasks.html", run=None, dose=dose, tasks=table, day=day,
                           since=since, today=today,
                           ranked_communities=ranked_communities, ranked_teams=ranked_teams,
                           duplicates=request.args.get("duplicates"),
                           checked=request.args.get("checked"),
                           credited=request.args.get("credited"),
                           flagged=request.args.get("flagged"),
                           payouts=service.payouts(get_db())
                           if me.grant(Resource.TASKS, "pay") else None)


@bp.post("/planner/rota/<int:rota_id>/tasks")
@requires(Resource.TASKS, "write")
def offer(rota_id: int) -> Any:
    me = principal()
    service.offer_rota(get_db(), settings(), rota_id, by=me.username,
                       within=me.within(Resource.TASKS, "write"))
    return redirect(url_for("tasks.tasks_page"))


@bp.post("/tasks/new")
@requires(Resource.TASKS, "write")
@refills(tasks_page)
def new_task() -> Any:
    """A task made by hand: visit a hazard (picked by name) in a time slot of a day."""
    me = principal()
    form = request.form
    hazard = form.get("hazard", "").strip()
    if not hazard.isdigit() or int(hazard) > MAX_ID:
        raise InputError(N_("Choose the hazard: type part of its name and pick it from the "
                            "list."), field="hazard", values={})
    if not form.get("day"):
        raise InputError(N_("Choose the day."), field="day", values={})
    if form.get("number_q", "").strip() and not form.get("number"):
        raise InputError(N_("Choose the volunteer from the list, or leave the box empty."),
                         field="number", values={})
    service.make_task(get_db(), settings(), hazard_id=int(hazard),
                      day=day_arg(form["day"]), slot=form.get("slot", ""), by=me.username,
                      number=form.get("number") or None,
                      within=me.within(Resource.TASKS, "write"), by_volunteer=me.volunteer_id)
    return redirect(url_for("tasks.tasks_page"))


@bp.post("/tasks/check")
@requires(Resource.TASKS, "write")
def check_now() -> Any:
    """Check every accepted task whose window has closed against its taker's fixes."""
    me = principal()
    done = service.check(get_db(), settings(), within=me.within(Resource.TASKS, "write"),
                         by=me.username)
    return redirect(url_for("tasks.tasks_page", checked=len(done)))


@bp.post("/tasks/reports")
@requires(Resource.TASKS, "pay")
def credit_reports() -> Any:
    """Points for verified reports whose place and time match the reporter's fixes."""
    done = service.credit_reports(get_db(), settings(), by=principal().username)
    return redirect(url_for("tasks.tasks_page", credited=len(done["paid"]),
                            flagged=",".join(map(str, done["flagged"][:50])),
                            duplicates=len(done["duplicates"])))


@bp.post("/tasks/payout")
@requires(Resource.TASKS, "pay")
@refills(tasks_page)
def payout() -> Any:
    """Pay the points earned in a period, as a CSV list (each line names what it pays)."""
    form = request.form
    for end in ("from", "to"):
        if not form.get(end):
            raise InputError(N_("Choose the day."), field=end, values={})
    payout_id, lines = service.payout(get_db(), start=day_arg(form["from"], "from"),
                                      end=day_arg(form["to"], "to"), by=principal().username)
    return csv_response(localised_table(lines, lang()), f"payout-{payout_id}.csv")


@bp.post("/me/tasks/<int:task_id>")
@requires(Resource.TASKS, "take")
def answer(task_id: int) -> Any:
    """A volunteer takes a task or turns it down (their own only)."""
    choice = form_choice("answer", ("accept", "decline"))
    me = principal()
    service.answer(get_db(), volunteer_id=me.volunteer_id, task_id=task_id,
                   accept=choice == "accept", by=me.username)
    return redirect(url_for("pages.me") + "#my-tasks")


@bp.get("/maps/task/<int:task_id>")
@requires(Resource.TASKS)
def task_map(task_id: int) -> Any:
    """A task's route on a map: for a volunteer, only a task offered to them (or open to
    their community) or taken by them; for others, in their communities."""
    me = principal()
    task = service.readable_task(get_db(), task_id, volunteer_id=me.volunteer_id,
                                 within=None if me.volunteer_id else me.within(Resource.TASKS))
    hazards, site = service.task_sites(get_db(), task)
    m = draw(task, lang(), basemap=settings().basemap, hazards=hazards, site=site)
    return Response(map_html(m, lang=lang()), mimetype="text/html")  # scripts with the CSP nonce
