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
import shapely
from scipy.sparse import coo_matrix, csc_matrix, csr_matrix
from scipy.sparse.csgraph import dijkstra

from geo_patrol.planning.network import street_graph


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
                     chunk: int = 256, graph: csr_matrix | None = None,
                     xy: np.ndarray | None = None,
                     wanted: np.ndarray | None = None) -> Coverage:
    """Coverage of street segments (demand at their midpoints) from candidate graph nodes.

    ``node_from/node_to`` are a segment's end nodes as dense indices; a segment is covered
    from a candidate when a shortest walk to its nearer end plus half its length is at most
    ``distance`` metres. Dijkstra runs from the candidates in chunks with a distance limit.

    With the nodes' positions in metres (``xy``, one row per node), the candidates go in
    tiles and each tile's walks run on the streets around it only: a walk of at most
    ``distance`` never leaves the circle of that radius (a street is never shorter than the
    straight line between its ends; a fifth more is kept for the projection), so the
    coverage is the same, without a row of the whole network per candidate.

    ``wanted`` (a bool per segment): only those segments' rows are filled, the others left
    empty. Posts maximise the weight covered, so the segments of no weight change neither
    the optimum nor the posts chosen (see :func:`lagrangian_bound`), and on a district's
    streets they are about half the pairs.
    """
    if graph is None:
        graph = street_graph(node_from, node_to, length)
    half = np.asarray(length, dtype="float64") / 2
    # the segments at each node (both ends), as CSR: those of node n are
    # ``at_node[first[n]:first[n + 1]]``
    own = np.arange(len(length)) if wanted is None else np.flatnonzero(wanted)
    ends = np.concatenate([node_from[own], node_to[own]]).astype(np.int64)
    order = np.argsort(ends, kind="stable")
    at_node = np.concatenate([own] * 2)[order]
    first = np.searchsorted(ends[order], np.arange(graph.shape[0] + 1))
    rows, cols = [], []
    sub, around = graph, None
    for part, start, nodes in _chunks(np.asarray(candidates), chunk, distance, xy):
        if nodes is not around:  # the chunks of a tile share its streets: cut them once
            sub, around = (graph if nodes is None else graph[nodes][:, nodes]), nodes
        index = part if nodes is None else np.searchsorted(nodes, part)
        d = dijkstra(sub, directed=False, indices=index, limit=distance)
        # only the nodes reached (few of the city's), each with the segments it ends: covered
        # from the candidate when one of its ends is reached within the distance less half
        # its length (the same test as the nearer end's, pair by pair)
        c, n = np.nonzero(d <= distance)
        reached = d[c, n]
        if nodes is not None:
            n = nodes[n]
        many = first[n + 1] - first[n]
        pos = np.repeat(first[n] - np.cumsum(many) + many, many) + np.arange(many.sum())
        seg = at_node[pos]
        keep = np.repeat(reached, many) + half[seg] <= distance
        rows.append(seg[keep])
        cols.append(start[np.repeat(c, many)[keep]])
    return coverage_from_distances(np.concatenate(rows), np.concatenate(cols), len(length),
                                   len(candidates), weights)


