"""Training use cases: sessions entered on a page, the share trained per community and
course, the next batches, certificates and the specialised teams they form.

Sign-in sheets load through :data:`geo_patrol.services.sources.SOURCES` (``training``) like
every file; a session entered on the page goes through the same checks and the same store.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pandas as pd

from geo_patrol.access import Principal
from geo_patrol.clock import parse_day
from geo_patrol.errors import N_, InputError
from geo_patrol.ingest.training import resolve_courses, skill_key
from geo_patrol.paging import PageOf, Paging, page_frame
from geo_patrol.planning.training import propose_batches, training_status
from geo_patrol.services.sources import form_text
from geo_patrol.settings import Settings
from geo_patrol.store import training as training_store
from geo_patrol.store.accounts import audit
from geo_patrol.store.volunteers import volunteer_ids
from geo_patrol.vocab import ATTENDANCE_RESULTS, CERT_SKILLS, TRAINING_MODES

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from geo_patrol.store.db import Database

#: Days before a certificate ends that put its holder on the next batch.
EXPIRING_DAYS = 60
#: A room for one batch.
ROOM_SIZE = 30
_NUMBERS = re.compile(r"[\s,;，；、]+")


def status(db: Database, settings: Settings, *, within: frozenset[int] | None = None,
           horizon_days: int = EXPIRING_DAYS, on: dt.date | None = None) -> pd.DataFrame:
    """Per community and course: volunteers it is for, current, expiring, expired, untrained
    and the share current (see :func:`geo_patrol.planning.training.training_status`)."""
    with db.connect() as conn:
        rows = training_store.standings(conn, on or settings.today(), horizon_days,
                                        within=within)
    return training_status(rows)


#: The columns the status table may be sorted by, and its filters (a community, a course).
STATUS_SORTS = {"community": "community", "course": "course", "volunteers": "volunteers",
                "current": "current", "expiring": "expiring", "expired": "expired",
                "untrained": "untrained", "share": "share_current"}
STATUS_FILTERS = {"community": "community", "of_course": "course"}


def status_page(table: pd.DataFrame, paging: Paging) -> PageOf:
    """One page of :func:`status` (sorted and filtered as asked; by community and course
    otherwise)."""
    return page_frame(table, paging, sortable=STATUS_SORTS, order=["community", "course"],
                      filters=STATUS_FILTERS)


#: The query parameter of the page of the batch list (the status table has ``page``).
BATCH_PAGE_KEY = "batch_page"


def batch_page(table: pd.DataFrame, paging: Paging) -> PageOf:
    """One page of a batch proposal (:func:`batches`), in the order the rooms were filled."""
    return page_frame(table.assign(seat=range(len(table))), paging, sortable={},
                      order=["seat"])


def community_share(table: pd.DataFrame) -> pd.DataFrame:
    """Per community: certificates required (a volunteer for each course meant for them)
    and current, and the share current; the largest gaps first."""
    if table.empty:
        return pd.DataFrame(columns=["community", "volunteers", "current", "share_current"])
    out = table.groupby("community", as_index=False)[["volunteers", "current"]].sum()
    out["share_current"] = (out["current"] / out["volunteers"]).round(4)
    out["gap"] = out["volunteers"] - out["current"]
    return out.sort_values(["share_current", "gap", "community"],
                           ascending=[True, False, True]).drop(columns="gap").reset_index(
        drop=True)


def batches(db: Database, settings: Settings, course: str, *,
            within: frozenset[int] | None = None, size: int = ROOM_SIZE,
            horizon_days: int = EXPIRING_DAYS, on: dt.date | None = None) -> pd.DataFrame:
    """The next batches of ``course`` (name or id) in ``within``'s communities."""
    if not 1 <= size <= 500:
        raise InputError("a batch holds between 1 and 500 volunteers")
    with db.connect() as conn:
        cid = training_store.course_id(conn, course)
        rows = training_store.standings(conn, on or settings.today(), horizon_days,
                                        within=within, course_id=cid)
    return propose_batches(rows, size=size)


def certificates(db: Database, settings: Settings, *, within: frozenset[int] | None = None,
                 volunteer_id: int | None = None, on: dt.date | None = None) -> pd.DataFrame:
    """Certificates held on ``on`` (today): current and expired, names masked."""
    with db.connect() as conn:
        return training_store.certificates(conn, on or settings.today(), within=within,
                                           volunteer_id=volunteer_id)


