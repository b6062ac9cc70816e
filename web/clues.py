"""Reports from the street on the web: a report's photos (copies without EXIF, only for who
may read the report), triage of the queue, and a refused report's reason in the reader's
language."""

from __future__ import annotations

from typing import Any

import pandas as pd
from flask import Blueprint, Response, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage

from geo_patrol import clock
from geo_patrol.access import Resource
from geo_patrol.errors import ReportInputError
from geo_patrol.render.i18n import report_label
from geo_patrol.services import reports as service
from geo_patrol.services.results import reward_ledger
from web.auth import principal, requires
from web.db import get_conn, get_db, settings
from web.forms import refills, refusal_text  # (a refused report's reason, for /me)
from web.params import int_value, lang, paging_args

bp = Blueprint("clues", __name__)
#: Rows on one page of the reward ledger beside the queue.
LEDGER_PAGE = 20


def photos_sent(files: list[FileStorage]) -> list[tuple[str, bytes]]:
    """The photos of a form, each read no further than one byte past the size allowed (a
    larger one is refused by its size without holding it whole)."""
    limit = int(settings().media_max_mb * 1e6) + 1
    return [(f.filename or "photo", f.stream.read(limit)) for f in files
            if f is not None and f.filename]


def video_sent(file: FileStorage | None) -> tuple[str, bytes] | None:
    """The video of a form, read no further than one byte past the size allowed."""
    if file is None or not file.filename:
        return None
    return file.filename, file.stream.read(int(settings().video_max_mb * 1e6) + 1)


@bp.get("/media/<int:media_id>/clip")
@requires(Resource.HAZARDS)
def video(media_id: int) -> Any:
    """A report's video as served: remuxed without metadata (no place, no time)."""
    data, mime = service.video(get_db(), settings(), principal(), media_id)
    return Response(data, mimetype=mime, headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


@bp.get("/media/<int:media_id>/<copy>.jpg")
@requires(Resource.HAZARDS)
def photo(media_id: int, copy: str) -> Any:
    """A photo of a report as shown (``shown`` or ``thumb``), without EXIF."""
    data = service.photo(get_db(), settings(), principal(), media_id, copy)
    return Response(data, mimetype="image/jpeg", headers={
        "Cache-Control": "private, max-age=3600", "X-Content-Type-Options": "nosniff"})


def reports_page(*, status: int = 200) -> Any:
    """The queue, a page at a time: reports pending first (or sorted and filtered as asked),
    with their photos, the earlier report each looks like, and for officers and the command
    the triage buttons."""
    me = principal()
    paging = paging_args(sortable=service.REPORT_SORTS, filters=service.REPORT_FILTERS)
    found = service.queue(get_db(), settings(), me, paging)
    page, photos = found.page, found.photos
    # planners see what was reported where, never who reported it or what they wrote
    people = me.grant(Resource.PEOPLE) is not None
    # paged on the server as the queue is (its own ``?ledger_page=``, its own order)
    ledger = reward_ledger(get_conn(), paging_args(
        sortable=(), page_key="ledger_page", sort_key=None, size=LEDGER_PAGE),
        within=me.within(Resource.HAZARDS)) if people else None
    if not people:
        page.rows[["volunteer", "volunteer_name", "text", "answer"]] = None
        photos = {}  # a photo may show people
    triage = me.grant(Resource.HAZARDS, "triage") is not None
    return render_template("reports.html", run=None, reports=page, ledger=ledger,
                           people=people, verification=paging.filter("verification") or "",
                           photos=photos, earlier=found.earlier, triage=triage,
                           choices=merge_choices(page.rows, found.candidates, found.earlier)
                           if triage else {},
                           done=int_value("done", request.args.get("done")),
                           outcome=request.args.get("outcome", ""),
                           points=int_value("points", request.args.get("points"), 0),
                           flagged=bool(request.args.get("flagged"))), status


def merge_choices(table: pd.DataFrame, candidates: pd.DataFrame, earlier: dict[int, int], *,
                  most: int = 20) -> dict[int, list[tuple[int, str]]]:
    """For each pending report of ``table``, the earlier reports of its community (among
    ``candidates``) it may be merged into, the one it looks like first, then the latest:
    ``(id, what the list shows)``."""
    tz, rules = settings().timezone, settings().rules
    kept = candidates[candidates["verification"] != "merged"].sort_values(["reported_at", "id"])
    groups = {c: g for c, g in kept.groupby("community_id")}
    out: dict[int, list[tuple[int, str]]] = {}
    for r in table[table["verification"] == "pending"].itertuples():
        group = groups.get(r.community_id)
        if group is None:
            continue
        before = group[(group["reported_at"] <= r.reported_at) & (group["id"] != r.id)]
        before = before.iloc[::-1].head(most)
        like = earlier.get(int(r.id))
        if like is not None:
            before = pd.concat([kept[kept["id"] == like], before[before["id"] != like]])
        out[int(r.id)] = [
            (int(c.id), " · ".join(p for p in (
                f"#{int(c.id)}", clock.local_text(c.reported_at, tz, "short"),
                report_label(c.category, lang(), rules),
                (c.text if isinstance(c.text, str) else "")[:24]) if p))
            for c in before.itertuples()]
    return out


#: The field of a report's triage form a refusal is shown beside.
TRIAGE_FIELDS: dict[str, str] = {"answer": "answer", "reason": "answer",
                                 "merge": "merge_into", "outside": "hazard_category"}


@bp.post("/reports/<int:report_id>/triage")
@requires(Resource.HAZARDS, "triage")
@refills(lambda: reports_page())
def triage(report_id: int) -> Any:
    """Verify, reject (with a reason), merge, add to the hazard register or hand to a
    police station; a refusal is shown beside the report's field, the answer typed kept."""
    form = request.form
    try:
        done = service.triage(
            get_db(), settings(), principal(), report_id,
            action=form.get("action", ""), answer=form.get("answer"),
            merge_into=int_value("merge_into", form.get("merge_into")),
            hazard_category=form.get("hazard_category") or None)
    except ReportInputError as exc:
        exc.field = exc.field or TRIAGE_FIELDS.get(exc.code)
        raise
    return redirect(url_for("pages.reports", done=done.report_id, outcome=done.outcome,
                            points=done.points, flagged=int(done.flagged) or None)
                    + f"#report-{report_id}")