def _chunks(candidates: np.ndarray, chunk: int, distance: float, xy: np.ndarray | None
            ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """The candidates in chunks: each chunk's nodes, their positions among ``candidates``,
    and the graph nodes its walks may reach (sorted; ``None``: the whole graph)."""
    position = np.arange(len(candidates))
    if xy is None:
        return [(candidates[i:i + chunk], position[i:i + chunk], None)
                for i in range(0, len(candidates), chunk)]
    reach = 1.2 * distance + 1.0
    side = max(2.0 * reach, 1.0)  # a tile: its walks reach the tiles around it at most
    cell = np.floor(xy[candidates] / side).astype(np.int64)
    order = np.lexsort((cell[:, 0], cell[:, 1]))
    key = cell[order]
    breaks = np.flatnonzero(np.any(np.diff(key, axis=0) != 0, axis=1)) + 1
    out = []
    for group in np.split(order, breaks):
        lo = xy[candidates[group]].min(axis=0) - reach
        hi = xy[candidates[group]].max(axis=0) + reach
        nodes = np.flatnonzero(np.all((xy >= lo) & (xy <= hi), axis=1))
        for i in range(0, len(group), chunk):
            part = group[i:i + chunk]
            out.append((candidates[part], position[part], nodes))
    return out


def node_metres(node_from: np.ndarray, node_to: np.ndarray, lines: np.ndarray) -> np.ndarray:
    """The positions of the graph's nodes in metres (east, north) from the segments'
    WGS-84 lines (a node is where its segments start or end), on a plane tangent at their
    middle."""
    n = int(max(node_from.max(), node_to.max())) + 1 if len(node_from) else 0
    lonlat = np.zeros((n, 2))
    lonlat[node_from] = shapely.get_coordinates(shapely.get_point(lines, 0))
    lonlat[node_to] = shapely.get_coordinates(shapely.get_point(lines, -1))
    lat0 = np.radians(float(np.median(lonlat[:, 1]))) if n else 0.0
    radius = 6_371_008.8
    return np.column_stack([np.radians(lonlat[:, 0]) * radius * np.cos(lat0),
                            np.radians(lonlat[:, 1]) * radius])


class _SilentHighs(highspy.Highs):
    """HiGHS with its log off from its first call: highspy's constructor enables callbacks,
    and that first call prints the version banner unless the log is already off."""

    def enableCallbacks(self) -> highspy.HighsStatus:  # noqa: N802  (highspy's name)
        self.setOptionValue("output_flag", False)
        return super().enableCallbacks()


def milp_solver(time_limit_s: float, rel_gap: float) -> highspy.Highs:
    """A silent HiGHS solver for the planning MILPs (posts, set covering, rotas): it stops
    after ``time_limit_s`` seconds or within ``rel_gap`` of the optimum, and its random seed
    is fixed, so the same model gives the same answer."""
    h = _SilentHighs()
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(rel_gap))
    h.setOptionValue("random_seed", 0)
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

    First a Lagrangian relaxation (:func:`lagrangian_bound`) gives good posts and an upper
    bound within a second or two; when their gap is already within ``gap`` that is the
    answer. Otherwise the sparse MILP goes to HiGHS with those posts as its incumbent, for at
    most ``time_limit`` seconds, and the reported gap uses the better of both bounds.
    ``required`` candidates are always chosen (then the MILP is solved directly).
    """
    t0 = time.perf_counter()
    n_dem, n_cand = cov.shape
    fixed = required is not None and len(required) > 0
    bound = None
    if warm_start and not fixed:
        bound = lagrangian_bound(cov, k, target_gap=gap)
        if bound.gap <= gap or time.perf_counter() - t0 >= time_limit:
            sol = bound.best
            return Solution(sol.chosen, sol.objective, sol.covered, bound.gap,
                            "Optimal within gap (Lagrangian bound)" if bound.gap <= gap
                            else "Time limit reached", time.perf_counter() - t0, 0.0)
    useful = np.flatnonzero((cov.weights > 0) & (np.diff(cov.matrix.indptr) > 0))
    sub = cov.matrix[useful]
    h = milp_solver(max(time_limit - (time.perf_counter() - t0), 1.0), gap)
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
    if fixed:
        h.changeColsBounds(len(required), np.asarray(required, dtype=np.int32),
                           np.ones(len(required)), np.ones(len(required)))
    if bound is not None:
        x = np.zeros(n_cand + len(useful))
        x[bound.best.chosen] = 1.0
        x[n_cand:] = bound.best.covered[useful]
        incumbent = highspy.HighsSolution()
        incumbent.col_value = x.tolist()
        h.setSolution(incumbent)
    build = time.perf_counter() - t0
    t1 = time.perf_counter()
    h.run()
    sol = _result(h, cov, n_cand, build, time.perf_counter() - t1, True)
    if bound is not None:
        upper = min(bound.upper, float(h.getInfo().mip_dual_bound))
        if bound.best.objective > sol.objective:
            sol = Solution(bound.best.chosen, bound.best.objective, bound.best.covered, 0.0,
                           sol.status, sol.build_s, sol.solve_s)
        sol.gap = max(0.0, (upper - sol.objective) / upper) if upper > 0 else 0.0
    return sol


def set_covering(cov: Coverage, *, time_limit: float = 60.0, gap: float = 1e-4) -> Solution:
    """The fewest candidates covering every coverable demand point with weight."""
    t0 = time.perf_counter()
    n_dem, n_cand = cov.shape
    useful = np.flatnonzero((cov.weights > 0) & (np.diff(cov.matrix.indptr) > 0))
    sub = cov.matrix[useful]
    h = milp_solver(time_limit, gap)
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


def swap_search(cov: Coverage, chosen: np.ndarray, k: int, max_rounds: int = 500, *,
                a_csc: csc_matrix | None = None) -> Solution:
    """Improve a set of ``k`` posts by the best single swap (one out, one in) until none helps.

    Every round scores all swaps at once with sparse products: the gain of adding ``a`` is the
    uncovered weight it reaches, the loss of dropping ``r`` the weight only ``r`` covers, and
    the weight covered only by ``r`` that ``a`` also reaches is added back. ``a_csc``: the
    coverage matrix as float64 CSC, when the caller has it already.
    """
    t0 = time.perf_counter()
    if a_csc is None:
        a_csc = cov.matrix.tocsc().astype("float64")
    w = cov.weights
    chosen = [int(j) for j in chosen]
    n_cand = cov.shape[1]
    if len(chosen) < k:  # top up with the best remaining candidates
        spare = np.setdiff1d(np.arange(n_cand), chosen)
        chosen += spare[np.argsort(-(a_csc[:, spare].T @ w))[: k - len(chosen)]].tolist()
    for _ in range(max_rounds):
        sel = np.asarray(chosen)
        count = np.asarray(a_csc[:, sel].sum(axis=1)).ravel()
        gain = a_csc.T @ (w * (count == 0))                      # per candidate
        only = w * (count == 1)
        loss = a_csc[:, sel].T @ only                            # per chosen post
        # only the demand the chosen reach can add back: their rows alone
        near = np.flatnonzero(count > 0)
        part = a_csc[near]
        back = (part.T.multiply(only[near]) @ part[:, sel]).toarray()  # candidate x chosen
        score = gain[:, None] - loss[None, :] + back
        score[sel, :] = -np.inf
        a, r = np.unravel_index(int(np.argmax(score)), score.shape)
        if score[a, r] <= 1e-9:
            break
        chosen[r] = int(a)
    sel = np.asarray(chosen, dtype=int)
    covered = np.asarray(cov.matrix[:, sel].sum(axis=1)).ravel() > 0
    return Solution(sel, float(w[covered].sum()), covered, float("nan"), "heuristic", 0.0,
                    time.perf_counter() - t0)


@dataclass
class Bound:
    """A Lagrangian upper bound on the covered weight and the best posts found meanwhile."""

    upper: float
    best: Solution
    iterations: int
    seconds: float

    @property
    def gap(self) -> float:
        return max(0.0, (self.upper - self.best.objective) / self.upper) if self.upper else 0.0


def lagrangian_bound(cov: Coverage, k: int, *, iterations: int = 1500,
                     target_gap: float = 0.0, patience: int = 20, pool: int = 6) -> Bound:
    """Lagrangian relaxation of MCLP by subgradient steps.

    Relaxing ``y_i <= sum_j a_ij x_j`` with multipliers ``lambda_i`` splits the problem: each
    demand point keeps ``max(0, w_i - lambda_i)`` and the ``k`` candidates with the largest
    ``sum_i a_ij lambda_i`` are chosen. That value bounds the optimum from above; the chosen
    candidates are also a feasible answer, the best of which (improved by
    :func:`swap_search`) bounds it from below.

    With a ``target_gap``, the greedy posts improved by :func:`swap_search` bound it from
    below from the start: the steps stop once the upper bound is within the gap of them
    (on a district's streets they are near the optimum long before the relaxation's own
    choices are), and they are one of the answers kept.
    """
    t0 = time.perf_counter()
    whole = cov
    # a demand point of no weight keeps a multiplier of 0 (``lam`` stays within [0, w]) and
    # adds nothing to any sum below nor to what posts cover: the steps and the local search
    # run on the points of weight alone (on a district's streets, about half of them)
    live = np.flatnonzero(cov.weights > 0)
    if len(live) < len(cov.weights):
        cov = Coverage(cov.matrix[live], cov.weights[live])
    a = cov.matrix.tocsr().astype("float64")
    at = a.T.tocsr()
    w = cov.weights
    lam = w * 0.5
    a_csc = a.tocsc()
    floor = swap_search(cov, greedy(cov, k).chosen, k, a_csc=a_csc) if target_gap > 0 else None
    known = floor.objective if floor is not None else -1.0
    best_obj, upper = -1.0, float("inf")
    found: dict[bytes, tuple[float, np.ndarray]] = {}  # distinct good sets, for local search
    theta, stall = 2.0, 0
    done = 0
    for done in range(1, iterations + 1):
        c = at @ lam
        top = np.argpartition(-c, k - 1)[:k] if k < len(c) else np.arange(len(c))
        y = w > lam
        value = float(np.maximum(w - lam, 0).sum() + c[top].sum())
        if value < upper - 1e-9:
            upper, stall = value, 0
        else:
            stall += 1
            if stall >= patience:
                theta, stall = theta / 2, 0
        # how many of the chosen reach each demand point (``a @ x`` for x the chosen),
        # counted from the chosen candidates' own rows
        reach = np.bincount(at[top].indices, minlength=a.shape[0]).astype("float64")
        obj = float(w[reach > 0].sum())
        key = np.sort(top).tobytes()
        if key not in found and (len(found) < pool or obj > min(v[0] for v in found.values())):
            found[key] = (obj, top.copy())
            if len(found) > pool:
                del found[min(found, key=lambda q: found[q][0])]
        best_obj = max(best_obj, obj)
        if upper - max(best_obj, known) <= target_gap * upper or theta < 1e-4:
            break
        g = y - reach
        norm = float((g * g).sum())  # not BLAS: its threads only spin for a vector this size
        if norm == 0:
            break
        lam = np.clip(lam + theta * (upper - best_obj) / norm * g, 0.0, w)
    starts = [v[1] for v in found.values()] or [greedy(cov, k).chosen]
    swapped = [swap_search(cov, start, k, a_csc=a_csc) for start in starts]
    best = max(swapped + ([floor] if floor is not None else []), key=lambda sol: sol.objective)
    if cov is not whole:  # what the posts cover among all the points
        covered = np.asarray(whole.matrix[:, best.chosen].sum(axis=1)).ravel() > 0
        best = Solution(best.chosen, float(whole.weights[covered].sum()), covered, best.gap,
                        best.status, best.build_s, best.solve_s)
    return Bound(upper, best, done, time.perf_counter() - t0)
