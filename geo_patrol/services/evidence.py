"""Evidence use cases: which forecast the city's hot spots come from (and why), and the
patrol dose a rota's hot spots received — minutes of presence per hot spot, day and slot
from volunteers' clean fixes, against the rota's plan and Koper's 10–15-minute stop. The
CLI, the evidence page and its API all ask here."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_patrol.analysis import dose as dose_analysis
from geo_patrol.analysis.paths import Fixes
from geo_patrol.analysis.days import day_bounds
from geo_patrol.planning.crew import SLOTS
from geo_patrol.services import crime
from geo_patrol.services import rota as rota_service
from geo_patrol.services.analysis import default_params
from geo_patrol.settings import Settings
from geo_patrol.store import evidence as store
from geo_patrol.store.areas import subtree_ids

if TYPE_CHECKING:
    from geo_patrol.store.db import Database


@dataclass(frozen=True)
class Dose:
    """A rota's hot spots and the dose they received up to ``until`` (the rota's last day,
    or today while it runs)."""

    rota: dict[str, Any]
    until: dt.date
    places: pd.DataFrame  # segment_id, street, cross_a, cross_b, community_id, x, y
    cells: pd.DataFrame  # per place, day and slot: planned and measured (dose.against_plan)
    weekly: pd.DataFrame  # per place and week (dose.by_week)
    stay_min: float
    radius_m: float
    forecast: dict[str, Any]  # what the rota's hot spots came from, as stored with it

    @property
    def planned_min(self) -> float:
        return float(self.cells["planned_min"].sum()) if len(self.cells) else 0.0

    @property
    def delivered_min(self) -> float:
        return float(self.cells["delivered_min"].sum()) if len(self.cells) else 0.0

    @property
    def share(self) -> float | None:
        """Share of the planned minutes delivered (``None``: nothing planned yet)."""
        return self.delivered_min / self.planned_min if self.planned_min else None

    def totals(self) -> dict[str, Any]:
        c = self.cells
        return {"planned_stops": int(c["planned_stops"].sum()) if len(c) else 0,
                "planned_min": round(self.planned_min, 1),
                "minutes": round(float(c["minutes"].sum()), 1) if len(c) else 0.0,
                "delivered_min": round(self.delivered_min, 1),
                "share": None if self.share is None else round(self.share, 4),
                "stays": int(c["stays"].sum()) if len(c) else 0,
                "koper_stays": int(c["koper_stays"].sum()) if len(c) else 0,
                "cells_met": int(((c["planned_min"] > 0)
                                  & (c["minutes"] >= c["planned_min"])).sum()) if len(c) else 0,
                "cells_planned": int((c["planned_min"] > 0).sum()) if len(c) else 0}

    def table(self) -> pd.DataFrame:
        """Per hot spot and week, with the place's street and cross streets."""
        places = self.places.rename(columns={"id": "segment_id"})
        out = self.weekly.merge(places[["segment_id", "street", "cross_a", "cross_b"]],
                                left_on="place", right_on="segment_id", how="left")
        cols = ["segment_id", "street", "cross_a", "cross_b", "week", "planned_stops",
                "planned_min", "stays", "koper_stays", "long_stays", "minutes",
                "delivered_min", "share"]
        out = out.assign(minutes=out["minutes"].round(1),
                         delivered_min=out["delivered_min"].round(1),
                         share=out["share"].round(4))
        return out[cols].sort_values(["week", "share", "segment_id"],
                                     na_position="last").reset_index(drop=True)


@dataclass(frozen=True)
class Measured:
    """A rota's dose as its job stored it: the dose, and its hot spots on their streets
    for the map (``None``: no hot spot)."""

    dose: Dose
    spots: gpd.GeoDataFrame | None


def planned_dose(walks: pd.DataFrame, *, stop_min: float, until: dt.date) -> pd.DataFrame:
    """The rota's planned stops at its hot spots up to ``until``: per hot spot, day and
    slot, the walks posted there and ``stop_min`` minutes each."""
    hot = walks[walks["hotspot_segment_id"].notna()]
    hot = hot[pd.to_datetime(hot["day"]).dt.date <= until]
    if hot.empty:
        return pd.DataFrame(columns=["place", "day", "slot", "planned_stops", "planned_min"])
    out = hot.assign(place=hot["hotspot_segment_id"].astype(np.int64),
                     day=pd.to_datetime(hot["day"]).dt.date).groupby(
        ["place", "day", "slot"], as_index=False).agg(planned_stops=("id", "size"))
    out["planned_min"] = out["planned_stops"] * stop_min
    return out


def stays_near(db: Database, settings: Settings, places: pd.DataFrame, first: dt.date,
               last: dt.date) -> pd.DataFrame:
    """Every volunteer's stays at ``places`` (metric ``x``, ``y``; ``place`` is the row's
    position) from ``first`` to ``last`` (local days), by the one stay rule: the city's stay
    radius and minutes, from the clean fixes read near them."""
    params = default_params(settings)
    radius = params.stay_radius_m(settings.rules)
    near = pd.DataFrame(columns=["volunteer_id", "t", "x", "y"])
    if last >= first and len(places):
        a, _ = day_bounds(first, settings.timezone)
        _, b = day_bounds(last, settings.timezone)
        with db.connect() as conn:
            near = store.fixes_near(conn, places["x"].tolist(), places["y"].tolist(),
                                    radius_m=radius, start=a, end=b)
    fixes = Fixes(near["volunteer_id"].to_numpy("int32"), np.zeros(len(near), "int8"),
                  near["t"].to_numpy(float), near["x"].to_numpy(float),
                  near["y"].to_numpy(float))
    return dose_analysis.stays_at(places["x"].to_numpy(float), places["y"].to_numpy(float),
                                  fixes, radius_m=radius, gap_s=params.gap_s,
                                  dwell_min=params.stay_min(settings.rules))


