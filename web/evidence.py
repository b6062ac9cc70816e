"""Evidence on the web (command, planners, officers in their communities, as crime
patterns): which forecast a rota's hot spots come from and why, and the patrol dose they
received against the rota's plan; its CSV and API."""

from __future__ import annotations

import secrets
from typing import Any

from flask import (Blueprint, Response, jsonify, make_response, redirect, render_template, request,
                   url_for)
from flask_babel import gettext

from geo_patrol.access import Resource
from geo_patrol.analysis.dose import KOPER_MIN
from geo_patrol.analysis.places import distinct_place_texts
from geo_patrol.analysis.trial import ALPHA, TARGET_POWER
from geo_patrol.errors import (
    BusyError,
    ConflictError,
    InputError,
    JobPendingError,
    NotFoundError,
)
from geo_patrol.render.evidence import dose_map
from geo_patrol.render.maps import map_html
from geo_patrol.render.rota import hotspot_force
from geo_patrol.services import evidence, jobs
from geo_patrol.services import rota as rota_service
from geo_patrol.services import trials
from web.auth import principal, requires
from web.db import get_db, settings
from web.forms import refuse
from web.params import csv_response, day_arg, float_value, int_arg, int_value, lang

bp = Blueprint("evidence", __name__)


def _rota() -> int:
    rota_id = int_arg("rota")
    if rota_id is None:
        raise InputError(gettext("Name the rota: ?rota=ID"))
    return rota_id


def _dose(rota_id: int) -> evidence.Measured:
    """The rota's dose as its job stored it (waited for a while): the page's figures, its
    map, CSV and API read the one result."""
    me = principal()
    return jobs.rota_dose_now(get_db(), settings(), me.username, rota_id,
                              within=me.within(Resource.CRIME))


@bp.get("/evidence")
@requires(Resource.CRIME)
def evidence_page() -> Any:
    """The chosen rota (``?rota=``, else the newest in the reader's scope): where its hot
    spots came from, and the dose they received so far; a trial being designed
    (``?trial_job=``: its job's progress, then the design or the trial it stored)."""
    job = jobs.status(get_db(), settings(), job_id) \
        if (job_id := int_arg("trial_job")) is not None else None
    if job is not None and (job["kind"] != "trial" or job["params"].get("action") == "report"
                            or job["requested_by"] != principal().username):
        raise NotFoundError(f"no trial design {job['id']} of yours")
    preview, form = None, None
    if job is not None:
        if job["state"] == "done" and job["params"]["action"] == "create":
            return redirect(url_for("evidence.evidence_page",
                                    trial=job["result"]["trial_id"]) + "#trial")
        form = job["params"]["form"]
        if job["state"] == "done":
            preview, job = jobs.made_by(get_db(), settings(), int(job["id"])), None
    return render_template("evidence.html", **_rota_context(),
                           **_trial_context(preview, form), trial_job=job)


def _rota_context(wait_s: float = 0.0) -> dict[str, Any]:
    """The rota section: the stored rotas, the chosen one's forecast, hot spots and their
    dose (measured as a job: its progress shows until it is stored; waited for up to
    ``wait_s``)."""
    me = principal()
    within = me.within(Resource.CRIME)
    stored = rota_service.listing(get_db(), within=within)
    chosen = int_arg("rota")
    if chosen is None and len(stored):
        chosen = int(stored["id"].iloc[0])
    got, job, header = None, None, None
    if chosen is not None:
        header = rota_service.reached(get_db(), chosen, within=within)
        try:
            job, made = jobs.rota_dose(get_db(), settings(), me.username, chosen,
                                       within=within, wait_s=wait_s)
            got = made.dose if made is not None else None
        except BusyError:
            job = {"state": "busy"}
    summary = (header or {}).get("summary") or {}
    table = None
    if got is not None:
        table = got.table()
        names = dict(zip(got.places["id"], distinct_place_texts(got.places, lang())))
        table = table.assign(place=table["segment_id"].map(names))
    return {"rotas": stored, "chosen": chosen, "dose": got, "table": table,
            "dose_job": job if got is None else None,
            "totals": got.totals() if got else None,
            "forecast": summary.get("forecast") or {"method": "gi_star"}, "koper": KOPER_MIN,
            "hotspot_force": hotspot_force(summary, lang())}


def _trial_context(preview: trials.Design | None = None,
                   form: dict[str, Any] | None = None, *,
                   chosen: int | None = None, wait_s: float = 0.0) -> dict[str, Any]:
    """The trials section: the stored trials, the chosen one's report (``chosen``, else
    ``?trial=``, else the newest: read from its job, whose progress shows until it is
    stored; waited for up to ``wait_s``), the areas a trial may cover, a design being
    looked at, and the trial just withdrawn (``?withdrawn=``, once it is gone)."""
    me = principal()
    stored = trials.listing(get_db(), within=me.within(Resource.CRIME))
    chosen = chosen if chosen is not None else int_arg("trial")
    withdrawn = int_arg("withdrawn")
    if withdrawn is not None and withdrawn in set(stored["id"].astype(int)):
        withdrawn = None
    if chosen is None and len(stored):
        chosen = int(stored["id"].iloc[0])
    got, report_job = None, None
    if chosen is not None:
        try:
            report_job, got = jobs.trial_report(get_db(), settings(), me.username, chosen,
                                                within=me.within(Resource.CRIME),
                                                wait_s=wait_s)
        except BusyError:
            report_job = {"state": "busy"}
    can_plan = me.grant(Resource.COVERAGE, "write") is not None
    spots = None
    if got is not None:
        spots = got.spots.assign(place=distinct_place_texts(got.spots, lang()))
    design_spots = None
    if preview is not None:
        design_spots = preview.spots.assign(place=distinct_place_texts(preview.spots,
                                                                       lang()))
    return {"trials": stored, "trial_id": chosen, "trial": got, "trial_spots": spots,
            "report_job": report_job if got is None else None,
            "trial_areas": trials.area_choices(get_db(), within=me.within(
                Resource.COVERAGE, "write")) if can_plan else None,
            "preview": preview, "preview_spots": design_spots, "trial_form": form or {},
            "can_plan": can_plan, "withdrawn": withdrawn,
            "alpha": ALPHA, "target_power": TARGET_POWER}


