"""Reports from the street on the web: a report's photos (copies without EXIF, only for who
may read the report), triage of the queue, and a refused report's reason in the reader's
language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
from flask import Blueprint, Response, redirect, render_template, request, url_for
from flask_babel import gettext
from werkzeug.datastructures import FileStorage

from geo_patrol import clock
from geo_patrol.access import Resource
from geo_patrol.errors import ReportInputError
from geo_patrol.render.i18n import report_label
from geo_patrol.services import reports as service
from geo_patrol.services.results import reward_ledger
from web.auth import principal, requires
from web.db import get_conn, get_db, settings
from web.params import int_value, lang

bp = Blueprint("clues", __name__)

#: A refused report's (or triage's) reason in the reader's language, from its figures.
REFUSALS: dict[str, Callable[[dict[str, Any]], str]] = {
    "not_image": lambda p: gettext(
        "“%(file)s” is not a photo: send a JPEG, PNG or WebP picture.", file=p.get("file")),
    "too_large": lambda p: gettext(
        "“%(file)s” is too large: a photo may be at most %(mb)s MB.", file=p.get("file"),
        mb=p.get("mb")),
    "bomb": lambda p: gettext(
        "“%(file)s” would unpack to more than %(pixels)s pixels and was refused.",
        file=p.get("file"), pixels=p.get("pixels")),
    "size_lies": lambda p: gettext(
        "“%(file)s” claims a smaller size in its EXIF than the picture it holds, and was "
        "refused.", file=p.get("file")),
    "too_many": lambda p: gettext(
        "A report carries at most %(limit)s photos; you chose %(count)s.",
        limit=p.get("limit"), count=p.get("count")),
    "not_video": lambda p: gettext(
        "“%(file)s” is not a video that can be read: send an MP4, QuickTime or WebM video.",
        file=p.get("file")),
    "video_too_large": lambda p: gettext(
        "“%(file)s” is too large: a video may be at most %(mb)s MB.", file=p.get("file"),
        mb=p.get("mb")),
    "video_too_long": lambda p: gettext(
        "“%(file)s” is too long: a video may last at most %(s)s seconds.",
        file=p.get("file"), s=p.get("seconds")),
    "outside": lambda p: gettext(
        "The report's position is not in this city's communities: give a longitude and "
        "latitude inside the city."),
    "category": lambda p: gettext("Choose a category from the list."),
    "text": lambda p: gettext("The text is too long, or starts with = + - or @."),
    "answer": lambda p: gettext("An answer has at most %(limit)s characters.",
                                limit=p.get("limit")),
    "reason": lambda p: gettext("Say why the report is rejected."),
    "merge": lambda p: gettext("Choose the earlier report to merge this one into."),
}


def refusal_text(exc: ReportInputError) -> str:
    """What a refused report or triage says, in the reader's language."""
    say = REFUSALS.get(exc.code)
    return say(exc.params) if say else str(exc)


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


def reports_page(*, error: str | None = None, status: int = 200) -> Any:
    """The queue: reports pending first, with their photos, the earlier report each looks
    like, and for officers and the command the triage buttons."""
    me = principal()
    verification = request.args.get("verification") or None
    table, photos, earlier = service.queue(get_db(), settings(), me,
                                           verification=verification)
    # planners see what was reported where, never who reported it or what they wrote
    people = me.grant(Resource.PEOPLE) is not None
    ledger = reward_ledger(get_conn(), within=me.within(Resource.HAZARDS)) if people else None
    if not people:
        table = table.assign(volunteer=None, volunteer_name=None, text=None, answer=None)
        photos = {}  # a photo may show people
    triage = me.grant(Resource.HAZARDS, "triage") is not None
    return render_template("reports.html", run=None, reports=table, ledger=ledger,
                           people=people, verification=verification or "", photos=photos,
                           earlier=earlier, error=error, triage=triage,
                           choices=merge_choices(table, earlier) if triage else {},
                           done=int_value("done", request.args.get("done")),
                           outcome=request.args.get("outcome", ""),
                           points=int_value("points", request.args.get("points"), 0),
                           flagged=bool(request.args.get("flagged"))), status


def merge_choices(table: pd.DataFrame, earlier: dict[int, int], *, most: int = 20
                  ) -> dict[int, list[tuple[int, str]]]:
    """For each pending report, the earlier reports of its community it may be merged into,
    the one it looks like first, then the latest: ``(id, what the list shows)``."""
    tz, rules = settings().timezone, settings().rules
    kept = table[table["verification"] != "merged"].sort_values(["reported_at", "id"])
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


@bp.post("/reports/<int:report_id>/triage")
@requires(Resource.HAZARDS, "triage")
def triage(report_id: int) -> Any:
    """Verify, reject (with a reason), merge, add to the hazard register or hand to a
    police station."""
    form = request.form
    try:
        done = service.triage(
            get_db(), settings(), principal(), report_id,
            action=form.get("action", ""), answer=form.get("answer"),
            merge_into=int_value("merge_into", form.get("merge_into")),
            hazard_category=form.get("hazard_category") or None)
    except ReportInputError as exc:
        return reports_page(error=refusal_text(exc), status=400)
    return redirect(url_for("pages.reports", done=done.report_id, outcome=done.outcome,
                            points=done.points, flagged=int(done.flagged) or None)
                    + f"#report-{report_id}")
