"""Street pieces, crossings and the base map's vector tiles in PostGIS; the place search.

What :mod:`geo_patrol.analysis.places` computes from the street graph is kept here, and read
back to name gaps, hazards and incidents, to draw the base map and to answer the search box.
"""

from __future__ import annotations

import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.store.bulk import copy_rows
from geo_patrol.store.scope import Within, in_scope, scope_params

#: Columns of a piece as :func:`geo_patrol.analysis.places.run_place` reads them.
PIECE_COLUMNS = ["name", "cross_a", "cross_b", "node_a", "node_b", "x_a", "y_a", "x_b", "y_b"]


def segment_ends(conn: Connection) -> pd.DataFrame:
    """Every street segment: id, nodes, name, highway and its two ends (metric x, y)."""
    return pd.read_sql_query(sa.text(
        "SELECT id, node_from, node_to, name, highway, length_m, "
        "ST_X(ST_StartPoint(geom_m)) AS x0, ST_Y(ST_StartPoint(geom_m)) AS y0, "
        "ST_X(ST_EndPoint(geom_m)) AS x1, ST_Y(ST_EndPoint(geom_m)) AS y1 "
        "FROM street_segments ORDER BY id"), conn)


def store_pieces(conn: Connection, segment_ids: np.ndarray, piece: np.ndarray,
                 table: pd.DataFrame, crossings: pd.DataFrame) -> int:
    """Replace the pieces and crossings (ends of pieces in metric coordinates, as read by
    :func:`segment_ends`); each segment gets its piece. Empties the tile cache."""
    conn.execute(sa.text("CREATE TEMP TABLE staging_piece_of (segment_id bigint, piece int) "
                         "ON COMMIT DROP"))
    copy_rows(conn, "staging_piece_of", ["segment_id", "piece"],
              zip(segment_ids.tolist(), piece.tolist()))
    conn.execute(sa.text("UPDATE street_segments s SET piece_id = p.piece "
                         "FROM staging_piece_of p WHERE p.segment_id = s.id "
                         "AND s.piece_id IS DISTINCT FROM p.piece"))
    conn.execute(sa.text("DELETE FROM street_names"))
    conn.execute(sa.text("DELETE FROM street_pieces"))
    conn.execute(sa.text("DELETE FROM crossings"))
    conn.execute(sa.text("CREATE TEMP TABLE staging_pieces (id int, name text, highway text, "
                         "cross_a text, cross_b text, node_a bigint, node_b bigint, "
                         "x_a float8, y_a float8, x_b float8, y_b float8) ON COMMIT DROP"))
    cols = ["highway", *PIECE_COLUMNS]
    frame = table[cols].astype(object).where(table[cols].notna(), None)
    copy_rows(conn, "staging_pieces", ["id", *cols],
              zip(table.index.tolist(), *(frame[c].tolist() for c in cols)))
    conn.execute(sa.text("""
        INSERT INTO street_pieces (id, name, highway, cross_a, cross_b, node_a, node_b, x_a,
                                   y_a, x_b, y_b, length_m, geom, geom_m)
        SELECT p.id, p.name, p.highway, p.cross_a, p.cross_b, p.node_a, p.node_b, p.x_a,
               p.y_a, p.x_b, p.y_b, s.length_m, s.geom, s.geom_m
        FROM staging_pieces p JOIN (
            SELECT piece_id, sum(length_m) AS length_m,
                   ST_Multi(ST_LineMerge(ST_Collect(geom))) AS geom,
                   ST_Multi(ST_LineMerge(ST_Collect(geom_m))) AS geom_m
            FROM street_segments WHERE piece_id IS NOT NULL GROUP BY piece_id
        ) s ON s.piece_id = p.id"""))
    conn.execute(sa.text("""
        INSERT INTO street_names (name, length_m, lon, lat, x0, y0, x1, y1)
        SELECT n.name, n.m, ST_X(mid), ST_Y(mid), ST_XMin(n.box), ST_YMin(n.box),
               ST_XMax(n.box), ST_YMax(n.box)
        FROM (SELECT name, sum(length_m) AS m, ST_Extent(geom)::geometry AS box,
                     (array_agg(geom ORDER BY length_m DESC, id))[1] AS longest
              FROM street_pieces WHERE name IS NOT NULL GROUP BY name) n,
             ST_LineInterpolatePoint(ST_GeometryN(n.longest, 1), 0.5) AS mid"""))
    conn.execute(sa.text("CREATE TEMP TABLE staging_crossings (id int, node bigint, "
                         "name_a text, name_b text, x float8, y float8) ON COMMIT DROP"))
    copy_rows(conn, "staging_crossings", ["id", "node", "name_a", "name_b", "x", "y"],
              zip(range(1, len(crossings) + 1), crossings["node"].tolist(),
                  crossings["name_a"].tolist(), crossings["name_b"].tolist(),
                  crossings["x"].tolist(), crossings["y"].tolist()))
    conn.execute(sa.text("""
        INSERT INTO crossings (id, node, name_a, name_b, geom)
        SELECT id, node, name_a, name_b,
               ST_Transform(ST_SetSRID(ST_MakePoint(x, y),
                            (SELECT value::int FROM deployment WHERE key = 'metric_srid')), 4326)
        FROM staging_crossings"""))
    clear_tiles(conn)
    return len(table)


