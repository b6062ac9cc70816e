"""Reports from the street (随手拍): their photos checked as evidence and compared with the
reporter's own track, triage by officers and the command (verify, reject with a reason,
merge into an earlier report, add to the hazard register, hand to a police station), the
points paid once through the ledger, and the command's figures.

Every triage step is audit-logged; who may triage which report is decided here, with the
one scope rule (:mod:`geo_patrol.store.scope`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from geo_patrol.access import Grant, Principal, Resource
from geo_patrol.errors import ConflictError, InputError, NotFoundError, ReportInputError
from geo_patrol.ingest.photos import Photo, read_photo
from geo_patrol.ingest.video import VIDEO_TYPES, Video, read_video
from geo_patrol.paging import PageOf, Paging
from geo_patrol.services import notify
from geo_patrol.services.tasks import credit_reports
from geo_patrol.settings import Settings
from geo_patrol.store import ledgers as ledger_store
from geo_patrol.store import media as media_store
from geo_patrol.store import reports as store
from geo_patrol.store.accounts import audit
from geo_patrol.store.db import require_metric_srid
from geo_patrol.store import registry
from geo_patrol.store.registry import report_table
from geo_patrol.store.tasks import fixes_in_windows

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

    from geo_patrol.store.db import Database

#: What an officer or the command may make of a report.
TRIAGE_ACTIONS = ("verified", "rejected", "merged", "hazard", "station")
#: The longest answer a reporter reads.
ANSWER_LIMIT = 500


def check_photos(files: list[tuple[str, bytes]], settings: Settings) -> list[Photo]:
    """Every photo of a report checked before anything is stored: all of them or none."""
    files = [(name, data) for name, data in files if data]
    if len(files) > settings.media_max_count:
        raise ReportInputError("too_many", f"a report carries at most "
                               f"{settings.media_max_count} photos, not {len(files)}",
                               limit=settings.media_max_count, count=len(files))
    return [read_photo(data, name=name, max_bytes=int(settings.media_max_mb * 1e6),
                       max_pixels=settings.media_max_pixels, tz=settings.timezone)
            for name, data in files]


def check_video(video: tuple[str, bytes] | None, settings: Settings) -> Video | None:
    """A report's optional short video checked (type from its bytes, size, length) and its
    copies made before anything is stored; ``None`` when none was sent."""
    if video is None or not video[1]:
        return None
    name, data = video
    return read_video(data, name=name, max_bytes=int(settings.video_max_mb * 1e6),
                      max_s=settings.video_max_s)


def keep_video(conn: Connection, report_id: int, video: Video, settings: Settings
               ) -> list[str]:
    """Store a report's video (row and files: the original as evidence, the clip served
    without metadata, its poster and thumbnail); returns the keys written."""
    store.add_media(conn, report_id, [{
        "sha256": video.sha256, "kind": "video", "mime": video.mime,
        "bytes": len(video.original), "width": video.width, "height": video.height,
        "exif_at": None, "exif_lon": None, "exif_lat": None, "exif_check": "none"}])
    return media_store.keep(media_store.for_settings(settings), video.sha256, {
        "original": (video.original, video.extension),
        media_store.CLIP: (video.clip, video.extension), "shown": (video.shown, "jpg"),
        "thumb": (video.thumb, "jpg")})


def exif_checks(conn: Connection, photos: list[Photo], *, volunteer_id: int,
                reported_at: dt.datetime, srid: int, settings: Settings) -> list[str]:
    """How each photo's EXIF place and time compare with the reporter's own track, by the
    rule of proof of work (:func:`geo_patrol.store.tasks.fixes_in_windows`): ``matches``
    (a fix that proves presence lies within the report radius of where the photo says it was
    taken, within the report minutes of when), ``far`` (the track is elsewhere then),
    ``no_track`` (no proving fix then) or ``none`` (no place in the EXIF)."""
    rule = settings.rules.delivery
    span = dt.timedelta(minutes=rule.report_minutes)
    out = ["none"] * len(photos)
    placed = [i for i, p in enumerate(photos) if p.exif_lon is not None]
    if not placed:
        return out
    windows = [(volunteer_id, (photos[i].exif_at or reported_at) - span,
                (photos[i].exif_at or reported_at) + span) for i in placed]
    fixes = fixes_in_windows(conn, windows, grace_s=settings.proof_grace_min * 60)
    fixes = fixes[fixes["proves"]]
    for item, i in enumerate(placed):
        mine = fixes[fixes["item"] == item]
        if mine.empty:
            out[i] = "no_track"
            continue
        x, y = store.metric_point(conn, photos[i].exif_lon, photos[i].exif_lat, srid)
        near = np.hypot(mine["x"].to_numpy(float) - x, mine["y"].to_numpy(float) - y)
        out[i] = "matches" if (near <= rule.report_radius_m).any() else "far"
    return out


def keep_photos(conn: Connection, report_id: int, photos: list[Photo], checks: list[str],
                settings: Settings) -> list[str]:
    """Store a report's photos (rows and files, where the media are kept); returns the keys
    written, for the caller to take back if its transaction fails."""
    store.add_media(conn, report_id, [
        {"sha256": p.sha256, "mime": p.mime, "bytes": len(p.original), "width": p.width,
         "height": p.height, "exif_at": p.exif_at, "exif_lon": p.exif_lon,
         "exif_lat": p.exif_lat, "exif_check": c} for p, c in zip(photos, checks)])
    written: list[str] = []
    kept = media_store.for_settings(settings)
    for p in photos:
        written += media_store.keep(kept, p.sha256, {
            "original": (p.original, p.extension), "shown": (p.shown, "jpg"),
            "thumb": (p.thumb, "jpg")})
    return written


def made_at(value: str | None, *, now: dt.datetime) -> dt.datetime | None:
    """When the phone says a report was made (epoch milliseconds): kept when it is within
    the last day and not ahead of the server (a report made offline is sent later); the
    server's time otherwise."""
    try:
        at = dt.datetime.fromtimestamp(float(value) / 1000, dt.UTC) if value else None
    except (TypeError, ValueError, OverflowError, OSError):
        return None
    if at is None or not now - dt.timedelta(days=1) <= at <= now + dt.timedelta(minutes=5):
        return None
    return min(at, now)


