"""The street network as a graph for planning: dense node indices, positions, and a sparse
matrix of walking lengths."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

T = TypeVar("T")


def dense_nodes(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graph node ids as 0..n-1: (node ids, from index, to index)."""
    ids, inverse = np.unique(np.concatenate([frame["node_from"], frame["node_to"]]),
                             return_inverse=True)
    n = len(frame)
    return ids, inverse[:n], inverse[n:]


def node_points(frame: gpd.GeoDataFrame) -> dict[int, tuple[float, float]]:
    """WGS-84 positions of the segment end nodes (from the segments' lines)."""
    first = shapely.get_point(frame.geometry.values, 0)
    last = shapely.get_point(frame.geometry.values, -1)
    out: dict[int, tuple[float, float]] = {}
    for a, b, p, q in zip(frame["node_from"], frame["node_to"], first, last):
        out[int(a)] = (p.x, p.y)
        out[int(b)] = (q.x, q.y)
    return out


def street_graph(node_from: np.ndarray, node_to: np.ndarray, length: np.ndarray) -> csr_matrix:
    """Walking lengths between nodes (one entry per node pair: the shortest of parallel
    streets), for undirected shortest paths."""
    lo, hi = np.minimum(node_from, node_to), np.maximum(node_from, node_to)
    edges = pd.DataFrame({"a": lo, "b": hi, "w": length}).groupby(["a", "b"], sort=False)["w"].min()
    n = int(max(node_from.max(), node_to.max())) + 1
    a = edges.index.get_level_values(0).to_numpy()
    b = edges.index.get_level_values(1).to_numpy()
    return coo_matrix((edges.to_numpy(), (a, b)), shape=(n, n)).tocsr()


def walking_distances(segs: Any, x: float, y: float, px: np.ndarray, py: np.ndarray
                      ) -> np.ndarray:
    """Metres on foot along the streets ``segs`` (``node_from, node_to, length_m`` and
    metric lines ``geom``) from the point (x, y) to each point (px, py): each point joins its
    nearest street and walks along it to either end; on the same street, straight along it.
    ``inf`` where the streets do not connect them."""
    return travel_costs(segs, x, y, px, py)


def travel_costs(segs: Any, x: float, y: float, px: np.ndarray, py: np.ndarray,
                 pace: np.ndarray | None = None) -> np.ndarray:
    """As :func:`walking_distances`, each metre of a segment costing its ``pace`` (seconds
    a metre, one per segment: travel times in a mode; ``None``: 1, metres). The way from a
    point to its street costs that street's pace."""
    return Ways(segs, x, y, px, py).costs(pace)


