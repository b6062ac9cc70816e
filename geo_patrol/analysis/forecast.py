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

The background of a segment is the incidents' background shares spread over the streets
around them by a Gaussian kernel of one bandwidth, normalised over the streets (as Zhuang's
declustering); the bandwidth is chosen from the data, as the one under which each incident's
background, estimated from all the other incidents, makes the incidents most likely
(likelihood cross-validation, re-chosen as the EM runs). The kernel is worked on a raster of
``CELL_M`` metres, so that any bandwidth costs one smoothing of a grid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
from scipy.ndimage import gaussian_filter, gaussian_filter1d
from scipy.optimize import brentq, minimize_scalar
from scipy.spatial import cKDTree

#: The triggering reaches this far (metres) and lasts this long (days) at most.
D_MAX_M = 400.0
T_MAX_DAYS = 42.0
#: The triggering's decay over the cut, at least (e^-3: 95 % of it within the cut).
OMEGA_MIN_CUTS = 3.0
#: The background's spread around the incidents it is learnt from (metres): where the
#: search for it starts, and its bounds.
BACKGROUND_M = 100.0
BACKGROUND_BOUNDS_M = (25.0, 6400.0)
#: The background's bandwidth is searched on steps of this factor at the finest.
BACKGROUND_STEP = 2.0 ** (1 / 32)
#: The raster the background is smoothed on (metres a cell).
CELL_M = 25.0


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


