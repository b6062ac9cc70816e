"""Where crime concentrates: incidents on street segments, the concentration curve, hot spots
by Getis–Ord Gi* with permutation inference, a kernel density surface and the test of
whether hot spots predict (hit rate, PAI and PEI on held-out weeks against baselines).

Pure functions of arrays in a metric CRS: no database here. Segments are the pieces of the
street network (``node_from``/``node_to`` name their ends); incidents are points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import shapely
from sklearn.neighbors import KernelDensity

#: Shares of the street length at which concentration and prediction are reported.
LENGTH_SHARES = (0.01, 0.05, 0.10)


def snap(x: np.ndarray, y: np.ndarray, lines: np.ndarray, max_m: float) -> np.ndarray:
    """Index of the nearest of ``lines`` (shapely array) for each point within ``max_m``,
    -1 for points farther from every street (set-based: one STRtree query)."""
    out = np.full(len(x), -1, dtype=np.int64)
    if not len(x) or not len(lines):
        return out
    tree = shapely.STRtree(lines)
    pts = shapely.points(np.column_stack([x, y]))
    (p, s), _ = tree.query_nearest(pts, max_distance=max_m, return_distance=True,
                                   all_matches=False)
    out[p] = s
    return out


def counts_on(index: np.ndarray, n: int) -> np.ndarray:
    """Incidents per segment from :func:`snap`'s indices (unsnapped ones dropped)."""
    return np.bincount(index[index >= 0], minlength=n).astype(np.float64)


@dataclass(frozen=True)
class Concentration:
    """Share of incidents on the most affected share of street length (Weisburd's law)."""

    length_share: np.ndarray  # cumulative, segments ranked by incident density
    incident_share: np.ndarray
    at: dict[float, float]  # length share -> incident share
    segments_with_any: float  # share of street length with at least one incident
    gini: float


def concentration(counts: np.ndarray, lengths: np.ndarray,
                  shares: tuple[float, ...] = LENGTH_SHARES) -> Concentration:
    """The concentration curve: segments ranked by incidents per metre."""
    total, length = float(counts.sum()), float(lengths.sum())
    if total == 0 or length == 0:
        zero = np.zeros(1)
        return Concentration(zero, zero, {s: 0.0 for s in shares}, 0.0, 0.0)
    order = np.lexsort((lengths, -(counts / np.maximum(lengths, 1e-9))))
    cl = np.concatenate([[0.0], np.cumsum(lengths[order]) / length])
    ci = np.concatenate([[0.0], np.cumsum(counts[order]) / total])
    at = {s: float(np.interp(s, cl, ci)) for s in shares}
    gini = float(2 * (np.trapezoid(ci, cl) - 0.5))
    return Concentration(cl, ci, at, float(lengths[counts > 0].sum() / length), gini)


def network_neighbours(node_from: np.ndarray, node_to: np.ndarray, order: int = 1
                       ) -> sp.csr_matrix:
    """Binary adjacency of segments sharing an end node, up to ``order`` steps along the
    network, with each segment its own neighbour (the Gi* star)."""
    n = len(node_from)
    nodes, inv = np.unique(np.concatenate([node_from, node_to]), return_inverse=True)
    rows = np.concatenate([np.arange(n), np.arange(n)])
    inc = sp.csr_matrix((np.ones(2 * n, dtype=np.float32), (rows, inv)), shape=(n, len(nodes)))
    step = (inc @ inc.T).tocsr()
    step.data[:] = 1.0
    reach = step
    for _ in range(order - 1):
        reach = reach @ step
        reach.data[:] = 1.0
    reach = reach.tocsr()
    reach.setdiag(1.0)
    reach.eliminate_zeros()
    return reach.astype(np.float64).tocsr()


@dataclass(frozen=True)
class HotSpots:
    """Gi* per segment: the statistic, its z-score against the conditional permutations, the
    pseudo p-value, and the hot and cold segments significant after the false discovery rate
    correction (Benjamini–Hochberg over all segments)."""

    g: np.ndarray
    z: np.ndarray  # against the permutations' mean and spread
    z_norm: np.ndarray  # the analytical z-score (esda), for reference
    p_sim: np.ndarray  # pseudo p-value of the permutations (folded, as esda's)
    p: np.ndarray  # the exact conditional-randomisation p-value (two-sided)
    hot: np.ndarray  # bool
    cold: np.ndarray  # bool
    permutations: int
    alpha: float


