"""The street network from a local OSM file (XML, ``.osm.bz2`` or ``.osm.pbf``) through osmnx,
cut into pieces of at most ``max_segment_m`` metres."""

from __future__ import annotations

import itertools
import logging
import tempfile
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import osmnx as ox
import pandas as pd
import shapely

from geo_patrol.crs import WGS84, utm_crs_for
from geo_patrol.errors import InputError, MissingDependencyError
from geo_patrol.ingest._xml import screen_xml

log = logging.getLogger(__name__)

#: Highway values that are not streets a patrol can walk or ride.
EXCLUDED_HIGHWAYS = frozenset({
    "platform", "construction", "proposed", "abandoned", "corridor", "raceway", "bus_stop",
    "elevator", "razed", "disused",
})
SEGMENT_COLUMNS = ["osm_way_id", "u", "v", "key", "piece", "node_from", "node_to", "highway",
                   "name", "length_m"]


def _first(value: object) -> object:
    # osmnx joins attributes of merged ways into lists when it simplifies the graph.
    if isinstance(value, list):
        return value[0] if value else None
    return value


def pbf_to_xml(path: Path, out: Path, keys: frozenset[str] = frozenset({"highway"}),
               *, relations: bool = False) -> None:
    """Write the nodes and the ways (and with ``relations`` the relations) tagged with any of
    ``keys`` of an OSM PBF file as OSM XML, which osmnx reads."""
    try:
        import osmium  # deferred: optional, only .osm.pbf files need it
    except ImportError:
        msg = "reading .osm.pbf needs the osmium package: pip install osmium"
        raise MissingDependencyError(msg) from None
    kinds = osmium.osm.NODE | osmium.osm.WAY
    if relations:
        kinds = kinds | osmium.osm.RELATION
    try:
        members: set[int] = set()  # untagged ways that make a kept relation's rings
        if relations:
            for rel in osmium.FileProcessor(str(path), osmium.osm.RELATION):
                if any(k in rel.tags for k in keys):
                    members.update(m.ref for m in rel.members if m.type == "w")
        writer = osmium.SimpleWriter(str(out))
        for obj in osmium.FileProcessor(str(path)).with_filter(
                osmium.filter.EntityFilter(kinds)):
            if obj.is_node():
                writer.add_node(obj)
            elif obj.is_way():
                if obj.id in members or any(k in obj.tags for k in keys):
                    writer.add_way(obj)
            elif any(k in obj.tags for k in keys):
                writer.add_relation(obj)
        writer.close()
    except RuntimeError as exc:
        msg = f"cannot read as OSM PBF: {exc}"
        raise InputError(msg, source=str(path)) from None


def graph_from_file(path: Path | str) -> nx.MultiDiGraph:
    """The simplified osmnx street graph of a local OSM file (never downloads anything).

    Only streets are kept (ways tagged ``highway`` minus :data:`EXCLUDED_HIGHWAYS`).
    """
    p = Path(path)
    name = p.name.lower()
    with tempfile.TemporaryDirectory() as tmp:
        if name.endswith(".pbf"):
            xml = Path(tmp) / "streets.osm"
            pbf_to_xml(p, xml)
        else:
            screen_xml(p)
            xml = p
        try:
            graph = ox.graph_from_xml(xml, simplify=False, retain_all=True)
        except (ValueError, KeyError, nx.NetworkXException) as exc:
            msg = f"no usable street network: {exc}"
            raise InputError(msg, source=str(p)) from None
    # drop non-streets before simplifying, so no kept edge swallows a platform or a corridor
    graph.remove_edges_from([(u, v, k) for u, v, k, hw in graph.edges(keys=True, data="highway")
                             if hw is None or _first(hw) in EXCLUDED_HIGHWAYS])
    graph.remove_nodes_from([n for n, degree in graph.degree() if degree == 0])
    if graph.number_of_edges() == 0:
        msg = "no street ways (highway=*) found"
        raise InputError(msg, source=str(p))
    # keep a node wherever the street class or name changes, so each edge has one of each
    return ox.simplify_graph(graph, edge_attrs_differ=["highway", "name"])


