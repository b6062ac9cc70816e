"""What pages, the API and the CLI read back: areas, the stored results of an analysis run
(tables, layers, tiles, daily series), and the registers (volunteers, reports, uploads,
rewards, proposals), each read on the caller's connection (a web request's read connection,
or the CLI's)."""

from __future__ import annotations

from geo_patrol.store.areas import area_features, area_summary, find_area, subtree_ids
from geo_patrol.store.crime import districts
from geo_patrol.store.ledgers import proposal_table
from geo_patrol.store.registry import (
    report_table,
    reward_ledger,
    unmask_volunteer,
    upload_table,
    volunteer_table,
)
from geo_patrol.store.results import (
    area_layer,
    area_table,
    daily_series,
    find_run,
    gap_layer,
    gap_table,
    hazard_layer,
    hazard_table,
    list_runs,
    segment_tile,
    track_layer,
)

__all__ = ["area_features", "area_layer", "area_summary", "area_table", "daily_series",
           "districts", "find_area", "find_run", "gap_layer", "gap_table", "hazard_layer",
           "hazard_table", "list_runs", "proposal_table", "report_table", "reward_ledger",
           "segment_tile", "subtree_ids", "track_layer", "unmask_volunteer", "upload_table",
           "volunteer_table"]
