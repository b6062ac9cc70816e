"""Places named by the street graph: pieces between cross streets, gaps named by street and
cross streets, crossings, and the base map's vector tiles from PostGIS."""

from __future__ import annotations

import mapbox_vector_tile
import pandas as pd
import pytest
import sqlalchemy as sa

from geo_patrol.analysis.places import (
    Place,
    distinct_place_texts,
    place_text,
    run_place,
    street_pieces,
    tile_of,
)
from geo_patrol.ingest.landcover import read_land_cover
from geo_patrol.services import places


def _grid() -> pd.DataFrame:
    """A main street 钢铁大街 (x from 0 to 300) crossed by 甲街 at x=0, 乙街 at x=100 and
    丙街 at x=300; 钢铁大街 is two segments between 乙街 and 丙街 (node 5 at x=200)."""
    rows = [  # node_from, node_to, name, x0, y0, x1, y1
        (1, 2, "钢铁大街", 0, 0, 100, 0), (2, 5, "钢铁大街", 100, 0, 200, 0),
        (5, 3, "钢铁大街", 200, 0, 300, 0),
        (10, 1, "甲街", 0, 100, 0, 0), (1, 11, "甲街", 0, 0, 0, -100),
        (12, 2, "乙街", 100, 100, 100, 0), (3, 13, "丙街", 300, 0, 300, -100),
        (3, 14, None, 300, 0, 400, 0)]
    frame = pd.DataFrame(rows, columns=["node_from", "node_to", "name", "x0", "y0", "x1", "y1"])
    frame["highway"] = ["primary"] * 3 + ["residential"] * 5
    return frame


def test_pieces_stop_at_cross_streets():
    pieces = street_pieces(_grid())
    table = pieces.table
    main = table.loc[pieces.piece[:3]]
    assert list(main["name"]) == ["钢铁大街"] * 3
    assert pieces.piece[1] == pieces.piece[2] != pieces.piece[0]  # node 5 is no crossing
    assert (main.iloc[0]["cross_a"], main.iloc[0]["cross_b"]) == ("甲街", "乙街")
    assert (main.iloc[1]["cross_a"], main.iloc[1]["cross_b"]) == ("乙街", "丙街")
    jia = table.loc[pieces.piece[3]]
    # north to south: the piece of 甲街 north of 钢铁大街 meets it at its southern end only
    assert jia["cross_a"] == "钢铁大街" and jia["cross_b"] is None
    pairs = {tuple(sorted((r.name_a, r.name_b))) for r in pieces.crossings.itertuples()}
    assert pairs == {("甲街", "钢铁大街"), ("乙街", "钢铁大街"), ("丙街", "钢铁大街")}
    assert pieces.table.loc[pieces.piece[7], "name"] is None


def test_a_run_is_named_by_the_cross_streets_at_its_ends():
    pieces = street_pieces(_grid())
    rows = pieces.table.loc[pieces.piece[[0, 1, 2, 4]]].reset_index(drop=True)
    lengths = pd.Series([100.0, 100.0, 100.0, 100.0])
    place = run_place(rows, lengths)
    assert place == Place("钢铁大街", "甲街", "丙街")
    assert place_text(place, "zh", 350) == "钢铁大街（甲街—丙街），350 米"
    assert place_text(place, "en", 1234) == "钢铁大街 (甲街–丙街), 1,234 m"
    assert place_text(Place("乙街", "钢铁大街"), "zh") == "乙街（近钢铁大街）"



