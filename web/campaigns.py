"""Campaigns on the web: the campaign page (list, progress toward zero, burn-down, units
never visited, schools), a campaign created by the command, CSV exports and the API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify, redirect, render_template, request, url_for

from geo_patrol.access import Resource
from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.render.charts import burn_down_svg
from geo_patrol.services import campaigns, jobs
from geo_patrol.services import maps as map_service
from geo_patrol.services.results import districts as district_list
from web.auth import principal, requires
from web.db import get_conn, get_db, settings
from web.forms import refuse
from web.params import csv_response, day_arg, int_arg, lang

bp = Blueprint("campaigns", __name__)


def _progress(campaign_id: int) -> campaigns.Progress:
    me = principal()
    return campaigns.progress(get_db(), settings(), campaign_id,
                              within=me.within(Resource.CAMPAIGNS))


def _plain(frame: Any) -> list[dict]:
    return [{k: (v.item() if hasattr(v, "item") else (str(v) if hasattr(v, "isoformat") else v))
             for k, v in r.items()} for r in frame.to_dict("records")]


@bp.route("/campaigns", methods=["GET", "POST"])
@requires(Resource.CAMPAIGNS)
def campaigns_page() -> Any:
    me = principal()
    within = me.within(Resource.CAMPAIGNS)
    status = 200
    if request.method == "POST":
        me.require(Resource.CAMPAIGNS, "write")
        form = request.form
        try:
            cid = campaigns.create(
                get_db(), settings(), name=form.get("name", ""),
                starts_on=day_arg(form["from"], "from") if form.get("from") else None,
                ends_on=day_arg(form["to"], "to") if form.get("to") else None,
                districts=[int(d) for d in form.getlist("district") if d.isdigit()],
                categories=form.getlist("category"), by=me.username)
            return redirect(url_for("campaigns.campaigns_page", id=cid))
        except InputError as exc:  # beside its field, what was typed kept
            refuse(exc)
            status = 400
    table = campaigns.listing(get_db(), within=within)
    chosen = int_arg("id")
    if chosen is None and len(table):
        chosen = int(table.iloc[0]["id"])
    if chosen is not None and chosen not in set(table["id"]):
        chosen = None  # outside the user's districts: as if it did not exist
    job, progress = None, None
    if chosen is not None:  # its progress as a job stored it (its progress until then)
        job, made = jobs.stored(get_db(), settings(), me.username, "campaigns", {
            "campaign_id": chosen, "district_id": None, "on": str(settings().today()),
            "within": None if within is None else sorted(within)})
        progress = made[0] if made else None
    return render_template(
        "campaigns.html", run=None, lang=lang(), table=table, progress=progress, job=job,
        chart=burn_down_svg(progress.days, lang()) if progress else "",
        districts=district_list(get_conn()), categories=settings().rules.categories,
        rules=settings().rules,
        ticked={k: request.form.getlist(k) for k in ("district", "category")}
        if status == 400 else {}), status


def _visible(campaign_id: int) -> None:
    table = campaigns.listing(get_db(), within=principal().within(Resource.CAMPAIGNS))
    if campaign_id not in set(table["id"]):
        raise NotFoundError(f"no campaign {campaign_id}")


@bp.get("/maps/campaigns/<int:campaign_id>")
@requires(Resource.CAMPAIGNS)
def campaign_map(campaign_id: int) -> Any:
    """The campaign's map document (its units by state, its communities), for its page's
    frame; scoped as the page is."""
    _visible(campaign_id)
    return Response(map_service.campaign_map(
        get_db(), settings(), campaign_id, lang=lang(), basemap=settings().basemap,
        within=principal().within(Resource.CAMPAIGNS)), mimetype="text/html")


@bp.get("/campaigns/<int:campaign_id>/progress.csv")
@requires(Resource.CAMPAIGNS)
def progress_csv(campaign_id: int) -> Any:
    _visible(campaign_id)
    return csv_response(_progress(campaign_id).table, f"campaign-{campaign_id}-progress.csv")


@bp.get("/campaigns/<int:campaign_id>/never-visited.csv")
@requires(Resource.CAMPAIGNS)
def never_visited_csv(campaign_id: int) -> Any:
    _visible(campaign_id)
    return csv_response(_progress(campaign_id).never_visited,
                f"campaign-{campaign_id}-never-visited.csv")


@bp.get("/api/campaigns")
@requires(Resource.CAMPAIGNS)
def api_campaigns() -> Any:
    table = campaigns.listing(get_db(), within=principal().within(Resource.CAMPAIGNS))
    return jsonify(campaigns=_plain(table.drop(columns=["district_ids"])))


@bp.get("/api/campaigns/<int:campaign_id>")
@requires(Resource.CAMPAIGNS)
def api_campaign(campaign_id: int) -> Any:
    _visible(campaign_id)
    p = _progress(campaign_id)
    c = p.campaign
    return jsonify(id=c["id"], name=c["name"], starts_on=str(c["starts_on"]),
                   ends_on=str(c["ends_on"]), categories=list(c["categories"]),
                   through=str(p.through), totals=p.totals, table=_plain(p.table),
                   days=_plain(p.days), never_visited=_plain(p.never_visited),
                   schools=_plain(p.schools))