def to_undirected(graph: nx.MultiDiGraph) -> nx.MultiGraph:
    """``osmnx.convert.to_undirected`` of ``graph`` (the same graph, edge for edge and key for
    key), with its search for parallel edges of different geometry done in one pass over the
    edges instead of a pandas group per pair of opposite edges."""
    g = graph.copy()
    for u, v, d in g.edges(data=True):
        d["from"] = u
        d["to"] = v
        if "geometry" not in d:  # to compare parallel edges' geometries
            d["geometry"] = shapely.LineString([(g.nodes[u]["x"], g.nodes[u]["y"]),
                                                (g.nodes[v]["x"], g.nodes[v]["y"])])
    _update_edge_keys(g)
    gu = nx.MultiGraph(**g.graph)
    gu.add_nodes_from(g.nodes(data=True))
    gu.add_edges_from(g.edges(keys=True, data=True))
    # each two-way street is now there twice: drop the second of each such pair
    duplicates = set()
    for u1, v1, key1, data1 in gu.edges(keys=True, data=True):
        if (u1, v1, key1) not in duplicates:
            for key2 in gu[u1][v1]:
                if key1 != key2 and \
                        ox.convert._is_duplicate_edge(data1, gu.edges[u1, v1, key2]):
                    duplicates.add((u1, v1, key2))
    gu.remove_edges_from(duplicates)
    return gu


def _update_edge_keys(g: nx.MultiDiGraph) -> None:
    """A new key for the first of edges ``u-v-k``/``v-u-k`` whose geometries differ (two
    streets between the same nodes, not the two directions of one), as osmnx does it: the
    groups visited in osmnx's order, so the keys come out the same."""
    groups: dict[tuple[int, int, int], list[tuple[tuple[int, int, int], object]]] = {}
    for u, v, k, geom in g.edges(keys=True, data="geometry"):
        groups.setdefault((min(u, v), max(u, v), k), []).append(((u, v, k), geom))
    different: list[tuple[int, int, int]] = []
    ordered = sorted((key for key, rows in groups.items() if len(rows) > 1),
                     key=lambda key: "_".join([*sorted([str(key[0]), str(key[1])]),
                                               str(key[2])]))
    for key in ordered:
        rows = [row for row in groups[key] if row[1] is not None]
        for (_, geom1), (_, geom2) in itertools.combinations(rows, 2):
            if not ox.convert._is_same_geometry(geom1, geom2):
                different.append(rows[0][0])
    for u, v, k in set(different):
        new_key = max(list(g[u][v]) + list(g[v][u])) + 1
        g.add_edge(u, v, key=new_key, **g.get_edge_data(u, v, k))
        g.remove_edge(u, v, key=k)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    # Deterministic ids for cut points, stable across loads of the same network.
    with np.errstate(over="ignore"):
        z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return -((z >> np.uint64(2)).astype(np.int64)) - 1


def split_lines(lines: np.ndarray, max_length: float) -> tuple[np.ndarray, np.ndarray]:
    """Cut projected lines into equal pieces no longer than ``max_length``.

    Returns the pieces and, for each, the index of its source line; pieces of one line come
    in order from its start. Vectorised: break points are merged into the vertex arrays and
    the pieces rebuilt in one ``shapely.linestrings`` call.
    """
    lengths = shapely.length(lines)
    n_pieces = np.maximum(1, np.ceil(lengths / max_length - 1e-9)).astype(np.int64)
    coords, line_of = shapely.get_coordinates(lines, return_index=True)
    step = np.hypot(*np.diff(coords, axis=0).T)
    step[line_of[1:] != line_of[:-1]] = 0.0
    dist = np.concatenate([[0.0], np.cumsum(step)])
    first = np.searchsorted(line_of, np.arange(len(lines)))
    dist -= dist[first][line_of]  # distance along its own line

    # break points strictly inside each line, k = 1 .. n-1
    cut_line = np.repeat(np.arange(len(lines)), n_pieces - 1)
    cut_k = np.arange(cut_line.size) - np.repeat(np.cumsum(n_pieces - 1) - (n_pieces - 1),
                                                 n_pieces - 1)
    cut_k += 1
    cut_dist = cut_k * lengths[cut_line] / n_pieces[cut_line]
    cut_xy = shapely.get_coordinates(shapely.line_interpolate_point(lines[cut_line], cut_dist))

    piece_len = lengths / n_pieces
    with np.errstate(divide="ignore", invalid="ignore"):
        vertex_piece = np.where(piece_len[line_of] > 0, dist / piece_len[line_of], 0.0)
    vertex_piece = np.clip(np.floor(vertex_piece + 1e-9).astype(np.int64), 0,
                           n_pieces[line_of] - 1)
    # a vertex exactly on a break belongs to the next piece; the break point closes the previous
    # piece and opens the next one, so it is emitted twice
    all_line = np.concatenate([line_of, cut_line, cut_line])
    all_piece = np.concatenate([vertex_piece, cut_k - 1, cut_k])
    all_dist = np.concatenate([dist, cut_dist, cut_dist])
    all_xy = np.concatenate([coords, cut_xy, cut_xy])
    # order within a piece: by distance, the closing break point after vertices at equal distance
    tiebreak = np.concatenate([np.zeros(len(dist)), np.ones(cut_dist.size), -np.ones(cut_dist.size)])
    order = np.lexsort((tiebreak, all_dist, all_piece, all_line))
    all_line, all_piece, all_xy = all_line[order], all_piece[order], all_xy[order]
    piece_id = np.concatenate([[0], np.cumsum((all_line[1:] != all_line[:-1])
                                              | (all_piece[1:] != all_piece[:-1]))])
    # drop repeated points (a vertex that coincides with a break)
    keep = np.ones(len(all_xy), dtype=bool)
    keep[1:] = ~((piece_id[1:] == piece_id[:-1]) & (all_xy[1:] == all_xy[:-1]).all(axis=1))
    pieces = shapely.linestrings(all_xy[keep], indices=piece_id[keep])
    piece_line = np.repeat(np.arange(len(lines)), n_pieces)
    return pieces, piece_line


