"""Areas (district > police station > community > grid) and street segments in PostGIS."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import geopandas as gpd
import pandas as pd
import shapely
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.store.bulk import copy_rows
from geo_patrol.store.scope import in_scope, scope_params


def community_at_sql(point: str) -> str:
    """A scalar subquery: the community containing ``point`` (SQL of a WGS-84 point), if
    any (the lowest id where two overlap)."""
    return (f"(SELECT a.id FROM areas a WHERE a.level = 'community' "
            f"AND ST_Intersects(a.geom, {point}) ORDER BY a.id LIMIT 1)")

#: Candidate parent levels of each level, finest first.
PARENT_LEVELS: dict[str, tuple[str, ...]] = {
    "city": (),
    "district": ("city",),
    "station": ("district",),
    "community": ("station", "district"),
    "grid": ("community",),
}
#: Levels a street segment may be assigned to, finest first.
SEGMENT_LEVELS = ("community", "station", "district")


def _hex_ewkb(geoms: gpd.GeoSeries) -> list[str]:
    return list(shapely.to_wkb(shapely.set_srid(geoms.to_numpy(), 4326), hex=True,
                               include_srid=True))


def _existing_level(conn: Connection, levels: tuple[str, ...]) -> str | None:
    present = set(conn.execute(sa.text("SELECT DISTINCT level FROM areas")).scalars())
    return next((lvl for lvl in levels if lvl in present), None)


def store_areas(conn: Connection, areas: gpd.GeoDataFrame, *, level: str, upload_id: int,
                srid: int, source: str = "") -> int:
    """Insert validated WGS-84 areas, each linked to its parent by name or by containment.

    Raises :class:`InputError` (the caller's transaction then rolls back) when a named parent
    does not exist or an area of that level and name is already stored under the same parent.
    """
    conn.execute(sa.text("CREATE TEMP TABLE staging_areas (n int, name text, code text, "
                         "parent_name text, geom geometry) ON COMMIT DROP"))
    copy_rows(conn, "staging_areas", ["n", "name", "code", "parent_name", "geom"],
              zip(range(1, len(areas) + 1), areas["name"], areas["code"], areas["parent_name"],
                  _hex_ewkb(areas.geometry)))
    parents = PARENT_LEVELS[level]
    params = {"level": level, "upload": upload_id, "srid": srid, "parents": list(parents)}
    if areas["parent_name"].notna().any():
        missing = conn.execute(sa.text(
            "SELECT s.n, s.parent_name FROM staging_areas s WHERE NOT EXISTS (SELECT 1 FROM "
            "areas p WHERE p.level = ANY(:parents) AND p.name = s.parent_name) ORDER BY s.n "
            "LIMIT 1"), params).first()
        if missing:
            msg = (f"parent area {missing.parent_name!r} not found among "
                   f"{'/'.join(parents) or 'none'} areas; load the parent level first")
            raise InputError(msg, source=source, location=f"feature {missing.n}")
        parent_sql = ("(SELECT p.id FROM areas p WHERE p.level = ANY(:parents) AND "
                      "p.name = s.parent_name ORDER BY array_position(CAST(:parents AS text[]), "
                      "CAST(p.level AS text)) LIMIT 1)")
    else:
        params["plevel"] = _existing_level(conn, parents)
        parent_sql = ("(SELECT p.id FROM areas p WHERE p.level = :plevel AND "
                      "ST_Intersects(p.geom, ST_PointOnSurface(s.geom)) ORDER BY p.id LIMIT 1)")
    inserted = conn.execute(sa.text(
        "INSERT INTO areas (level, name, code, parent_id, upload_id, attrs, geom, geom_m) "
        f"SELECT :level, s.name, s.code, {parent_sql}, :upload, '{{}}'::jsonb, "
        "ST_Multi(s.geom), ST_Transform(ST_Multi(s.geom), :srid) FROM staging_areas s "
        "ORDER BY s.n ON CONFLICT ON CONSTRAINT areas_level_parent_name_key DO NOTHING "
        "RETURNING name"), params).scalars().all()
    if len(inserted) < len(areas):
        clash = sorted(set(areas["name"]) - set(inserted))
        msg = (f"{level} area(s) already stored: {', '.join(clash[:5])}; nothing from this "
               "file was stored")
        raise InputError(msg, source=source)
    return len(inserted)


def store_segments(conn: Connection, segments: gpd.GeoDataFrame, *, upload_id: int,
                   srid: int) -> int:
    """Insert street segments; pieces already stored (same edge and piece) are skipped."""
    cols = ["osm_way_id", "u", "v", "key", "piece", "node_from", "node_to", "highway", "name"]
    conn.execute(sa.text(
        "CREATE TEMP TABLE staging_segments (osm_way_id bigint, u bigint, v bigint, key int, "
        "piece int, node_from bigint, node_to bigint, highway text, name text, geom geometry) "
        "ON COMMIT DROP"))
    frame = segments[cols].astype(object).where(segments[cols].notna(), None)
    copy_rows(conn, "staging_segments", [*cols, "geom"],
              zip(*(frame[c] for c in cols), _hex_ewkb(segments.geometry)))
    stored = conn.execute(sa.text(
        f"INSERT INTO street_segments ({', '.join(cols)}, length_m, upload_id, geom, geom_m) "
        f"SELECT {', '.join(cols)}, ST_Length(ST_Transform(geom, :srid)), :upload, geom, "
        "ST_Transform(geom, :srid) FROM staging_segments "
        "ON CONFLICT ON CONSTRAINT street_segments_edge_key DO NOTHING"),
        {"srid": srid, "upload": upload_id}).rowcount
    return int(stored)


def assign_segments(conn: Connection) -> int:
    """Assign every street segment to the finest area level present that contains its midpoint.

    Returns the number of segments whose area changed.
    """
    level = _existing_level(conn, SEGMENT_LEVELS)
    if level is None:
        return 0
    return int(conn.execute(sa.text(
        "UPDATE street_segments s SET area_id = m.area_id FROM ("
        " SELECT x.id, (SELECT a.id FROM areas a WHERE a.level = :level AND "
        "  ST_Intersects(a.geom_m, ST_LineInterpolatePoint(x.geom_m, 0.5)) ORDER BY a.id LIMIT 1)"
        "  AS area_id FROM street_segments x) m "
        "WHERE s.id = m.id AND s.area_id IS DISTINCT FROM m.area_id"), {"level": level}).rowcount)


def area_summary(conn: Connection, *, level: str = "district") -> pd.DataFrame:
    """Per area of ``level``: id, code, area (km²), child areas, street segments and length (km)."""
    rows = conn.execute(sa.text(
        "WITH tree AS (SELECT r.id AS root, area_subtree(r.id) AS id FROM areas r "
        " WHERE r.level = :level) "
        "SELECT r.id, r.name, r.code, ST_Area(r.geom::geography) / 1e6 AS area_km2, "
        " (SELECT count(*) FROM tree t WHERE t.root = r.id AND t.id <> r.id) AS sub_areas, "
        " count(s.id) AS segments, coalesce(sum(s.length_m), 0) / 1000 AS street_km "
        "FROM areas r LEFT JOIN tree t ON t.root = r.id "
        "LEFT JOIN street_segments s ON s.area_id = t.id "
        "WHERE r.level = :level GROUP BY r.id ORDER BY r.code NULLS LAST, r.name"),
        {"level": level}).mappings().all()
    return pd.DataFrame(rows, columns=["id", "name", "code", "area_km2", "sub_areas",
                                       "segments", "street_km"])


def area_centroids(conn: Connection, *, level: str) -> gpd.GeoDataFrame:
    """WGS-84 centroids of the areas of a level (name, code, geometry)."""
    rows = conn.execute(sa.text(
        "SELECT name, code, ST_X(c) AS lon, ST_Y(c) AS lat FROM (SELECT name, code, "
        "ST_Transform(ST_Centroid(geom_m), 4326) AS c FROM areas WHERE level = :level) q "
        "ORDER BY name"), {"level": level}).mappings().all()
    if not rows:
        msg = f"no {level} areas stored"
        raise NotFoundError(msg)
    frame = pd.DataFrame(rows)
    return gpd.GeoDataFrame(frame[["name", "code"]],
                            geometry=gpd.points_from_xy(frame.lon, frame.lat), crs=4326)


def overlaps_stored_areas(conn: Connection, bounds: tuple[float, float, float, float]) -> bool:
    """Whether a WGS-84 bounding box touches any stored area (true when none are stored)."""
    row = conn.execute(sa.text(
        "SELECT NOT EXISTS (SELECT 1 FROM areas) OR EXISTS (SELECT 1 FROM areas WHERE "
        "geom && ST_MakeEnvelope(:x0, :y0, :x1, :y1, 4326))"),
        dict(zip(("x0", "y0", "x1", "y1"), map(float, bounds)))).scalar_one()
    return bool(row)


def deployment_extent(conn: Connection) -> tuple[float, float, float, float] | None:
    """WGS-84 bounds of every stored area, or ``None`` when no area is stored yet."""
    row = conn.execute(sa.text(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM "
        "(SELECT ST_Extent(geom) AS e FROM areas) s")).one()
    return None if row[0] is None else tuple(float(v) for v in row)  # type: ignore[return-value]


def middle_community(conn: Connection, within: frozenset[int] | None
                     ) -> tuple[float, float] | None:
    """A WGS-84 point inside the community in the middle of ``within`` (all when ``None``):
    the one nearest the median of their centres, which falls where communities (and so
    streets) are densest, not in the fields a bounding box's centre may hold."""
    row = conn.execute(sa.text(f"""
        WITH c AS (SELECT ST_PointOnSurface(geom) AS p FROM areas
                   WHERE level = 'community' AND {in_scope('id')}),
             m AS (SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_X(p)) AS x,
                          percentile_cont(0.5) WITHIN GROUP (ORDER BY ST_Y(p)) AS y FROM c)
        SELECT ST_X(c.p), ST_Y(c.p) FROM c, m
        ORDER BY c.p <-> ST_SetSRID(ST_MakePoint(m.x, m.y), 4326) LIMIT 1"""),
        scope_params(within)).first()
    return None if row is None else (float(row[0]), float(row[1]))


def volunteer_community(conn: Connection, volunteer_id: int) -> int | None:
    """The community a volunteer belongs to (None when not known)."""
    return conn.execute(sa.text("SELECT community_id FROM volunteers WHERE id = :v"),
                        {"v": volunteer_id}).scalar()


def area_names(conn: Connection, ids: Iterable[int]) -> list[str]:
    """These areas' names, by name."""
    return list(conn.execute(sa.text("SELECT name FROM areas WHERE id = ANY(:i) ORDER BY name"),
                             {"i": sorted(ids)}).scalars())


def find_area(conn: Connection, name_or_id: str | int, level: str | None = None) -> dict:
    """An area (id, name, level) by id or name, optionally of one level."""
    row = conn.execute(sa.text(
        "SELECT id, name, level FROM areas WHERE (CAST(:id AS integer) IS NOT NULL AND id = :id) "
        "OR (name = :name AND (CAST(:level AS text) IS NULL OR level = :level)) "
        "ORDER BY id LIMIT 1"),
        {"id": int(name_or_id) if str(name_or_id).isdigit() else None,
         "name": str(name_or_id), "level": level}).mappings().first()
    if row is None:
        what = f"{level} " if level else "area "
        raise NotFoundError(f"no {what}{name_or_id!r}")
    return dict(row)


def subtree_ids(conn: Connection, area_id: int | None) -> list[int] | None:
    """An area and all its sub-areas (``None`` for the whole deployment)."""
    if area_id is None:
        return None
    return list(conn.execute(sa.text("SELECT area_subtree(:a)"), {"a": area_id}).scalars())


def area_tree(conn: Connection) -> pd.DataFrame:
    """Every area's id, parent id and level."""
    return pd.read_sql_query(sa.text("SELECT id, parent_id, level FROM areas ORDER BY id"), conn)


def districts_of(conn: Connection) -> dict[int, int]:
    """Each area's district (a district's is itself; areas above or outside none)."""
    return {int(a): int(d) for a, d in conn.execute(sa.text("""
        SELECT s.id, d.id FROM areas d, area_subtree(d.id) AS s(id)
        WHERE d.level = 'district'"""))}


def area_polygons_m(conn: Connection, ids: list[int]) -> dict[int, object]:
    """Metric outlines (shapely) of some areas by id."""
    rows = conn.execute(sa.text("SELECT id, ST_AsBinary(geom_m) FROM areas WHERE id = ANY(:i)"),
                        {"i": ids}).all()
    return dict(zip([r[0] for r in rows], shapely.from_wkb([bytes(r[1]) for r in rows])))


def area_features(conn: Connection, level: str, *,
                  within: frozenset[int] | None = None) -> list[dict]:
    """Areas of a level (in ``within``, if given) as GeoJSON features, simplified."""
    rows = conn.execute(sa.text(
        "SELECT a.id, a.name, a.code, p.name AS parent, "
        "ST_AsGeoJSON(ST_SimplifyPreserveTopology(a.geom, 0.0002), 6) AS geometry "
        "FROM areas a LEFT JOIN areas p ON p.id = a.parent_id WHERE a.level = :level "
        f"AND {in_scope('a.id')} ORDER BY a.code NULLS LAST, a.name"),
        {"level": level, **scope_params(within)}
    ).mappings().all()
    return [{"type": "Feature", "id": r["id"], "geometry": json.loads(r["geometry"]),
             "properties": {"name": r["name"], "code": r["code"], "parent": r["parent"],
                            "level": level}} for r in rows]


def segment_count(conn: Connection) -> tuple[int, int]:
    """(count, highest id) of the street segments: changes whenever streets are loaded."""
    row = conn.execute(sa.text("SELECT count(*), coalesce(max(id), 0) FROM street_segments")).one()
    return int(row[0]), int(row[1])


def segments_near(conn: Connection, box_m: tuple[float, float, float, float]) -> pd.DataFrame:
    """Street segments meeting a metric box: node_from, node_to, length_m, highway (the OSM
    street class), metric lines."""
    return _segment_frame(conn.execute(sa.text(
        "SELECT node_from, node_to, length_m, highway, ST_AsBinary(geom_m) FROM street_segments "
        "WHERE geom_m && ST_MakeEnvelope(:x0, :y0, :x1, :y1, "
        "(SELECT value::int FROM deployment WHERE key = 'metric_srid'))"),
        dict(zip(("x0", "y0", "x1", "y1"), map(float, box_m)))).all())


def all_segments(conn: Connection) -> pd.DataFrame:
    """Every street segment of the city, as :func:`segments_near` gives them (by id)."""
    return _segment_frame(conn.execute(sa.text(
        "SELECT node_from, node_to, length_m, highway, ST_AsBinary(geom_m) FROM street_segments "
        "ORDER BY id")).all())


def segments_version(conn: Connection) -> tuple[int, int]:
    """What tells that the city's streets changed: their count and latest id (segments are
    only ever added, each with a new id)."""
    count, last = conn.execute(sa.text(
        "SELECT count(*), coalesce(max(id), 0) FROM street_segments")).one()
    return int(count), int(last)


def _segment_frame(rows: Sequence[Any]) -> pd.DataFrame:
    # columns from plain tuples: a frame built from Row objects probes each row's attributes
    names = ["node_from", "node_to", "length_m", "highway", "wkb"]
    columns = list(zip(*(tuple(r) for r in rows))) if rows else [()] * len(names)
    frame = pd.DataFrame({n: list(c) for n, c in zip(names[:-1], columns[:-1])},
                         columns=names[:-1])
    frame["geom"] = shapely.from_wkb([bytes(b) for b in columns[-1]]) if rows else []
    return frame