@bp.post("/evidence/trial")
@requires(Resource.COVERAGE, "write")
def trial_post() -> Any:
    """Look at a trial's design and power (``action=preview``) or store it
    (``action=create``): from then on it cannot be changed."""
    me = principal()
    f = request.form
    area = f.get("area", "")
    if area and not area.isdigit():
        raise InputError(gettext("Choose the area"), field="area")
    options = {"area_id": int(area) if area else None,
               "start": day_arg(f["start"], "start") if f.get("start") else None,
               "weeks": int_value("weeks", f.get("weeks"), 8, low=1, high=104) or 8,
               "spots": int_value("spots", f.get("spots"), 20, low=4, high=400) or 20,
               "fall": float_value("fall", f.get("fall"), 20.0) / 100.0,
               "seed": int_value("seed", f.get("seed"), 0) or 0,
               "within": me.within(Resource.COVERAGE, "write")}
    trials.check_options(options["weeks"], options["spots"], options["fall"], options["seed"])
    if options["start"] is not None:
        trials.check_start(options["start"], settings().today())
    action = "create" if f.get("action") == "create" else "preview"
    within = options.pop("within")
    # designed off the web threads, on the forecast the city's stored crime study favours
    job = jobs.submit(get_db(), settings(), me.username, "trial", {
        "action": action, "by": me.username,
        "within": None if within is None else sorted(within),
        "options": {**options, "start": None if options["start"] is None
                    else options["start"].isoformat()},
        "form": {k: f.get(k, "") for k in ("area", "start", "weeks", "spots", "fall", "seed")},
        "today": settings().today().isoformat(),
        **({"token": secrets.token_hex(8)} if action == "create" else {})})
    return redirect(url_for("evidence.evidence_page", trial_job=job["id"]) + "#trial")


@bp.post("/evidence/trial/withdraw")
@requires(Resource.COVERAGE, "write")
def trial_withdraw() -> Any:
    """Withdraw a trial (``trial``) that has not started (audit-logged); once it has, the
    page says so beside the trial and nothing changes."""
    me = principal()
    trial_id = int_value("trial", request.form.get("trial"), None, low=1)
    if trial_id is None:
        raise InputError(gettext("Choose the trial to withdraw."), field="trial")
    try:
        trials.withdraw(get_db(), settings(), trial_id, by=me.username,
                        within=me.within(Resource.COVERAGE, "write"))
    except ConflictError as exc:
        refuse(exc)
        # a page answering a form is never reloaded to show a job's result: both waited for
        wait = settings().job_wait_s
        page = make_response(render_template("evidence.html", **_rota_context(wait),
                                             **_trial_context(chosen=trial_id, wait_s=wait)))
        page.status_code = 409
        return page
    return redirect(url_for("evidence.evidence_page", withdrawn=trial_id) + "#trial")


@bp.get("/api/evidence/trial")
@requires(Resource.CRIME)
def api_trial() -> Any:
    """A trial's report (``?trial=``), interim while it runs."""
    trial_id = int_arg("trial")
    if trial_id is None:
        raise InputError(gettext("Name the trial: ?trial=ID"))
    me = principal()
    job, got = jobs.trial_report(get_db(), settings(), me.username, trial_id,
                                 within=me.within(Resource.CRIME),
                                 wait_s=settings().job_wait_s)
    if got is None:
        assert job is not None
        if job["state"] == "failed":
            raise InputError(job["error"] or "the trial's report could not be made")
        raise JobPendingError("the trial's report is still being made: try again when it "
                              "is ready", job=job)
    return jsonify(got.as_dict())


@bp.get("/maps/dose")
@requires(Resource.CRIME)
def dose_map_page() -> Any:
    """The dose map of a rota's hot spots (``?rota=``), for the evidence page's frame."""
    made = _dose(_rota())
    if made.spots is None:
        raise NotFoundError(f"rota {made.dose.rota['id']} posts no patrol at a hot spot")
    m = dose_map(made.spots, lang(), basemap=settings().basemap)
    return Response(map_html(m, lang=lang()), mimetype="text/html")


@bp.get("/evidence/dose.csv")
@requires(Resource.CRIME)
def dose_csv() -> Any:
    rota_id = _rota()
    return csv_response(_dose(rota_id).dose.table(), f"dose-rota-{rota_id}.csv")


@bp.get("/api/evidence/dose")
@requires(Resource.CRIME)
def api_dose() -> Any:
    got = _dose(_rota()).dose
    rows = got.table()
    return jsonify(rota=got.rota["id"], until=str(got.until), forecast=got.forecast,
                   stay_min=got.stay_min, radius_m=got.radius_m, koper_min=list(KOPER_MIN),
                   totals=got.totals(),
                   rows=[{k: (None if v != v else str(v) if k == "week" else v)
                          for k, v in r.items()}
                         for r in rows.astype(object).to_dict("records")])
