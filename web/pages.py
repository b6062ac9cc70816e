"""HTML pages: district dashboard, community page, hazards, reports, volunteers, uploads, a
volunteer's own page, the audit log, briefing download and analysis."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext
from markupsafe import Markup

from geo_patrol import clock
from geo_patrol.access import Grant, Resource
from geo_patrol.analysis.places import place_texts
from geo_patrol.errors import (
    N_,
    BusyError,
    GeoPatrolError,
    InputError,
    NotFoundError,
    NoVolunteerError,
    ReportInputError,
)
from geo_patrol.paging import page_frame
from geo_patrol.privacy import Vault
from geo_patrol.render.charts import coverage_trend_svg
from geo_patrol.services import crime, jobs, notify, results, scope, tasks, training
from geo_patrol.services import reports as report_service
from geo_patrol.services.accounts import (
    AUDIT_FILTERS,
    AUDIT_SORTS,
    audit_actions,
    audit_event,
    audit_page,
)
from geo_patrol.services.analysis import parse_window
from geo_patrol.services.exports import export_layer as encode_layer
from geo_patrol.services.results import (
    proposal_table,
    unmask_volunteer,
    volunteer_table,
)
from geo_patrol.services.refs import ref_details
from web import clues
from web.auth import principal, reports_limited, requires
from web.db import city, get_conn, get_db, note_written, settings
from web.live import now_parts
from web.forms import refills
from web.params import current_run, download, form_choice, int_arg, lang, local_path, paging_args
from web.uploads import saved_upload

bp = Blueprint("pages", __name__)
LAYER_TYPES = {"geojson": "application/geo+json", "gpkg": "application/geopackage+sqlite3",
               "csv": "text/csv"}


def trend_svg(series: Any) -> str:
    """The daily coverage chart of a page, in the page's language."""
    return coverage_trend_svg(series, lang())


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
    # an analysis covers the whole city: whoever may start one joins the same one
    analysis_job = jobs.mine(get_db(), settings(), job_id, me.username, "analysis",
                             joinable=me.grant(Resource.COVERAGE, "write") is not None) \
        if (job_id := int_arg("analysis_job")) else None
    if analysis_job is not None and analysis_job["state"] == "done":  # the run made: show it
        note_written()
        return redirect(url_for("pages.dashboard", run=analysis_job["result"]["run_id"]))
    conn = get_conn()
    run = current_run(conn)
    runs = results.list_runs(conn)
    if run is None:
        return render_template("dashboard.html", run=None, runs=runs, districts=None,
                               analysis_job=analysis_job)
    districts = results.area_table(conn, run["id"], level="district", within=me.area_ids)
    district_id = int_arg("district")
    if district_id is not None:
        me.check_area(district_id, "district")
    elif not districts.empty:
        district_id = int(districts.sort_values("covered_m").iloc[-1]["area_id"])
    within = me.community_ids
    if district_id is not None:  # the district's communities only (of those in scope)
        subtree = frozenset(results.subtree_ids(conn, district_id) or ())
        within = subtree if within is None else within & subtree
    communities = results.area_table(conn, run["id"], level="community", within=within)
    ranked = _key_of(within)
    # a community officer sees no district: the map of one of their communities instead
    community_id = None
    if district_id is None and not communities.empty:
        community_id = int_arg("community")
        if community_id is None:
            community_id = int(communities.iloc[0]["area_id"])
        me.check_area(community_id, "community")
    shown = district_id if district_id is not None else community_id
    trend = trend_svg(results.daily_series(conn, run["id"], shown)) if shown is not None else ""
    # the tiles read what jobs computed and stored (their progress until then)
    crime_tile, crime_job, campaign_tiles, campaign_job = None, None, [], None
    if me.grant(Resource.CAMPAIGNS) is not None:
        within = me.within(Resource.CAMPAIGNS)
        campaign_job, made = _stored("campaigns", {
            "campaign_id": None, "district_id": district_id, "on": str(settings().today()),
            "within": None if within is None else sorted(within)})
        campaign_tiles = made or []
    if me.grant(Resource.CRIME) is not None:
        crime_job, crime_tile = _stored("crime_tile", jobs.study_params(
            crime.Study(area_id=district_id, within=me.within(Resource.CRIME)),
            settings().today()))
    # the long tables, drawn once per run, district, scope and language (and version of the
    # reports and areas they are read from), not on every request
    version = report_service.figures_version(get_db())
    asked = _asked()  # (the pagers' links keep the page's other parameters)
    # paged on the server as every long table is (its own ``?ranking_page=``), lowest
    # coverage first on every page
    ranking_paging = paging_args(sortable=(), page_key="ranking_page", sort_key=None,
                                 size=RANKING_PAGE)

    def ranking() -> str:
        ranked_page = page_frame(communities, ranking_paging, sortable={},
                                 order=["coverage", "name", "area_id"])
        return render_template("_ranking.html", run=run, ranking=ranked_page)

    ranking_html = _drawn(("ranking", run["id"], district_id, ranked, lang(), version, asked),
                          ranking)
    reports_html = Markup("")
    if me.grant(Resource.HAZARDS) is not None:
        hazards_within = me.within(Resource.HAZARDS)

        # paged on the server as every long table is (its own ``?reports_page=``)
        reports_paging = paging_args(sortable=(), page_key="reports_page", sort_key=None,
                                     size=REPORT_FIGURES_PAGE)

        def report_figures() -> str:
            figures = report_service.figures(
                get_db(), settings(), since=run["window_start"], until=run["window_end"],
                within=hazards_within, area_id=district_id)
            figures["table"] = page_frame(figures["table"], reports_paging, sortable={},
                                          order=["community", "category"])
            return render_template("_report_figures.html", report_figures=figures)

        reports_html = _drawn(("reports", run["window_start"], run["window_end"], district_id,
                               _key_of(hazards_within), lang(), version, asked),
                              report_figures)
    return render_template("dashboard.html", run=run, runs=runs, districts=districts,
                           district_id=district_id, communities=communities, trend=trend,
                           headline=headline(conn, run, district_id, districts),
                           community_id=community_id,
                           crime_tile=crime_tile, campaign_tiles=campaign_tiles,
                           crime_job=crime_job, campaign_job=campaign_job,
                           analysis_job=analysis_job, ranking_html=ranking_html,
                           reports_html=reports_html)