class Raster:
    """Square cells of ``cell_m`` over the segments' midpoints: a segment's cell, and a
    Gaussian smoothing of values on the cells (zero beyond the raster's edge)."""

    def __init__(self, mx: np.ndarray, my: np.ndarray, cell_m: float = CELL_M) -> None:
        self.cell_m = cell_m
        ix = np.rint((mx - mx.min()) / cell_m).astype(np.int64) if len(mx) else np.zeros(0, int)
        iy = np.rint((my - my.min()) / cell_m).astype(np.int64) if len(my) else np.zeros(0, int)
        self.shape = (int(iy.max()) + 1, int(ix.max()) + 1) if len(mx) else (1, 1)
        self.cell = iy * self.shape[1] + ix  # each segment's cell

    def sum(self, segments: np.ndarray, weights: np.ndarray) -> np.ndarray:
        """The weights added up in their segments' cells."""
        return np.bincount(self.cell[segments], weights=weights,
                           minlength=self.shape[0] * self.shape[1]).reshape(self.shape)

    def _coarse(self, bandwidth_m: float) -> tuple[int, float]:
        """How many cells a side are taken as one for a bandwidth (a wide one is smoothed
        on coarser cells, at 8 to 16 of them), and the bandwidth in those cells."""
        s = bandwidth_m / self.cell_m
        f = int(s / 8) if s > 16 else 1
        return f, s / f

    def smooth(self, grid: np.ndarray, bandwidth_m: float) -> np.ndarray:
        """``grid`` smoothed by the Gaussian, flattened. A wide bandwidth is worked on
        cells of ``f`` a side (summed, smoothed, and each cell given its coarse cell's
        value): the kernel is still the same between any two cells either way round."""
        f, s = self._coarse(bandwidth_m)
        if f == 1:
            return np.maximum(gaussian_filter(grid, s, mode="constant", truncate=4.0),
                              0.0).ravel()
        ny, nx = grid.shape
        py, px = -ny % f, -nx % f
        padded = np.pad(grid, ((0, py), (0, px)))
        coarse = padded.reshape((ny + py) // f, f, (nx + px) // f, f).sum(axis=(1, 3))
        coarse = gaussian_filter(coarse, s, mode="constant", truncate=4.0)
        out = np.repeat(np.repeat(coarse, f, axis=0), f, axis=1)[:ny, :nx]
        return np.maximum(out, 0.0).ravel()

    def centre(self, bandwidth_m: float) -> float:
        """The smoothing's weight of a cell on itself."""
        _, s = self._coarse(bandwidth_m)
        r = int(4.0 * s + 0.5)
        impulse = np.zeros(2 * r + 1)
        impulse[r] = 1.0
        c = float(gaussian_filter1d(impulse, s, mode="constant", truncate=4.0)[r])
        return c * c


class Background:
    """The background kernel at one bandwidth: incident ``j``'s share ``p_j`` spread over
    the segments as ``L_s G(s, j) / Σ_r L_r G(r, j)`` (``G`` the Gaussian on the raster),
    over a window of ``span`` days."""

    def __init__(self, raster: Raster, seg: np.ndarray, lengths: np.ndarray, span: float,
                 bandwidth_m: float) -> None:
        self.raster, self.seg, self.lengths, self.span = raster, seg, lengths, span
        self.bandwidth_m = bandwidth_m
        norm = raster.smooth(raster.sum(np.arange(len(lengths)), lengths), bandwidth_m)
        self.norm = np.maximum(norm[raster.cell[seg]], 1e-300)  # at each incident
        # what an incident's own share adds to its own segment's rate, per unit of share
        self.own = lengths[seg] * raster.centre(bandwidth_m) / (self.norm * span)

    def rate(self, shares: np.ndarray) -> np.ndarray:
        """Incidents a day on each segment from the incidents' background shares."""
        field = self.raster.smooth(self.raster.sum(self.seg, shares / self.norm),
                                   self.bandwidth_m)
        return self.lengths * field[self.raster.cell] / self.span

    def left_out(self, rate: np.ndarray, shares: np.ndarray) -> np.ndarray:
        """Each incident's background rate from all the other incidents (an incident does
        not explain itself), given ``rate`` from all of them."""
        return np.maximum(rate[self.seg] - self.own * shares, 1e-12 * rate.mean() + 1e-300)


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
    background_m: float = BACKGROUND_M  # the background's bandwidth (chosen from the data)
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
                "background_m": round(self.background_m, 1),
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
        t_max_days: float = T_MAX_DAYS, background_m: float | None = None,
        max_iter: int = 300, tol: float = 1e-4, theta0: float = 0.3, omega0: float = 0.2,
        sigma0_m: float = 100.0) -> SeppFit:
    """Fit the process to incidents on segments ``seg`` at times ``t`` (days, within
    ``[t_start, t_end]``) by EM: each step shares every incident between the background
    and its possible parents (the stochastic declustering), then sets the parameters to
    what those shares make most likely (σ by a one-dimensional search, θ and ω together
    with the triggering cut short by the window's end). The background of a segment is
    the incidents' background shares spread over the streets around them (as Zhuang's
    declustering): a rate for every segment, not only for those with incidents, without
    one free parameter per segment. Its bandwidth is ``background_m`` if given; otherwise
    chosen from the data at every step, as the one whose left-out background (each
    incident's from all the others) with the triggering makes the incidents most likely
    (likelihood cross-validation), searched on a halving step from ``BACKGROUND_M``."""
    seg = np.asarray(seg, dtype=np.int64)
    t = np.asarray(t, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    n, n_seg = len(seg), len(lengths)
    span = max(t_end - t_start, 1e-9)
    if n == 0:
        return SeppFit(np.zeros(n_seg), 0.0, omega0, sigma0_m, t_end, 0, True, 0.0, 1.0, 0, 0,
                       d_max_m, t_max_days, background_m or BACKGROUND_M)
    child, parent, gap, d2 = incident_pairs(seg, t, mx, my, d_max_m=d_max_m,
                                            t_max_days=t_max_days)
    pairs = SegmentPairs.around(mx, my, seg, d_max_m)
    prof = pairs.profile(lengths)
    row_of_inc = pairs.row_of(seg)
    parent_row = row_of_inc[parent]
    raster = Raster(np.asarray(mx, dtype=np.float64), np.asarray(my, dtype=np.float64))
    kernels: dict[float, Background] = {}

    def kernel(h: float) -> Background:
        if h not in kernels:
            kernels[h] = Background(raster, seg, lengths, span, h)
        return kernels[h]

    choose = background_m is None
    h = float(BACKGROUND_M if background_m is None else background_m)
    step = 2.0  # the bandwidth search's step (a factor), halved (in log) as it settles
    child_len = lengths[seg[child]]
    # each parent's reach in time before the window ends (the triggering it can show)
    reach = np.minimum(t_end - t, t_max_days)
    theta, omega, sigma = theta0, omega0, sigma0_m
    p_bg = np.full(n, 1.0 - theta0)
    mu = kernel(h).rate(p_bg)
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

    converged, it, loglik, settling = False, 0, -np.inf, False
    for it in range(1, max_iter + 1):
        # E: each incident's share to the background and to each possible parent
        triggering(theta, omega, sigma, prof.norm(sigma))
        trig_in = np.bincount(child, weights=trig, minlength=n)
        moved, checked = 0.0, False
        # the bandwidth is searched while its step is coarse, then checked every few steps
        # and before the fit is taken as converged
        if choose and (step > BACKGROUND_STEP * (1 + 1e-9) or it % 4 == 0 or settling):
            new_h, step = _bandwidth_step(kernel, p_bg, trig_in, h, step, mu)
            moved, checked = abs(np.log(new_h / h)), True
            if new_h != h:
                h = new_h
                mu = kernel(h).rate(p_bg)
            for old in [k for k in kernels if k not in (h, h * step, h / step)]:
                del kernels[old]
        bg = kernel(h)
        mu_i = bg.left_out(mu, p_bg)
        lam = np.maximum(mu_i + trig_in, 1e-300)
        p_bg = mu_i / lam
        np.take(lam, child, out=work)
        p = np.divide(trig, work, out=trig)
        loglik = float(np.log(lam).sum() - mu.sum() * span
                       - theta * (1 - np.exp(-omega * reach)).sum())
        # M
        new_mu = bg.rate(p_bg)
        offspring = float(p.sum())
        new_omega = _omega_step(offspring, float(p @ gap), reach, omega, t_max_days) \
            if offspring > 0 else omega
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
                     abs(new_sigma - sigma) / max(sigma, 1e-6), moved)
        mu, theta, omega, sigma = new_mu, new_theta, new_omega, new_sigma
        settling = change < tol
        if settling and (not choose or checked and step <= BACKGROUND_STEP * (1 + 1e-9)):
            converged = True
            break
    bg = kernel(h)

    def full_loglik(x: np.ndarray) -> float:
        """The log-likelihood at θ, log ω, log σ and log c (the background scaled by c),
        the background's own shares held as fitted."""
        th, om, sg, c = x[0], np.exp(x[1]), np.exp(x[2]), np.exp(x[3])
        base = c * bg.left_out(mu, p_bg)
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
                   float(h), intervals)


