"""Who should walk each zone, and when: volunteers proposed per zone and time slot.

A volunteer's fit for a zone and slot weighs how often they patrolled in that slot (their
tracks of the last four weeks), how far their home community lies from the zone, and whether
their duties include patrolling (and first aid as a bonus). Taxi drivers and delivery riders
are not sent on loops: they are listed as passive coverage of the zone's arterials. Only the
roster number and a masked name leave this module.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.ingest.volunteers import PASSIVE_OCCUPATIONS
from geo_patrol.privacy import mask_name

#: Local hours [start, end) of the plan's time slots.
SLOTS = {"morning": (6, 10), "midday": (10, 14), "afternoon": (14, 18), "evening": (18, 22)}
PATROL_DUTY = "巡逻防控"


@dataclass(frozen=True)
class ZoneSpot:
    zone: int
    lon: float
    lat: float
    arterial_m: float


def volunteer_pool(conn: Connection, window_end: object, tz: str) -> pd.DataFrame:
    """Active volunteers with their home position and patrols started per slot (4 weeks)."""
    slot_sql = ", ".join(
        f"count(t.id) FILTER (WHERE extract(hour FROM t.started_at AT TIME ZONE :tz) "
        f">= {lo} AND extract(hour FROM t.started_at AT TIME ZONE :tz) < {hi}) AS {name}"
        for name, (lo, hi) in SLOTS.items())
    return pd.read_sql_query(sa.text(f"""
        SELECT v.id, v.number, v.name, v.occupation, v.duties, v.skills,
               ST_X(ST_PointOnSurface(a.geom)) AS lon, ST_Y(ST_PointOnSurface(a.geom)) AS lat,
               {slot_sql}
        FROM volunteers v LEFT JOIN areas a ON a.id = v.community_id
        LEFT JOIN tracks t ON t.volunteer_id = v.id AND t.kind = 'patrol'
             AND t.started_at >= CAST(:end AS timestamptz) - interval '28 days'
             AND t.started_at < CAST(:end AS timestamptz)
        WHERE v.active GROUP BY v.id, a.geom ORDER BY v.number"""), conn,  # noqa: S608
        params={"tz": tz, "end": window_end})


def _km(lon1: np.ndarray, lat1: np.ndarray, lon2: float, lat2: float) -> np.ndarray:
    """Approximate distance in km (equirectangular: fine within a city)."""
    x = np.radians(lon1 - lon2) * np.cos(np.radians((lat1 + lat2) / 2))
    y = np.radians(lat1 - lat2)
    return 6371.0 * np.hypot(x, y)


def propose_crew(pool: pd.DataFrame, zones: list[ZoneSpot], *, per_slot: int = 1,
                 slots: tuple[str, ...] = tuple(SLOTS), passive_per_zone: int = 2
                 ) -> pd.DataFrame:
    """One row per proposal: zone, slot (or ``passive``), roster number, masked name,
    occupation, distance from home in km, and why."""
    if pool.empty or not zones:
        return pd.DataFrame(columns=["zone", "slot", "number", "name", "occupation",
                                     "distance_km", "reason"])
    passive = pool["occupation"].isin(PASSIVE_OCCUPATIONS).to_numpy()
    duties = pool["duties"].map(lambda d: PATROL_DUTY in (d or [])).to_numpy()
    aid = pool["skills"].map(lambda s: "急救" in (s or [])).to_numpy()
    history = pool[list(SLOTS)].to_numpy(dtype="float64")
    share = history / np.maximum(history.sum(axis=1, keepdims=True), 1)
    lon = pool["lon"].to_numpy(dtype="float64")
    lat = pool["lat"].to_numpy(dtype="float64")
    taken = np.zeros(len(pool), dtype=bool)
    rows = []
    for spot in zones:
        dist = _km(lon, lat, spot.lon, spot.lat)
        dist = np.where(np.isfinite(dist), dist, 50.0)  # no home community: counted as far
        for slot in slots:
            score = 2.0 * share[:, list(SLOTS).index(slot)] + 0.5 * duties + 0.2 * aid \
                - 0.5 * dist
            score[passive | taken] = -np.inf
            for i in np.argsort(-score)[:per_slot]:
                if not np.isfinite(score[i]):
                    break
                taken[i] = True
                why = [f"{100 * share[i, list(SLOTS).index(slot)]:.0f}% of patrols in this slot",
                       f"home {dist[i]:.1f} km away"]
                if duties[i]:
                    why.append("patrol duty")
                if aid[i]:
                    why.append("first aid")
                rows.append((spot.zone, slot, i, "; ".join(why), dist[i]))
        if spot.arterial_m > 0:
            score = np.where(passive & ~taken, -dist, -np.inf)
            for i in np.argsort(-score)[:passive_per_zone]:
                if not np.isfinite(score[i]):
                    break
                taken[i] = True
                rows.append((spot.zone, "passive", i,
                             f"{pool['occupation'].iat[i]}: passive coverage of "
                             f"{spot.arterial_m / 1000:.1f} km of arterials", dist[i]))
    out = pd.DataFrame(rows, columns=["zone", "slot", "i", "reason", "distance_km"])
    out["number"] = pool["number"].to_numpy()[out["i"]]
    out["name"] = [mask_name(n) for n in pool["name"].to_numpy()[out["i"]]]
    out["occupation"] = pool["occupation"].to_numpy()[out["i"]]
    out["distance_km"] = out["distance_km"].round(2)
    return out[["zone", "slot", "number", "name", "occupation", "distance_km", "reason"]]