def _conditional_sums(y: np.ndarray, card: np.ndarray, permutations: int,
                      rng: np.random.Generator):
    """For each permutation, the sum for every observation ``i`` of ``card[i]`` values drawn
    without replacement from the other observations (``y_i`` held fixed): the conditional
    randomisation of PySAL's ``crand``, vectorised over observations. As there, one draw of
    indices per permutation serves every observation (index ``i`` itself is skipped by
    taking the next value for draws at or above it)."""
    n = len(y)
    kmax = int(card.max()) if n else 0
    y_next = np.append(y[1:], 0.0)
    # observation i sums y[ids[j]] over j < card[i], with y_next instead where ids[j] >= i:
    # a prefix sum of the draws, plus the differences of the draws at or above i, read for
    # the observations of each cardinality from the draws' suffix sums (no n x kmax array)
    groups = [(k, np.flatnonzero(card == k)) for k in np.unique(card) if k > 0]
    for _ in range(permutations):
        ids = rng.choice(n - 1, size=kmax, replace=False)
        drawn = y[ids]
        dif = y_next[ids] - drawn
        sums = np.concatenate([[0.0], np.cumsum(drawn)])[card]
        for k, rows in groups:
            order = np.argsort(ids[:k])
            after = np.concatenate([np.cumsum(dif[:k][order][::-1])[::-1], [0.0]])
            sums[rows] += after[np.searchsorted(ids[:k][order], rows, side="left")]
        yield sums