def teams(db: Database, settings: Settings, *, within: frozenset[int] | None = None
          ) -> pd.DataFrame:
    """Specialised teams (专业化义警小组): per certified skill and community, the volunteers
    holding a current certificate (numbers and masked names)."""
    certs = certificates(db, settings, within=within)
    certs = certs[certs["current"].astype(bool)]
    if certs.empty:
        return pd.DataFrame(columns=["skill", "community", "members", "volunteers"])
    grouped = certs.groupby(["skill", "community"], sort=True, dropna=False)
    out = grouped.apply(lambda g: "、".join(f"{n} {m}" for n, m in zip(g["number"], g["name"])),
                        include_groups=False).rename("volunteers").reset_index()
    out["members"] = grouped.size().to_numpy()
    order = {s: i for i, s in enumerate(CERT_SKILLS)}
    return out.sort_values(["skill", "members"], key=lambda c: c.map(order) if c.name ==
                           "skill" else -c).reset_index(drop=True)[
        ["skill", "community", "members", "volunteers"]]


def sessions(db: Database, settings: Settings, *, within: frozenset[int] | None = None,
             days: int = 365) -> pd.DataFrame:
    with db.connect() as conn:
        return training_store.session_table(conn, settings.today() - dt.timedelta(days=days),
                                            within=within)


def courses(db: Database) -> pd.DataFrame:
    with db.connect() as conn:
        return training_store.course_table(conn)


def enter_session(db: Database, settings: Settings, principal: Principal, *, course: str,
                  held_on: str, attendance: dict[str, str], skill: str | None = None,
                  validity_months: str | None = None, duty: str | None = None,
                  place: str | None = None, mode: str = "classroom",
                  trainer: str | None = None, batch: str = "") -> dict[str, int]:
    """Record a session from the page: ``attendance`` maps result (present, absent, passed)
    to the roster numbers typed for it. Checked like a sheet; audit-logged."""
    course = (form_text(course, "course", limit=100, field="course") or "").strip()
    if not course:
        raise InputError("name the course", field="course", values={},
                         shown=N_("Name the course."))
    day = parse_day(held_on or "")
    if day is None:
        raise InputError(f"date {str(held_on)[:40]!r} is not a date (2026-03-15)",
                         field="held_on", values={"raw": str(held_on)[:40]},
                         shown=N_("“%(raw)s” is not a date (YYYY-MM-DD)."))
    if day.year < 2000 or day > settings.today():
        raise InputError(f"date {day} is before 2000 or in the future", field="held_on",
                         values={"day": str(day)},
                         shown=N_("%(day)s is before 2000 or in the future."))
    key = skill_key(skill) if skill else None
    if skill and key is None:
        raise InputError(f"unknown skill {skill[:40]!r}: use one of {', '.join(CERT_SKILLS)}",
                         field="skill", values={}, shown=N_("Choose a skill from the list."))
    months = None
    if validity_months:
        if not validity_months.strip().isdigit() or not 0 <= int(validity_months) <= 120:
            raise InputError("validity is a number of months from 0 (no expiry) to 120",
                             field="validity_months", values={},
                             shown=N_("Give the validity as a whole number of months from 0 "
                                      "(no expiry) to 120."))
        months = int(validity_months)
    if mode not in TRAINING_MODES:
        raise InputError(f"unknown form of training {mode[:20]!r}", field="mode", values={},
                         shown=N_("Choose the form of training from the list."))
    rows = []
    for result, text in attendance.items():
        if result not in ATTENDANCE_RESULTS:
            raise InputError(f"unknown result {result[:20]!r}")
        rows += [{"number": n, "result": result} for n in _NUMBERS.split(text or "") if n]
    if not rows:
        raise InputError("list at least one volunteer number", field="passed", values={},
                         shown=N_("List at least one volunteer number."))
    sheet = pd.DataFrame(rows).assign(
        course=course, skill=key, duty=form_text(duty, "duty", limit=50) or None,
        validity_months=months, held_on=day, place=form_text(place, "place", limit=200),
        mode=mode, trainer=form_text(trainer, "trainer", limit=100),
        batch=form_text(batch, "batch", limit=50) or "", name=None)
    sheet.index = pd.RangeIndex(1, len(sheet) + 1)
    dup = sheet["number"].duplicated()
    if dup.any():
        first = sheet[dup].iloc[0]
        raise InputError(f"volunteer {first['number']!r} is listed twice",
                         field=str(first["result"]), values={"number": first["number"][:40]},
                         shown=N_("Volunteer %(number)s is listed twice."))
    with db.connect() as conn:
        known = set(volunteer_ids(conn, sorted(set(sheet["number"]))).index)
    unknown = sheet[~sheet["number"].isin(known)]
    if not unknown.empty:
        first = unknown.iloc[0]
        raise InputError(f"unknown volunteer {first['number']!r}: load the roster first",
                         field=str(first["result"]),
                         values={"numbers": ", ".join(unknown["number"].str[:40].head(10))},
                         shown=N_("No volunteer with the number %(numbers)s in the roster."))
    with db.begin() as conn:
        table = resolve_courses(sheet, training_store.stored_courses(conn), "form")
        counts = training_store.store_training(conn, sheet, table, upload_id=None,
                                               source="form")
        audit(conn, principal.username, "training_session", course,
              details={"held_on": str(day), "batch": sheet["batch"].iloc[0],
                       "volunteers": len(sheet)})
    return counts
