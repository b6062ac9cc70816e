"""Places: streets cut between their cross streets when streets are loaded, gaps named by
street and cross streets after an analysis, and the base map's vector tiles."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING


from geo_patrol.analysis.places import run_places, street_pieces, tiles_covering
from geo_patrol.render.basemap import EMBEDDED_ZOOMS
from geo_patrol.store import areas as area_store
from geo_patrol.store import places as store

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

    from geo_patrol.store.db import Database


def refresh_pieces(conn: Connection) -> int:
    """Cut the stored streets into pieces between their cross streets and keep them, with
    the crossings of named streets (after streets are loaded); returns the pieces stored."""
    segments = store.segment_ends(conn)
    pieces = street_pieces(segments)
    return store.store_pieces(conn, segments["id"].to_numpy(), pieces.piece, pieces.table,
                              pieces.crossings)


def name_gaps(conn: Connection, run_id: int) -> int:
    """Give each gap of a run its street and the cross streets at its ends."""
    rows = store.gap_pieces(conn, run_id)
    if rows.empty:
        return 0
    named = run_places(rows.rename(columns={"gap_key": "run", "length_m": "length"}))
    store.store_gap_places(conn, run_id, named.rename(columns={"run": "gap_key"}))
    return len(named)


def embedded_tiles(conn: Connection, bounds: tuple[float, float, float, float], *,
                   area: int | None = None) -> dict[str, bytes]:
    """The base-map tiles a file carries for WGS-84 ``bounds`` (``{"z/x/y": mvt}``, at
    the zooms of :data:`geo_patrol.render.basemap.EMBEDDED_ZOOMS`; empty tiles left out;
    streets and areas only: the land cover would take much of a briefing's 5 MB). With
    ``area`` (a district's or community's id), only the streets reaching into it and its
    own outlines: the city around a district is most of a tile at district zooms."""
    tiles: dict[str, bytes] = {}
    if not all(math.isfinite(v) for v in bounds):  # nothing drawn: no base map to carry
        return tiles
    for z in EMBEDDED_ZOOMS:
        for _, x, y in tiles_covering(bounds, z):
            tile = store.make_base_tile(conn, z, x, y, land=False, area=area)
            if tile:
                tiles[f"{z}/{x}/{y}"] = tile
    return tiles


def base_tile(db: Database, z: int, x: int, y: int) -> bytes:
    """A base-map vector tile (made once, then read from the cache)."""
    with db.begin() as conn:
        return store.base_tile(conn, z, x, y)


def city_extent(db: Database) -> tuple[float, float, float, float] | None:
    """The WGS-84 bounds of the city's areas (``None`` before any is loaded)."""
    with db.connect() as conn:
        return area_store.deployment_extent(conn)


def home_point(db: Database, within: frozenset[int] | None, *,
               volunteer_id: int | None = None) -> tuple[float, float] | None:
    """Where a map of a user's own area opens (WGS-84 lon, lat): inside the community in the
    middle of ``within`` (their communities; the city's when ``None``); a volunteer's
    account (``volunteer_id``, no communities of its own) opens on the volunteer's
    community."""
    with db.connect() as conn:
        if volunteer_id is not None and not within:
            own = area_store.volunteer_community(conn, volunteer_id)
            if own is not None:
                within = frozenset({own})
        return area_store.middle_community(conn, within)


def communities_named(conn: Connection, ids: Iterable[int], *, shown: int = 5) -> str:
    """The names of the communities a user may use, as a refusal or a hint gives them (the
    first ``shown``, then "…")."""
    names = area_store.area_names(conn, ids)
    return ", ".join(names[:shown]) + ("…" if len(names) > shown else "")
