"""Balanced, contiguous patrol zones on the street network.

Each zone grows from a seed node (a patrol post). A segment joins the zone whose seed is
nearest along the streets plus that zone's offset; raising the offset of a heavy zone hands
its outer streets to its neighbours. With additive offsets every segment's shortest path to
its seed stays inside its zone, so zones are connected along the streets by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, dijkstra

from geo_patrol.planning.network import street_graph


@dataclass
class Zones:
    label: np.ndarray       # zone per segment (-1: not reachable from any seed)
    seeds: np.ndarray       # seed node per zone
    workload: np.ndarray    # per zone
    iterations: int

    @property
    def imbalance(self) -> float:
        """Largest zone's workload over the mean (1.0 is perfectly balanced)."""
        return imbalance(self.workload)


def imbalance(workload: np.ndarray) -> float:
    w = np.asarray(workload, dtype="float64")
    return float(w.max() / w.mean()) if len(w) and w.mean() > 0 else float("nan")


def balanced_zones(node_from: np.ndarray, node_to: np.ndarray, length: np.ndarray,
                   workload: np.ndarray, seeds: np.ndarray, *, iterations: int = 300,
                   tolerance: float = 0.05, graph: csr_matrix | None = None) -> Zones:
    """Split the segments into ``len(seeds)`` zones of about equal ``workload``.

    Offsets move by the zone's relative excess each round (in units of the median reach);
    the most balanced labelling seen is kept. Stops when the largest zone is within
    ``tolerance`` of the mean.
    """
    if graph is None:
        graph = street_graph(node_from, node_to, length)
    dist = dijkstra(graph, directed=False, indices=np.asarray(seeds))
    reach = np.minimum(dist[:, node_from], dist[:, node_to]) + length / 2  # zone x segment
    reachable = np.isfinite(reach).any(axis=0)
    scale = float(np.median(reach[np.isfinite(reach)])) if reachable.any() else 1.0
    k = len(seeds)
    offsets = np.zeros(k)
    best: tuple[float, np.ndarray, np.ndarray] | None = None
    done = 0
    for done in range(1, iterations + 1):
        label = np.argmin(reach + offsets[:, None], axis=0)
        label[~reachable] = -1
        load = np.bincount(label[reachable], weights=workload[reachable], minlength=k)
        score = imbalance(load) if load.mean() > 0 else 1.0
        if best is None or score < best[0]:
            best = (score, label.copy(), load)
        if score - 1 <= tolerance:
            break
        step = 0.5 * scale / np.sqrt(done)
        offsets += step * (load / load.mean() - 1)
    assert best is not None
    return Zones(best[1], np.asarray(seeds), best[2], done)


def zone_components(node_from: np.ndarray, node_to: np.ndarray, label: np.ndarray,
                    zone: int) -> int:
    """How many street-connected pieces a zone has (1 for a contiguous zone)."""
    pick = label == zone
    if not pick.any():
        return 0
    nodes, inv = np.unique(np.concatenate([node_from[pick], node_to[pick]]),
                           return_inverse=True)
    m = int(pick.sum())
    g = coo_matrix((np.ones(m), (inv[:m], inv[m:])), shape=(len(nodes), len(nodes)))
    return int(connected_components(g, directed=False)[0])
