"""Who should walk each zone, and when: volunteers proposed per zone and time slot.

A volunteer's fit for a zone and slot weighs how often they patrolled in that slot (their
tracks of the last four weeks), how far their home community lies from the zone, and whether
their duties include patrolling (and a current first-aid certificate as a bonus). A loop that
inspects sites whose rule needs a certified skill (dangerous goods, guns/explosives/knives)
goes only to volunteers holding a current certificate in it; a skill merely declared on the
roster does not count. Taxi drivers and delivery riders
are not sent on loops: they are listed as passive coverage of the zone's arterials. Only the
roster number and a masked name leave this module; why each was proposed is given as
figures (share of patrols in the slot, km from home, duties), worded by
:func:`geo_patrol.render.i18n.crew_reason` in the reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from geo_patrol.ingest.volunteers import PASSIVE_OCCUPATIONS
from geo_patrol.privacy import mask_name

#: Local hours [start, end) of the plan's time slots.
SLOTS = {"morning": (6, 10), "midday": (10, 14), "afternoon": (14, 18), "evening": (18, 22)}
PATROL_DUTY = "巡逻防控"
CREW_COLUMNS = ["zone", "slot", "number", "name", "occupation", "distance_km", "slot_pct",
                "patrol_duty", "first_aid", "certified_for", "arterial_km"]


@dataclass(frozen=True)
class ZoneSpot:
    zone: int
    lon: float
    lat: float
    arterial_m: float
    #: certified skills the zone's loop needs (from the hazards it inspects)
    skills: tuple[str, ...] = ()


def _km(lon1: np.ndarray, lat1: np.ndarray, lon2: float, lat2: float) -> np.ndarray:
    """Approximate distance in km (equirectangular: fine within a city)."""
    x = np.radians(lon1 - lon2) * np.cos(np.radians((lat1 + lat2) / 2))
    y = np.radians(lat1 - lat2)
    return 6371.0 * np.hypot(x, y)


def propose_crew(pool: pd.DataFrame, zones: list[ZoneSpot], *, per_slot: int = 1,
                 slots: tuple[str, ...] = tuple(SLOTS), passive_per_zone: int = 2
                 ) -> pd.DataFrame:
    """One row per proposal: zone, slot (or ``passive``), roster number, masked name,
    occupation, distance from home in km, and why (``slot_pct``: share of their patrols in
    the slot; ``patrol_duty``, ``first_aid``, ``certified_for``: the certified skills the
    loop needed; ``arterial_km`` for passive coverage). A loop needing skills nobody free
    holds gets no proposal: the zone's ``skills`` tell the planner why."""
    if pool.empty or not zones:
        return pd.DataFrame(columns=CREW_COLUMNS)
    passive = pool["occupation"].isin(PASSIVE_OCCUPATIONS).to_numpy()
    duties = pool["duties"].map(lambda d: PATROL_DUTY in (d or [])).to_numpy()
    certified = [set(s or ()) for s in pool["certified"]]
    aid = np.array(["first_aid" in s for s in certified], dtype=bool)
    history = pool[list(SLOTS)].to_numpy(dtype="float64")
    share = history / np.maximum(history.sum(axis=1, keepdims=True), 1)
    lon = pool["lon"].to_numpy(dtype="float64")
    lat = pool["lat"].to_numpy(dtype="float64")
    taken = np.zeros(len(pool), dtype=bool)
    rows = []
    for spot in zones:
        dist = _km(lon, lat, spot.lon, spot.lat)
        dist = np.where(np.isfinite(dist), dist, 50.0)  # no home community: counted as far
        trained = np.array([set(spot.skills) <= s for s in certified], dtype=bool)
        for slot in slots:
            score = 2.0 * share[:, list(SLOTS).index(slot)] + 0.5 * duties + 0.2 * aid \
                - 0.5 * dist
            score[passive | taken | ~trained] = -np.inf
            for i in np.argsort(-score)[:per_slot]:
                if not np.isfinite(score[i]):
                    break
                taken[i] = True
                rows.append((spot.zone, slot, i, dist[i],
                             round(100 * share[i, list(SLOTS).index(slot)]),
                             bool(duties[i]), bool(aid[i]), ",".join(spot.skills), 0.0))
        if spot.arterial_m > 0:
            score = np.where(passive & ~taken, -dist, -np.inf)
            for i in np.argsort(-score)[:passive_per_zone]:
                if not np.isfinite(score[i]):
                    break
                taken[i] = True
                rows.append((spot.zone, "passive", i, dist[i], 0, False, False, "",
                             round(spot.arterial_m / 1000, 1)))
    out = pd.DataFrame(rows, columns=["zone", "slot", "i", "distance_km", "slot_pct",
                                      "patrol_duty", "first_aid", "certified_for",
                                      "arterial_km"])
    out["number"] = pool["number"].to_numpy()[out["i"]]
    out["name"] = [mask_name(n) for n in pool["name"].to_numpy()[out["i"]]]
    out["occupation"] = pool["occupation"].to_numpy()[out["i"]]
    out["distance_km"] = out["distance_km"].round(2)
    return out[CREW_COLUMNS]
