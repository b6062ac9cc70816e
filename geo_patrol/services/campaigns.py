"""Campaign use cases: a hazard-clearing campaign created (period, districts, target
categories) and its progress toward zero — per district and category, the burn-down, the
units never visited and schools checked in their windows. The CLI, the campaign page, the
dashboard tile and the district briefing all ask here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_patrol.analysis.campaign import (burn_down, days_of, progress_table, unit_states,
                                          with_dates)
from geo_patrol.errors import N_, InputError, NotFoundError
from geo_patrol.settings import Settings
from geo_patrol.store import campaigns as store
from geo_patrol.store.accounts import audit
from geo_patrol.store.areas import subtree_ids
from geo_patrol.store.results import find_run

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from geo_patrol.store.db import Database


def create(db: Database, settings: Settings, *, name: str, starts_on: dt.date | None,
           ends_on: dt.date | None, districts: list[int], categories: list[str],
           by: str) -> int:
    """A new campaign; refuses an empty or long name, a missing or reversed period, no
    district, an unknown category. Audit-logged."""
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InputError("name the campaign (at most 100 characters)", field="name",
                         values={"limit": 100},
                         shown=N_("Name the campaign (at most %(limit)s characters)."))
    if starts_on is None or ends_on is None:
        raise InputError("give the campaign's first and last day (YYYY-MM-DD)",
                         field="from" if starts_on is None else "to", values={},
                         shown=N_("Choose the day."))
    if ends_on < starts_on or (ends_on - starts_on).days > 3660:
        raise InputError("the campaign ends on or after its first day, within ten years",
                         field="to", values={},
                         shown=N_("The last day is on or after the first day, within ten "
                                  "years."))
    if not districts:
        raise InputError("choose at least one district", field="district", values={},
                         shown=N_("Choose at least one district."))
    unknown = [c for c in categories if c not in settings.rules.categories]
    if not categories or unknown:
        raise InputError("choose the target categories among "
                         f"{', '.join(settings.rules.categories)}"
                         + (f" (unknown: {', '.join(unknown)})" if unknown else ""),
                         field="category", values={},
                         shown=N_("Choose at least one target category from the list."))
    with db.begin() as conn:
        cid = store.create_campaign(conn, name=name, starts_on=starts_on, ends_on=ends_on,
                                    district_ids=sorted(set(districts)),
                                    categories=sorted(set(categories)), by=by)
        audit(conn, by, "campaign_create", f"campaign {cid}",
              details={"name": name, "from": str(starts_on), "to": str(ends_on),
                       "districts": sorted(set(districts)), "categories": sorted(categories)})
    return cid


def listing(db: Database, *, within: frozenset[int] | None = None) -> pd.DataFrame:
    with db.connect() as conn:
        return store.campaign_table(conn, within=within)


@dataclass(frozen=True)
class Progress:
    campaign: dict[str, Any]
    through: dt.date  # the last day counted (today, or the campaign's end)
    table: pd.DataFrame  # per district and category
    days: pd.DataFrame  # the burn-down
    never_visited: pd.DataFrame  # units (hazards) not visited in the period
    schools: pd.DataFrame  # per district: school days due, checked in a window, share
    run_window: tuple[dt.datetime, dt.datetime] | None

    @property
    def totals(self) -> dict[str, int]:
        t = self.table
        return {k: int(t[k].sum()) if len(t) else 0
                for k in ("found", "visited", "never_visited", "rectified", "cleared", "open")}


def _through(settings: Settings, c: dict[str, Any], on: dt.date | None) -> dt.date:
    """The last day counted: ``on`` (today), within the campaign's period."""
    return max(min(on or settings.today(), c["ends_on"]), c["starts_on"])


def _counted(hazards: pd.DataFrame, start: dt.date, through: dt.date) -> pd.DataFrame:
    """The hazards found by ``through``, with their found and visited days."""
    dated = with_dates(hazards, start)
    return dated[days_of(dated["found"]) <= np.datetime64(through, "D")]


