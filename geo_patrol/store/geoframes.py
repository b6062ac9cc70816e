"""Query results with a geometry column as GeoDataFrames, the geometries parsed all at once
(``gpd.read_postgis`` parses them one by one: seconds for a district's streets)."""

from __future__ import annotations

from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
from sqlalchemy.engine import Connection


def read_geo(query: Any, conn: Connection, *, params: dict[str, Any], geom_col: str = "geom",
             crs: Any = None) -> gpd.GeoDataFrame:
    """The rows of ``query`` with ``geom_col`` (WKB, as PostGIS sends it) as geometries in
    ``crs``: what ``gpd.read_postgis`` gives for the same query."""
    frame = pd.read_sql_query(query, conn, params=params)
    if geom_col not in frame:
        raise ValueError(f"Query missing geometry column '{geom_col}'")
    frame[geom_col] = shapely.from_wkb(frame[geom_col].to_numpy())
    return gpd.GeoDataFrame(frame, geometry=geom_col, crs=crs)
