"""Evidence on the web (command, planners, officers in their communities, as crime
patterns): which forecast a rota's hot spots come from and why, and the patrol dose they
received against the rota's plan; its CSV and API."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, render_template
from flask_babel import gettext

from geo_patrol.access import Resource
from geo_patrol.analysis.dose import KOPER_MIN
from geo_patrol.analysis.places import place_texts
from geo_patrol.errors import InputError
from geo_patrol.services import evidence
from geo_patrol.services import rota as rota_service
from web.auth import principal, requires
from web.db import get_db, settings
from web.params import csv_response, int_arg, lang

bp = Blueprint("evidence", __name__)


def _rota() -> int:
    rota_id = int_arg("rota")
    if rota_id is None:
        raise InputError(gettext("Name the rota: ?rota=ID"))
    return rota_id


def _dose(rota_id: int) -> evidence.Dose:
    return evidence.dose(get_db(), settings(), rota_id,
                         within=principal().within(Resource.CRIME))


@bp.get("/evidence")
@requires(Resource.CRIME)
def evidence_page() -> Any:
    """The chosen rota (``?rota=``, else the newest in the reader's scope): where its hot
    spots came from, and the dose they received so far."""
    stored = rota_service.listing(get_db(), within=principal().within(Resource.CRIME))
    chosen = int_arg("rota")
    if chosen is None and len(stored):
        chosen = int(stored["id"].iloc[0])
    got = _dose(chosen) if chosen is not None else None
    table = None
    if got is not None:
        table = got.table()
        table = table.assign(place=place_texts(table.assign(
            street=table["street"].where(table["street"].astype(bool), None)), lang(),
            length=False))
    return render_template("evidence.html", rotas=stored, chosen=chosen, dose=got,
                           table=table, totals=got.totals() if got else None,
                           forecast=got.forecast if got else None, koper=KOPER_MIN)


@bp.get("/evidence/dose.csv")
@requires(Resource.CRIME)
def dose_csv() -> Any:
    rota_id = _rota()
    return csv_response(_dose(rota_id).table(), f"dose-rota-{rota_id}.csv")


@bp.get("/api/evidence/dose")
@requires(Resource.CRIME)
def api_dose() -> Any:
    got = _dose(_rota())
    rows = got.table()
    return jsonify(rota=got.rota["id"], until=str(got.until), forecast=got.forecast,
                   stay_min=got.stay_min, radius_m=got.radius_m, koper_min=list(KOPER_MIN),
                   totals=got.totals(),
                   rows=[{k: (None if v != v else str(v) if k == "week" else v)
                          for k, v in r.items()}
                         for r in rows.astype(object).to_dict("records")])