def test_segments_sharing_street_and_cross_streets_are_numbered_along_it():
    # 钢铁大街 between 乙街 and 丙街 is two segments (x 100–200 and 200–300): numbered west to
    # east; a segment listed twice keeps its number; one alone keeps its plain name
    pieces = street_pieces(_grid())
    rows = pieces.table.loc[pieces.piece[[2, 0, 1, 2]]].reset_index(drop=True).rename(
        columns={"name": "street"})
    rows["segment_id"] = [30, 10, 20, 30]
    rows["x"], rows["y"] = [250.0, 50.0, 150.0, 250.0], 0.0
    assert distinct_place_texts(rows, "zh") == [
        "钢铁大街（乙街—丙街）第 2 段", "钢铁大街（甲街—乙街）", "钢铁大街（乙街—丙街）第 1 段",
        "钢铁大街（乙街—丙街）第 2 段"]
    assert distinct_place_texts(rows, "en")[2] == "钢铁大街 (乙街–丙街), part 1"
    # along a north–south street: north first
    ns = pd.DataFrame({"street": ["甲街", "甲街"], "cross_a": ["A", "A"], "cross_b": ["B", "B"],
                       "segment_id": [1, 2], "x": [0.0, 1.0], "y": [-100.0, 100.0]})
    assert distinct_place_texts(ns, "zh") == ["甲街（A—B）第 2 段", "甲街（A—B）第 1 段"]

def test_demo_streets_are_cut_and_gaps_named(demo_world):
    engine = demo_world["engine"]
    run_id = demo_world["run"].run_id
    with engine.connect() as conn:
        pieces = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT name), count(*) FILTER (WHERE cross_b IS NOT NULL) "
            "FROM street_pieces")).one()
        gaps = conn.execute(sa.text(
            "SELECT street, cross_a, cross_b, length_m FROM gap_results WHERE run_id = :r "
            "ORDER BY priority DESC"), {"r": run_id}).all()
        crossings = conn.execute(sa.text("SELECT count(*) FROM crossings")).scalar_one()
    assert pieces[0] > 500 and pieces[2] > 0.8 * pieces[0]
    assert crossings > 300
    assert gaps and all(g.street for g in gaps)
    named = [g for g in gaps if g.cross_a and g.cross_b]
    assert len(named) > 0.8 * len(gaps)
    # two gaps on one street are told apart by their cross streets
    texts = [place_text(Place(g.street, g.cross_a, g.cross_b), "zh", g.length_m) for g in gaps]
    by_street = pd.Series([g.street for g in named]).value_counts()
    assert by_street.max() > 1
    street = by_street.index[0]
    ends = {(g.cross_a, g.cross_b) for g in named if g.street == street}
    # (a stretch split between two communities is two gaps with the same ends)
    assert len(ends) >= 0.8 * by_street.iloc[0] and len(ends) > 1
    assert "（" in texts[0] and texts[0].endswith("米")


