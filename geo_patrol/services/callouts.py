"""Call-outs: an incident marked, the on-duty volunteers nearest by walking called, answers."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyproj

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.planning.network import walking_distances
from geo_patrol.clock import local_times
from geo_patrol.services import notify
from geo_patrol.services.sources import entered_point, form_text
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import live as live_store
from geo_patrol.store.accounts import audit
from geo_patrol.store.db import metric_srid
from geo_patrol.vocab import CERT_SKILLS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from geo_patrol.store.db import Database

    from geo_patrol.access import Principal


def nearest_by_walking(db: Database, settings: Settings, *, lon: float, lat: float,
                       count: int, within_m: float = 3000.0, skill: str | None = None,
                       require_skill: bool = True, now: dt.datetime | None = None
                       ) -> pd.DataFrame:
    """The on-duty volunteers nearest to a point by walking along the streets (not straight
    lines), with distance and ETA, best first.

    With ``skill`` (a certified skill: first aid, mediation...) only volunteers holding a
    current certificate in it are called, or with ``require_skill=False`` they come first
    and the others after them; ``certified`` tells which is which. A skill only declared
    on the roster does not count."""
    if skill is not None and skill not in CERT_SKILLS:
        raise InputError(f"unknown skill {skill[:40]!r}: use one of {', '.join(CERT_SKILLS)}")
    now = now or dt.datetime.now(dt.UTC)
    with db.connect() as conn:
        srid = metric_srid(conn)
        if srid is None:
            raise InputError("no areas are loaded yet")
        x, y = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{srid}",
                                           always_xy=True).transform(lon, lat)
        box = (x - within_m, y - within_m, x + within_m, y + within_m)
        people = live_store.on_duty_positions(
            conn, now - dt.timedelta(minutes=settings.live_offline_min), box,
            settings.today(now))
        segs = area_store.segments_near(conn, box)
    people["certified"] = [skill in held for held in people.pop("skills_held")]
    if skill and require_skill:
        people = people[people["certified"]]
    if people.empty or segs.empty:
        return people.assign(walk_m=[], eta_s=[]).iloc[:0]
    walk = walking_distances(segs, x, y, people["x"].to_numpy(), people["y"].to_numpy())
    out = people.assign(walk_m=walk, eta_s=walk / settings.walk_speed_mps)
    out = out[np.isfinite(out["walk_m"])].sort_values(["certified", "walk_m"],
                                                      ascending=[False, True])
    return out.head(count).reset_index(drop=True)


def call_out(db: Database, settings: Settings, principal: Principal, *, lon: object,
             lat: object, category: str, note: str | None, count: int = 5,
             skill: str | None = None, require_skill: bool = True) -> int:
    """Mark an incident and call the ``count`` nearest on-duty volunteers (audit-logged)."""
    note = form_text(note, "note", limit=500)
    category = (form_text(category, "category", limit=32) or "").strip()
    if not category:
        raise InputError("choose the incident's category")
    if not 1 <= count <= 50:
        raise InputError("call between 1 and 50 volunteers")
    with db.begin() as conn:
        plon, plat, community = entered_point(conn, lon, lat, "wgs84", principal.community_ids)
    targets = nearest_by_walking(db, settings, lon=plon, lat=plat, count=count, skill=skill,
                                 require_skill=require_skill)
    with db.begin() as conn:
        callout_id = live_store.store_callout(
            conn, category=category, note=note, lon=plon, lat=plat,
            srid=int(metric_srid(conn) or 0), community_id=community, user_id=principal.id,
            targets=targets, skill=skill, skill_required=bool(skill and require_skill))
        notify.enqueue(conn, volunteer_ids=targets["volunteer_id"].tolist(), kind="callout", ref=f"callout {callout_id}", title="出警召集 · Call-out", body=f"{category} {note or ''}".strip(), url="/me")
        audit(conn, principal.username, "callout", f"callout {callout_id}",
              details={"volunteers": targets["number"].tolist(), "category": category,
                       "skill": skill, "skill_required": bool(skill and require_skill)})
    return callout_id


def callouts(db: Database, within: frozenset[int] | None, *, tz: str) -> pd.DataFrame:
    """The recent call-outs of ``within`` communities, times in ``tz``."""
    with db.connect() as conn:
        return local_times(live_store.callout_table(conn, within), tz, "created_at")


def _check_scope(conn: Connection, callout_id: int, principal: Principal) -> None:
    """404 for a call-out that is not there, 403/404 for one outside the user's scope."""
    try:
        area = live_store.callout_area(conn, callout_id)
    except LookupError:
        raise NotFoundError(f"no call-out {callout_id}") from None
    principal.check_area(area, "call-out")


def callout_sites(db: Database, callout_id: int, principal: Principal
                  ) -> tuple[dict, pd.DataFrame]:
    """A call-out's incident and its called volunteers' last positions, walks and ETAs
    (names as stored: the caller masks them), for a user whose scope holds it."""
    with db.connect() as conn:
        _check_scope(conn, callout_id, principal)
        return live_store.callout_sites(conn, callout_id)


def callout_detail(db: Database, callout_id: int, principal: Principal) -> pd.DataFrame:
    with db.connect() as conn:
        _check_scope(conn, callout_id, principal)
        return live_store.callout_targets(conn, callout_id)


def my_callouts(db: Database, volunteer_id: int, *, tz: str) -> pd.DataFrame:
    """A volunteer's call-outs of the last day, times in ``tz``."""
    with db.connect() as conn:
        return local_times(live_store.volunteer_callouts(conn, volunteer_id), tz, "created_at")


def answer(db: Database, principal: Principal, callout_id: int, accept: bool) -> None:
    """A volunteer accepts or declines their own call-out."""
    if principal.volunteer_id is None:
        raise NotFoundError(f"no call-out {callout_id}")
    with db.begin() as conn:
        if not live_store.answer_callout(conn, callout_id, principal.volunteer_id,
                                         "accepted" if accept else "declined"):
            raise NotFoundError(f"no open call-out {callout_id} for this volunteer")
        notify.answered(conn, kind="callout", ref=f"callout {callout_id}", volunteer_id=principal.volunteer_id)
        audit(conn, principal.username, "callout_answer", f"callout {callout_id}",
              details={"accepted": accept})
