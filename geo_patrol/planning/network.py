"""The street network as a graph for planning: dense node indices, positions, and a sparse
matrix of walking lengths."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix, csr_matrix


def dense_nodes(frame: gpd.GeoDataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Graph node ids as 0..n-1: (node ids, from index, to index)."""
    ids, inverse = np.unique(np.concatenate([frame["node_from"], frame["node_to"]]),
                             return_inverse=True)
    n = len(frame)
    return ids, inverse[:n], inverse[n:]


def node_points(frame: gpd.GeoDataFrame) -> dict[int, tuple[float, float]]:
    """WGS-84 positions of the segment end nodes (from the segments' lines)."""
    import shapely

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