@dataclass(frozen=True)
class Triage:
    """What became of a report."""

    report_id: int
    outcome: str
    points: int
    flagged: bool


def _answer(text: str | None) -> str | None:
    answer = (text or "").strip()
    if len(answer) > ANSWER_LIMIT:
        raise ReportInputError("answer", f"an answer has at most {ANSWER_LIMIT} characters",
                               limit=ANSWER_LIMIT)
    return answer or None


def triage(db: Database, settings: Settings, user: Principal, report_id: int, *,
           action: str, answer: str | None = None, merge_into: int | None = None,
           hazard_category: str | None = None) -> Triage:
    """An officer (their communities) or the command decides on a pending report: verify,
    reject (a reason is required), merge into an earlier report, add to the hazard register
    (a command records it, an officer proposes it; the hazard keeps the link), or hand to
    the police station whose jurisdiction it lies in. Audit-logged. A true report is then
    paid once, where the reporter's own track puts them at the place and time."""
    user.require(Resource.HAZARDS, "triage")
    within = user.within(Resource.HAZARDS, "triage")
    if action not in TRIAGE_ACTIONS:
        raise InputError(f"choose one of {', '.join(TRIAGE_ACTIONS)}")
    answer = _answer(answer)
    if action == "rejected" and not answer:
        raise ReportInputError("reason", "say why the report is rejected")
    with db.begin() as conn:
        report = store.lock_report(conn, report_id, within)
        if report["verification"] != "pending":
            raise ConflictError(f"report {report_id} was triaged already")
        if user.volunteer_id is not None and report["volunteer_id"] == user.volunteer_id:
            raise ReportInputError("own", "a report is decided by someone other than the "
                                          "volunteer who made it")
        extra: dict[str, Any] = {}
        if action == "merged":
            if merge_into is None or merge_into == report_id or \
                    not store.report_exists(conn, merge_into, within):
                raise ReportInputError("merge", "choose the earlier report to merge into")
            extra["duplicate_of"] = merge_into
        elif action == "hazard":
            extra["hazard_id"] = _hazard_from(conn, settings, user, report, hazard_category)
        elif action == "station":
            extra["station_id"] = store.station_of(conn, report_id)
        store.set_outcome(conn, report_id, outcome=action, answer=answer, by=user.username,
                          **extra)
        if action in store.TRUE_OUTCOMES and report["volunteer_id"] is not None:
            notify.enqueue(conn, volunteer_ids=[report["volunteer_id"]], kind="report",
                           ref=f"report {report_id}", title="报告已核实 · Report verified",
                           body=answer or "你的报告已核实，谢谢。· Your report was verified.",
                           url="/me")
        audit(conn, user.username, f"report_{action}", f"report {report_id}",
              details={k: v for k, v in {**extra, "answer": answer}.items() if v})
    paid = credit_reports(db, settings, by=user.username, report_ids=[report_id]) \
        if action in store.TRUE_OUTCOMES else {"paid": [], "flagged": []}
    points = settings.rules.report_points(report["category"], action) \
        if report_id in paid["paid"] else 0
    return Triage(report_id, action, points, report_id in paid["flagged"])


