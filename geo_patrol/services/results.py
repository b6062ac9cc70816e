"""What pages, the API and the CLI read back: areas, the stored results of an analysis run
(tables, layers, tiles, daily series), and the registers (volunteers, reports, uploads,
rewards, proposals), each read on the caller's connection (a web request's read connection,
or the CLI's)."""

from __future__ import annotations

from geo_patrol.store.areas import (
    area_features as area_features,
    area_summary as area_summary,
    districts_of as districts_of,
    find_area as find_area,
    subtree_ids as subtree_ids,
)
from geo_patrol.store.crime import districts as districts
from geo_patrol.store.ledgers import proposal_table as proposal_table
from geo_patrol.store.registry import (
    UPLOAD_FILTERS as UPLOAD_FILTERS,
    UPLOAD_SORTS as UPLOAD_SORTS,
    VOLUNTEER_FILTERS as VOLUNTEER_FILTERS,
    VOLUNTEER_SORTS as VOLUNTEER_SORTS,
    report_table as report_table,
    reward_ledger as reward_ledger,
    unmask_volunteer as unmask_volunteer,
    upload_page as upload_page,
    upload_table as upload_table,
    volunteer_page as volunteer_page,
    volunteer_table as volunteer_table,
)
from geo_patrol.store.results import (
    HAZARD_FILTERS as HAZARD_FILTERS,
    HAZARD_SORTS as HAZARD_SORTS,
    area_layer as area_layer,
    area_table as area_table,
    daily_series as daily_series,
    find_run as find_run,
    gap_layer as gap_layer,
    gap_table as gap_table,
    hazard_layer as hazard_layer,
    hazard_page as hazard_page,
    hazard_table as hazard_table,
    list_runs as list_runs,
    previous_run as previous_run,
    segment_tile as segment_tile,
    track_layer as track_layer,
)