def store_land_cover(conn: Connection, land: gpd.GeoDataFrame, upload_id: int) -> int:
    """Keep the water, green areas and buildings an OSM file brought (WGS-84, columns
    ``kind``, ``name``), made valid and multi; empties the tile cache. Returns rows kept."""
    if land.empty:
        return 0
    conn.execute(sa.text("CREATE TEMP TABLE staging_land (kind text, name text, "
                         "geom geometry) ON COMMIT DROP"))
    hexes = shapely.to_wkb(shapely.set_srid(land.geometry.to_numpy(), 4326), hex=True,
                           include_srid=True)
    copy_rows(conn, "staging_land", ["kind", "name", "geom"],
              zip(land["kind"].tolist(), land["name"].tolist(), hexes.tolist()))
    kept = conn.execute(sa.text("""
        INSERT INTO land_cover (kind, name, upload_id, geom)
        SELECT kind, name, :upload, g
        FROM staging_land,
             ST_Multi(ST_CollectionExtract(ST_MakeValid(geom), 3)) AS g
        WHERE NOT ST_IsEmpty(g)"""), {"upload": upload_id}).rowcount
    clear_tiles(conn)
    return int(kept)


def clear_tiles(conn: Connection) -> None:
    """Forget the base map's tiles (streets or areas changed)."""
    conn.execute(sa.text("DELETE FROM base_tiles"))


#: The base map's street classes from OSM ``highway`` (as
#: :func:`geo_patrol.analysis.places.street_class`, which names them).
_CLASS = """CASE WHEN p.highway IN ('motorway', 'trunk', 'primary') THEN 'major'
                 WHEN p.highway IN ('secondary', 'tertiary') OR p.highway LIKE '%\\_link'
                      THEN 'medium'
                 WHEN p.highway IN ('footway', 'path', 'cycleway', 'steps', 'pedestrian',
                                    'track') THEN 'path'
                 ELSE 'minor' END"""
#: Below this zoom a tile has only major and medium streets, and district outlines only.
DETAIL_ZOOM = 13
#: Buildings from this zoom (a block's houses mean nothing at city zooms).
BUILDING_ZOOM = 14


