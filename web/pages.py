"""HTML pages: district dashboard, community page, hazards, briefing download, analysis."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (Blueprint, Response, current_app, redirect, render_template, request,
                   url_for)
from flask_babel import get_locale

from geo_patrol.access import Grant, Resource
from geo_patrol.errors import GeoPatrolError, InputError, NotFoundError, TooLargeError
from geo_patrol.store import results
from web.auth import principal, requires
from web.params import int_arg

bp = Blueprint("pages", __name__)


def _engine():  # noqa: ANN202
    from web import get_engine

    return get_engine(current_app)


def lang() -> str:
    return "zh" if str(get_locale()).startswith("zh") else "en"


def _run(conn: Any) -> dict | None:
    run_id = int_arg("run")
    try:
        return results.find_run(conn, run_id)
    except NotFoundError:
        if run_id is not None:
            raise
        return None


def trend_svg(series: Any, width: int = 420, height: int = 90) -> str:
    """A small inline SVG line of daily coverage (0-100 %)."""
    if series.empty:
        return ""
    n = len(series)
    xs = [10 + i * (width - 20) / max(n - 1, 1) for i in range(n)]
    ys = [height - 15 - (height - 25) * float(v or 0) for v in series["coverage"]]
    pts = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    labels = "".join(f'<text x="{x:.0f}" y="{height - 2}" font-size="9" text-anchor="middle">'
                     f'{d:%m-%d}</text>' for x, d in zip(xs, series["day"]))
    dots = "".join(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5"><title>{d:%m-%d}: '
                   f'{100 * float(v or 0):.1f}%</title></circle>'
                   for x, y, d, v in zip(xs, ys, series["day"], series["coverage"]))
    return (f'<svg class="trend" width="{width}" height="{height}" role="img">'
            f'<polyline fill="none" stroke="#2171b5" stroke-width="2" points="{pts}"/>'
            f'{dots}{labels}</svg>')


@bp.get("/")
def index() -> Any:
    me = principal()
    if me.grant(Resource.COVERAGE) is None:
        return redirect(url_for("pages.me"))
    return redirect(url_for("pages.dashboard"))


@bp.get("/dashboard")
@requires(Resource.COVERAGE)
def dashboard() -> Any:
    me = principal()
    with _engine().connect() as conn:
        run = _run(conn)
        runs = results.list_runs(conn)
        if run is None:
            return render_template("dashboard.html", run=None, runs=runs, districts=None)
        districts = results.area_table(conn, run["id"], level="district", within=me.area_ids)
        district_id = int_arg("district")
        if district_id is not None:
            me.check_area(district_id, "district")
        elif not districts.empty:
            district_id = int(districts.sort_values("covered_m").iloc[-1]["area_id"])
        communities = results.area_table(conn, run["id"], level="community",
                                         within=me.community_ids)
        if district_id is not None:
            scope = results.area_layer(conn, run["id"], level="community",
                                       parent_id=district_id)["area_id"]
            communities = communities[communities["area_id"].isin(scope)]
        trend = trend_svg(results.daily_series(conn, run["id"], district_id)) \
            if district_id is not None else ""
    return render_template("dashboard.html", run=run, runs=runs, districts=districts,
                           district_id=district_id, communities=communities, trend=trend)


@bp.get("/community/<int:area_id>")
@requires(Resource.COVERAGE)
def community(area_id: int) -> Any:
    principal().check_area(area_id, "area")
    with _engine().connect() as conn:
        run = _run(conn)
        if run is None:
            return redirect(url_for("pages.dashboard"))
        table = results.area_table(conn, run["id"])
        row = table[table["area_id"] == area_id]
        if row.empty:
            raise NotFoundError(f"no results for area {area_id} in run {run['id']}")
        gaps = results.gap_table(conn, run["id"], area_id=area_id, limit=30)
        hazards = results.hazard_table(conn, run["id"], area_id=area_id)
        trend = trend_svg(results.daily_series(conn, run["id"], area_id))
    days = [(run["window_start"] + dt.timedelta(days=i)).astimezone(
        run["window_end"].tzinfo).date()
        for i in range((run["window_end"] - run["window_start"]).days)]
    tracks = principal().grant(Resource.TRACKS) in (Grant.ALL, Grant.SCOPED)
    return render_template("community.html", run=run, area=row.iloc[0], gaps=gaps,
                           hazards=hazards, trend=trend, days=days if tracks else [],
                           day=request.args.get("day", "") if tracks else "")


@bp.get("/hazards")
@requires(Resource.HAZARDS)
def hazards() -> Any:
    within = principal().within(Resource.HAZARDS)
    category = request.args.get("category") or None
    status = request.args.get("status") or None
    with _engine().connect() as conn:
        run = _run(conn)
        if run is None:
            return redirect(url_for("pages.dashboard"))
        table = results.hazard_table(conn, run["id"], status=status, within=within)
    if category:
        table = table[table["category"] == category]
    rules = current_app.config["GEO_PATROL_SETTINGS"].rules
    return render_template("hazards.html", run=run, hazards=table, rules=rules,
                           category=category or "", status=status or "")


@bp.post("/analyse")
@requires(Resource.COVERAGE, "write")
def analyse() -> Any:
    from geo_patrol.analysis.run import analyze
    from geo_patrol.cli import parse_window

    settings = current_app.config["GEO_PATROL_SETTINGS"]
    start, end = request.form.get("from", ""), request.form.get("to", "")
    if not start or not end:
        raise InputError("choose the first and last day of the period")
    summary = analyze(_engine(), *parse_window(start, end, settings.timezone),
                      settings=settings)
    return redirect(url_for("pages.dashboard", run=summary.run_id))


@bp.get("/briefing/<int:district_id>")
@requires(Resource.COVERAGE)
def briefing(district_id: int) -> Any:
    from geo_patrol.render.briefing import briefing_html

    principal().check_area(district_id, "district")
    settings = current_app.config["GEO_PATROL_SETTINGS"]
    with _engine().connect() as conn:
        run = _run(conn)
        if run is None:
            raise NotFoundError("no analysis run yet")
        page = briefing_html(conn, run["id"], district_id, rules=settings.rules, lang=lang(),
                             basemap=current_app.config.get("GEO_PATROL_BASEMAP"))
    name = f"briefing-{district_id}-{run['window_start']:%Y%m%d}.html"
    return Response(page, mimetype="text/html",
                    headers={"Content-Disposition": f"attachment; filename={name}"})


@bp.get("/lang/<code>")
def set_language(code: str) -> Any:
    if code not in ("zh", "en"):
        raise InputError("language is zh or en")
    target = request.args.get("next") or url_for("pages.dashboard")
    if not target.startswith("/"):
        target = url_for("pages.dashboard")
    resp = redirect(target)
    resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return resp


@bp.get("/volunteers")
@requires(Resource.PEOPLE)
def volunteers() -> Any:
    from geo_patrol.store.registry import volunteer_table

    within = principal().within(Resource.PEOPLE)
    filters = {k: request.args.get(k) or None for k in ("community", "occupation", "team",
                                                         "duty")}
    with _engine().connect() as conn:
        table = volunteer_table(conn, **filters, within=within)
    return render_template("volunteers.html", run=None, volunteers=table, filters=filters)


@bp.get("/reports")
@requires(Resource.HAZARDS)
def reports() -> Any:
    from geo_patrol.store.registry import report_table, reward_ledger

    within = principal().within(Resource.HAZARDS)
    verification = request.args.get("verification") or None
    with _engine().connect() as conn:
        table = report_table(conn, verification=verification, within=within)
        ledger = reward_ledger(conn, within=within)
    return render_template("reports.html", run=None, reports=table, ledger=ledger,
                           verification=verification or "")


@bp.route("/uploads", methods=["GET", "POST"])
@requires(Resource.HAZARDS, "write")
def uploads() -> Any:
    """Drop a file in: the load summary, or the error (nothing stored)."""
    from geo_patrol.store.registry import upload_table
    from web.uploads import UPLOAD_KINDS, load_upload

    message, error, status = None, None, 200
    if request.method == "POST":
        kind = request.form.get("kind", "")
        try:
            result = load_upload(
                _engine(), current_app.config["GEO_PATROL_SETTINGS"], kind,
                request.files.get("file"),
                crs=(request.form.get("crs") or None) if kind != "volunteers" else None,
                tz=(request.form.get("tz") or None)
                if kind in ("tracks", "reports", "incidents", "hazards") else None,
                volunteer=(request.form.get("volunteer") or None) if kind == "tracks" else None)
            message = result.summary_line()
        except TooLargeError:
            raise
        except GeoPatrolError as exc:
            error, status = str(exc), 400
    with _engine().connect() as conn:
        table = upload_table(conn)
    return render_template("uploads.html", run=None, uploads=table, message=message,
                           error=error, kinds=UPLOAD_KINDS), status


@bp.get("/export/<int:run_id>/<layer>.<fmt>")
@requires(Resource.COVERAGE)
def export_layer(run_id: int, layer: str, fmt: str) -> Any:
    from geo_patrol.render.exports import FORMATS, export_bytes, result_layer

    within = principal().within(Resource.COVERAGE)
    with _engine().connect() as conn:
        results.find_run(conn, run_id)
        frame = result_layer(conn, run_id, layer, within=within)
    data = export_bytes(frame, fmt)
    return Response(data, mimetype=FORMATS[fmt], headers={
        "Content-Disposition": f"attachment; filename={layer}-{run_id}.{fmt}"})


@bp.get("/me")
def me() -> Any:
    """A volunteer's own record (masked like everywhere else) and reports."""
    from geo_patrol.store.registry import report_table, volunteer_table

    user = principal()
    if user.volunteer_id is None:
        raise NotFoundError("this account has no volunteer record")
    with _engine().connect() as conn:
        record = volunteer_table(conn, volunteer_id=user.volunteer_id)
        own = report_table(conn, volunteer_id=user.volunteer_id)
    rules = current_app.config["GEO_PATROL_SETTINGS"].rules
    return render_template("me.html", run=None, record=record.iloc[0], reports=own,
                           rules=rules, message=request.args.get("sent"))