def dose(db: Database, settings: Settings, rota_id: int, *,
         within: frozenset[int] | None = None, today: dt.date | None = None) -> Dose:
    """The dose a stored rota's hot spots received from its first day up to its last (or
    ``today``, while it runs), against its plan: stays by the one stay rule (the city's
    stay radius and minutes) from every volunteer's clean fixes."""
    view = rota_service.view(db, settings, rota_id, within=within)
    header, walks = view.header, view.walks
    start = header["start_day"]
    last = start + dt.timedelta(days=int(header["days"]) - 1)
    until = min(last, today or settings.today())
    params = default_params(settings)
    radius = params.stay_radius_m(settings.rules)
    stay_min = params.stay_min(settings.rules)
    spot_ids = sorted({int(s) for s in walks["hotspot_segment_id"].dropna()})
    plan = planned_dose(walks, stop_min=rota_service.STOP_MINUTES, until=until)
    with db.connect() as conn:
        places = store.segment_places(conn, spot_ids)
    stays = stays_near(db, settings, places, start, until)
    stays["place"] = places["id"].to_numpy()[stays["place"].to_numpy()] if len(stays) else \
        stays["place"]
    cells = dose_analysis.dose_cells(stays, timezone=settings.timezone, slots=SLOTS)
    table = dose_analysis.against_plan(cells, plan)
    summary = header.get("summary") or {}
    return Dose(header, until, places, table, dose_analysis.by_week(table), stay_min, radius,
                summary.get("forecast") or {"method": "gi_star"})


def dose_spots(db: Database, got: Dose) -> gpd.GeoDataFrame:
    """The hot spots of ``got`` on their street segments (WGS 84), for the dose map: each
    with its street and cross streets, its planned, present and delivered minutes up to
    ``got.until`` and the share delivered (``NaN``: nothing planned yet)."""
    with db.connect() as conn:
        lines = store.segment_lines(conn, got.places["id"].tolist())
    cols = ["planned_min", "minutes", "delivered_min"]
    per = got.cells.groupby("place")[cols].sum() if len(got.cells) else \
        pd.DataFrame(columns=cols, dtype=float)
    per = per.reindex(lines["id"]).fillna(0.0).reset_index(drop=True)
    where = got.places.set_index("id").reindex(lines["id"]).reset_index(drop=True)
    out = gpd.GeoDataFrame(pd.concat([lines[["id"]].rename(columns={"id": "segment_id"}),
                                      where[["street", "cross_a", "cross_b", "x", "y"]],
                                      per], axis=1), geometry=lines.geometry.to_numpy(),
                           crs=lines.crs)
    planned = out["planned_min"].to_numpy(float)
    out["share"] = np.where(planned > 0, out["delivered_min"].to_numpy(float)
                            / np.where(planned > 0, planned, 1.0), np.nan)
    return out


def period_dose(db: Database, settings: Settings, area_id: int, *, first: dt.date,
                last: dt.date) -> pd.DataFrame:
    """The dose at the hot spots of every rota of an area (or inside it) from ``first`` to
    ``last`` (local days): per hot spot, its street and cross streets, the planned and
    delivered minutes in those days and the share delivered (``NaN``: nothing planned).
    Places and minutes only: no volunteer."""
    cols = ["segment_id", "street", "cross_a", "cross_b", "x", "y", "planned_stops",
            "planned_min", "minutes", "delivered_min", "koper_stays", "share"]
    with db.connect() as conn:
        ids = subtree_ids(conn, area_id)
    stored = rota_service.listing(db, within=None if ids is None else frozenset(ids))
    parts, places = [], []
    for r in stored.itertuples():
        if r.start_day > last or r.start_day + dt.timedelta(days=int(r.days) - 1) < first:
            continue
        got = dose(db, settings, int(r.id), today=last)
        cells = got.cells
        if len(cells):
            parts.append(cells[(cells["day"] >= first) & (cells["day"] <= last)])
        places.append(got.places)
    if not parts or not sum(len(p) for p in parts):
        return pd.DataFrame(columns=cols)
    cells = pd.concat(parts, ignore_index=True)
    per = cells.groupby("place", as_index=False)[
        ["planned_stops", "planned_min", "minutes", "delivered_min", "koper_stays"]].sum()
    where = pd.concat(places, ignore_index=True).drop_duplicates("id")
    out = per.merge(where.rename(columns={"id": "segment_id"}), left_on="place",
                    right_on="segment_id", how="left")
    out["share"] = np.where(out["planned_min"] > 0, out["delivered_min"]
                            / out["planned_min"].where(out["planned_min"] > 0, 1.0), np.nan)
    return out[cols].sort_values(["share", "segment_id"], na_position="last"
                                 ).reset_index(drop=True)


def forecast_choice(db: Database, settings: Settings) -> dict[str, Any]:
    """Which forecast the city's rota hot spots come from now, and why
    (:func:`geo_patrol.services.crime.favoured_method`)."""
    return crime.favoured_method(db, settings)