def test_base_tiles_carry_street_names_and_areas(demo_world):
    engine = demo_world["engine"]
    with engine.connect() as conn:
        lon, lat, name = conn.execute(sa.text(
            "SELECT ST_X(c), ST_Y(c), name FROM (SELECT ST_LineInterpolatePoint("
            "ST_GeometryN(geom, 1), 0.5) AS c, name FROM street_pieces "
            "WHERE highway = 'residential' AND name IS NOT NULL ORDER BY id LIMIT 1) q")).one()
    x, y = tile_of(lon, lat, 15)
    tile = places.base_tile(engine, 15, x, y)
    layers = mapbox_vector_tile.decode(tile)
    streets = {f["properties"].get("name") for f in layers["streets"]["features"]}
    assert name in streets
    assert {f["properties"]["class"] for f in layers["streets"]["features"]} >= {"minor"}
    assert layers["areas"]["features"] and layers["labels"]["features"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM base_tiles")).scalar_one() == 1
    assert places.base_tile(engine, 15, x, y) == tile  # from the cache
    assert places.base_tile(engine, 15, 0, 0) == b""  # far away: empty, and not kept
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM base_tiles")).scalar_one() == 1
    # a city-wide tile keeps the arterials only
    classes = {f["properties"]["class"] for f in mapbox_vector_tile.decode(
        places.base_tile(engine, 11, *tile_of(lon, lat, 11)))["streets"]["features"]}
    assert classes <= {"major", "medium"} and classes
    # a street's pieces in a tile are one feature (joined where they meet)
    keys = [(f["properties"].get("name"), f["properties"]["class"])
            for f in layers["streets"]["features"]]
    assert len(keys) == len(set(keys))
    # a district's briefing carries the streets reaching into it, not the city around it
    with engine.connect() as conn:
        district, bounds = conn.execute(sa.text(
            "SELECT a.id, ARRAY[ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)] FROM areas a, "
            "LATERAL (SELECT ST_Extent(c.geom)::geometry AS e FROM areas c "
            "WHERE c.parent_id = a.id OR c.parent_id IN (SELECT id FROM areas s "
            "WHERE s.parent_id = a.id)) q WHERE a.level = 'district' AND q.e IS NOT NULL "
            "ORDER BY a.id LIMIT 1")).one()
        whole = places.embedded_tiles(conn, tuple(bounds))
        own = places.embedded_tiles(conn, tuple(bounds), area=district)
    assert set(own) <= set(whole) and 0 < sum(map(len, own.values())) < sum(
        map(len, whole.values()))


def test_search_answers_by_kind_and_role(demo_world):
    from geo_patrol.access import Principal, Role
    from geo_patrol.services.search import coordinates, search

    engine = demo_world["engine"]
    with engine.connect() as conn:
        street, community, hazard, number, c_id = conn.execute(sa.text(
            "SELECT (SELECT name FROM street_pieces WHERE highway = 'residential' "
            "AND name IS NOT NULL ORDER BY id LIMIT 1), (SELECT name FROM areas "
            "WHERE level = 'community' ORDER BY id LIMIT 1), (SELECT name FROM hazards "
            "ORDER BY id LIMIT 1), (SELECT number FROM volunteers ORDER BY id LIMIT 1), "
            "(SELECT community_id FROM volunteers ORDER BY id LIMIT 1)")).one()
        command = Principal(id=1, username="c", role=Role.COMMAND)
        hits = search(conn, street[:2], command, lang="zh")
        assert any(h["kind"] == "street" and h["label"].startswith(street) for h in hits)
        assert search(conn, community, command, lang="zh")[0]["kind"] == "community"
        found = search(conn, hazard, command, lang="zh")
        assert found[0]["kind"] == "hazard" and found[0]["label"].startswith(hazard)
        people = search(conn, number, command, lang="zh")
        assert [h["kind"] for h in people] == ["volunteer"]
        assert number in people[0]["label"] and "*" in people[0]["label"]
        # roles: a planner sees hazards but no personal data; a volunteer neither
        planner = Principal(id=2, username="p", role=Role.PLANNER)
        assert search(conn, number, planner, lang="zh") == []
        volunteer = Principal(id=3, username="v", role=Role.VOLUNTEER, volunteer_id=1)
        assert search(conn, hazard, volunteer, lang="zh") == []
        # an officer finds only volunteers of their communities
        other = Principal(id=4, username="o", role=Role.OFFICER,
                          community_ids=frozenset({-1}), area_ids=frozenset({-1}))
        mine = Principal(id=5, username="m", role=Role.OFFICER,
                         community_ids=frozenset({c_id}), area_ids=frozenset({c_id}))
        assert search(conn, number, other, lang="zh") == []
        assert search(conn, number, mine, lang="zh")[0]["kind"] == "volunteer"
    # coordinates: "lat, lon" or "lon, lat", in each datum unless one is named
    read = coordinates("40.6123, 109.8456")
    assert read  # (the crossings below)
    _crossing_typed_with_a_space(engine, search, command)
    assert [r["datum"] for r in read] == ["wgs84", "gcj02", "bd09"]
    assert read[0]["lon"] == 109.8456 and read[0]["lat"] == 40.6123
    gcj = coordinates("109.8456,40.6123 gcj")
    assert len(gcj) == 1 and 0.001 < 109.8456 - gcj[0]["lon"] < 0.01
    assert coordinates("钢铁大街") == []
    # under an AMap base map the answers are drawn in GCJ-02
    from geo_patrol.services.search import shown_in
    moved = shown_in(coordinates("40.6123, 109.8456 wgs"), "gcj02")[0]
    assert 0.001 < moved["lon"] - 109.8456 < 0.01 and 0.0005 < moved["lat"] - 40.6123 < 0.01


def test_stops_are_numbered_in_walking_order():
    import numpy as np
    import shapely

    from geo_patrol.analysis.places import walking_order

    route = shapely.LineString([(0, 0), (10, 0), (10, 10), (0, 10)])  # a walk round three sides
    lons, lats = np.array([1.0, 9.0, 10.5, 5.0]), np.array([10.2, -0.3, 5.0, 0.1])
    assert walking_order(route, lons, lats).tolist() == [4, 2, 3, 1]


def test_base_tiles_draw_water_parks_and_buildings(demo_world):
    """The demo extract's parks, lakes and buildings are loaded with its streets and drawn
    under them: named water and parks labelled, buildings only at street zooms."""
    engine = demo_world["engine"]
    with engine.connect() as conn:
        kinds = dict(conn.execute(sa.text(
            "SELECT kind, count(*) FROM land_cover GROUP BY kind")).all())
        lon, lat, park = conn.execute(sa.text(
            "SELECT ST_X(c), ST_Y(c), name FROM (SELECT ST_PointOnSurface(geom) AS c, name "
            "FROM land_cover WHERE kind = 'green' AND name = '八一公园') q")).one()
    assert kinds["building"] > 100 and kinds["green"] > 0 and kinds["water"] > 0
    layers = mapbox_vector_tile.decode(places.base_tile(engine, 15, *tile_of(lon, lat, 15)))
    land = {f["properties"]["kind"] for f in layers["land"]["features"]}
    assert land >= {"green", "building"}
    assert park in {f["properties"].get("name") for f in layers["labels"]["features"]}
    wide = mapbox_vector_tile.decode(places.base_tile(engine, 12, *tile_of(lon, lat, 12)))
    assert "building" not in {f["properties"]["kind"] for f in wide["land"]["features"]}


def test_land_cover_from_a_pbf_extract(tmp_path):
    """An .osm.pbf extract gives the same land cover as its XML (multipolygon relations
    included)."""
    osmium = pytest.importorskip("osmium")
    xml = tmp_path / "land.osm"
    xml.write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<osm version="0.6">\n'
        + "".join(f'<node id="{i}" lat="{40.6 + dy}" lon="{109.8 + dx}" version="1"/>\n'
                  for i, (dx, dy) in enumerate([(0, 0), (0.01, 0), (0.01, 0.01), (0, 0.01),
                                                (0.002, 0.002), (0.004, 0.002),
                                                (0.004, 0.004), (0.002, 0.004)], start=1))
        + '<way id="1" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="4"/>'
          '<nd ref="1"/></way>\n'
          '<way id="2" version="1"><nd ref="5"/><nd ref="6"/><nd ref="7"/><nd ref="8"/>'
          '<nd ref="5"/><tag k="building" v="yes"/></way>\n'
          '<relation id="1" version="1"><member type="way" ref="1" role="outer"/>'
          '<tag k="type" v="multipolygon"/><tag k="leisure" v="park"/>'
          '<tag k="name" v="劳动公园"/></relation>\n</osm>\n', encoding="utf-8")
    pbf = tmp_path / "land.osm.pbf"
    with osmium.SimpleWriter(str(pbf)) as writer:
        for obj in osmium.FileProcessor(str(xml)):
            writer.add(obj)
    for path in (xml, pbf):
        land = read_land_cover(path)
        assert sorted(land["kind"]) == ["building", "green"], path
        assert land.loc[land["kind"] == "green", "name"].tolist() == ["劳动公园"]