@bp.post("/me/report")
@requires(Resource.HAZARDS, "report")
def send_report() -> Any:
    from geo_patrol.loading import enter_report

    user = principal()
    report_id = enter_report(_engine(), volunteer_id=user.volunteer_id,
                             category=request.form.get("category", ""),
                             text=request.form.get("text") or None,
                             lon=request.form.get("lon"), lat=request.form.get("lat"),
                             settings=current_app.config["GEO_PATROL_SETTINGS"])
    return redirect(url_for("pages.me", sent=report_id))


@bp.post("/hazards/new")
@requires(Resource.HAZARDS, "propose")
def new_hazard() -> Any:
    """A district command records a hazard; a community officer proposes one in their own
    communities."""
    from geo_patrol.loading import enter_hazard

    user = principal()
    enter_hazard(_engine(), category=request.form.get("category", ""),
                 name=request.form.get("name", ""), lon=request.form.get("lon"),
                 lat=request.form.get("lat"), by=user.username,
                 proposal=user.grant(Resource.HAZARDS, "write") is None,
                 within=user.within(Resource.HAZARDS, "propose"),
                 settings=current_app.config["GEO_PATROL_SETTINGS"])
    return redirect(url_for("pages.hazards"))


@bp.post("/volunteers/<int:volunteer_id>/unmask")
@requires(Resource.PEOPLE, "unmask")
def unmask(volunteer_id: int) -> Any:
    """One volunteer's personal data in clear, for a reason that is audit-logged."""
    from geo_patrol.privacy import Vault
    from geo_patrol.store.registry import unmask_volunteer

    user = principal()
    record = unmask_volunteer(_engine(), volunteer_id, actor=user.username,
                              reason=request.form.get("reason", ""),
                              vault=Vault.from_settings(current_app.config["GEO_PATROL_SETTINGS"]),
                              within=user.within(Resource.PEOPLE, "unmask"))
    return render_template("unmasked.html", run=None, record=record,
                           reason=request.form.get("reason", ""))


@bp.get("/audit")
@requires(Resource.AUDIT)
def audit() -> Any:
    from geo_patrol.store.accounts import audit_table

    with _engine().connect() as conn:
        table = audit_table(conn)
    return render_template("audit.html", run=None, entries=table)