def make_base_tile(conn: Connection, z: int, x: int, y: int, *, land: bool = True,
                   area: int | None = None) -> bytes:
    """One Mapbox vector tile of the base map: ``land`` (water, green areas and, from
    :data:`BUILDING_ZOOM`, buildings: kind, name), ``streets`` (name, class), ``areas``
    (district and community outlines: name, level) and ``labels`` (a point inside each
    area, and each named water or green area: name, level); a street's pieces in a tile are
    one feature, joined where they meet (a third of the bytes, and one line to label).
    ``land=False`` leaves the land cover out, ``area`` (an area id) keeps to the streets that
    reach into that area and to its own outlines (and the districts'): a file that carries a
    district's tiles keeps within its size."""
    tile = conn.execute(sa.text(f"""
        WITH b AS (SELECT ST_TileEnvelope(:z, :x, :y) AS env,
                          ST_Transform(ST_TileEnvelope(:z, :x, :y, margin => 0.02), 4326)
                              AS env4326),
        pieces AS (
            SELECT p.name, {_CLASS} AS class,
                   ST_LineMerge(ST_CollectionExtract(ST_Collect(p.geom), 2)) AS geom
            FROM b, street_pieces p
            WHERE p.geom && b.env4326
              AND (:z >= {DETAIL_ZOOM} OR p.highway IN ('motorway', 'trunk', 'primary',
                                                         'secondary', 'tertiary'))
              AND (CAST(:area AS integer) IS NULL OR ST_Intersects(
                       p.geom, (SELECT o.geom FROM areas o WHERE o.id = :area)))
            GROUP BY 1, 2),
        streets AS (
            SELECT ST_AsMVTGeom(ST_Transform(s.geom, 3857), b.env, 4096, 64, true) AS geom,
                   s.name, s.class
            FROM b, pieces s),
        land AS (
            SELECT ST_AsMVTGeom(ST_Transform(l.geom, 3857), b.env, 4096, 16, true) AS geom,
                   l.kind, l.name
            FROM b, land_cover l
            WHERE :land AND l.geom && b.env4326
              AND (l.kind <> 'building' OR :z >= {BUILDING_ZOOM})),
        shown AS (
            SELECT a.name, a.level, a.geom FROM b, areas a
            WHERE a.geom && b.env4326
              AND (a.level = 'district' OR (a.level = 'community' AND :z >= 12))
              AND (CAST(:area AS integer) IS NULL OR a.level = 'district'
                   OR a.id IN (SELECT area_subtree(:area)))),
        outlines AS (
            SELECT ST_AsMVTGeom(ST_Transform(ST_Boundary(s.geom), 3857), b.env, 4096, 8, true)
                       AS geom, s.name, s.level
            FROM b, shown s),
        labels AS (
            SELECT ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(s.geom), 3857), b.env, 4096, 0,
                                true) AS geom, s.name, s.level
            FROM b, shown s
            UNION ALL
            SELECT ST_AsMVTGeom(ST_Transform(ST_PointOnSurface(l.geom), 3857), b.env, 4096, 0,
                                true), l.name, l.kind
            FROM b, land_cover l
            WHERE :land AND l.geom && b.env4326 AND l.kind <> 'building'
              AND l.name IS NOT NULL
              AND :z >= {DETAIL_ZOOM})
        SELECT (SELECT coalesce(ST_AsMVT(land, 'land', 4096, 'geom'), '')
                FROM land WHERE geom IS NOT NULL)
            || (SELECT coalesce(ST_AsMVT(streets, 'streets', 4096, 'geom'), '')
                FROM streets WHERE geom IS NOT NULL)
            || (SELECT coalesce(ST_AsMVT(outlines, 'areas', 4096, 'geom'), '')
                FROM outlines WHERE geom IS NOT NULL)
            || (SELECT coalesce(ST_AsMVT(labels, 'labels', 4096, 'geom'), '')
                FROM labels WHERE geom IS NOT NULL)"""),
        {"z": z, "x": x, "y": y, "land": land, "area": area}).scalar_one()
    return bytes(tile or b"")


