"""Patrol posts by maximal covering (and set covering) on the street network.

Coverage is sparse: each demand point is reachable from few candidates within walking
distance, so the model is built from index arrays straight into HiGHS (no per-row Python
objects), and the optimality gap is always reported with the solve time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra


@dataclass
class Coverage:
    """Which candidates reach which demand points: a CSR matrix, demand x candidate."""

    matrix: csr_matrix
    weights: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.matrix.shape  # type: ignore[return-value]


@dataclass
class Solution:
    chosen: np.ndarray  # candidate indices
    objective: float  # weighted demand covered
    covered: np.ndarray  # bool per demand point
    gap: float  # relative MIP gap (0 = proven optimal)
    status: str
    build_s: float
    solve_s: float

    @property
    def share(self) -> float:
        return float(self.objective)


def coverage_from_distances(rows: np.ndarray, cols: np.ndarray, n_demand: int,
                            n_candidates: int, weights: np.ndarray) -> Coverage:
    data = np.ones(len(rows), dtype=bool)
    matrix = coo_matrix((data, (rows, cols)), shape=(n_demand, n_candidates)).tocsr()
    matrix.sum_duplicates()
    return Coverage(matrix, np.asarray(weights, dtype="float64"))


def network_coverage(node_from: np.ndarray, node_to: np.ndarray, length: np.ndarray,
                     candidates: np.ndarray, distance: float, weights: np.ndarray,
                     chunk: int = 256) -> Coverage:
    """Coverage of street segments (demand at their midpoints) from candidate graph nodes.

    ``node_from/node_to`` are a segment's end nodes as dense indices; a segment is covered
    from a candidate when a shortest walk to its nearer end plus half its length is at most
    ``distance`` metres. Dijkstra runs from the candidates in chunks with a distance limit.
    """
    n_nodes = int(max(node_from.max(), node_to.max())) + 1
    graph = coo_matrix((length, (node_from, node_to)), shape=(n_nodes, n_nodes)).tocsr()
    half = length / 2
    rows, cols = [], []
    for start in range(0, len(candidates), chunk):
        part = candidates[start:start + chunk]
        d = dijkstra(graph, directed=False, indices=part, limit=distance)
        reach = np.minimum(d[:, node_from], d[:, node_to]) + half  # (chunk, segments)
        c, s = np.nonzero(reach <= distance)
        rows.append(s)
        cols.append(c + start)
    return coverage_from_distances(np.concatenate(rows), np.concatenate(cols), len(length),
                                   len(candidates), weights)


def _highs(time_limit: float, gap: float) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    return h


def _result(h: highspy.Highs, cov: Coverage, n_cand: int, build_s: float, solve_s: float,
            maximise: bool) -> Solution:
    sol = np.asarray(h.getSolution().col_value)
    chosen = np.flatnonzero(sol[:n_cand] > 0.5)
    covered = np.asarray(cov.matrix[:, chosen].sum(axis=1)).ravel() > 0
    info = h.getInfo()
    return Solution(chosen, float(cov.weights[covered].sum()), covered,
                    float(info.mip_gap) if np.isfinite(info.mip_gap) else 0.0,
                    h.modelStatusToString(h.getModelStatus()), build_s, solve_s)


def maximal_covering(cov: Coverage, k: int, *, required: np.ndarray | None = None,
                     time_limit: float = 60.0, gap: float = 1e-4,
                     warm_start: bool = True) -> Solution:
    """Choose ``k`` candidates maximising the weight of demand covered (MCLP).

    The greedy solution is handed to HiGHS as a starting incumbent (``warm_start``)."""
    t0 = time.perf_counter()
    n_dem, n_cand = cov.shape
    useful = np.flatnonzero((cov.weights > 0) & (np.diff(cov.matrix.indptr) > 0))
    sub = cov.matrix[useful]
    h = _highs(time_limit, gap)
    inf = highspy.kHighsInf
    # columns: x (candidates, binary) then y (useful demand, [0, 1])
    h.addVars(n_cand + len(useful), np.zeros(n_cand + len(useful)),
              np.ones(n_cand + len(useful)))
    h.changeColsIntegrality(n_cand, np.arange(n_cand, dtype=np.int32),
                            np.full(n_cand, highspy.HighsVarType.kInteger))
    h.changeColsCost(len(useful), np.arange(n_cand, n_cand + len(useful), dtype=np.int32),
                     cov.weights[useful])
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    # y_i - sum_{j in N(i)} x_j <= 0
    counts = np.diff(sub.indptr)
    starts = (np.concatenate([[0], np.cumsum(counts + 1)[:-1]])).astype(np.int32)
    idx = np.empty(sub.nnz + len(useful), dtype=np.int32)
    val = np.empty(sub.nnz + len(useful))
    first = starts
    idx[first] = n_cand + np.arange(len(useful))
    val[first] = 1.0
    mask = np.ones(len(idx), dtype=bool)
    mask[first] = False
    idx[mask] = sub.indices
    val[mask] = -1.0
    h.addRows(len(useful), np.full(len(useful), -inf), np.zeros(len(useful)), len(idx),
              starts, idx, val)
    h.addRow(float(k), float(k), n_cand, np.arange(n_cand, dtype=np.int32), np.ones(n_cand))
    if required is not None and len(required):
        h.changeColsBounds(len(required), np.asarray(required, dtype=np.int32),
                           np.ones(len(required)), np.ones(len(required)))
    if warm_start and (required is None or not len(required)):
        start = greedy(cov, k)
        x = np.zeros(n_cand + len(useful))
        x[start.chosen] = 1.0
        x[n_cand:] = start.covered[useful]
        if len(start.chosen) < k:  # fill up to k posts
            spare = np.setdiff1d(np.arange(n_cand), start.chosen)[: k - len(start.chosen)]
            x[spare] = 1.0
        incumbent = highspy.HighsSolution()
        incumbent.col_value = x.tolist()
        h.setSolution(incumbent)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    return _result(h, cov, n_cand, build, time.perf_counter() - t1, True)


def set_covering(cov: Coverage, *, time_limit: float = 60.0, gap: float = 1e-4) -> Solution:
    """The fewest candidates covering every coverable demand point with weight."""
    t0 = time.perf_counter()
    n_dem, n_cand = cov.shape
    useful = np.flatnonzero((cov.weights > 0) & (np.diff(cov.matrix.indptr) > 0))
    sub = cov.matrix[useful]
    h = _highs(time_limit, gap)
    h.addVars(n_cand, np.zeros(n_cand), np.ones(n_cand))
    h.changeColsIntegrality(n_cand, np.arange(n_cand, dtype=np.int32),
                            np.full(n_cand, highspy.HighsVarType.kInteger))
    h.changeColsCost(n_cand, np.arange(n_cand, dtype=np.int32), np.ones(n_cand))
    h.addRows(len(useful), np.ones(len(useful)), np.full(len(useful), highspy.kHighsInf),
              sub.nnz, sub.indptr[:-1].astype(np.int32), sub.indices.astype(np.int32),
              np.ones(sub.nnz))
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    return _result(h, cov, n_cand, build, time.perf_counter() - t1, False)


def greedy(cov: Coverage, k: int) -> Solution:
    """The greedy heuristic: add the candidate covering most uncovered weight, k times."""
    t0 = time.perf_counter()
    csc = cov.matrix.tocsc()
    left = cov.weights.copy()
    chosen = []
    for _ in range(k):  # k is small (posts); each step is one sparse product
        gain = csc.T @ left
        j = int(np.argmax(gain))
        if gain[j] <= 0:
            break
        chosen.append(j)
        left[csc[:, j].nonzero()[0]] = 0
    chosen_arr = np.array(chosen, dtype=int)
    covered = np.asarray(cov.matrix[:, chosen_arr].sum(axis=1)).ravel() > 0
    return Solution(chosen_arr, float(cov.weights[covered].sum()), covered, float("nan"),
                    "heuristic", 0.0, time.perf_counter() - t0)
