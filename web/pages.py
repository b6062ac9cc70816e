"""HTML pages: district dashboard, community page, hazards, briefing download, analysis."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import (Blueprint, Response, current_app, redirect, render_template, request,
                   url_for)
from flask_babel import get_locale

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.store import results

bp = Blueprint("pages", __name__)


def _engine():  # noqa: ANN202
    from web import get_engine

    return get_engine(current_app)


def lang() -> str:
    return "zh" if str(get_locale()).startswith("zh") else "en"


def _run(conn: Any) -> dict | None:
    run_id = request.args.get("run", type=int)
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
    return redirect(url_for("pages.dashboard"))


@bp.get("/dashboard")
def dashboard() -> Any:
    with _engine().connect() as conn:
        run = _run(conn)
        runs = results.list_runs(conn)
        if run is None:
            return render_template("dashboard.html", run=None, runs=runs, districts=None)
        districts = results.area_table(conn, run["id"], level="district")
        district_id = request.args.get("district", type=int)
        if district_id is None and not districts.empty:
            district_id = int(districts.sort_values("covered_m").iloc[-1]["area_id"])
        communities = results.area_table(conn, run["id"], level="community")
        if district_id is not None:
            scope = results.area_layer(conn, run["id"], level="community",
                                       parent_id=district_id)["area_id"]
            communities = communities[communities["area_id"].isin(scope)]
        trend = trend_svg(results.daily_series(conn, run["id"], district_id)) \
            if district_id is not None else ""
    return render_template("dashboard.html", run=run, runs=runs, districts=districts,
                           district_id=district_id, communities=communities, trend=trend)


@bp.get("/community/<int:area_id>")
def community(area_id: int) -> Any:
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
    return render_template("community.html", run=run, area=row.iloc[0], gaps=gaps,
                           hazards=hazards, trend=trend, days=days,
                           day=request.args.get("day", ""))


@bp.get("/hazards")
def hazards() -> Any:
    category = request.args.get("category") or None
    status = request.args.get("status") or None
    with _engine().connect() as conn:
        run = _run(conn)
        if run is None:
            return redirect(url_for("pages.dashboard"))
        table = results.hazard_table(conn, run["id"], status=status)
    if category:
        table = table[table["category"] == category]
    rules = current_app.config["GEO_PATROL_SETTINGS"].rules
    return render_template("hazards.html", run=run, hazards=table, rules=rules,
                           category=category or "", status=status or "")


@bp.post("/analyse")
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
def briefing(district_id: int) -> Any:
    from geo_patrol.render.briefing import briefing_html

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
def volunteers() -> Any:
    from geo_patrol.store.registry import volunteer_table

    filters = {k: request.args.get(k) or None for k in ("community", "occupation", "team",
                                                         "duty")}
    with _engine().connect() as conn:
        table = volunteer_table(conn, **filters)
    return render_template("volunteers.html", run=None, volunteers=table, filters=filters)


@bp.get("/reports")
def reports() -> Any:
    from geo_patrol.store.registry import report_table, reward_ledger

    verification = request.args.get("verification") or None
    with _engine().connect() as conn:
        table = report_table(conn, verification=verification)
        ledger = reward_ledger(conn)
    return render_template("reports.html", run=None, reports=table, ledger=ledger,
                           verification=verification or "")


UPLOAD_KINDS = ("volunteers", "tracks", "hazards", "reports", "incidents")


@bp.route("/uploads", methods=["GET", "POST"])
def uploads() -> Any:
    """Drop a file in: the load summary, or the error (nothing stored)."""
    import tempfile
    from pathlib import Path

    from werkzeug.utils import secure_filename

    from geo_patrol import loading
    from geo_patrol.errors import GeoPatrolError
    from geo_patrol.store.registry import upload_table

    message, error, status = None, None, 200
    if request.method == "POST":
        kind = request.form.get("kind", "")
        upload = request.files.get("file")
        crs = request.form.get("crs") or None
        tz = request.form.get("tz") or None
        try:
            if kind not in UPLOAD_KINDS:
                raise InputError(f"choose what the file holds: {', '.join(UPLOAD_KINDS)}")
            if upload is None or not upload.filename:
                raise InputError("choose a file")
            settings = current_app.config["GEO_PATROL_SETTINGS"]
            loader = getattr(loading, f"load_{kind}")
            options: dict[str, Any] = {"crs": crs} if kind != "volunteers" else {}
            if kind in ("tracks", "reports", "incidents", "hazards"):
                options["tz"] = tz
            if kind == "tracks" and request.form.get("volunteer"):
                options["volunteer"] = request.form["volunteer"]
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / (secure_filename(upload.filename) or "upload")
                upload.save(path)
                result = loader(_engine(), path, settings=settings, **options)
            message = result.summary_line()
        except GeoPatrolError as exc:
            error, status = str(exc).replace(tempfile.gettempdir(), "…"), 400
    with _engine().connect() as conn:
        table = upload_table(conn)
    return render_template("uploads.html", run=None, uploads=table, message=message,
                           error=error, kinds=UPLOAD_KINDS), status


@bp.get("/export/<int:run_id>/<layer>.<fmt>")
def export_layer(run_id: int, layer: str, fmt: str) -> Any:
    from geo_patrol.render.exports import FORMATS, export_bytes, result_layer

    with _engine().connect() as conn:
        results.find_run(conn, run_id)
        frame = result_layer(conn, run_id, layer)
    data = export_bytes(frame, fmt)
    return Response(data, mimetype=FORMATS[fmt], headers={
        "Content-Disposition": f"attachment; filename={layer}-{run_id}.{fmt}"})