def base_tile(conn: Connection, z: int, x: int, y: int) -> bytes:
    """A base-map tile, from the cache or made and kept (``conn`` must be able to write);
    an empty tile (outside the city) is not kept, so what the cache holds is bounded by the
    city's extent, whatever tiles are asked for."""
    cached = conn.execute(sa.text("SELECT tile FROM base_tiles WHERE z = :z AND x = :x "
                                  "AND y = :y"), {"z": z, "x": x, "y": y}).scalar_one_or_none()
    if cached is not None:
        return bytes(cached)
    tile = make_base_tile(conn, z, x, y)
    if tile:
        conn.execute(sa.text("INSERT INTO base_tiles (z, x, y, tile) VALUES (:z, :x, :y, :t) "
                             "ON CONFLICT DO NOTHING"), {"z": z, "x": x, "y": y, "t": tile})
    return tile


def piece_rows(conn: Connection, segment_ids: list[int]) -> pd.DataFrame:
    """The piece of each of some segments (``segment_id``, ``length_m`` and
    :data:`PIECE_COLUMNS`)."""
    return pd.read_sql_query(sa.text(f"""
        SELECT s.id AS segment_id, s.length_m, {', '.join('p.' + c for c in PIECE_COLUMNS)}
        FROM street_segments s JOIN street_pieces p ON p.id = s.piece_id
        WHERE s.id = ANY(:ids)"""), conn, params={"ids": segment_ids})


def gap_pieces(conn: Connection, run_id: int) -> pd.DataFrame:
    """Every segment of a run's gaps with its piece (``gap_key``, ``length_m`` and
    :data:`PIECE_COLUMNS`)."""
    return pd.read_sql_query(sa.text(f"""
        SELECT r.gap_key, s.length_m, {', '.join('p.' + c for c in PIECE_COLUMNS)}
        FROM segment_results r JOIN street_segments s ON s.id = r.segment_id
        JOIN street_pieces p ON p.id = s.piece_id
        WHERE r.run_id = :run AND r.gap_key IS NOT NULL"""), conn, params={"run": run_id})


def store_gap_places(conn: Connection, run_id: int, places: pd.DataFrame) -> None:
    """Name a run's gaps: ``places`` has ``gap_key``, ``street``, ``cross_a``, ``cross_b``."""
    conn.execute(sa.text("CREATE TEMP TABLE staging_gap_places (gap_key text, street text, "
                         "cross_a text, cross_b text) ON COMMIT DROP"))
    cols = ["gap_key", "street", "cross_a", "cross_b"]
    frame = places[cols].astype(object).where(places[cols].notna(), None)
    copy_rows(conn, "staging_gap_places", cols, zip(*(frame[c].tolist() for c in cols)))
    conn.execute(sa.text("UPDATE gap_results g SET street = p.street, cross_a = p.cross_a, "
                         "cross_b = p.cross_b FROM staging_gap_places p "
                         "WHERE g.run_id = :run AND g.gap_key = p.gap_key"), {"run": run_id})


#: The piece nearest a point column ``{geom_m}`` within 150 m: its street and cross streets
#: (a LATERAL subquery for hazards, incidents and call-outs).
def nearest_piece(geom_m: str, alias: str = "np") -> str:
    """``LEFT JOIN LATERAL`` SQL giving ``{alias}.street``, ``.cross_a``, ``.cross_b`` of the
    street piece nearest ``geom_m`` (within 150 m)."""
    return (f"LEFT JOIN LATERAL (SELECT p.name AS street, p.cross_a, p.cross_b "
            f"FROM street_pieces p WHERE p.name IS NOT NULL "
            f"AND ST_DWithin(p.geom_m, {geom_m}, 150) "
            f"ORDER BY p.geom_m <-> {geom_m} LIMIT 1) {alias} ON true")


def _community_of(geom: str) -> str:
    """SQL: the name of the community a WGS-84 point ``geom`` lies in (``NULL`` outside)."""
    return (f"(SELECT a.name FROM areas a WHERE a.level = 'community' "
            f"AND ST_Intersects(a.geom, {geom}) ORDER BY a.id LIMIT 1)")