#: Rows on one page of the dashboard's table of street reports (per community and category).
REPORT_FIGURES_PAGE = 20
#: Rows on one page of the dashboard's ranking of communities.
RANKING_PAGE = 20
#: Tables drawn for the dashboard, by what they were drawn from (the most recent kept).
_DRAWN: OrderedDict[tuple, Markup] = OrderedDict()
_DRAWN_LOCK = threading.Lock()


def _key_of(within: frozenset[int] | None) -> tuple[int, ...] | None:
    return None if within is None else tuple(sorted(within))


def _asked() -> tuple[tuple[str, str], ...]:
    """The request's parameters, as a drawn table's key: its pager's links keep them (the
    page of the other table on the page among them)."""
    return tuple(sorted(request.args.items(multi=True)))


def _drawn(key: tuple, draw: Callable[[], str]) -> Markup:
    """The HTML ``draw`` gives for ``key`` in this city's database, drawn once."""
    key = (str(get_db().url), settings().city, *key)
    with _DRAWN_LOCK:
        if key in _DRAWN:
            _DRAWN.move_to_end(key)
            return _DRAWN[key]
    html = Markup(draw())
    with _DRAWN_LOCK:
        _DRAWN[key] = html
        while len(_DRAWN) > 64:
            _DRAWN.popitem(last=False)
    return html


def _stored(kind: str, params: dict[str, Any]) -> tuple[dict | None, Any]:
    """A dashboard tile's job and stored result; none while the user's jobs are at their
    limit (the tile is left out, the page still answers)."""
    try:
        return jobs.stored(get_db(), settings(), principal().username, kind, params)
    except BusyError:
        return None, None


def headline(conn: Any, run: dict, district_id: int | None,
             districts: Any) -> dict[str, Any] | None:
    """The dashboard's headline figures for a district: coverage and its change against the
    period before (when that period was analysed), overdue hazards, gaps and active
    volunteers, from the stored results."""
    if district_id is None or districts is None or districts.empty:
        return None
    row = districts[districts["area_id"] == district_id]
    if row.empty:
        return None
    now = row.iloc[0]
    before = results.previous_run(conn, run["id"])
    previous = None
    if before is not None:
        earlier = results.area_table(conn, before["id"], level="district")
        earlier = earlier[earlier["area_id"] == district_id]
        if not earlier.empty and earlier.iloc[0]["coverage"] == earlier.iloc[0]["coverage"]:
            previous = float(earlier.iloc[0]["coverage"])
    coverage = float(now["coverage"]) if now["coverage"] == now["coverage"] else None
    return {"name": now["name"], "coverage": coverage, "previous": previous,
            "previous_run": before,
            "change": None if coverage is None or previous is None else coverage - previous,
            "overdue": int(now["hazards_overdue"] or 0) + int(now["hazards_never"] or 0),
            "hazards": int(now["hazards"] or 0), "gaps": int(now["gaps"] or 0),
            "gap_km": float(now["gap_m"] or 0) / 1000,
            "volunteers": int(now["active_volunteers"] or 0)}


