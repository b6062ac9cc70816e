"""Street network ingest: osmnx from local OSM files, 50 m pieces, community assignment."""

from __future__ import annotations

import bz2
import xml.etree.ElementTree as ET
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from geo_patrol.errors import InputError
from geo_patrol.ingest.streets import (
    EXCLUDED_HIGHWAYS,
    graph_from_file,
    read_streets,
    split_lines,
    to_undirected,
)
from geo_patrol.services.sources import load_boundaries, load_streets
from tests.helpers import count, haversine_m

HELSINKI = "osm/helsinki_highways.osm.bz2"
FINLAND = "osm/finland_small_highways.osm.bz2"
OAKLAND = "osm/west_oakland.osm.bz2"


@pytest.mark.parametrize("name", [HELSINKI, FINLAND, OAKLAND])
def test_undirected_streets_are_osmnx_s_edge_for_edge(shared_data, name):
    """The one-pass merge of two-way streets gives osmnx's undirected graph: the same nodes,
    the same edges under the same keys, with the same attributes and geometries."""
    import osmnx as ox

    graph = graph_from_file(shared_data / name)
    mine, theirs = to_undirected(graph), ox.convert.to_undirected(graph)
    assert set(mine.nodes) == set(theirs.nodes)
    edges = sorted(mine.edges(keys=True))
    assert edges == sorted(theirs.edges(keys=True)) and len(edges) > 50
    for u, v, k in edges:
        a, b = mine.edges[u, v, k], theirs.edges[u, v, k]
        assert a.keys() == b.keys(), (u, v, k)
        assert a["geometry"].equals(b["geometry"]), (u, v, k)
        assert {x: a[x] for x in a if x != "geometry"} == \
            {x: b[x] for x in b if x != "geometry"}, (u, v, k)


def test_split_lines_pieces_are_equal_contiguous_and_short():
    rng = np.random.default_rng(3)
    walks = [np.cumsum(rng.normal(0, 40, size=(int(n), 2)), axis=0)
             for n in rng.integers(2, 30, 200)]
    lines = np.array([shapely.LineString(w) for w in walks], dtype=object)
    pieces, src = split_lines(lines, 50.0)
    lengths = shapely.length(pieces)
    assert lengths.max() <= 50.0 + 1e-9
    np.testing.assert_allclose(np.bincount(src, weights=lengths), shapely.length(lines))
    expected = np.maximum(1, np.ceil(shapely.length(lines) / 50.0 - 1e-9))
    np.testing.assert_array_equal(np.bincount(src), expected)
    for i in range(len(lines)):
        mine = pieces[src == i]
        np.testing.assert_allclose(shapely.get_coordinates(mine[0])[0], walks[i][0])
        np.testing.assert_allclose(shapely.get_coordinates(mine[-1])[-1], walks[i][-1])
        for a, b in zip(mine[:-1], mine[1:]):
            np.testing.assert_allclose(shapely.get_coordinates(a)[-1],
                                       shapely.get_coordinates(b)[0], atol=1e-9)


def _osm_way_length_m(path: Path) -> float:
    """Total length of the highway ways in an OSM file, read independently of osmnx."""
    root = ET.fromstring(bz2.decompress(path.read_bytes()))
    nodes = {n.get("id"): (float(n.get("lon")), float(n.get("lat"))) for n in root.iter("node")}
    total = 0.0
    for way in root.iter("way"):
        tags = {t.get("k"): t.get("v") for t in way.iter("tag")}
        if "highway" not in tags or tags["highway"] in EXCLUDED_HIGHWAYS:
            continue
        pts = np.array([nodes[nd.get("ref")] for nd in way.iter("nd")])
        total += haversine_m(pts[:-1, 0], pts[:-1, 1], pts[1:, 0], pts[1:, 1]).sum()
    return total


def test_helsinki_segments(shared_data):
    segs = read_streets(shared_data / HELSINKI)
    assert segs.crs.to_epsg() == 4326
    assert segs["length_m"].max() <= 50.0 + 1e-6
    assert len(segs) > 3000
    # same total length as the OSM ways themselves (two-way streets counted once)
    assert segs["length_m"].sum() == pytest.approx(_osm_way_length_m(shared_data / HELSINKI),
                                                   rel=5e-3)
    assert not segs["highway"].isin(EXCLUDED_HIGHWAYS).any()
    # consecutive pieces of an edge share their cut node
    multi = segs.sort_values(["u", "v", "key", "piece"])
    same_edge = ((multi[["u", "v", "key"]].to_numpy()[1:] == multi[["u", "v", "key"]].to_numpy()[:-1])
                 .all(axis=1))
    assert same_edge.sum() > 100
    np.testing.assert_array_equal(multi["node_to"].to_numpy()[:-1][same_edge],
                                  multi["node_from"].to_numpy()[1:][same_edge])
    # deterministic
    again = read_streets(shared_data / HELSINKI)
    assert again[["u", "v", "key", "piece", "node_from", "node_to"]].equals(
        segs[["u", "v", "key", "piece", "node_from", "node_to"]])


