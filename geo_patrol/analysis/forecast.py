"""Short-term forecasts of where crime will be: a self-exciting point process on the street
segments (a background rate per segment plus triggering that decays exponentially in time
and as a Gaussian in distance, after Mohler et al.), fitted by expectation–maximisation over
stochastic declustering, and the incidents it expects on each segment in the days ahead.
Also simulates incidents from a known process (for the parameter recovery check).

Pure functions of arrays in a metric CRS: no database here. Segments are given by their
midpoints and lengths; an incident by its segment and its time in days.

The model, for segment ``s`` at time ``t`` (days)::

    λ_s(t) = μ_s + θ Σ_{t_j < t} ω exp(-ω (t - t_j)) K(s, s_j)

    K(s, s') = L_s exp(-d(s, s')² / 2σ²) / Σ_r L_r exp(-d(r, s')² / 2σ²)

with ``d`` the distance between midpoints, ``L`` the segment lengths, every sum over the
segments within ``d_max_m`` and the triggering cut after ``t_max_days`` (a bounded neighbour
list: the work grows with the incidents, not with their square).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from scipy.spatial import cKDTree

#: The triggering reaches this far (metres) and lasts this long (days) at most.
D_MAX_M = 400.0
T_MAX_DAYS = 42.0
#: The background's spread around the incidents it is learnt from (metres).
BACKGROUND_M = 100.0


@dataclass(frozen=True, eq=False)
class SegmentPairs:
    """Segments within ``d_max_m`` of each source segment, as flat arrays sorted by source
    (a CSR matrix's rows): ``start[k]:start[k + 1]`` are the neighbours of ``sources[k]``."""

    sources: np.ndarray  # segment indices, sorted
    start: np.ndarray
    neighbour: np.ndarray
    d2: np.ndarray  # squared distances, m²
    d_max_m: float

    @classmethod
    def around(cls, mx: np.ndarray, my: np.ndarray, sources: np.ndarray, d_max_m: float
               ) -> SegmentPairs:
        sources = np.unique(np.asarray(sources, dtype=np.int64))
        pts = np.column_stack([mx, my])
        if not len(sources):
            empty = np.zeros(0, dtype=np.int64)
            return cls(sources, np.zeros(1, dtype=np.int64), empty, np.zeros(0), d_max_m)
        found = cKDTree(pts[sources]).sparse_distance_matrix(cKDTree(pts), d_max_m,
                                                             output_type="ndarray")
        # by source, then neighbour: one sort of a combined key (twice as fast as lexsort)
        order = np.argsort(found["i"].astype(np.int64) * len(pts) + found["j"], kind="stable")
        rows = found["i"][order].astype(np.int64)
        start = np.searchsorted(rows, np.arange(len(sources) + 1))
        return cls(sources, start, found["j"][order].astype(np.int64),
                   found["v"][order] ** 2, d_max_m)

    def row_of(self, segments: np.ndarray) -> np.ndarray:
        """The row of each segment among the sources (it must be one)."""
        return np.searchsorted(self.sources, segments)

    @cached_property
    def row(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.sources)), np.diff(self.start))

    def weights(self, lengths: np.ndarray, sigma_m: float) -> np.ndarray:
        """``L_s exp(-d² / 2σ²)`` of every pair."""
        return lengths[self.neighbour] * np.exp(-self.d2 / (2 * sigma_m ** 2))

    def norm(self, lengths: np.ndarray, sigma_m: float) -> np.ndarray:
        """The kernel's normaliser of each source row."""
        return np.bincount(self.row, weights=self.weights(lengths, sigma_m),
                           minlength=len(self.sources))

    def profile(self, lengths: np.ndarray, bins: int = 64) -> Profile:
        """Each row's street length by distance band: the normaliser for any σ at the cost
        of one small product (bands of ``d_max_m / bins`` metres)."""
        width = self.d_max_m / bins
        band = np.minimum((np.sqrt(self.d2) / width).astype(np.int64), bins - 1)
        table = np.zeros((len(self.sources), bins))
        np.add.at(table, (self.row, band), lengths[self.neighbour])
        return Profile(table, ((np.arange(bins) + 0.5) * width) ** 2)


