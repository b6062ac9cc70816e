"""Patrol loops: from a zone's post through its most urgent stale streets and back, within a
time budget.

An orienteering heuristic: the candidate streets (the zone's segments with demand, most
urgent first) are inserted one by one where they lengthen the walk least per unit of demand,
while the walk (streets walked plus inspection stops at overdue hazards) fits the budget.
Distances come from Dijkstra on the street graph; the route follows the streets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra


@dataclass
class Loop:
    zone: int
    post: int                       # node index
    targets: list[int] = field(default_factory=list)  # segment indices, in walking order
    nodes: list[int] = field(default_factory=list)    # node indices of the whole walk
    length_m: float = 0.0
    minutes: float = 0.0
    weight: float = 0.0
    hazards: int = 0


def _path(pred: np.ndarray, row: int, target: int) -> list[int]:
    """Nodes from the Dijkstra source of ``row`` to ``target`` (inclusive)."""
    out = [target]
    while pred[row, out[-1]] >= 0:
        out.append(int(pred[row, out[-1]]))
    return out[::-1]


def plan_loop(graph: csr_matrix, node_from: np.ndarray, node_to: np.ndarray,
              length: np.ndarray, weight: np.ndarray, hazards: np.ndarray,
              segments: np.ndarray, post: int, zone: int, *, minutes: float,
              speed_m_per_min: float, dwell_min: float, max_targets: int = 60) -> Loop:
    """The loop of one zone. ``segments`` are the zone's segment indices, ``hazards`` the
    overdue hazards per segment (each costs ``dwell_min`` for an inspection stop)."""
    budget = minutes * speed_m_per_min  # metres of walking, stops counted as metres
    # only streets the walk could reach and return from are candidates, most urgent first
    out = dijkstra(graph, directed=False, indices=int(post), limit=budget / 2)
    near = np.minimum(out[node_from[segments]], out[node_to[segments]]) + length[segments]
    pool = segments[(weight[segments] > 0) & (near <= budget / 2)]
    pool = pool[np.argsort(-weight[pool], kind="stable")][:max_targets]
    loop = Loop(zone=zone, post=int(post))
    if not len(pool):
        loop.nodes = [int(post)]
        return loop
    ends = np.unique(np.concatenate([[post], node_from[pool], node_to[pool]]))
    row = {int(n): i for i, n in enumerate(ends)}
    dist, pred = dijkstra(graph, directed=False, indices=ends, return_predecessors=True,
                          limit=budget)
    cost = length + hazards * dwell_min * speed_m_per_min  # walking it, plus its stops

    def d(a: int, b: int) -> float:
        return float(dist[row[a], b])

    # a tour is a list of (segment, entry node, exit node) between the post and back
    tour: list[tuple[int, int, int]] = []
    used = 0.0
    left = set(int(s) for s in pool)
    while left:
        best = None
        stops = [(None, post, post)] + tour + [(None, post, post)]
        for s in left:
            for entry, exit_ in ((int(node_from[s]), int(node_to[s])),
                                 (int(node_to[s]), int(node_from[s]))):
                for i in range(len(stops) - 1):
                    prev_exit, next_entry = stops[i][2], stops[i + 1][1]
                    added = d(prev_exit, entry) + cost[s] + d(exit_, next_entry) \
                        - d(prev_exit, next_entry)
                    if not np.isfinite(added) or used + added > budget:
                        continue
                    ratio = weight[s] / max(added, 1.0)
                    if best is None or ratio > best[0]:
                        best = (ratio, s, entry, exit_, i, added)
        if best is None:
            break
        _, s, entry, exit_, i, added = best
        tour.insert(i, (s, entry, exit_))
        used += added
        left.discard(s)
    nodes = [int(post)]
    for s, entry, exit_ in tour:
        nodes += _path(pred, row[nodes[-1]], entry)[1:] + [exit_]
    nodes += _path(pred, row[nodes[-1]], int(post))[1:]
    loop.targets = [s for s, _, _ in tour]
    loop.nodes = nodes
    walked = _walk_length(graph, nodes)
    loop.length_m = walked
    loop.hazards = int(hazards[loop.targets].sum()) if loop.targets else 0
    loop.minutes = walked / speed_m_per_min + loop.hazards * dwell_min
    loop.weight = float(weight[loop.targets].sum()) if loop.targets else 0.0
    return loop


def _walk_length(graph: csr_matrix, nodes: list[int]) -> float:
    """Length of a node walk along street edges (either direction)."""
    total = 0.0
    for a, b in zip(nodes, nodes[1:]):
        if a == b:
            continue
        total += float(graph[a, b] or graph[b, a])
    return total


def walked_segments(nodes: list[int], node_from: np.ndarray, node_to: np.ndarray
                    ) -> np.ndarray:
    """Indices of the segments a node walk passes along."""
    pairs = {(min(a, b), max(a, b)) for a, b in zip(nodes, nodes[1:]) if a != b}
    lo = np.minimum(node_from, node_to)
    hi = np.maximum(node_from, node_to)
    key = lo.astype(np.int64) * (int(hi.max()) + 1) + hi
    want = np.array([p[0] * (int(hi.max()) + 1) + p[1] for p in pairs], dtype=np.int64)
    return np.flatnonzero(np.isin(key, want))