def _area_run(area_id: int, what: str) -> tuple[Any, dict | None]:
    """This request's connection and run, once the area is known to lie in the user's scope."""
    principal().check_area(area_id, what)
    conn = get_conn()
    return conn, current_run(conn)


@bp.get("/community/<int:area_id>")
@requires(Resource.COVERAGE)
def community(area_id: int) -> Any:
    conn, run = _area_run(area_id, "area")
    if run is None:
        return redirect(url_for("pages.dashboard"))
    table = results.area_table(conn, run["id"])
    row = table[table["area_id"] == area_id]
    if row.empty:
        raise NotFoundError(f"no results for area {area_id} in run {run['id']}")
    gaps = results.gap_table(conn, run["id"], area_id=area_id, limit=30)
    gaps["place"] = place_texts(gaps, lang(), length=False)
    hazards = results.hazard_table(conn, run["id"], area_id=area_id)
    trend = trend_svg(results.daily_series(conn, run["id"], area_id))
    days = clock.days_of(run["window_start"], run["window_end"], settings().timezone)
    tracks = principal().grant(Resource.TRACKS) in (Grant.ALL, Grant.SCOPED)
    # a record, not a pandas row: a row's ``.name`` is its index label, not the area's name
    area = row.iloc[0].to_dict()
    return render_template("community.html", run=run, area=area, gaps=gaps,
                           hazards=hazards, trend=trend, days=days if tracks else [],
                           day=request.args.get("day", "") if tracks else "")


@bp.get("/hazards")
@requires(Resource.HAZARDS)
def hazards() -> Any:
    me = principal()
    conn = get_conn()
    run = current_run(conn)
    if run is None:
        return redirect(url_for("pages.dashboard"))
    paging = paging_args(sortable=results.HAZARD_SORTS, filters=results.HAZARD_FILTERS)
    page = results.hazard_page(conn, run["id"], paging, within=me.within(Resource.HAZARDS))
    table = page.rows
    if me.grant(Resource.PEOPLE) is None:  # planners: no personal data
        table["inspector_name"] = None
    if len(table):
        table["place"] = place_texts(table, lang(), length=False)
    proposals = proposal_table(conn, me.within(Resource.HAZARDS, "propose")) \
        if me.grant(Resource.HAZARDS, "propose") else None
    return render_template("hazards.html", run=run, hazards=page, proposals=proposals,
                           category=paging.filter("category") or "",
                           status=paging.filter("status") or "")


@bp.post("/analyse")
@requires(Resource.COVERAGE, "write")
def analyse() -> Any:
    start, end = request.form.get("from", ""), request.form.get("to", "")
    if not start or not end:
        raise InputError(N_("Choose the first and last day of the period."),
                         field="from" if not start else "to", values={})
    first, last = parse_window(start, end, settings().timezone)
    job = jobs.submit(get_db(), settings(), principal().username, "analysis",
                      {"start": first.isoformat(), "end": last.isoformat()})
    return redirect(url_for("pages.dashboard", analysis_job=job["id"]))


@bp.get("/briefing/<int:district_id>")
@requires(Resource.COVERAGE)
def briefing(district_id: int) -> Any:
    """The offline briefing of a district, or of one community (the same id path)."""
    conn, run = _area_run(district_id, "district")
    if run is None:
        raise NotFoundError("no analysis run yet")
    level = results.find_area(conn, district_id)["level"]
    if level not in ("district", "community"):
        raise NotFoundError(f"no district or community {district_id}")
    # the property-crime section for readers of the whole district's crime patterns only
    whole = principal().grant(Resource.CRIME) == Grant.ALL and principal().community_ids is None
    # drawn by a job and stored: its progress until then (the page reloads to the file)
    job, page = jobs.stored(get_db(), settings(), principal().username, "briefing", {
        "run_id": run["id"], "district_id": district_id, "lang": lang(), "figures": whole,
        "city": city().label(lang()), "on": str(settings().today()), "level": level})
    if page is None:
        return render_template("job.html", run=None, job=job)
    name = f"briefing-{district_id}-" \
        f"{clock.period_stamp(run['window_start'], run['window_end'], settings().timezone)}.html"
    return download(page, name, "text/html")