def _hazard_from(conn: Connection, settings: Settings, user: Principal,
                 report: dict[str, Any], category: str | None) -> int:
    """A hazard born from a report, at its place, named by its text (or category)."""
    rules = settings.rules
    key = rules.category_of(category or "") or (
        report["category"] if report["category"] in rules.categories else "other")
    if report["community_id"] is None:
        raise ReportInputError("outside", "the report lies outside the city's communities")
    name = (report["text"] or rules.report_label(report["category"], "zh")
            or report["category"])[:200]
    command = user.grant(Resource.HAZARDS, "write") is not None
    return ledger_store.add_hazard(
        conn, category=key, name=name, lon=report["lon"], lat=report["lat"], rules=rules,
        srid=require_metric_srid(conn, settings.metric_crs),
        community_id=int(report["community_id"]), source="report", by=user.username,
        proposed=not command, report_id=int(report["id"]))


#: What the report queue may be sorted and filtered by.
REPORT_SORTS, REPORT_FILTERS = tuple(registry.REPORT_SORTS), registry.REPORT_FILTERS


@dataclass(frozen=True)
class Queue:
    """One page of the reports a user may read (pending first), their photos, the earlier
    report each pending one looks like, and the reports pending ones may be merged into."""

    page: PageOf
    photos: dict[int, list]
    earlier: dict[int, int]
    candidates: pd.DataFrame


def queue(db: Database, settings: Settings, user: Principal, paging: Paging) -> Queue:
    """One page of the reports a user may read, pending first, with their photos and, for
    pending ones, the earlier report each looks like (same category, close by, within the
    duplicate hours) and the reports of the scope they may be merged into."""
    within = user.within(Resource.HAZARDS)
    rule = settings.rules.delivery
    with db.connect() as conn:
        page = registry.report_page(conn, paging, within=within)
        photos = store.media_of(conn, page.rows["id"].tolist())
        earlier = store.earlier_reports(conn, within=within, radius_m=rule.duplicate_radius_m,
                                        hours=rule.duplicate_hours)
        pending = page.rows["verification"].eq("pending").any()
        candidates = report_table(conn, within=within) if pending else page.rows.iloc[:0]
    return Queue(page, photos, earlier, candidates)


