"""Demand per street segment: stale length, overdue hazards, recent incidents, open
near-repeat alert areas."""

from __future__ import annotations

import geopandas as gpd


def segment_demand(segments: gpd.GeoDataFrame, *, hazard_weight: float = 1.0,
                   incident_weight: float = 0.25, alert_weight: float = 1.0
                   ) -> gpd.GeoDataFrame:
    """``segments`` (with ``stale_km``, ``hazard_ids`` and ``incidents``, as
    :func:`geo_patrol.store.results.segment_demand_rows` gives them, and optionally
    ``alerts``: open near-repeat alert areas reaching each) with ``hazards`` and ``weight`` =
    km not patrolled + hazard_weight x overdue hazards + incident_weight x recent incidents
    nearby + alert_weight x alert areas (temporary: they lapse with the risk)."""
    frame = segments.copy()
    frame["hazards"] = frame["hazard_ids"].map(len)
    if "alerts" not in frame:
        frame["alerts"] = 0
    frame["weight"] = frame["stale_km"] + hazard_weight * frame["hazards"] + \
        incident_weight * frame["incidents"] + alert_weight * frame["alerts"]
    return frame