def _bandwidth_step(kernel: Callable[[float], Background], p_bg: np.ndarray,
                    trig_in: np.ndarray, h: float, step: float, rate: np.ndarray
                    ) -> tuple[float, float]:
    """One move of the background's bandwidth towards the one under which the incidents
    are most likely with each one's background left out of its own rate (likelihood
    cross-validation, the shares and the triggering ``trig_in`` of each incident held):
    of ``h / step``, ``h`` and ``h * step`` (within the bounds) the likeliest; where ``h``
    is, the step is halved in log, down to ``BACKGROUND_STEP``, and where it moves,
    doubled, up to 2. ``rate`` is the background at ``h`` from these shares."""
    lo, hi = BACKGROUND_BOUNDS_M

    def score(b: float, rate: np.ndarray | None = None) -> float:
        k = kernel(b)
        got = k.rate(p_bg) if rate is None else rate
        return float(np.log(k.left_out(got, p_bg) + trig_in).sum())

    here = score(h, rate)
    best, best_score = h, here
    for b in (h / step, h * step):
        if lo <= b <= hi:
            s = score(b)
            if s > best_score:
                best, best_score = b, s
    if best == h:
        step = max(float(np.sqrt(step)), BACKGROUND_STEP)
    else:  # on the move: the step doubles (in log) again, up to a factor 2
        step = min(step * step, 2.0)
    return best, step


def _omega_step(offspring: float, gap_sum: float, reach: np.ndarray, omega: float,
                t_max_days: float) -> float:
    """The M step's ω, with θ at its best for each ω: the root of
    ``n/ω - Σ p·gap - n Σ r e^{-ωr} / Σ (1 - e^{-ωr})`` (``n`` the offspring, ``r`` each
    parent's reach), so that the triggering the window's end cuts short (the children the
    latest incidents have not had yet) does not read as a fast decay. Below
    ``n / Σ p·gap`` (the step were nothing cut short); at least ``3 / t_max_days``: the
    cut keeps at least 95 % of the triggering, as the pairs it leaves out assume (slower,
    the decay cannot be told from the cut, and θ would grow without bound while the
    triggering within the cut stays the same)."""
    # most parents reach the whole cut: their terms are one, counted
    cut = reach >= t_max_days
    whole, short = int(cut.sum()), reach[~cut]

    def score(om: float) -> float:
        e_cut, e = np.exp(-om * t_max_days), np.exp(-om * short)
        got = whole * t_max_days * e_cut + float(short @ e)
        exposure = whole * (1 - e_cut) + float((1 - e).sum())
        return offspring / om - gap_sum - offspring * got / exposure

    top = offspring / gap_sum if gap_sum > 0 else omega
    low = min(OMEGA_MIN_CUTS / t_max_days, top)
    if score(top) >= 0:
        return float(top)
    if score(low) <= 0:
        return float(low)
    return float(brentq(score, low, top, xtol=1e-12, rtol=1e-10))


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