@bp.get("/lang/<code>")
def set_language(code: str) -> Any:
    if code not in ("zh", "en"):
        raise InputError("language is zh or en")
    resp = redirect(local_path(request.args.get("next"), url_for("pages.dashboard")))
    resp.set_cookie("lang", code, max_age=365 * 86400, samesite="Lax", httponly=True)
    return resp


@bp.get("/volunteers")
@requires(Resource.PEOPLE)
def volunteers() -> Any:
    within = principal().within(Resource.PEOPLE)
    paging = paging_args(sortable=results.VOLUNTEER_SORTS, filters=results.VOLUNTEER_FILTERS)
    table = results.volunteer_page(get_conn(), paging, within=within, on=settings().today())
    teams = training.teams(get_db(), settings(), within=within)
    return render_template("volunteers.html", run=None, volunteers=table,
                           filters=paging.filters, teams=teams)


@bp.get("/reports")
@requires(Resource.HAZARDS)
def reports() -> Any:
    return clues.reports_page()


@bp.get("/uploads")
@requires(Resource.HAZARDS, "write")
def uploads() -> Any:
    """Drop a file in: the form, what was loaded before and, after a load, its summary."""
    uploaded = results.upload_page(get_conn(), paging_args(
        sortable=results.UPLOAD_SORTS, filters=results.UPLOAD_FILTERS))
    return render_template("uploads.html", run=None, uploads=uploaded,
                           message=request.args.get("loaded"), kinds=list(scope.WEB_UPLOADS),
                           timezone=settings().timezone)


@bp.post("/uploads")
@requires(Resource.HAZARDS, "write")
@refills(uploads)
def upload() -> Any:
    """Load a file; a refusal lists every bad row (row, column, reason) in the page's
    language and stores nothing. The coordinates are WGS-84 and naive times the city's
    unless chosen otherwise under "More"."""
    form = request.form
    kind = form.get("kind", "")
    if kind not in scope.WEB_UPLOADS:
        raise InputError(N_("Choose what the file holds."), field="kind", values={})
    with saved_upload(request.files.get("file")) as path:
        result = scope.upload_file(
            get_db(), settings(), principal(), kind, path,
            crs=form.get("crs"), tz=form.get("tz"), volunteer=form.get("volunteer"))
    return redirect(url_for("pages.uploads", loaded=loaded_text(result)))


def loaded_text(result: Any) -> str:
    """A load's summary in the page's language."""
    if result.duplicate:
        return gettext("%(file)s was loaded before (upload no. %(id)s); nothing changed.",
                       file=result.filename, id=result.upload_id)
    return gettext("%(file)s: %(n)s records stored, %(flagged)s flagged (%(s)s s).",
                   file=result.filename, n=result.stored, flagged=result.flagged,
                   s=f"{result.seconds:.1f}")


@bp.get("/export/<int:run_id>/<layer>.<fmt>")
@requires(Resource.COVERAGE)
def export_layer(run_id: int, layer: str, fmt: str) -> Any:
    if fmt not in LAYER_TYPES:
        raise InputError(f"unknown format {fmt!r}: use one of {', '.join(LAYER_TYPES)}")
    me = principal()
    data, _ = encode_layer(get_conn(), run_id, layer, fmt, tz=settings().timezone,
                           within=me.within(Resource.COVERAGE),
                           people=me.grant(Resource.PEOPLE) is not None)
    return download(data, f"{layer}-{run_id}.{fmt}", LAYER_TYPES[fmt])


@bp.get("/me")
def me() -> Any:
    """A volunteer's own record (masked like everywhere else) and reports."""
    return _my_page(message=request.args.get("sent"))


def _my_page(*, message: str | None = None, error: str | None = None,
             entered: dict[str, str] | None = None, status: int = 200) -> Any:
    user = principal()
    if user.volunteer_id is None:
        raise NoVolunteerError()
    conn = get_conn()
    record = volunteer_table(conn, volunteer_id=user.volunteer_id, on=settings().today())
    own, photos = report_service.my_reports(get_db(), user.volunteer_id)
    near = tasks.near_me(get_db(), settings(), user.volunteer_id)
    mine, points = tasks.my_tasks(get_db(), user.volunteer_id)
    return render_template("me.html", run=None, record=record.iloc[0].to_dict(), reports=own,
                           photos=photos, near=near, mine=mine, points=points,
                           **now_parts(),
                           certificates=training.certificates(get_db(), settings(),
                                                              volunteer_id=user.volunteer_id),
                           notices=notify.my_notices(get_db(), user.volunteer_id,
                                                     tz=settings().timezone),
                           notify_rules=notify.rules(get_db(), user.volunteer_id),
                           message=message, error=error, entered=entered or {},
                           shown_at=clock.now_local(settings().timezone),
                           max_photos=settings().media_max_count,
                           video_max_s=round(settings().video_max_s)), status


