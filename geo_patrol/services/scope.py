"""Who may write what: the one place every write from the web (and the patrol app) passes
through, so a view cannot forget a check.

A volunteer writes only their own positions and reports; an officer proposes hazards only in
their communities; the district command records hazards, loads ledgers and reviews proposals.
Tracks decide delivery and rewards, so a forged owner is refused whole, never trimmed.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

from geo_patrol.access import Grant, Principal, Resource
from geo_patrol.errors import ForbiddenError, InputError
from geo_patrol.ingest._files import check_archive, check_file_type
from geo_patrol.services import reports
from geo_patrol.services.sources import enter_hazard, enter_report, load_source
from geo_patrol.settings import Settings
from geo_patrol.store import ledgers
from geo_patrol.store.accounts import audit
from geo_patrol.store.uploads import LoadResult
from geo_patrol.store.volunteers import volunteer_number

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from geo_patrol.store.db import Database

#: What a file sent over HTTP may hold, and what each needs.
WEB_UPLOADS: dict[str, tuple[Resource, str]] = {
    "volunteers": (Resource.HAZARDS, "write"), "tracks": (Resource.TRACKS, "write"),
    "hazards": (Resource.HAZARDS, "write"), "reports": (Resource.HAZARDS, "write"),
    "incidents": (Resource.HAZARDS, "write"), "training": (Resource.TRAINING, "write")}
#: Files whose coordinates are plain numbers (their CRS is WGS-84 unless the user says).
TABLE_SUFFIXES = (".csv", ".txt", ".tsv", ".xlsx", ".xls")
#: Options each kind of upload takes from a form (anything else is dropped).
UPLOAD_OPTIONS = {"volunteers": (), "tracks": ("crs", "tz", "volunteer"),
                  "hazards": ("crs", "tz"), "reports": ("crs", "tz"),
                  "incidents": ("crs", "tz"), "training": ()}


def upload_file(db: Database, settings: Settings, user: Principal, kind: str, path: Path,
                **options: str | None) -> LoadResult:
    """Load a file a user sent, as ``kind``, within what the user may write."""
    if kind not in WEB_UPLOADS:
        raise InputError(f"choose what the file holds: {', '.join(WEB_UPLOADS)}")
    resource, action = WEB_UPLOADS[kind]
    grant = user.require(resource, action)
    kept = {k: v for k, v in options.items() if v and k in UPLOAD_OPTIONS[kind]}
    # what the city already knows: naive times are its local times, a table's coordinates
    # GPS degrees (a vector file declares its own CRS)
    if "tz" in UPLOAD_OPTIONS[kind]:
        kept.setdefault("tz", settings.timezone)
    if "crs" in UPLOAD_OPTIONS[kind] and path.suffix.lower() in TABLE_SUFFIXES:
        kept.setdefault("crs", "wgs84")
    if kind == "tracks" and grant is Grant.OWN:
        if user.volunteer_id is None:
            raise ForbiddenError("this account has no roster record to upload tracks for")
        with db.connect() as conn:
            kept["owner"] = volunteer_number(conn, user.volunteer_id)
        kept.pop("volunteer", None)
    check_file_type(path, kind)
    check_archive(path, max_unpacked_bytes=settings.max_unpacked_bytes)
    return load_source(db, kind, path, settings=settings, **kept)


def record_hazard(db: Database, settings: Settings, user: Principal, *, category: str,
                  name: str, lon: object, lat: object) -> int:
    """A district command records a hazard; a community officer proposes one in their own
    communities (it waits for the command's review)."""
    user.require(Resource.HAZARDS, "propose")
    proposal = user.grant(Resource.HAZARDS, "write") is None
    return enter_hazard(db, category=category, name=name, lon=lon, lat=lat,
                        by=user.username, proposal=proposal,
                        within=user.within(Resource.HAZARDS, "propose"), settings=settings)


def review_proposal(db: Database, user: Principal, hazard_id: int, *, accept: bool) -> None:
    """The command accepts an officer's proposed hazard (it joins the analysis and maps) or
    rejects it (it is removed); audit-logged either way."""
    user.require(Resource.HAZARDS, "write")
    with db.begin() as conn:
        name = ledgers.review_proposal(conn, hazard_id, accept=accept,
                                       within=user.community_ids)
        audit(conn, user.username, "hazard_accept" if accept else "hazard_reject",
              f"hazard {hazard_id}", details={"name": name})


def send_report(db: Database, settings: Settings, user: Principal, *, category: str,
                text: str | None, lon: object, lat: object,
                photos: list[tuple[str, bytes]] | None = None, key: str | None = None,
                made_at: str | None = None, video: tuple[str, bytes] | None = None) -> int:
    """A volunteer's own report (pending verification), with its photos and optional short
    video (``(name, bytes)``); ``key`` and
    ``made_at`` come from a phone that kept the report while offline."""
    user.require(Resource.HAZARDS, "report")
    if user.volunteer_id is None:
        raise ForbiddenError("this account has no roster record to report as")
    return enter_report(db, volunteer_id=user.volunteer_id, category=category, text=text,
                        lon=lon, lat=lat, settings=settings, photos=photos, video=video,
                        key=_phone_key(key),
                        made_at=reports.made_at(made_at, now=dt.datetime.now(dt.UTC)))


def _phone_key(value: str | None) -> str | None:
    """The phone's id for a report: letters, digits and '-' only, at most 64."""
    key = (value or "").strip()
    return key if key and len(key) <= 64 and key.replace("-", "").isalnum() else None