def gi_star(counts: np.ndarray, neighbours: sp.csr_matrix, *, permutations: int = 499,
            alpha: float = 0.05, seed: int = 0) -> HotSpots:
    """Getis–Ord Gi* of ``counts`` over ``neighbours`` (binary, self included), with
    inference by conditional permutation.

    A segment is a hot (cold) spot when its permutation pseudo p-value is at most ``alpha``
    *and* it survives the false discovery rate correction at ``alpha`` across all segments.
    The correction needs p-values finer than permutations can give over many segments, so
    it uses the distribution the permutations sample from, computed exactly: the sum of
    ``k`` neighbours' counts drawn from the observed counts (:func:`_exact_p`). A random
    pattern then shows no hot spot, however many segments the network has."""
    import esda  # deferred: esda and libpysal take over a second to import; only Gi* uses them
    from libpysal.graph import Graph  # deferred: as esda

    y = np.asarray(counts, dtype=np.float64)
    n = len(y)
    total = y.sum()
    if n < 3 or total == 0:
        zeros = np.zeros(n)
        return HotSpots(zeros, zeros, zeros, np.ones(n), np.ones(n), zeros.astype(bool),
                        zeros.astype(bool), permutations, alpha)
    w = neighbours.tocsr()
    g = np.asarray(w @ y).ravel() / total
    analytic = esda.G_Local(y, Graph.from_sparse(w), transform="B", star=True,
                            permutations=0)
    rng = np.random.default_rng(seed)
    card = np.asarray(w.sum(axis=1)).ravel().astype(np.int64) - 1  # neighbours besides self
    larger, acc, acc2 = np.zeros(n), np.zeros(n), np.zeros(n)
    for sums in _conditional_sums(y, card, permutations, rng):
        sim = (y + sums) / total
        larger += sim >= g
        acc += sim
        acc2 += sim * sim
    larger = np.minimum(larger, permutations - larger)
    p_sim = (larger + 1.0) / (permutations + 1.0)
    mean = acc / permutations
    sd = np.sqrt(np.maximum(acc2 / permutations - mean * mean, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sd > 0, (g - mean) / sd, 0.0)
    p = _exact_p(y, card, np.asarray(w @ y).ravel() - y)
    sig = (p <= _fdr(p, alpha)) & (p_sim <= alpha)
    return HotSpots(g, z, np.nan_to_num(np.asarray(analytic.Zs, dtype=float)), p_sim, p,
                    sig & (z > 0), sig & (z < 0), permutations, alpha)


def _exact_p(y: np.ndarray, card: np.ndarray, around: np.ndarray) -> np.ndarray:
    """Two-sided p-value of each observation's neighbour sum ``around`` (self excluded)
    under conditional randomisation: the sum of ``card[i]`` counts drawn at random from the
    observed ones, whose distribution is the ``card[i]``-fold convolution of the counts'
    frequencies (draws without replacement differ from this by O(k/n)). Non-integer data
    are rounded to whole counts first."""
    counts = np.rint(np.clip(y, 0, None)).astype(np.int64)
    pmf = np.bincount(counts) / len(counts)
    obs = np.rint(around).astype(np.int64)
    p = np.ones(len(y))
    dist = np.array([1.0])
    for k in range(0, int(card.max()) + 1):
        if k:
            dist = np.clip(np.convolve(dist, pmf), 0.0, None)
        at = np.nonzero(card == k)[0]
        if not len(at):
            continue
        cdf = np.cumsum(dist)
        sf = np.concatenate([[1.0], 1.0 - cdf[:-1]])  # P(S >= s)
        s = np.clip(obs[at], 0, len(dist) - 1)
        upper = np.where(obs[at] >= len(dist), 0.0, sf[s])
        lower = np.where(obs[at] >= len(dist), 1.0, cdf[s])
        p[at] = np.minimum(1.0, 2 * np.minimum(upper, lower))
    return np.clip(p, 0.0, 1.0)


def _fdr(p: np.ndarray, alpha: float) -> float:
    """The Benjamini–Hochberg cut: the largest p(k) with p(k) <= k/n * alpha (0 if none)."""
    order = np.sort(p)
    ok = order <= alpha * np.arange(1, len(p) + 1) / len(p)
    return float(order[ok].max()) if ok.any() else 0.0


@dataclass(frozen=True)
class Surface:
    """A kernel density surface on a regular grid (incidents per km², metric CRS)."""

    x0: float
    y0: float
    cell: float
    density: np.ndarray  # rows (y) x columns (x)

    def cells(self, levels: int = 5) -> tuple[np.ndarray, list[float]]:
        """Class of each cell (0 = below the lowest shown level, 1..levels), by quantiles of
        the non-negligible cells, and the class bounds."""
        d = self.density
        shown = d[d > d.max() * 0.05] if d.size and d.max() > 0 else np.array([])
        if not shown.size:
            return np.zeros(d.shape, dtype=np.int64), []
        bounds = list(np.quantile(shown, np.linspace(0, 1, levels + 1)[:-1]))
        return np.searchsorted(bounds, d, side="right") * (d > d.max() * 0.05), bounds


def density_at(x: np.ndarray, y: np.ndarray, qx: np.ndarray, qy: np.ndarray, *,
               bandwidth_m: float = 250.0) -> np.ndarray:
    """Gaussian kernel density (scikit-learn) of the points ``x, y`` at the points ``qx, qy``
    (metric CRS; a probability density per m², zero everywhere without points): the density
    surface and the density baseline of the hot-spot evaluation."""
    if not len(x):
        return np.zeros(len(qx))
    kde = KernelDensity(bandwidth=bandwidth_m, kernel="gaussian", rtol=1e-4)
    kde.fit(np.column_stack([x, y]))
    return np.exp(kde.score_samples(np.column_stack([qx, qy])))


def density_surface(x: np.ndarray, y: np.ndarray, bounds: tuple[float, float, float, float],
                    *, bandwidth: float = 250.0, cell: float = 100.0,
                    max_cells: int = 250_000) -> Surface:
    """Gaussian kernel density (scikit-learn) of the points over ``bounds``, on cells of
    ``cell`` metres (enlarged so the grid holds at most ``max_cells``)."""
    minx, miny, maxx, maxy = bounds
    span = max(maxx - minx, 1.0) * max(maxy - miny, 1.0)
    cell = max(cell, float(np.sqrt(span / max_cells)))
    nx, ny = int(np.ceil((maxx - minx) / cell)) or 1, int(np.ceil((maxy - miny) / cell)) or 1
    if not len(x):
        return Surface(minx, miny, cell, np.zeros((ny, nx)))
    cx = minx + (np.arange(nx) + 0.5) * cell
    cy = miny + (np.arange(ny) + 0.5) * cell
    gx, gy = np.meshgrid(cx, cy)
    dens = density_at(x, y, gx.ravel(), gy.ravel(), bandwidth_m=bandwidth)
    return Surface(minx, miny, cell, (dens * len(x) * 1e6).reshape(ny, nx))


def surface_polygons(surface: Surface, levels: int = 5) -> tuple[list, list[int], list[float]]:
    """The surface's classes as polygons (one per class, cells dissolved): no incident point
    leaves the server, only the shaded areas."""
    cls, bounds = surface.cells(levels)
    polys, keep = [], []
    for k in range(1, len(bounds) + 1):
        rr, cc = np.nonzero(cls == k)
        if not len(rr):
            continue
        x0 = surface.x0 + cc * surface.cell
        y0 = surface.y0 + rr * surface.cell
        boxes = shapely.box(x0, y0, x0 + surface.cell, y0 + surface.cell)
        polys.append(shapely.coverage_union_all(boxes))
        keep.append(k)
    return polys, keep, bounds


@dataclass(frozen=True)
class Prediction:
    """How well one choice of segments captures the held-out incidents at a length share."""

    method: str
    length_share: float  # the share the method was given
    used_share: float  # the share its segments actually take
    hits: int
    hit_rate: float  # share of held-out incidents on the chosen segments
    pai: float  # hit rate / used length share
    pei: float  # hits / the most any choice of that length could capture


def _choose(score: np.ndarray, lengths: np.ndarray, share: float,
            rng: np.random.Generator) -> np.ndarray:
    """Segments by descending score until ``share`` of the length; ties (segments a method
    cannot tell apart, such as those with no incident at all) in random order, so every
    method is given the same length."""
    order = np.lexsort((rng.random(len(score)), -score))
    cum = np.cumsum(lengths[order])
    n = int(np.searchsorted(cum, share * lengths.sum(), side="right"))
    return order[:n]


def _choose_at_random(lengths: np.ndarray, share: float, rng: np.random.Generator
                      ) -> np.ndarray:
    """:func:`_choose` with every score equal (a random choice), the same segments for the
    same draws: only the draws below a bound are sorted, the bound raised until their
    length passes ``share`` (the segments taken are a prefix of the full order)."""
    r = rng.random(len(lengths))
    target = share * lengths.sum()
    bound = min(1.0, 1.5 * share + 0.01)
    while True:
        below = np.flatnonzero(r < bound) if bound < 1.0 else np.arange(len(r))
        order = below[np.argsort(r[below], kind="stable")]
        cum = np.cumsum(lengths[order])
        if bound >= 1.0 or (len(cum) and cum[-1] > target):
            return order[:int(np.searchsorted(cum, target, side="right"))]
        bound = min(1.0, 2 * bound)


def _best_hits(test: np.ndarray, lengths: np.ndarray, used: float) -> float:
    """The most held-out incidents any set of segments of ``used`` length captures (densest
    first, the last one taken in part: the knapsack's bound)."""
    order = np.lexsort((lengths, -(test / np.maximum(lengths, 1e-9))))
    cum = np.concatenate([[0.0], np.cumsum(lengths[order])])
    hits = np.concatenate([[0.0], np.cumsum(test[order])])
    return float(np.interp(used, cum, hits))


def _tallies(scores: dict[str, np.ndarray], test: np.ndarray, lengths: np.ndarray, *,
             shares: tuple[float, ...], random_draws: int, rng: np.random.Generator
             ) -> dict[tuple[str, float], tuple[float, float, float]]:
    """For each method (and a random choice) and length share: the held-out incidents its
    segments capture, their length, and the most any choice of that length captures."""
    out: dict[tuple[str, float], tuple[float, float, float]] = {}
    for share in shares:
        for name, score in scores.items():
            chosen = _choose(np.asarray(score, dtype=float), lengths, share, rng)
            used = float(lengths[chosen].sum())
            out[name, share] = (float(test[chosen].sum()), used, _best_hits(test, lengths, used))
        hits = used = 0.0
        for _ in range(random_draws):
            chosen = _choose_at_random(lengths, share, rng)
            hits += float(test[chosen].sum())
            used += float(lengths[chosen].sum())
        hits, used = hits / random_draws, used / random_draws
        out["random", share] = (hits, used, _best_hits(test, lengths, used))
    return out


def _judge(tallies: list[dict[tuple[str, float], tuple[float, float, float]]],
           n_test: float, total_len: float) -> list[Prediction]:
    """Predictions from the tallies of one or more held-out periods: hits and the best
    possible summed, the length averaged."""
    out = []
    for key in tallies[0]:
        name, share = key
        hits = sum(t[key][0] for t in tallies)
        used = sum(t[key][1] for t in tallies) / len(tallies)
        best = sum(t[key][2] for t in tallies)
        rate = hits / n_test if n_test else 0.0
        used_share = used / total_len if total_len else 0.0
        out.append(Prediction(name, share, used_share, int(round(hits)), rate,
                              rate / used_share if used_share else 0.0,
                              hits / best if best else 0.0))
    return out


def predictive_accuracy(scores: dict[str, np.ndarray], test: np.ndarray, lengths: np.ndarray,
                        *, shares: tuple[float, ...] = LENGTH_SHARES, random_draws: int = 200,
                        seed: int = 0) -> list[Prediction]:
    """Hit rate, PAI and PEI of each method's ranking (``scores``, higher = hotter) on the
    held-out counts ``test``, at each length share, beside a random choice of segments."""
    rng = np.random.default_rng(seed)
    return _judge([_tallies(scores, test, lengths, shares=shares, random_draws=random_draws,
                            rng=rng)], float(test.sum()), float(lengths.sum()))


def rolling_accuracy(periods: list[tuple[dict[str, np.ndarray], np.ndarray]],
                     lengths: np.ndarray, *, shares: tuple[float, ...] = LENGTH_SHARES,
                     random_draws: int = 200, seed: int = 0) -> list[Prediction]:
    """:func:`predictive_accuracy` over several held-out periods in turn, each with the
    methods' scores learnt from before it (``periods``: scores and held-out counts): the
    hits of every period summed, the length the same in each."""
    rng = np.random.default_rng(seed)
    tallies = [_tallies(scores, test, lengths, shares=shares, random_draws=random_draws,
                        rng=rng) for scores, test in periods]
    return _judge(tallies, float(sum(test.sum() for _, test in periods)),
                  float(lengths.sum()))