@dataclass(frozen=True)
class Profile:
    """Street length per source row and distance band (:meth:`SegmentPairs.profile`)."""

    table: np.ndarray  # rows x bands
    d2: np.ndarray  # the bands' squared middle distances

    def norm(self, sigma_m: float) -> np.ndarray:
        return self.table @ np.exp(-self.d2 / (2 * sigma_m ** 2))

    def norm_derivatives(self, sigma_m: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each row's normaliser and its first and second derivatives in σ, in one pass
        over the table."""
        s = sigma_m
        e = np.exp(-self.d2 / (2 * s * s))
        d1 = e * self.d2 / s ** 3
        d2 = e * (self.d2 ** 2 / s ** 6 - 3 * self.d2 / s ** 4)
        out = self.table @ np.column_stack([e, d1, d2])
        return out[:, 0], out[:, 1], out[:, 2]


@dataclass(frozen=True)
class SeppFit:
    """A fitted process. Rates are incidents per day."""

    mu: np.ndarray  # background rate per segment
    theta: float  # incidents each incident triggers, on average (the branching ratio)
    omega: float  # per day: the triggering falls as exp(-omega * days)
    sigma_m: float  # the triggering's spread in space
    t_end: float  # the day the fitted window ends (in the incidents' time)
    iterations: int
    converged: bool
    loglik: float
    background_share: float  # share of the incidents the fit puts down to the background
    incidents: int
    pairs: int  # incident pairs within reach (the neighbour list's size)
    d_max_m: float = D_MAX_M
    t_max_days: float = T_MAX_DAYS
    background_m: float = BACKGROUND_M
    #: 95 % intervals of ``background`` (incidents a day), ``theta``, ``omega``,
    #: ``mean_days`` and ``sigma_m`` from the observed information at the fit (None: the
    #: likelihood is too flat there to give them; no ``sigma_m`` when σ stopped at the
    #: edge of its search)
    intervals: dict[str, tuple[float, float]] | None = None

    @property
    def mean_days(self) -> float:
        """How long, on average, after an incident a triggered one follows."""
        return 1.0 / self.omega if self.omega > 0 else float("inf")

    def as_dict(self) -> dict[str, float | int | bool]:
        return {"background_per_day": round(float(self.mu.sum()), 4),
                "theta": round(self.theta, 4), "omega": round(self.omega, 4),
                "mean_days": round(self.mean_days, 2), "sigma_m": round(self.sigma_m, 1),
                "background_share": round(self.background_share, 4),
                "iterations": self.iterations, "converged": self.converged,
                "incidents": self.incidents, "pairs": self.pairs,
                "loglik": round(self.loglik, 2),
                "intervals": None if self.intervals is None else
                {k: [round(float(a), 4), round(float(b), 4)]
                 for k, (a, b) in self.intervals.items()}}


def incident_pairs(seg: np.ndarray, t: np.ndarray, mx: np.ndarray, my: np.ndarray, *,
                   d_max_m: float, t_max_days: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every (child, parent) pair of incidents with the parent earlier by at most
    ``t_max_days`` and its segment within ``d_max_m``: children, parents, days between and
    squared distances between their segments' midpoints. Built block by block in time (a
    block of ``t_max_days`` against itself and the one before), so that memory follows the
    pairs within reach."""
    order = np.argsort(t, kind="stable")
    ts = t[order]
    block = np.floor((ts - ts[0]) / t_max_days).astype(np.int64) if len(ts) else ts
    edges = np.searchsorted(block, np.arange(block.max() + 2 if len(block) else 1))
    pts = np.column_stack([mx[seg[order]], my[seg[order]]])
    out_c, out_p = [], []
    for b in range(len(edges) - 1):
        lo_c, hi_c = edges[b], edges[b + 1]
        if hi_c == lo_c:
            continue
        lo_p = edges[b - 1] if b else lo_c
        found = cKDTree(pts[lo_c:hi_c]).sparse_distance_matrix(
            cKDTree(pts[lo_p:hi_c]), d_max_m, output_type="ndarray")
        c = found["i"].astype(np.int64) + lo_c
        p = found["j"].astype(np.int64) + lo_p
        gap = ts[c] - ts[p]
        keep = (gap > 0) & (gap <= t_max_days)
        out_c.append(c[keep])
        out_p.append(p[keep])
    c = np.concatenate(out_c) if out_c else np.zeros(0, dtype=np.int64)
    p = np.concatenate(out_p) if out_p else np.zeros(0, dtype=np.int64)
    c, p = order[c], order[p]
    d2 = (mx[seg[c]] - mx[seg[p]]) ** 2 + (my[seg[c]] - my[seg[p]]) ** 2
    return c, p, t[c] - t[p], d2


def fit(seg: np.ndarray, t: np.ndarray, mx: np.ndarray, my: np.ndarray, lengths: np.ndarray,
        *, t_end: float, t_start: float = 0.0, d_max_m: float = D_MAX_M,
        t_max_days: float = T_MAX_DAYS, background_m: float = BACKGROUND_M,
        max_iter: int = 300, tol: float = 1e-4, theta0: float = 0.3, omega0: float = 0.2,
        sigma0_m: float = 100.0) -> SeppFit:
    """Fit the process to incidents on segments ``seg`` at times ``t`` (days, within
    ``[t_start, t_end]``) by EM: each step shares every incident between the background
    and its possible parents (the stochastic declustering), then sets the parameters to
    what those shares make most likely (σ by a bounded one-dimensional search). The
    background of a segment is the incidents' background shares spread over the streets
    around them by the same kernel at ``background_m`` (as Zhuang's declustering): a rate
    for every segment, not only for those with incidents, without one free parameter per
    segment."""
    seg = np.asarray(seg, dtype=np.int64)
    t = np.asarray(t, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    n, n_seg = len(seg), len(lengths)
    span = max(t_end - t_start, 1e-9)
    if n == 0:
        return SeppFit(np.zeros(n_seg), 0.0, omega0, sigma0_m, t_end, 0, True, 0.0, 1.0, 0, 0,
                       d_max_m, t_max_days, background_m)
    child, parent, gap, d2 = incident_pairs(seg, t, mx, my, d_max_m=d_max_m,
                                            t_max_days=t_max_days)
    pairs = SegmentPairs.around(mx, my, seg, d_max_m)
    prof = pairs.profile(lengths)
    row_of_inc = pairs.row_of(seg)
    parent_row = row_of_inc[parent]
    # the background kernel, fixed: [segment, source row], each source's column summing to 1
    # (cut at three bandwidths: what lies beyond weighs about 1 %)
    close = pairs.d2 <= (3 * background_m) ** 2
    bg_w = pairs.weights(lengths, background_m)[close]
    bg_row = pairs.row[close]
    bg_w /= np.bincount(bg_row, weights=bg_w, minlength=len(pairs.sources))[bg_row]
    spread = sp.csr_matrix((bg_w / span, (pairs.neighbour[close], bg_row)),
                           shape=(n_seg, len(pairs.sources)))
    child_len = lengths[seg[child]]
    # an incident does not explain itself: its own share of the background it spreads is
    # left out of its background rate (leave-one-out)
    own = np.asarray(spread[seg, row_of_inc]).ravel()
    # each parent's reach in time before the window ends (the triggering it can show)
    reach = np.minimum(t_end - t, t_max_days)
    theta, omega, sigma = theta0, omega0, sigma0_m
    p_bg = np.full(n, 1.0 - theta0)

    def background(share: np.ndarray) -> np.ndarray:
        return spread @ np.bincount(row_of_inc, weights=share, minlength=len(pairs.sources))

    mu = background(p_bg)
    # the triggering of every pair is one exponential of a sum (its log-kernel and its
    # decay), worked in place on two buffers as long as the pairs
    log_child_len = np.log(np.maximum(child_len, 1e-300))
    trig, work = np.empty(len(child)), np.empty(len(child))

    def triggering(th: float, om: float, sg: float, norm: np.ndarray) -> np.ndarray:
        """``θ ω e^{-ω gap} K`` of every pair, into ``trig``."""
        np.take(np.log(np.maximum(norm, 1e-300)), parent_row, out=trig)
        np.subtract(log_child_len, trig, out=trig)
        np.multiply(d2, 1.0 / (2 * sg * sg), out=work)
        np.subtract(trig, work, out=trig)
        np.multiply(gap, om, out=work)
        np.subtract(trig, work, out=trig)
        np.add(trig, np.log(max(th * om, 1e-300)), out=trig)
        return np.exp(trig, out=trig)

    converged, it, loglik = False, 0, -np.inf
    for it in range(1, max_iter + 1):
        # E: each incident's share to the background and to each possible parent
        triggering(theta, omega, sigma, prof.norm(sigma))
        mu_i = np.maximum(mu[seg] - own * p_bg, 1e-12 * mu.mean() + 1e-300)
        lam = np.maximum(mu_i + np.bincount(child, weights=trig, minlength=n), 1e-300)
        p_bg = mu_i / lam
        np.take(lam, child, out=work)
        p = np.divide(trig, work, out=trig)
        loglik = float(np.log(lam).sum() - mu.sum() * span
                       - theta * (1 - np.exp(-omega * reach)).sum())
        # M
        new_mu = background(p_bg)
        offspring = float(p.sum())
        new_omega = offspring / float(p @ gap) if offspring > 0 else omega
        exposure = float((1 - np.exp(-new_omega * reach)).sum())
        new_theta = offspring / exposure if exposure > 0 else 0.0
        new_sigma = sigma
        if offspring > 1e-9:
            new_sigma = _sigma_step(prof, np.bincount(parent_row, weights=p,
                                                      minlength=len(pairs.sources)),
                                    float(p @ d2), sigma, d_max_m)
        change = max(abs(new_mu.sum() - mu.sum()) / max(mu.sum(), 1e-12),
                     abs(new_theta - theta) / max(theta, 1e-6),
                     abs(new_omega - omega) / max(omega, 1e-6),
                     abs(new_sigma - sigma) / max(sigma, 1e-6))
        mu, theta, omega, sigma = new_mu, new_theta, new_omega, new_sigma
        if change < tol:
            converged = True
            break
    def full_loglik(x: np.ndarray) -> float:
        """The log-likelihood at θ, log ω, log σ and log c (the background scaled by c),
        the background's own shares held as fitted."""
        th, om, sg, c = x[0], np.exp(x[1]), np.exp(x[2]), np.exp(x[3])
        base = c * np.maximum(mu[seg] - own * p_bg, 1e-12 * mu.mean() + 1e-300)
        lam_x = np.maximum(base + np.bincount(child, weights=triggering(th, om, sg,
                                                                        prof.norm(sg)),
                                              minlength=n), 1e-300)
        return float(np.log(lam_x).sum() - c * mu.sum() * span
                     - th * (1 - np.exp(-om * reach)).sum())

    intervals = None
    if len(child) and theta > 1e-6:
        intervals = _wald(full_loglik, np.array([theta, np.log(omega), np.log(sigma), 0.0]),
                          float(mu.sum()))
        if intervals is not None and not 1.01 < sigma < 0.99 * d_max_m:
            # σ stopped at its search's edge: the curvature there gives no interval
            del intervals["sigma_m"]
    return SeppFit(mu, float(theta), float(omega), float(sigma), float(t_end), it, converged,
                   loglik, float(p_bg.sum() / n), n, len(child), d_max_m, t_max_days,
                   background_m, intervals)


def _sigma_step(prof: Profile, w_src: np.ndarray, sq: float, sigma_m: float,
                d_max_m: float, xtol_m: float = 1e-3) -> float:
    """The M step's σ: the minimum over ``[1, d_max_m]`` of
    ``sq / 2σ² + Σ w_src log N(σ)`` (the triggered pairs' squared distances and their
    weights per parent row), by Newton's method from the last σ with the exact derivatives
    of the normalisers, falling back to a bounded search where the curvature is not
    positive or a step leaves the bounds."""
    s = sigma_m
    for _ in range(20):
        n0, n1, n2 = prof.norm_derivatives(s)
        n0 = np.maximum(n0, 1e-300)
        r1 = n1 / n0
        grad = -sq / s ** 3 + float(w_src @ r1)
        curv = 3 * sq / s ** 4 + float(w_src @ (n2 / n0 - r1 * r1))
        if not curv > 0:
            break
        step = grad / curv
        nxt = s - step
        if not 1.0 <= nxt <= d_max_m:
            break
        s = nxt
        if abs(step) < xtol_m:
            return float(s)

    def neg(v: float) -> float:
        return sq / (2 * v * v) + float((w_src * np.log(np.maximum(prof.norm(v), 1e-300))).sum())

    return float(minimize_scalar(neg, bounds=(1.0, d_max_m), method="bounded",
                                 options={"xatol": 0.05}).x)


def _wald(loglik: object, x: np.ndarray, background: float, z: float = 1.96
          ) -> dict[str, tuple[float, float]] | None:
    """95 % intervals from the observed information: the log-likelihood's Hessian at the
    fit ``x`` (θ, log ω, log σ, log c) by central differences, inverted; ω, σ and the
    background on the log scale (they stay positive), θ on its own (at least 0)."""
    f = loglik  # type: ignore[assignment]
    h = np.array([max(1e-3, 1e-2 * x[0]), 1e-2, 1e-2, 1e-2])
    k = len(x)
    f0 = f(x)
    hess = np.zeros((k, k))
    for i in range(k):
        e_i = np.zeros(k)
        e_i[i] = h[i]
        hess[i, i] = (f(x + e_i) - 2 * f0 + f(x - e_i)) / h[i] ** 2
        for j in range(i):
            e_j = np.zeros(k)
            e_j[j] = h[j]
            hess[i, j] = hess[j, i] = (f(x + e_i + e_j) - f(x + e_i - e_j)
                                       - f(x - e_i + e_j) + f(x - e_i - e_j)) / (4 * h[i] * h[j])
    try:
        cov = np.linalg.inv(-hess)
    except np.linalg.LinAlgError:
        return None
    se = np.sqrt(np.diag(cov)) if np.all(np.diag(cov) > 0) else None
    if se is None or not np.all(np.isfinite(se)):
        return None
    theta = (max(x[0] - z * se[0], 0.0), x[0] + z * se[0])
    omega = (float(np.exp(x[1] - z * se[1])), float(np.exp(x[1] + z * se[1])))
    return {"background": (background * float(np.exp(-z * se[3])),
                           background * float(np.exp(z * se[3]))),
            "theta": (float(theta[0]), float(theta[1])), "omega": omega,
            "mean_days": (1.0 / omega[1], 1.0 / omega[0]),
            "sigma_m": (float(np.exp(x[2] - z * se[2])), float(np.exp(x[2] + z * se[2])))}


def expected(model: SeppFit, seg: np.ndarray, t: np.ndarray, mx: np.ndarray, my: np.ndarray,
             lengths: np.ndarray, *, days: float = 7.0) -> np.ndarray:
    """Incidents the process expects on each segment in the ``days`` after ``model.t_end``,
    given the incidents so far (segments ``seg`` at times ``t``): the background and what
    the recent incidents still trigger."""
    seg = np.asarray(seg, dtype=np.int64)
    t = np.asarray(t, dtype=np.float64)
    out = model.mu * days
    age = model.t_end - t
    live = (age >= 0) & (age <= model.t_max_days) if len(t) else np.zeros(0, dtype=bool)
    if not live.any() or model.theta <= 0:
        return out
    w, s = model.omega, model.sigma_m
    # what is left of each live incident's triggering within the horizon and the cut
    left = np.exp(-w * age[live]) - np.exp(-w * np.minimum(age[live] + days,
                                                           model.t_max_days))
    pairs = SegmentPairs.around(mx, my, seg[live], model.d_max_m)
    per_source = np.bincount(pairs.row_of(seg[live]), weights=np.maximum(left, 0.0),
                             minlength=len(pairs.sources))
    kern = pairs.weights(lengths, s) / pairs.norm(lengths, s)[pairs.row]
    return out + model.theta * np.bincount(pairs.neighbour,
                                           weights=kern * per_source[pairs.row],
                                           minlength=len(lengths))


def simulate(mu: np.ndarray, theta: float, omega: float, sigma_m: float, mx: np.ndarray,
             my: np.ndarray, lengths: np.ndarray, *, days: float, seed: int = 0,
             d_max_m: float = D_MAX_M, t_max_days: float = T_MAX_DAYS
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Incidents of the process over ``[0, days)`` by its branching structure: background
    incidents on each segment at its rate, then generation after generation of triggered
    ones (their number Poisson with mean ``theta``, their delay exponential, their segment
    drawn from the kernel). Returns segments, times and whether each was triggered, in time
    order."""
    rng = np.random.default_rng(seed)
    n_seg = len(lengths)
    counts = rng.poisson(np.asarray(mu, dtype=float) * days)
    seg = np.repeat(np.arange(n_seg), counts)
    t = rng.uniform(0.0, days, len(seg))
    segs, times, kids = [seg], [t], [np.zeros(len(seg), dtype=bool)]
    while len(seg):
        n_kids = rng.poisson(theta, len(seg))
        p_seg, p_t = np.repeat(seg, n_kids), np.repeat(t, n_kids)
        delay = rng.exponential(1.0 / omega, len(p_seg))
        keep = (delay <= t_max_days) & (p_t + delay < days)
        p_seg, p_t, delay = p_seg[keep], p_t[keep], delay[keep]
        # the kernel's rows of this generation's parents only (not of every segment)
        pairs = SegmentPairs.around(mx, my, p_seg, d_max_m)
        cum = np.cumsum(pairs.weights(lengths, sigma_m))
        row_lo = np.concatenate([[0.0], cum])[pairs.start[:-1]]
        row_total = pairs.norm(lengths, sigma_m)
        row = pairs.row_of(p_seg)
        at = np.searchsorted(cum, row_lo[row] + rng.random(len(row)) * row_total[row],
                             side="right")
        at = np.clip(at, pairs.start[row], pairs.start[row + 1] - 1)
        seg, t = pairs.neighbour[at], p_t + delay
        segs.append(seg)
        times.append(t)
        kids.append(np.ones(len(seg), dtype=bool))
    seg, t, kid = np.concatenate(segs), np.concatenate(times), np.concatenate(kids)
    order = np.argsort(t, kind="stable")
    return seg[order], t[order], kid[order]