class StreetGraph:
    """The streets ``segs`` (``node_from, node_to, length_m``, metric lines ``geom``) as a
    graph, made once: its nodes, one edge per node pair (parallel streets: the cheapest in
    the mode), a search tree over the lines and the connected parts. A weighing of its edges
    (one pace per segment) is kept by name (:meth:`weighed`), so a city's graph read once
    serves every later search."""

    def __init__(self, segs: Any) -> None:
        self.n = len(segs)
        self.empty = segs.empty
        if self.empty:
            return
        nodes, inverse = np.unique(np.concatenate([segs["node_from"], segs["node_to"]]),
                                   return_inverse=True)
        n = self.n
        self.inverse, self.nodes = inverse, len(nodes)
        lo = np.minimum(inverse[:n], inverse[n:]).astype(np.int64)
        hi = np.maximum(inverse[:n], inverse[n:]).astype(np.int64)
        pairs, self.pair_of = np.unique(lo * self.nodes + hi, return_inverse=True)
        self.a, self.b = pairs // self.nodes, pairs % self.nodes
        self.length = segs["length_m"].to_numpy(float)
        self.highway = (segs["highway"].to_numpy(object) if "highway" in segs
                        else np.full(n, None, object))
        self.lines = segs["geom"].to_numpy()
        self.tree = shapely.STRtree(self.lines)
        self._kept: dict[Any, Any] = {}
        self._lock = threading.Lock()
        joins = coo_matrix((np.ones(len(self.a)), (self.a, self.b)),
                           shape=(self.nodes, self.nodes)).tocsr()
        _, self.part = connected_components(joins, directed=False)

    def kept(self, key: Any, make: Callable[[], T]) -> T:
        """What ``make`` gives, made once for this graph and kept under ``key`` (a pace per
        segment in a mode, a weighed graph)."""
        if key not in self._kept:
            made = make()
            with self._lock:
                self._kept.setdefault(key, made)
        return self._kept[key]

    def weighed(self, key: Any, pace: np.ndarray | None) -> csr_matrix:
        """The graph, a metre of each segment costing its ``pace`` (``None``: 1), kept under
        ``key`` (``None``: not kept)."""
        def make() -> csr_matrix:
            paces = np.ones(self.n) if pace is None else np.asarray(pace, float)
            weight = np.full(len(self.a), np.inf)
            np.minimum.at(weight, self.pair_of, self.length * paces)
            return coo_matrix((weight, (self.a, self.b)),
                              shape=(self.nodes, self.nodes)).tocsr()

        return make() if key is None else self.kept(("weighed", key), make)

    def attach(self, qx: np.ndarray, qy: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each point's nearest segment, and the metres along it to each end (plus the way
        on to it)."""
        pts = shapely.points(qx, qy)
        near = self.tree.query_nearest(pts, all_matches=False)[1]
        line = self.lines[near]
        along = shapely.line_locate_point(line, pts)
        off = shapely.distance(pts, line)
        length = shapely.length(line)
        return near, off + along, off + (length - along)


class Ways:
    """The ways along the streets from one point (x, y) to many points (px, py), every
    point's place on its nearest street worked out once, so that the costs in several modes
    (:meth:`costs`, one pace per segment each) only search the graph. ``streets`` is a
    :class:`StreetGraph` (made once and kept), or the segments to make one of."""

    def __init__(self, streets: Any, x: float, y: float, px: np.ndarray, py: np.ndarray
                 ) -> None:
        self.graph = streets if isinstance(streets, StreetGraph) else StreetGraph(streets)
        self.px, self.py = np.asarray(px, float), np.asarray(py, float)
        self.x, self.y = float(x), float(y)
        self.empty = not len(self.px) or self.graph.empty
        if self.empty:
            return
        self.inc, self.inc_a, self.inc_b = self.graph.attach(np.array([self.x]),
                                                             np.array([self.y]))
        self.seg_p, self.to_a, self.to_b = self.graph.attach(self.px, self.py)

    def connected(self) -> np.ndarray:
        """Whether the streets join each point to (x, y) at all."""
        if self.empty:
            return np.zeros(len(self.px), bool)
        g = self.graph
        return g.part[g.inverse[self.seg_p]] == g.part[g.inverse[self.inc[0]]]

    def costs(self, pace: np.ndarray | None = None, which: np.ndarray | None = None, *,
              key: Any = None, limit: float = np.inf) -> np.ndarray:
        """The cost to each point (of ``which``, a boolean mask; all by default), a metre of
        segment costing its ``pace`` (``None``: 1, metres; the graph so weighed is kept
        under ``key``); ``inf`` where the streets do not connect them, or where the way
        along the graph costs more than ``limit`` (the search stops there)."""
        pick = np.ones(len(self.px), bool) if which is None else np.asarray(which, bool)
        if self.empty or not pick.any():
            return np.full(int(pick.sum()), np.inf)
        g = self.graph
        n, inverse = g.n, g.inverse
        pace = np.ones(n) if pace is None else np.asarray(pace, float)
        graph = g.weighed(key, pace)
        inc = self.inc[0]
        inc_a, inc_b = self.inc_a * pace[self.inc], self.inc_b * pace[self.inc]
        dist = dijkstra(graph, directed=False, indices=[inverse[inc], inverse[n + inc]],
                        limit=limit)
        seg_p = self.seg_p[pick]
        to_a, to_b = self.to_a[pick] * pace[seg_p], self.to_b[pick] * pace[seg_p]
        fa, fb = inverse[seg_p], inverse[n + seg_p]
        cost = np.minimum.reduce([
            to_a + dist[0, fa] + inc_a[0], to_a + dist[1, fa] + inc_b[0],
            to_b + dist[0, fb] + inc_a[0], to_b + dist[1, fb] + inc_b[0]])
        px, py = self.px[pick], self.py[pick]
        same = seg_p == inc  # on the point's own street: straight along it
        return np.where(same, np.minimum(cost, np.hypot(px - self.x, py - self.y) * pace[inc]),
                        cost)