def _crossing_typed_with_a_space(engine, search, who) -> None:  # noqa: ANN001
    """Two Chinese street names with a space between them name their crossing, as "与" does
    (a Chinese street name holds no space); one name alone is still a street."""
    with engine.connect() as conn:
        a, b, lon, lat = conn.execute(sa.text(
            "SELECT name_a, name_b, ST_X(geom), ST_Y(geom) FROM crossings "
            "WHERE name_a ~ '^[一-龥]+$' AND name_b ~ '^[一-龥]+$' ORDER BY id LIMIT 1")).one()
        spaced = search(conn, f"{a} {b}", who, lang="zh")
        joined = search(conn, f"{a}与{b}", who, lang="zh")
        alone = search(conn, a, who, lang="zh")
    assert spaced and spaced == joined
    assert {h["kind"] for h in spaced} == {"crossing"}
    assert any(abs(h["lon"] - lon) < 1e-6 and abs(h["lat"] - lat) < 1e-6 for h in spaced)
    assert "crossing" not in {h["kind"] for h in alone}


def test_a_click_near_the_street_chosen_is_a_place_on_it(demo_world):
    """With a street chosen by name, a click beside one of its crossings (nearer the cross
    street) is moved onto the chosen street and named by it; without it, by the cross street;
    a click far from the street is left where it is. The street's line is there to draw."""
    from geo_patrol.services.search import ON_STREET_M, place_name, street_line

    engine = demo_world["engine"]
    with engine.connect() as conn:
        # a crossing of two named streets, and a point 25 m from it along the cross street
        a, b, lon, lat, far_lon, far_lat = conn.execute(sa.text("""
            WITH c AS (SELECT name_a, name_b, geom FROM crossings
                       WHERE name_a <> name_b ORDER BY name_a, name_b LIMIT 1),
                 piece AS (SELECT p.geom_m FROM street_pieces p, c WHERE p.name = c.name_b
                           ORDER BY p.geom_m <-> ST_Transform(c.geom, ST_SRID(p.geom_m))
                           LIMIT 1),
                 m AS (SELECT ST_Transform(c.geom, ST_SRID(piece.geom_m)) AS at, piece.geom_m
                       FROM c, piece),
                 off AS (SELECT ST_LineInterpolatePoint(ST_LineMerge(m.geom_m),
                             least(1, 25 / ST_Length(m.geom_m))) AS p0,
                             ST_LineInterpolatePoint(ST_LineMerge(m.geom_m),
                             greatest(0, 1 - 25 / ST_Length(m.geom_m))) AS p1, m.at FROM m),
                 pick AS (SELECT CASE WHEN ST_Distance(p0, at) < ST_Distance(p1, at) THEN p0
                          ELSE p1 END AS p, at FROM off)
            SELECT c.name_a, c.name_b, ST_X(ST_Transform(pick.p, 4326)),
                   ST_Y(ST_Transform(pick.p, 4326)),
                   ST_X(ST_Transform(ST_Translate(pick.p, 5000, 5000), 4326)),
                   ST_Y(ST_Transform(ST_Translate(pick.p, 5000, 5000), 4326))
            FROM c, pick""")).one()
        plain = place_name(conn, lon, lat, lang="zh")
        assert plain["label"].startswith(b) and "lon" not in plain, plain
        on = place_name(conn, lon, lat, lang="zh", street=a)
        assert on["label"].startswith(a), on
        # the answer's point lies on the chosen street (within a centimetre)
        gap = conn.execute(sa.text(
            "SELECT min(ST_Distance(geom_m, ST_Transform(ST_SetSRID(ST_MakePoint(:x, :y), "
            "4326), ST_SRID(geom_m)))) FROM street_pieces WHERE name = :n"),
            {"x": on["lon"], "y": on["lat"], "n": a}).scalar_one()
        assert gap < 0.2 and (on["lon"], on["lat"]) != (round(lon, 6), round(lat, 6))
        # far from it: named where it is, not moved
        away = place_name(conn, far_lon, far_lat, lang="zh", street=a)
        assert "lon" not in away and ON_STREET_M < 5000
        line = street_line(conn, a)
        assert line["type"] == "MultiLineString" and len(line["coordinates"]) >= 1
        assert street_line(conn, "没有这条路") is None
