"""Crime patterns on the web (command, planners, officers in their communities): the crime
page, its map document, CSV exports and the API."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from flask import Blueprint, Response, jsonify, render_template, request

from geo_patrol.analysis.places import place_texts
from geo_patrol.access import Resource
from geo_patrol.errors import InputError
from geo_patrol.services import crime, jobs
from geo_patrol.services import maps as map_service
from geo_patrol.services.results import districts as district_list
from geo_patrol.vocab import CRIME_CLASSES
from web.auth import principal, requires
from web.db import get_conn, get_db, settings
from web.downloads import csv_route
from web.params import capped_int, day_arg, int_arg, lang

bp = Blueprint("crime", __name__)

WEEKDAYS = {"zh": ("周一", "周二", "周三", "周四", "周五", "周六", "周日"),
            "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")}


def _study() -> crime.Study:
    """The study asked for in the query (``area``, ``class``, ``days``, ``until``), cut to
    the user's communities."""
    me = principal()
    within = me.within(Resource.CRIME)
    area = int_arg("area")
    if area is not None:
        me.check_area(area, "area")
    until = request.args.get("until")
    return crime.Study(area_id=area, within=within,
                       crime=request.args.get("class", "property"),
                       days=capped_int("days", request.args.get("days"), 90),
                       until=day_arg(until) if until else None)


def _params(study: crime.Study) -> dict[str, Any]:
    return jobs.study_params(study, settings().today())


def _page() -> crime.Page:
    """The study's stored page (made by a job, waited for a while when it is being made):
    downloads and the API read what the page shows and never compute on the request."""
    return jobs.result(get_db(), settings(), principal().username, "crime",
                       _params(_study()), what="the crime study")


def _report() -> crime.HotSpotReport:
    """The stored hot spots with the study's segments (read, not computed)."""
    made = _page()
    return crime.stored_hotspots(get_db(), settings(), made)


def _evaluation(made: crime.Page) -> crime.Evaluation:
    if made.evaluation is None:
        raise InputError(made.why_not or "the evaluation could not be made")
    return made.evaluation


def _repeats(made: crime.Page) -> crime.NearRepeatReport:
    if made.repeats is None:
        raise InputError("near-repeat analysis needs dated incidents: none in this window")
    return made.repeats


@bp.get("/crime")
@requires(Resource.CRIME)
def crime_page() -> Any:
    """The study's stored page (computed by a job: its progress until it is done)."""
    study = _study()
    me = principal()
    job, made = jobs.stored(get_db(), settings(), me.username, "crime", _params(study))
    districts = district_list(get_conn())
    if study.within is not None:
        districts = districts[districts["id"].isin(me.area_ids or ())]
    names = dict(zip(districts["id"], districts["name"]))
    context: dict[str, Any] = {}
    if made is not None:
        hot = made.hot
        when = made.when
        context = dict(
            page=made, report=made, when=when, repeats=made.repeats,
            evaluation=made.evaluation, why_not=made.why_not,
            hot=hot.assign(place=place_texts(hot.assign(street=hot["street"].replace("", None)),
                                             lang(), length=False)),
            hour_max=max(int(when.by_hour.max()), 1),
            weekday_max=max(int(when.by_weekday.max()), 1),
            week_max=max(int(when.weeks.max()) if len(when.weeks) else 1, 1),
            curve=made.curves[lang()])
    return render_template(
        "crime.html", run=None, lang=lang(), study=study, job=job, **context,
        rota_study=study == crime.Study(),  # the city's study: the one rotas follow
        weekdays=WEEKDAYS[lang()], classes=CRIME_CLASSES,
        districts=districts, area_name=names.get(study.area_id),
        query=request.args.to_dict())


@bp.get("/maps/crime")
@requires(Resource.CRIME)
def crime_map() -> Any:
    return Response(map_service.crime_map(get_db(), settings(), _page(), lang=lang(),
                                          basemap=settings().basemap), mimetype="text/html")


csv_route(bp, "/crime/hotspots.csv", "hotspots_csv", Resource.CRIME,
          lambda: _report().table(), "crime-hotspots.csv")
csv_route(bp, "/crime/knox.csv", "knox_csv", Resource.CRIME,
          lambda: crime.knox_table(_repeats(_page()).knox), "crime-near-repeat.csv")
csv_route(bp, "/crime/evaluation.csv", "evaluation_csv", Resource.CRIME,
          lambda: _evaluation(_page()).table(), "crime-evaluation.csv")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


@bp.get("/api/crime/hotspots")
@requires(Resource.CRIME)
def api_hotspots() -> Any:
    """Hot and cold segments as GeoJSON, with the concentration figures."""
    report = _report()
    data = report.data
    layer = json.loads(crime.spot_layer(report).to_json(drop_id=True))
    c = report.concentration
    layer["properties"] = {
        "incidents": int(len(data.incidents)), "from": str(data.start), "to": str(data.end),
        "segments": int(len(data.segments)), "hot": int(report.spots.hot.sum()),
        "cold": int(report.spots.cold.sum()), "permutations": report.spots.permutations,
        "fdr": report.spots.alpha,
        "concentration": {f"{k:g}": round(v, 4) for k, v in c.at.items()}}
    return jsonify(layer)


@bp.get("/api/crime/patterns")
@requires(Resource.CRIME)
def api_patterns() -> Any:
    r = _page().when
    return jsonify(hours_known=r.hours_known, timed_share=round(r.timed_share, 4),
                   by_hour=r.by_hour.tolist() if r.hours_known else None,
                   by_weekday=r.by_weekday.tolist(), undated=r.undated,
                   weeks=[{"week": str(k), "incidents": int(v)} for k, v in r.weeks.items()])


@bp.get("/api/crime/near-repeat")
@requires(Resource.CRIME)
def api_near_repeat() -> Any:
    repeats = _repeats(_page())
    risk = repeats.risk
    return jsonify(
        bands=[{k: _plain(v) for k, v in row.items()}
               for row in crime.knox_table(repeats.knox).to_dict("records")],
        risk=None if risk is None else {"metres": risk[0], "days": risk[1]},
        alerts=[{"incident_id": a.incident_id, "day": str(a.day), "until": str(a.until),
                 "radius_m": a.radius_m} for a in repeats.alerts], today=str(repeats.today))


@bp.get("/api/crime/evaluation")
@requires(Resource.CRIME)
def api_evaluation() -> Any:
    ev = _evaluation(_page())
    return jsonify(train={"from": str(ev.train[0]), "to": str(ev.train[1]),
                          "incidents": ev.train_incidents},
                   test={"from": str(ev.test[0]), "to": str(ev.test[1]),
                         "incidents": ev.test_incidents},
                   weeks=ev.weeks,
                   rows=[{k: _plain(v) for k, v in p.__dict__.items()} for p in ev.rows],
                   verdict=ev.verdict(), favoured=ev.favoured(), sepp=ev.sepp)