def read_streets(path: Path | str, *, max_segment_m: float = 50.0) -> gpd.GeoDataFrame:
    """Street segments (WGS-84) from a local OSM file.

    Keeps highway ways only (minus platforms, construction and the like), merges both
    directions of two-way streets, and cuts every edge into equal pieces of at most
    ``max_segment_m`` metres. Columns: :data:`SEGMENT_COLUMNS` and ``geometry``.
    """
    if max_segment_m <= 0:
        msg = "max_segment_m must be positive"
        raise InputError(msg)
    graph = to_undirected(graph_from_file(path))
    nodes, edges = ox.graph_to_gdfs(graph, nodes=True, edges=True)
    edges = edges.reset_index()
    edges["highway"] = edges["highway"].map(_first)
    centre = shapely.centroid(shapely.box(*edges.total_bounds))
    metric = edges.geometry.to_crs(utm_crs_for(centre.x, centre.y))
    lines = metric.to_numpy()
    pieces, line_idx = split_lines(lines, max_segment_m)

    # node at the start of the geometry: osmnx keeps geometry direction in "from"/"to"
    starts_at_u = (edges["from"].to_numpy() == edges["u"].to_numpy()
                   if "from" in edges else np.ones(len(edges), dtype=bool))
    u = edges["u"].to_numpy(np.int64)
    v = edges["v"].to_numpy(np.int64)
    key = edges["key"].to_numpy(np.int64)
    start_node = np.where(starts_at_u, u, v)
    end_node = np.where(starts_at_u, v, u)
    piece = np.arange(len(pieces)) - np.searchsorted(line_idx, line_idx)
    n_of = np.bincount(line_idx, minlength=len(lines))[line_idx]

    def cut_hash(k: np.ndarray) -> np.ndarray:
        return _splitmix64((u[line_idx] * 1_000_003) ^ (v[line_idx] * 7919)
                           ^ (key[line_idx] << 40) ^ (k << 48))

    node_from = np.where(piece == 0, start_node[line_idx], cut_hash(piece))
    node_to = np.where(piece == n_of - 1, end_node[line_idx], cut_hash(piece + 1))

    out = gpd.GeoDataFrame(
        {
            "osm_way_id": edges["osmid"].map(_first).to_numpy(np.int64)[line_idx],
            "u": u[line_idx],
            "v": v[line_idx],
            "key": key[line_idx],
            "piece": piece,
            "node_from": node_from,
            "node_to": node_to,
            "highway": edges["highway"].astype(str).to_numpy()[line_idx],
            "name": (edges["name"].map(_first) if "name" in edges
                     else pd.Series(None, index=edges.index)).to_numpy(dtype=object)[line_idx],
            "length_m": shapely.length(pieces),
        },
        geometry=gpd.GeoSeries(pieces, crs=metric.crs).to_crs(WGS84),
    )
    log.info("%d street edges cut into %d segments", len(edges), len(out))
    return out