@dataclass(frozen=True)
class Bootstrap:
    """Intervals from a parametric bootstrap on a part of the city: the fitted process
    simulated again ``draws`` times on the streets of a square window holding ``share`` of
    its background and fitted by the same procedure (the background's bandwidth chosen
    anew each time). The refits' mean less the parameters they were drawn from is the
    procedure's bias (θ as a difference, the rest as a ratio); their spread, scaled from
    the window's incidents to the whole city's (a spread falls as one over the root of the
    incidents, at the same density), is its standard error unless the observed
    information's is wider. So the intervals carry what the observed information holds
    fixed: the background is estimated from the same incidents."""

    intervals: dict[str, tuple[float, float]]
    bias: dict[str, float]  # θ: a difference; background, ω, σ: a ratio less 1
    spread: dict[str, float]  # standard error at the full size (θ absolute, else in log)
    draws: int
    incidents: float  # per draw, on average

    def as_dict(self) -> dict[str, object]:
        return {"intervals": {k: [round(float(a), 4), round(float(b), 4)]
                              for k, (a, b) in self.intervals.items()},
                "bias": {k: round(v, 4) for k, v in self.bias.items()},
                "spread": {k: round(v, 4) for k, v in self.spread.items()},
                "draws": self.draws, "incidents": round(self.incidents)}


def bootstrap(model: SeppFit, mx: np.ndarray, my: np.ndarray, lengths: np.ndarray, *,
              days: float, share: float = 0.125, draws: int = 8, seed: int = 0,
              background_m: float | None = None, z: float = 1.96) -> Bootstrap:
    """Bias-corrected 95 % intervals of ``model`` (fitted to incidents over ``days``) by a
    parametric bootstrap on a window of the city (:class:`Bootstrap`): about ``share`` of
    the work of ``draws`` fits."""
    mx, my = np.asarray(mx, dtype=np.float64), np.asarray(my, dtype=np.float64)
    lengths = np.asarray(lengths, dtype=np.float64)
    # the square around the background's middle that holds `share` of it
    w = model.mu / max(float(model.mu.sum()), 1e-300)
    cx, cy = float(w @ mx), float(w @ my)
    reach = np.maximum(np.abs(mx - cx), np.abs(my - cy))
    order = np.argsort(reach, kind="stable")
    cut = reach[order][min(int(np.searchsorted(np.cumsum(w[order]), share)), len(w) - 1)]
    sub = reach <= cut
    mu_s, mx_s, my_s, len_s = model.mu[sub], mx[sub], my[sub], lengths[sub]
    truth = {"background": float(mu_s.sum()), "theta": model.theta, "omega": model.omega,
             "sigma_m": model.sigma_m}
    got: dict[str, list[float]] = {k: [] for k in truth}
    sizes = []
    for k in range(draws):
        seg, t, _ = simulate(mu_s, model.theta, model.omega, model.sigma_m, mx_s, my_s, len_s,
                             days=days, seed=seed + k, d_max_m=model.d_max_m,
                             t_max_days=model.t_max_days)
        refit = fit(seg, t, mx_s, my_s, len_s, t_end=days, d_max_m=model.d_max_m,
                    t_max_days=model.t_max_days, background_m=background_m)
        sizes.append(len(seg))
        got["background"].append(float(refit.mu.sum()))
        got["theta"].append(refit.theta)
        got["omega"].append(refit.omega)
        got["sigma_m"].append(refit.sigma_m)
    scale = np.sqrt(float(np.mean(sizes)) / max(model.incidents, 1))
    # θ on its own scale, the rest in logs (they stay positive)
    fitted = {"background": float(model.mu.sum()), "theta": model.theta,
              "omega": model.omega, "sigma_m": model.sigma_m}
    wald = model.intervals or {}
    intervals: dict[str, tuple[float, float]] = {}
    bias: dict[str, float] = {}
    spread: dict[str, float] = {}
    for name, values in got.items():
        log = name != "theta"
        v = np.log(np.maximum(values, 1e-300)) if log else np.asarray(values)
        at = np.log(truth[name]) if log else truth[name]
        est = np.log(fitted[name]) if log else fitted[name]
        b = float(v.mean() - at)
        sd = float(v.std(ddof=1)) if draws > 1 else 0.0
        se = sd * scale
        if name in wald:  # the observed information's, if wider
            lo, hi = wald[name]
            width = (np.log(hi) - np.log(lo)) if log and lo > 0 else hi - lo
            se = max(se, float(width) / (2 * z))
        # the bias is itself estimated from `draws` refits
        half = z * float(np.sqrt(se * se + sd * sd / max(draws, 1)))
        centre = est - b
        lo_hi = (centre - half, centre + half)
        if log:
            intervals[name] = (float(np.exp(lo_hi[0])), float(np.exp(lo_hi[1])))
            bias[name] = float(np.expm1(b))
        else:
            intervals[name] = (max(float(lo_hi[0]), 0.0), float(lo_hi[1]))
            bias[name] = b
        spread[name] = float(se)
    om = intervals["omega"]
    intervals["mean_days"] = (1.0 / om[1], 1.0 / om[0])
    return Bootstrap(intervals, bias, spread, draws, float(np.mean(sizes)))


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
