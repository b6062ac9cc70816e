"""Training on the web: the share trained per community and course, the next batches,
sessions held, a session entered by hand, CSV exports and the API."""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, jsonify, render_template, request

from geo_patrol.access import Resource
from geo_patrol.errors import InputError
from geo_patrol.services import training
from geo_patrol.vocab import ATTENDANCE_RESULTS, CERT_SKILLS, TRAINING_MODES
from web.auth import principal, requires
from web.db import get_db, settings
from web.downloads import csv_route
from web.forms import refuse
from web.params import int_arg, lang, paging_args

bp = Blueprint("training", __name__)


def _batches() -> Any:
    """The batch proposal asked for in the query (``course``, ``size``), or ``None``."""
    course = request.args.get("course")
    if not course:
        return None
    return training.batches(get_db(), settings(), course,
                            within=principal().within(Resource.TRAINING),
                            size=int_arg("size", training.ROOM_SIZE, low=1, high=500) or 30)


def _status() -> Any:
    """Training standing per community and course, in the reader's scope."""
    return training.status(get_db(), settings(), within=principal().within(Resource.TRAINING))


def _asked_batches() -> Any:
    """The batch proposal of the course the query names (400 when it names none)."""
    table = _batches()
    if table is None:
        raise InputError("choose the course (?course=NAME)")
    return table


@bp.route("/training", methods=["GET", "POST"])
@requires(Resource.TRAINING)
def training_page() -> Any:
    me = principal()
    within = me.within(Resource.TRAINING)
    db, cfg = get_db(), settings()
    entered = None
    status_code = 200
    if request.method == "POST":
        me.require(Resource.TRAINING, "write")
        try:
            entered = training.enter_session(
                db, cfg, me, course=request.form.get("course", ""),
                held_on=request.form.get("held_on", ""),
                skill=request.form.get("skill") or None,
                validity_months=request.form.get("validity_months") or None,
                duty=request.form.get("duty") or None, place=request.form.get("place"),
                mode=request.form.get("mode", "classroom"), trainer=request.form.get("trainer"),
                batch=request.form.get("batch", ""),
                attendance={r: request.form.get(r, "") for r in ATTENDANCE_RESULTS})
        except InputError as exc:  # beside its field, what was typed kept
            refuse(exc)
            status_code = 400
    status = training.status(db, cfg, within=within)
    paging = paging_args(sortable=training.STATUS_SORTS, filters=training.STATUS_FILTERS)
    proposed = _batches()
    return render_template(
        "training.html", run=None, lang=lang(), community=paging.filter("community") or "",
        status=training.status_page(status, paging),
        shares=training.community_share(status), courses=training.courses(db),
        sessions=training.sessions(db, cfg, within=within),
        batches=None if proposed is None else training.batch_page(
            proposed, paging_args(sortable=(), page_key=training.BATCH_PAGE_KEY)),
        batch_key=training.BATCH_PAGE_KEY,
        batch_count=0 if proposed is None else proposed["batch"].nunique(),
        course=request.args.get("course") or "", size=int_arg("size", training.ROOM_SIZE,
                                                              low=1, high=500),
        skills=CERT_SKILLS, modes=TRAINING_MODES, recorded=entered,
        horizon=training.EXPIRING_DAYS), status_code


csv_route(bp, "/training/status.csv", "status_csv", Resource.TRAINING, _status,
          "training-status.csv")
csv_route(bp, "/training/batches.csv", "batches_csv", Resource.TRAINING, _asked_batches,
          "training-batches.csv")


@bp.get("/api/training/status")
@requires(Resource.TRAINING)
def api_status() -> Any:
    """Training standing per community and course, as JSON."""
    # the app's JSON writes numpy numbers as numbers and a missing figure (NaN) as null
    return jsonify(horizon_days=training.EXPIRING_DAYS, rows=_status().to_dict("records"))


@bp.get("/api/training/batches")
@requires(Resource.TRAINING)
def api_batches() -> Any:
    table = _asked_batches()
    return jsonify(batches=[
        {"batch": int(b), "community": part["community"].iloc[0],
         "volunteers": [{"number": r.number, "name": r.name, "occupation": r.occupation,
                         "standing": r.standing,
                         "expires_on": None if pd.isna(r.expires_on) else str(r.expires_on)}
                        for r in part.itertuples()]}
        for b, part in table.groupby("batch", sort=True)])