def place_at(conn: Connection, lon: float, lat: float) -> dict[str, Any]:
    """What names a WGS-84 point: the street piece nearest it (within 150 m: ``street``,
    ``cross_a``, ``cross_b``, each ``None`` when none is near) and the ``community`` it lies
    in (``None`` outside the city)."""
    row = conn.execute(sa.text(f"""
        WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(:lon, :lat), 4326) AS g,
                           ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                               (SELECT value::int FROM deployment WHERE key = 'metric_srid'))
                               AS m)
        SELECT np.street, np.cross_a, np.cross_b, {_community_of('pt.g')} AS community
        FROM pt {nearest_piece('pt.m')}"""), {"lon": lon, "lat": lat}).mappings().first()
    return dict(row) if row else {"street": None, "cross_a": None, "cross_b": None,
                                  "community": None}


# -- the place search --------------------------------------------------------------------------
#
# Hazards and volunteers (thousands) are searched in two steps, each with its own LIMIT: the
# names holding the query (the name itself, then names starting with it, then the rest), and
# only when those are fewer than asked for, the names merely alike (trigram similarity, ``%``,
# through the name's GiST trigram index; a volunteer: the numbers starting with it, in the
# order of the number's index). The answers and their order are those of one query ranking
# every match, but no step rates each name of the table for similarity.

#: Characters that lowercase to themselves and that no other character lowercases to (Chinese
#: characters, digits, punctuation): for a query made of these only, ``LIKE`` finds what
#: ``ILIKE`` does (PostgreSQL's ``ILIKE`` is ``lower(s) LIKE lower(pattern)``) without
#: lowercasing every name it reads.
_CASELESS = re.compile(r"[\s0-9!-/:-@\[-`{-~\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff"
                       r"\uf900-\ufaff\uff01-\uff20\uff3b-\uff40\uff5b-\uff65]*")


def _like(q: str) -> str:
    """The operator that matches ``q`` whatever the case."""
    return "LIKE" if _CASELESS.fullmatch(q) else "ILIKE"


#: Rank of a text match: the name itself first, then names starting with the query, then
#: names holding it, then names only alike (trigram similarity); shorter names first.
def _match(column: str, q: str) -> str:
    return (f"(CASE WHEN {column} = :q THEN 0 WHEN {column} LIKE :prefix THEN 1 "
            f"WHEN {column} {_like(q)} :inner THEN 2 ELSE 3 END)")


def _holding(column: str, q: str) -> str:
    """Names holding ``q`` (ranks 0-2 of :func:`_match`)."""
    return f"{column} {_like(q)} :inner"


def _alike(column: str, q: str) -> str:
    """Names alike but not holding ``q`` (rank 3 of :func:`_match`)."""
    return f"({column} % :q AND NOT {column} {_like(q)} :inner)"


def _params(q: str, limit: int) -> dict[str, Any]:
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"q": q, "prefix": like + "%", "inner": "%" + like + "%", "limit": limit}