def _halves(path: Path, tmp_path: Path) -> tuple[Path, gpd.GeoDataFrame]:
    segs = read_streets(path)
    x0, y0, x1, y1 = segs.total_bounds
    xm = (x0 + x1) / 2
    # two communities covering the west and east halves, leaving a strip in the south uncovered
    ym = y0 + (y1 - y0) * 0.1
    comm = gpd.GeoDataFrame({"name": ["西社区", "东社区"]},
                            geometry=[shapely.box(x0 - 0.01, ym, xm, y1 + 0.01),
                                      shapely.box(xm, ym, x1 + 0.01, y1 + 0.01)], crs=4326)
    out = tmp_path / "communities.geojson"
    comm.to_file(out)
    return out, comm


def _check_assignment(engine, comm: gpd.GeoDataFrame) -> None:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT a.name, ST_AsBinary(ST_LineInterpolatePoint(s.geom, 0.5)) FROM "
            "street_segments s LEFT JOIN areas a ON a.id = s.area_id")).all()
    names = np.array([r[0] for r in rows], dtype=object)
    mids = shapely.from_wkb([bytes(r[1]) for r in rows])
    inside = {n: shapely.contains(g, mids) for n, g in zip(comm["name"], comm.geometry)}
    for name, mask in inside.items():
        assert (names[mask] == name).mean() > 0.999, name
    outside = ~np.logical_or.reduce(list(inside.values()))
    assert outside.sum() > 0
    assert all(n is None for n in names[outside])


def test_load_assigns_segments_to_communities(engine, settings, shared_data, tmp_path):
    path = shared_data / HELSINKI
    communities, comm = _halves(path, tmp_path)
    load_boundaries(engine, communities, level="community", crs="wgs84", settings=settings)
    result = load_streets(engine, path, settings=settings)
    assert result.stored == count(engine, "street_segments") > 3000
    _check_assignment(engine, comm)
    again = load_streets(engine, path, settings=settings)
    assert again.duplicate and count(engine, "street_segments") == result.stored
    with engine.connect() as conn:
        max_len = conn.execute(sa.text("SELECT max(ST_Length(geom_m)) FROM street_segments"))
        assert max_len.scalar_one() <= 50.5  # measured in the deployment CRS (UTM 35N)


def test_boundaries_after_streets_reassign(engine, settings, shared_data, tmp_path):
    path = shared_data / HELSINKI
    communities, comm = _halves(path, tmp_path)
    load_streets(engine, path, settings=settings)
    assert count(engine, "street_segments", "area_id IS NOT NULL") == 0
    result = load_boundaries(engine, communities, level="community", crs="wgs84",
                             settings=settings)
    assert result.details["segments_reassigned"] > 3000
    _check_assignment(engine, comm)


def test_pbf_gives_the_same_network(engine, settings, shared_data, tmp_path):
    import osmium

    pbf = tmp_path / "finland.osm.pbf"
    xml = tmp_path / "finland.osm"
    xml.write_bytes(bz2.decompress((shared_data / FINLAND).read_bytes()))
    writer = osmium.SimpleWriter(str(pbf))
    for obj in osmium.FileProcessor(str(xml)):
        if obj.is_node():
            writer.add_node(obj)
        elif obj.is_way():
            writer.add_way(obj)
    writer.close()
    from_xml = read_streets(shared_data / FINLAND)
    from_pbf = read_streets(pbf)
    assert len(from_pbf) == len(from_xml)
    assert from_pbf["length_m"].sum() == pytest.approx(from_xml["length_m"].sum())
    assert load_streets(engine, pbf, settings=settings).stored == len(from_pbf)


OSM_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n'
OSM_BODY = ('<osm version="0.6"><node id="1" lat="60.1" lon="24.9"/>'
            '<node id="2" lat="60.101" lon="24.9"/>'
            '<way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="residential"/>'
            '<tag k="name" v="&xxe;"/></way></osm>')


@pytest.mark.parametrize("doctype", [
    '<!DOCTYPE osm [<!ENTITY xxe SYSTEM "file://{secret}">]>',
    '<!DOCTYPE osm [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
    '<!ENTITY xxe "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]>',
])
def test_xml_with_entities_is_refused_before_parsing(engine, settings, tmp_path, doctype):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-PLANTED")
    path = tmp_path / "evil.osm"
    path.write_text(OSM_HEAD + doctype.format(secret=secret) + OSM_BODY)
    with pytest.raises(InputError, match="DOCTYPE or entity declaration is refused"):
        load_streets(engine, path, settings=settings)
    assert count(engine, "street_segments") == 0 and count(engine, "uploads") == 0


def test_malformed_xml_names_the_line(engine, settings, tmp_path):
    path = tmp_path / "broken.osm"
    path.write_text(OSM_HEAD + '<osm version="0.6">\n<node id="1" lat="60.1"\n</osm>')
    with pytest.raises(InputError, match="line 4, column 0: malformed XML: not well-formed"):
        load_streets(engine, path, settings=settings)
    assert count(engine, "uploads") == 0


def test_file_without_streets(engine, settings, tmp_path):
    path = tmp_path / "nothing.osm"
    path.write_text(OSM_HEAD + '<osm version="0.6"><node id="1" lat="60.1" lon="24.9"/></osm>')
    with pytest.raises(InputError, match="no .*street|no highway"):
        load_streets(engine, path, settings=settings)
