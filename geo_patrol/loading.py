"""File to database: read with :mod:`geo_patrol.ingest`, store with :mod:`geo_patrol.store`,
one transaction per file, the same file stored once."""

from __future__ import annotations

import logging
from pathlib import Path

import geopandas as gpd
import shapely
from sqlalchemy.engine import Connection, Engine

from geo_patrol.crs import utm_crs_for
from geo_patrol.errors import InputError
from geo_patrol.ingest._files import file_info
from geo_patrol.ingest.boundaries import read_boundaries
from geo_patrol.ingest.streets import read_streets
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store.db import ensure_metric_srid, require_metric_srid
from geo_patrol.store.models import AREA_LEVELS
from geo_patrol.store.uploads import LoadResult, Timer, claim_upload, finish_upload

log = logging.getLogger(__name__)


def _deployment_srid(conn: Connection, frame: gpd.GeoDataFrame, settings: Settings,
                     source: str) -> int:
    """The metric SRID to store ``frame`` with, after checking it belongs to this deployment."""
    if not area_store.overlaps_stored_areas(conn, tuple(frame.total_bounds)):
        x0, y0, x1, y1 = frame.total_bounds
        msg = (f"the data ({x0:.3f}, {y0:.3f}) .. ({x1:.3f}, {y1:.3f}) lies outside every stored "
               "area: is the declared CRS right, or does it belong to another deployment?")
        raise InputError(msg, source=source)
    if settings.metric_crs:
        ensure_metric_srid(conn, settings.metric_crs)
        return require_metric_srid(conn, settings.metric_crs)
    centre = shapely.centroid(shapely.box(*frame.total_bounds))
    return ensure_metric_srid(conn, utm_crs_for(centre.x, centre.y))


def load_boundaries(
    engine: Engine,
    path: Path | str,
    *,
    level: str,
    crs: str,
    name_field: str = "name",
    code_field: str | None = None,
    parent_field: str | None = None,
    repair: bool = False,
    settings: Settings | None = None,
) -> LoadResult:
    """Load a boundary file as areas of ``level``; see :func:`~geo_patrol.ingest.read_boundaries`."""
    settings = settings or Settings.from_env()
    if level not in AREA_LEVELS:
        msg = f"unknown level {level!r}: use one of {', '.join(AREA_LEVELS)}"
        raise InputError(msg)
    timer = Timer()
    info = file_info(path)
    options = {"level": level, "crs": crs, "name_field": name_field, "code_field": code_field,
               "parent_field": parent_field, "repair": repair}
    boundaries = read_boundaries(info.path, crs=crs, name_field=name_field,
                                 code_field=code_field, parent_field=parent_field, repair=repair)
    with engine.begin() as conn:
        upload_id, is_new = claim_upload(conn, "boundaries", info, options)
        result = LoadResult("boundaries", info.name, upload_id, duplicate=not is_new)
        if not is_new:
            return result
        srid = _deployment_srid(conn, boundaries.frame, settings, str(path))
        result.stored = area_store.store_areas(conn, boundaries.frame, level=level,
                                               upload_id=upload_id, srid=srid, source=str(path))
        result.details = {"level": level, "crs": boundaries.crs,
                          "repaired": len(boundaries.repairs),
                          "segments_reassigned": area_store.assign_segments(conn),
                          "repairs": [
                              {"feature": r.feature, "name": r.name, "reason": r.reason,
                               "area_change_pct": round(r.area_change_pct, 6)}
                              for r in boundaries.repairs]}
        result.seconds = timer.seconds
        finish_upload(conn, result)
    return result


def load_streets(
    engine: Engine,
    path: Path | str,
    *,
    settings: Settings | None = None,
) -> LoadResult:
    """Load the street network of a local OSM file as segments of at most ~50 m."""
    settings = settings or Settings.from_env()
    timer = Timer()
    info = file_info(path)
    segments = read_streets(info.path, max_segment_m=settings.segment_max_m)
    with engine.begin() as conn:
        upload_id, is_new = claim_upload(conn, "streets", info,
                                         {"max_segment_m": settings.segment_max_m})
        result = LoadResult("streets", info.name, upload_id, duplicate=not is_new)
        if not is_new:
            return result
        srid = _deployment_srid(conn, segments, settings, str(path))
        result.stored = area_store.store_segments(conn, segments, upload_id=upload_id, srid=srid)
        area_store.assign_segments(conn)
        result.details = {"segments_read": len(segments),
                          "already_stored": len(segments) - result.stored,
                          "km": round(float(segments["length_m"].sum()) / 1000, 3)}
        result.seconds = timer.seconds
        finish_upload(conn, result)
    return result
