"""What pages, the API and the CLI read back: areas, the stored results of an analysis run
(tables, layers, tiles, daily series), and the registers (volunteers, reports, uploads,
rewards, proposals), each read on the caller's connection (a web request's read connection,
or the CLI's)."""

from __future__ import annotations

from geo_patrol.store.areas import (
    area_features,
    area_summary,
    districts_of,
    find_area,
    subtree_ids,
)
from geo_patrol.store.crime import districts
from geo_patrol.store.ledgers import proposal_table
from geo_patrol.store.registry import (
    UPLOAD_FILTERS,
    UPLOAD_SORTS,
    VOLUNTEER_FILTERS,
    VOLUNTEER_SORTS,
    report_table,
    reward_ledger,
    unmask_volunteer,
    upload_page,
    upload_table,
    volunteer_page,
    volunteer_table,
)
from geo_patrol.store.results import (
    HAZARD_FILTERS,
    HAZARD_SORTS,
    area_layer,
    area_table,
    daily_series,
    find_run,
    gap_layer,
    gap_table,
    hazard_layer,
    hazard_page,
    hazard_table,
    list_runs,
    previous_run,
    segment_tile,
    track_layer,
)

__all__ = ["HAZARD_FILTERS", "HAZARD_SORTS", "UPLOAD_FILTERS", "UPLOAD_SORTS", "VOLUNTEER_FILTERS",
           "VOLUNTEER_SORTS", "area_features", "area_layer", "area_summary", "area_table",
           "daily_series", "districts", "districts_of", "find_area", "find_run", "gap_layer",
           "gap_table", "hazard_layer", "hazard_page", "hazard_table", "list_runs", "previous_run",
           "proposal_table", "report_table", "reward_ledger", "segment_tile", "subtree_ids",
           "track_layer", "unmask_volunteer", "upload_page", "upload_table", "volunteer_page",
           "volunteer_table"]
