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
    # a walk from the post and back within the budget never goes further than half of it,
    # so its shortest paths are searched in that ball alone (the same paths, a smaller search)
    ball = np.flatnonzero(np.isfinite(out))
    local = np.full(graph.shape[0], -1, dtype=np.int64)
    local[ball] = np.arange(len(ball))
    sub = graph[ball][:, ball]
    sub = (sub + sub.T).tocsr()  # both ways stored: searched as directed
    start = int(local[post])
    head, tail = local[node_from], local[node_to]
    legs = _Legs(sub, budget, 1 + 2 * len(pool))
    legs.add([start])
    cost = length + hazards * dwell_min * speed_m_per_min  # walking it, plus its stops
    # a tour is a list of (segment, entry node, exit node) between the post and back; each
    # step inserts the street (either way round, at any place) with the most demand per
    # metre added, evaluated for all at once. The streets are walked both ways alike, so
    # every distance it needs is one from a node of the tour (the post, its streets' ends):
    # the shortest paths are searched from those alone, as they join it
    tour: list[tuple[int, int, int]] = []
    used = 0.0
    left = np.asarray(pool, dtype=np.int64)
    while len(left):
        exits = np.array([start] + [t[2] for t in tour])      # before each gap
        entries = np.array([t[1] for t in tour] + [start])    # after each gap
        rows_before, rows_after = legs.rows(exits), legs.rows(entries)
        entry = np.stack([head[left], tail[left]])    # [way, street]
        exit_ = np.stack([tail[left], head[left]])
        there = legs.dist[rows_before[None, None, :], entry[:, :, None]]  # [way, street, gap]
        back = legs.dist[rows_after[None, None, :], exit_[:, :, None]]
        added = (there + cost[left][None, :, None] + back
                 - legs.dist[rows_before, entries][None, None, :])
        ratio = weight[left][None, :, None] / np.maximum(added, 1.0)
        ratio[~np.isfinite(added) | (used + added > budget)] = -np.inf
        way, k, gap = np.unravel_index(int(np.argmax(ratio)), ratio.shape)
        if not np.isfinite(ratio[way, k, gap]):
            break
        tour.insert(int(gap), (int(left[k]), int(entry[way, k]), int(exit_[way, k])))
        legs.add([int(entry[way, k]), int(exit_[way, k])])
        used += float(added[way, k, gap])
        left = np.delete(left, k)
    row = legs.row
    pred = legs.pred
    walk = [start]
    for _s, entry, exit_ in tour:
        walk += _path(pred, row[walk[-1]], entry)[1:] + [exit_]
    walk += _path(pred, row[walk[-1]], start)[1:]
    nodes = [int(n) for n in ball[walk]]
    loop.targets = [s for s, _, _ in tour]
    loop.nodes = nodes
    walked = _walk_length(graph, nodes)
    loop.length_m = walked
    loop.hazards = int(hazards[loop.targets].sum()) if loop.targets else 0
    loop.minutes = walked / speed_m_per_min + loop.hazards * dwell_min
    loop.weight = float(weight[loop.targets].sum()) if loop.targets else 0.0
    return loop


class _Legs:
    """Shortest paths (within ``budget``) from the nodes added so far, one row each."""

    def __init__(self, sub: csr_matrix, budget: float, most: int) -> None:
        self.sub, self.budget = sub, budget
        self.row: dict[int, int] = {}
        self.dist = np.full((most, sub.shape[0]), np.inf)
        self.pred = np.full((most, sub.shape[0]), -9999, dtype=np.int32)

    def add(self, nodes: list[int]) -> None:
        new = [n for n in dict.fromkeys(nodes) if n not in self.row]
        if not new:
            return
        d, p = dijkstra(self.sub, directed=True, indices=new, return_predecessors=True,
                        limit=self.budget)
        at = len(self.row)
        self.dist[at:at + len(new)], self.pred[at:at + len(new)] = d, p
        for i, n in enumerate(new):
            self.row[n] = at + i

    def rows(self, nodes: np.ndarray) -> np.ndarray:
        return np.array([self.row[int(n)] for n in nodes], dtype=np.int64)


def _walk_length(graph: csr_matrix, nodes: list[int]) -> float:
    """Length of a node walk along street edges (either direction), summed in walking order."""
    walk = np.asarray(nodes, dtype=np.int64)
    a, b = walk[:-1], walk[1:]
    a, b = a[a != b], b[a != b]
    if not len(a):
        return 0.0
    ahead = np.asarray(graph[a, b]).ravel()
    back = np.asarray(graph[b, a]).ravel()
    return float(sum(np.where(ahead != 0, ahead, back).tolist()))


def walked_segments(nodes: list[int], node_from: np.ndarray, node_to: np.ndarray
                    ) -> np.ndarray:
    """Indices of the segments a node walk passes along."""
    pairs = {(min(a, b), max(a, b)) for a, b in zip(nodes, nodes[1:]) if a != b}
    lo = np.minimum(node_from, node_to)
    hi = np.maximum(node_from, node_to)
    key = lo.astype(np.int64) * (int(hi.max()) + 1) + hi
    want = np.array([p[0] * (int(hi.max()) + 1) + p[1] for p in pairs], dtype=np.int64)
    return np.flatnonzero(np.isin(key, want))