def progress(db: Database, settings: Settings, campaign: str | int, *,
             within: frozenset[int] | None = None, on: dt.date | None = None,
             run_id: int | None = None) -> Progress:
    """Where ``campaign`` (name or id) stands on ``on`` (today): see
    :mod:`geo_patrol.analysis.campaign` for what found, visited and cleared mean. Schools'
    windows come from the analysis run ``run_id`` (the latest)."""
    tz = settings.timezone
    with db.connect() as conn:
        c = store.find_campaign(conn, campaign)
        hazards = store.campaign_hazards(conn, c["id"], tz=tz, within=within)
        changes = store.status_changes(conn, hazards["hazard_id"].tolist(), tz=tz)
        try:
            run = find_run(conn, run_id)
        except NotFoundError:  # no analysis yet: no school windows to tell
            run = None
        schools = store.school_windows(conn, run["id"], hazards["hazard_id"].tolist()) \
            if run else pd.DataFrame(columns=["hazard_id", "due_days", "missed_days"])
    start = c["starts_on"]
    through = _through(settings, c, on)
    dated = _counted(hazards, start, through)
    table = progress_table(dated)
    never = dated[dated["visited"].isna()][["district", "community", "category", "name",
                                            "status", "found"]].reset_index(drop=True)
    merged = schools.merge(dated[["hazard_id", "district"]], on="hazard_id")
    if len(merged):
        per = merged.groupby("district", as_index=False)[["due_days", "missed_days"]].sum()
        per["checked_days"] = per["due_days"] - per["missed_days"]
        per["share_checked"] = (per["checked_days"] / per["due_days"].where(
            per["due_days"] > 0)).round(4)
    else:
        per = pd.DataFrame(columns=["district", "due_days", "missed_days", "checked_days",
                                    "share_checked"])
    window = (run["window_start"], run["window_end"]) if run else None
    return Progress(c, through, table, burn_down(dated, changes, start, through), never,
                    per, window)


def active(db: Database, settings: Settings, *, within: frozenset[int] | None = None,
           district_id: int | None = None, on: dt.date | None = None) -> list[Progress]:
    """The campaigns running on ``on`` (today), over ``district_id`` if given."""
    day = on or settings.today()
    table = listing(db, within=within)
    out = []
    for r in table.itertuples():
        if r.starts_on <= day <= r.ends_on and (district_id is None
                                               or district_id in r.district_ids):
            out.append(progress(db, settings, int(r.id), within=within, on=day))
    return out


def district_progress(db: Database, settings: Settings, district_id: int, *,
                      on: dt.date | None = None) -> list[Progress]:
    """The campaigns running over a district, each counted within that district only (for
    its briefing: unit names and categories, no personal data)."""
    with db.connect() as conn:
        ids = frozenset(subtree_ids(conn, district_id) or ())
    return active(db, settings, within=ids, district_id=district_id, on=on)


@dataclass(frozen=True)
class CampaignMap:
    """What a campaign's map shows: its units (``hazard_id, name, category, community,
    status, state`` (:func:`~geo_patrol.analysis.campaign.unit_states`), ``street, cross_a,
    cross_b, last_check``, points) and its area (community outlines); no personal data."""

    campaign: dict[str, Any]
    units: gpd.GeoDataFrame
    area: gpd.GeoDataFrame


def map_layers(db: Database, settings: Settings, campaign_id: int, *,
               within: frozenset[int] | None = None, on: dt.date | None = None) -> CampaignMap:
    """The units the campaign counts on ``on`` (today), as its page counts them, each with
    its state, place and last check; the campaign's communities (in ``within``)."""
    with db.connect() as conn:
        c = store.find_campaign(conn, campaign_id)
        hazards = store.campaign_hazards(conn, c["id"], tz=settings.timezone, within=within)
        dated = _counted(hazards, c["starts_on"], _through(settings, c, on))
        places = store.unit_places(conn, c["id"], dated["hazard_id"].tolist(),
                                   tz=settings.timezone)
        area = store.campaign_outline(conn, c["id"], within=within)
    units = dated[["hazard_id", "name", "category", "community", "status"]].assign(
        state=unit_states(dated))
    units = places.merge(units, on="hazard_id")
    # a unit never visited shows no check: an inspection whose first stay fell before the
    # period, though its last lies inside it, is no visit by the campaign's definition
    units["last_check"] = units["last_check"].where(units["state"] != "open_never_visited")
    return CampaignMap(c, gpd.GeoDataFrame(units, geometry="geom", crs=4326), area)