@bp.post("/me/report")
@requires(Resource.HAZARDS, "report")
@reports_limited
def send_report() -> Any:
    """A report from the phone, with its photos; a refusal says why in the page's language,
    keeps what was typed, and stores nothing. A phone sending a report it kept while offline
    asks for JSON."""
    form = request.form
    try:
        report_id = scope.send_report(
            get_db(), settings(), principal(), category=form.get("category", ""),
            text=form.get("text") or None, lon=form.get("lon"), lat=form.get("lat"),
            photos=clues.photos_sent(request.files.getlist("photos")),
            video=clues.video_sent(request.files.get("video")),
            key=form.get("key"), made_at=form.get("made_at"))
    except ReportInputError as exc:
        message = clues.refusal_text(exc)
        if request.accept_mimetypes.best == "application/json":
            return jsonify(error="ReportInputError", code=exc.code, message=message), 400
        entered = {k: form.get(k, "")[:2000] for k in ("category", "text", "lon", "lat")}
        return _my_page(error=message, entered=entered, status=400)
    if request.accept_mimetypes.best == "application/json":
        return jsonify(id=report_id, verification="pending",
                       next=url_for("pages.me", sent=report_id)), 201
    return redirect(url_for("pages.me", sent=report_id))


@bp.post("/hazards/new")
@requires(Resource.HAZARDS, "propose")
@refills(hazards)
def new_hazard() -> Any:
    """A district command records a hazard; a community officer proposes one in their own
    communities, for the command's review."""
    scope.record_hazard(get_db(), settings(), principal(),
                        category=request.form.get("category", ""),
                        name=request.form.get("name", ""), lon=request.form.get("lon"),
                        lat=request.form.get("lat"))
    return redirect(url_for("pages.hazards"))


@bp.post("/hazards/<int:hazard_id>/review")
@requires(Resource.HAZARDS, "write")
def review_hazard(hazard_id: int) -> Any:
    """The command accepts or rejects an officer's proposed hazard."""
    decision = form_choice("decision", ("accept", "reject"))
    scope.review_proposal(get_db(), principal(), hazard_id, accept=decision == "accept")
    return redirect(url_for("pages.hazards"))


@bp.route("/volunteers/<int:volunteer_id>/unmask", methods=["GET", "POST"])
def unmask(volunteer_id: int) -> Any:
    """One volunteer's personal data in clear, for a reason that is audit-logged; refused
    attempts (no right, no reason, outside one's scope) are audit-logged too. Asked for with
    GET: the form for the reason, for this one volunteer (masked)."""
    user = principal()
    if request.method == "GET":
        within = user.within(Resource.PEOPLE, "unmask")
        record = volunteer_table(get_conn(), volunteer_id=volunteer_id, within=within,
                                 on=settings().today())
        if record.empty:
            raise NotFoundError(f"no volunteer {volunteer_id}")
        return render_template("unmasked.html", run=None, record=None,
                               masked=record.iloc[0].to_dict(), reason="")
    reason = request.form.get("reason", "")
    try:
        user.require(Resource.PEOPLE, "unmask")
        record = unmask_volunteer(get_db(), volunteer_id, actor=user.username,
                                  reason=reason, vault=Vault.from_settings(settings()),
                                  within=user.within(Resource.PEOPLE, "unmask"))
    except GeoPatrolError as exc:
        audit_event(get_db(), user.username, "unmask_refused", f"volunteer id {volunteer_id}",
                    reason=reason[:200] or None, details={"why": str(exc)[:200]})
        raise
    return render_template("unmasked.html", run=None, record=record, reason=reason)


#: What the view needs, declared as ``requires`` declares it (checked inside the view, so a
#: refusal is audit-logged)
unmask.required = (Resource.PEOPLE, "unmask")  # type: ignore[attr-defined]


@bp.get("/audit")
@requires(Resource.AUDIT)
def audit() -> Any:
    paging = paging_args(sortable=AUDIT_SORTS, filters=AUDIT_FILTERS)
    entries = audit_page(get_conn(), paging, principal())
    return render_template("audit.html", run=None, entries=entries,
                           subjects=ref_details(get_db(), entries.rows["target"]),
                           actions=audit_actions(get_conn()))