def my_reports(db: Database, volunteer_id: int) -> tuple[pd.DataFrame, dict[int, list]]:
    """A volunteer's own reports, their state, the officer's answer, points and photos."""
    with db.connect() as conn:
        table = report_table(conn, volunteer_id=volunteer_id)
        return table, store.media_of(conn, table["id"].tolist())


def photo(db: Database, settings: Settings, user: Principal, media_id: int, copy: str
          ) -> bytes:
    """A copy of a report's photo (without EXIF), or a video's poster, for a user who may
    read the report and its people (a photo may show them): the reporter, or a role that
    sees its community's personal data; 404 for anyone else (planners read reports, never
    who is in them)."""
    item = _media_item(db, user, media_id)
    try:
        return media_store.read(media_store.for_settings(settings), item["sha256"], copy)
    except (FileNotFoundError, ValueError):
        raise NotFoundError(f"no photo {media_id}") from None


def video(db: Database, settings: Settings, user: Principal, media_id: int
          ) -> tuple[bytes, str]:
    """A report's video as served (remuxed without metadata) and its media type, by the
    same scope rule as its photos; 404 for anyone else, and for a photo."""
    item = _media_item(db, user, media_id)
    extension = {mime: ext for mime, ext in VIDEO_TYPES.values()}.get(item["mime"], "")
    if item["kind"] != "video" or not extension:
        raise NotFoundError(f"no video {media_id}")
    try:
        return (media_store.read(media_store.for_settings(settings), item["sha256"],
                                 media_store.CLIP, extension), item["mime"])
    except (FileNotFoundError, ValueError):
        raise NotFoundError(f"no video {media_id}") from None


def _media_item(db: Database, user: Principal, media_id: int) -> dict[str, Any]:
    """A report's photo or video row, if the user may see the report's people."""
    grant = user.require(Resource.HAZARDS)
    if user.grant(Resource.PEOPLE) is None:
        raise NotFoundError(f"no photo {media_id}")
    with db.connect() as conn:
        if grant is Grant.OWN:
            item = store.media_item(conn, media_id, volunteer_id=user.volunteer_id or -1)
        else:
            item = store.media_item(conn, media_id, within=user.within(Resource.HAZARDS))
    return item


def figures_version(db: Database) -> tuple[int, int]:
    """Changes whenever the figures of :func:`figures` may: a report made, triaged, merged
    or moved, or areas loaded."""
    with db.connect() as conn:
        return store.reports_version(conn)


def figures(db: Database, settings: Settings, *, since: dt.datetime, until: dt.datetime,
            within: frozenset[int] | None = None, area_id: int | None = None
            ) -> dict[str, Any]:
    """The command's figures for reports made in a window: per community and category
    (reports, verified, rejected, merged, pending, hazards added, median hours to triage),
    and the totals: the share verified of those triaged, the median time to triage. Counts
    only: no personal data."""
    with db.connect() as conn:
        table = store.report_figures(conn, within=within, since=since, until=until,
                                     area_id=area_id)
    triaged = int(table[["verified", "rejected", "merged"]].to_numpy().sum()) if len(table) \
        else 0
    verified = int(table["verified"].sum()) if len(table) else 0
    hours = table["triage_h"].dropna()
    return {"table": table, "reports": int(table["reports"].sum()) if len(table) else 0,
            "verified": verified, "triaged": triaged,
            "share_verified": verified / triaged if triaged else None,
            "triage_h": float(hours.median()) if len(hours) else None,
            "hazards": int(table["hazards"].sum()) if len(table) else 0}


def drop_old_media(db: Database, settings: Settings, *, before: dt.datetime) -> int:
    """Photos and videos of triaged reports older than ``before`` removed (rows, then
    files): media follow the retention period of the raw tracks they were checked against."""
    with db.begin() as conn:
        gone = store.media_before(conn, before)
    media_store.forget(media_store.for_settings(settings),
                       [key for sha in gone for key in media_store.all_keys(sha)])
    return len(gone)