def _in_two_steps(conn: Connection, sql: str, holding: str, alike: str,
                  params: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of ``sql`` with its ``{match}`` condition ``holding``, then, when fewer than
    ``:limit`` came back, ``alike`` for the rest. The planner reads the name's GiST trigram
    index for the second step by itself (migration 0040): against it, rating every name of
    the table for similarity is the dearer plan, as it is in fact."""
    rows = [dict(r) for r in conn.execute(sa.text(sql.format(match=holding)),
                                          params).mappings()]
    rest = params["limit"] - len(rows)
    if rest <= 0:
        return rows
    return rows + [dict(r) for r in conn.execute(sa.text(sql.format(match=alike)),
                                                 {**params, "limit": rest}).mappings()]


def _where(column: str, q: str) -> str:
    """Names holding ``q`` or alike (every rank of :func:`_match`), in one statement: for
    the small tables (areas, street names), where rating each name costs less than a second
    step."""
    return f"({column} {_like(q)} :inner OR {column} % :q)"


def search_areas(conn: Connection, q: str, *, limit: int = 6,
                 only: frozenset[int] | None = None) -> list[dict[str, Any]]:
    """Districts, stations and communities named like ``q`` (``only`` these areas, when
    given): name, level, centre, bounds."""
    only_sql = "" if only is None else "AND a.id = ANY(:only)"
    return [dict(r) for r in conn.execute(sa.text(f"""
        WITH hit AS (
            SELECT a.id, a.name, a.level, a.parent_id, a.geom FROM areas a
            WHERE {_where('a.name', q)} {only_sql}
            ORDER BY {_match('a.name', q)}, length(a.name), a.name LIMIT :limit)
        SELECT h.id, h.name, h.level, p.name AS parent,
               ST_X(ST_PointOnSurface(h.geom)) AS lon, ST_Y(ST_PointOnSurface(h.geom)) AS lat,
               ST_XMin(h.geom) AS x0, ST_YMin(h.geom) AS y0, ST_XMax(h.geom) AS x1,
               ST_YMax(h.geom) AS y1
        FROM hit h LEFT JOIN areas p ON p.id = h.parent_id
        ORDER BY {_match('h.name', q)}, length(h.name), h.name"""),
        _params(q, limit) | ({} if only is None else {"only": sorted(only)})).mappings()]


def place_on_street(conn: Connection, lon: float, lat: float, name: str, within_m: float
                    ) -> dict[str, Any] | None:
    """The point of the street named ``name`` nearest a WGS-84 point, if within
    ``within_m``: its ``lon``, ``lat``, the piece's ``street``, ``cross_a``, ``cross_b`` and
    the ``community`` it lies in; ``None`` when the street is not that near."""
    row = conn.execute(sa.text(f"""
        WITH pt AS (SELECT ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326),
                               (SELECT value::int FROM deployment WHERE key = 'metric_srid'))
                           AS m),
             hit AS (SELECT p.name AS street, p.cross_a, p.cross_b,
                            ST_Transform(ST_ClosestPoint(p.geom_m, pt.m), 4326) AS g
                     FROM street_pieces p, pt WHERE p.name = :name
                     AND ST_DWithin(p.geom_m, pt.m, :within)
                     ORDER BY p.geom_m <-> pt.m LIMIT 1)
        SELECT street, cross_a, cross_b, ST_X(g) AS lon, ST_Y(g) AS lat,
               {_community_of('hit.g')} AS community
        FROM hit"""), {"lon": lon, "lat": lat, "name": name, "within": within_m}
    ).mappings().first()
    return dict(row) if row else None


def street_line(conn: Connection, name: str) -> str | None:
    """The street named ``name``, all its pieces, as GeoJSON (WGS-84, 6 decimals); ``None``
    when no street has that name."""
    return conn.execute(sa.text(
        "SELECT ST_AsGeoJSON(ST_Collect(d.geom), 6) FROM street_pieces p, "
        "ST_Dump(p.geom) d WHERE p.name = :name"),
        {"name": name}).scalar_one()


def search_streets(conn: Connection, q: str, *, limit: int = 6,
                   only: frozenset[int] | None = None) -> list[dict[str, Any]]:
    """Streets named like ``q`` (each once; with ``only``, those running through one of
    these communities): length, the middle of its longest piece (``lon``, ``lat``) and its
    extent."""
    only_sql = "" if only is None else (
        "AND name IN (SELECT s.name FROM street_segments s WHERE s.area_id = ANY(:only))")
    return [dict(r) for r in conn.execute(sa.text(f"""
        SELECT name, length_m, lon, lat, x0, y0, x1, y1 FROM street_names
        WHERE {_where('name', q)} {only_sql}
        ORDER BY {_match('name', q)}, length(name), name LIMIT :limit"""),
        _params(q, limit) | ({} if only is None else {"only": sorted(only)})).mappings()]


def search_crossings(conn: Connection, a: str, b: str, *, limit: int = 6,
                     only: frozenset[int] | None = None) -> list[dict[str, Any]]:
    """Crossings of a street named like ``a`` with one named like ``b`` (either way round;
    with ``only``, those in one of these communities)."""
    only_sql = "" if only is None else (
        "WHERE EXISTS (SELECT 1 FROM areas c WHERE c.id = ANY(:only) "
        "AND ST_Covers(c.geom, hit.geom))")
    pa, pb = _params(a, limit), _params(b, limit)
    like_a, like_b = _like(a), _like(b)
    return [dict(r) for r in conn.execute(sa.text(f"""
        WITH hit AS (
            SELECT name_a, name_b, geom FROM crossings
            WHERE name_a {like_a} :ia AND name_b {like_b} :ib
            UNION ALL
            SELECT name_b, name_a, geom FROM crossings
            WHERE name_b {like_a} :ia AND name_a {like_b} :ib)
        SELECT DISTINCT ON (name_a, name_b) name_a, name_b, ST_X(geom) AS lon,
               ST_Y(geom) AS lat
        FROM hit {only_sql}
        ORDER BY name_a, name_b, length(name_a) + length(name_b) LIMIT :limit"""),
        {"ia": pa["inner"], "ib": pb["inner"], "limit": limit}
        | ({} if only is None else {"only": sorted(only)})).mappings()]


def search_hazards(conn: Connection, q: str, *, within: Within, limit: int = 6
                   ) -> list[dict[str, Any]]:
    """Hazards (not proposals) named like ``q`` in the scope: name, category, street place,
    community."""
    return _in_two_steps(conn, f"""
        WITH hit AS (
            SELECT h.id, h.name, h.category, h.geom, h.geom_m, h.community_id FROM hazards h
            WHERE NOT h.proposed AND {{match}} AND {in_scope('h.community_id')}
            ORDER BY {_match('h.name', q)}, length(h.name), h.name, h.id LIMIT :limit)
        SELECT h.id, h.name, h.category, ST_X(h.geom) AS lon, ST_Y(h.geom) AS lat,
               np.street, np.cross_a, np.cross_b,
               (SELECT a.name FROM areas a WHERE a.id = h.community_id) AS community
        FROM hit h {nearest_piece('h.geom_m')}
        ORDER BY {_match('h.name', q)}, length(h.name), h.name, h.id""",
        _holding("h.name", q), _alike("h.name", q),
        {**_params(q, limit), **scope_params(within)})


def search_volunteers(conn: Connection, q: str, *, within: Within, limit: int = 6
                      ) -> list[dict[str, Any]]:
    """Active volunteers whose number or name is like ``q`` in the scope (their name as
    stored: the caller masks it), placed at their home community: those named so first,
    then those numbered so."""
    sql = f"""
        WITH hit AS (
            SELECT v.id, v.number, v.name, v.community_id FROM volunteers v
            WHERE v.active AND {{match}} AND {in_scope('v.community_id')}
            ORDER BY {{order}} LIMIT :limit)
        SELECT h.id, h.number, h.name, a.name AS community,
               ST_X(ST_PointOnSurface(a.geom)) AS lon, ST_Y(ST_PointOnSurface(a.geom)) AS lat
        FROM hit h JOIN areas a ON a.id = h.community_id
        ORDER BY {_match('h.name', q)}, h.number"""
    params = {**_params(q, limit), **scope_params(within)}
    named = [dict(r) for r in conn.execute(sa.text(sql.format(
        match=_holding("v.name", q), order=f"{_match('v.name', q)}, v.number")),
        params).mappings()]
    if len(named) >= limit:
        return named
    # those numbered so, in the order of their numbers (none is named so: one rank), which
    # the number's own index reads with the limit when many numbers start so
    return named + [dict(r) for r in conn.execute(sa.text(sql.format(
        match=f"v.number {_like(q)} :prefix AND NOT {_holding('v.name', q)}",
        order="v.number")),
        {**params, "limit": limit - len(named)}).mappings()]
