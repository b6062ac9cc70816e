"""Exports of a run's results for GIS and spreadsheets (personal data masked)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import geopandas as gpd

from geo_patrol.clock import localise_frame
from geo_patrol.errors import InputError
from geo_patrol.privacy import mask_name
from geo_patrol.render.exports import export_bytes
from geo_patrol.store import results

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

LAYERS = ("communities", "gaps", "hazards")


def result_layer(conn: Connection, run_id: int, layer: str,
                 within: frozenset[int] | None = None, *, tz: str, people: bool = True
                 ) -> gpd.GeoDataFrame:
    """A run's results (only of the communities ``within``, if given) as a GeoDataFrame,
    personal data masked (and left out unless the reader may see it: ``people``), times as
    ISO 8601 with the offset of the city's zone ``tz``."""
    if layer == "communities":
        frame = results.area_layer(conn, run_id, level="community", within=within)
    elif layer == "gaps":
        frame = results.gap_layer(conn, run_id, limit=100_000, within=within)
    elif layer == "hazards":
        frame = results.hazard_layer(conn, run_id, within=within)
        frame["inspector"] = frame["inspector"].map(mask_name) if people else None
    else:
        raise InputError(f"unknown layer {layer!r}: use one of {', '.join(LAYERS)}")
    return localise_frame(frame, tz, "iso")


def export_layer(conn: Connection, run_id: int, layer: str, fmt: str, *, tz: str,
                 within: frozenset[int] | None = None, people: bool = True
                 ) -> tuple[bytes, int]:
    """A run's layer encoded as ``fmt``, and how many features it has (times in the city's
    zone ``tz``)."""
    results.find_run(conn, run_id)
    frame = result_layer(conn, run_id, layer, within=within, tz=tz, people=people)
    return export_bytes(frame, fmt, tz=tz), len(frame)
