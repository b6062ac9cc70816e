"""Gaps: connected runs of stale street segments within one area (street-graph adjacency)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def find_gaps(seg_id: np.ndarray, node_from: np.ndarray, node_to: np.ndarray,
              area_id: np.ndarray, stale: np.ndarray) -> np.ndarray:
    """A gap key per segment (``""`` when not stale).

    Stale segments sharing a node within the same area form one gap. Its key is the area and
    the smallest segment id in it, so a gap keeps its key across runs while that segment
    stays stale (a gap that splits keeps it on the part holding that segment).
    """
    keys = np.full(len(seg_id), "", dtype=object)
    idx = np.flatnonzero(stale)
    if not len(idx):
        return keys
    area = np.where(area_id[idx] < 0, -1, area_id[idx])
    ends = np.concatenate([np.column_stack([area, node_from[idx]]),
                           np.column_stack([area, node_to[idx]])])
    _, node = np.unique(ends, axis=0, return_inverse=True)
    node = node.ravel()
    a, b = node[: len(idx)], node[len(idx):]
    n = int(node.max()) + 1
    graph = coo_matrix((np.ones(len(idx)), (a, b)), shape=(n, n))
    _, label = connected_components(graph, directed=False)
    comp = label[a]
    order = np.lexsort((seg_id[idx], comp))
    first = np.flatnonzero(np.r_[True, comp[order][1:] != comp[order][:-1]])
    anchor = np.empty(label.max() + 1, dtype="int64")
    anchor[comp[order][first]] = seg_id[idx][order][first]
    keys[idx] = (pd.Series(area).astype(str) + "-" + pd.Series(anchor[comp]).astype(str)
                 ).to_numpy(dtype=object)
    return keys
