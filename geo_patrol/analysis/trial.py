"""A randomised trial of hot-spot patrols: hot spots blocked by district and risk and
randomised to patrolled and control, the power to detect a given fall, and the report —
the change in incidents with a randomisation-inference p-value (re-randomising within the
blocks) and a confidence interval (the additive effects the test does not reject), and
displacement or diffusion in the surrounding streets (the weighted displacement quotient,
Bowers and Johnson 2003).

Pure: arrays in, arrays and small frames out; every random draw from a seeded
:func:`numpy.random.default_rng`.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations, product
from math import comb, prod

import numpy as np
import pandas as pd
from scipy.stats import norm

#: The arms' codes: 1 patrolled, 0 control.
PATROLLED, CONTROL = 1, 0
#: Two-sided significance and the power a design aims for.
ALPHA = 0.05
TARGET_POWER = 0.8


def spaced(x: np.ndarray, y: np.ndarray, k: int, min_m: float) -> np.ndarray:
    """Indices of up to ``k`` of the points (metric, hottest first), each at least ``min_m``
    from every one taken before it: hot spots far enough apart that patrolling one does not
    patrol its neighbour in the other arm."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    taken: list[int] = []
    for i in range(len(x)):
        if len(taken) == k:
            break
        if not taken or np.hypot(x[taken] - x[i], y[taken] - y[i]).min() >= min_m:
            taken.append(i)
    return np.array(taken, dtype=np.int64)


def blocks_by_risk(district: np.ndarray, risk: np.ndarray, size: int = 2) -> np.ndarray:
    """Block number of each hot spot: within each district the spots in order of risk
    (highest first) in runs of ``size``; what a district leaves over (a lone spot, an odd
    one) is pooled across districts and blocked by risk the same way, and a last spot
    left joins the last block (a block of one could be compared with nothing)."""
    district = np.asarray(district)
    risk = np.asarray(risk, dtype=float)
    order = np.lexsort((-risk, district))
    out = np.zeros(len(risk), dtype=np.int64)
    next_block = 0
    left: list[int] = []
    for d in pd.unique(district[order]):
        mine = order[district[order] == d]
        full = len(mine) // size * size
        for j in range(0, full, size):
            out[mine[j:j + size]] = next_block
            next_block += 1
        left.extend(int(i) for i in mine[full:])
    pool = np.array(sorted(left, key=lambda i: -risk[i]), dtype=np.int64)
    full = len(pool) // size * size
    for j in range(0, full, size):
        out[pool[j:j + size]] = next_block
        next_block += 1
    out[pool[full:]] = max(next_block - 1, 0)
    return out


def assign(blocks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Half of each block patrolled (1) at random, the rest control (0); a block of odd size
    gives its extra spot to an arm by a coin."""
    blocks = np.asarray(blocks)
    z = np.zeros(len(blocks), dtype=np.int64)
    for b in np.unique(blocks):
        members = np.flatnonzero(blocks == b)
        k = len(members) // 2 + (int(rng.integers(2)) if len(members) % 2 else 0)
        z[rng.permutation(members)[:k]] = PATROLLED
    return z


def _block_index(blocks: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniq = pd.factorize(np.asarray(blocks), sort=True)
    return codes.astype(np.int64), len(uniq)


def effect(y: np.ndarray, z: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """The block-weighted difference in mean outcome, patrolled less control: each block's
    difference weighted by its size (blocks missing an arm are left out). ``z`` may be one
    assignment or a matrix of them (one per row); the answer has one value per row."""
    y = np.asarray(y, dtype=float)
    zz = np.atleast_2d(np.asarray(z, dtype=float))
    codes, nb = _block_index(blocks)
    member = np.zeros((len(y), nb))
    member[np.arange(len(y)), codes] = 1.0
    n_t = zz @ member
    n_c = member.sum(axis=0)[None, :] - n_t
    s_t = (zz * y[None, :]) @ member
    s_c = (y @ member)[None, :] - s_t
    ok = (n_t > 0) & (n_c > 0)
    diff = np.where(ok, s_t / np.where(ok, n_t, 1) - s_c / np.where(ok, n_c, 1), 0.0)
    w = np.where(ok, n_t + n_c, 0.0)
    total = w.sum(axis=1)
    return np.where(total > 0, (w * diff).sum(axis=1) / np.where(total > 0, total, 1), 0.0)


def assignments(z: np.ndarray, blocks: np.ndarray, *, draws: int, seed: int
                ) -> tuple[np.ndarray, bool]:
    """The assignments the design could have drawn, keeping each block's number patrolled:
    all of them when they are at most ``draws`` (exact), else ``draws`` at random from
    ``seed``. Returns the matrix (one assignment per row) and whether it is exact."""
    z = np.asarray(z, dtype=np.int64)
    codes, nb = _block_index(blocks)
    members = [np.flatnonzero(codes == b) for b in range(nb)]
    ks = [int(z[m].sum()) for m in members]
    total = prod(comb(len(m), k) for m, k in zip(members, ks))
    if total <= draws:
        choices = [list(combinations(m, k)) for m, k in zip(members, ks)]
        out = np.zeros((total, len(z)), dtype=np.int64)
        for row, pick in enumerate(product(*choices)):
            for chosen in pick:
                out[row, list(chosen)] = PATROLLED
        return out, True
    rng = np.random.default_rng(seed)
    out = np.zeros((draws, len(z)), dtype=np.int64)
    for m, k in zip(members, ks):
        if not k:
            continue
        keys = rng.random((draws, len(m)))
        picked = np.argsort(keys, axis=1)[:, :k]
        out[np.arange(draws)[:, None], m[picked]] = PATROLLED
    return out, False


@dataclass(frozen=True)
class Inference:
    """The change in incidents per hot spot (patrolled less control, block-weighted) and what
    chance alone could give."""

    effect: float  # incidents per hot spot over the period, patrolled less control
    control_mean: float
    patrolled_mean: float
    p_value: float  # two-sided, by re-randomisation within the blocks
    ci: tuple[float, float]  # the additive effects not rejected at ALPHA
    draws: int
    exact: bool
    smallest_p: float  # the least p-value this design can give at all

    @property
    def change(self) -> float | None:
        """The effect as a share of the control arm's mean (None when it has none)."""
        return self.effect / self.control_mean if self.control_mean > 0 else None

    @property
    def ci_change(self) -> tuple[float, float] | None:
        if self.control_mean <= 0:
            return None
        return self.ci[0] / self.control_mean, self.ci[1] / self.control_mean

    @property
    def significant(self) -> bool:
        return self.p_value < ALPHA

    @property
    def can_tell(self) -> bool:
        """Whether this design could reach significance at all."""
        return self.smallest_p < ALPHA


def randomisation_test(y: np.ndarray, z: np.ndarray, blocks: np.ndarray, *,
                       draws: int = 5000, seed: int = 0, grid: int = 401) -> Inference:
    """Randomisation inference: the observed effect against the effects of the assignments
    the design could have drawn (:func:`assignments`); p is the share of them at least as far
    from zero as the observed one (the observed assignment among them). The interval inverts
    the same test over constant additive effects τ: under τ a patrolled spot would have had
    ``y - τ`` incidents in control, and the interval is every τ whose p is at least
    :data:`ALPHA`."""
    y = np.asarray(y, dtype=float)
    z = np.asarray(z, dtype=np.int64)
    perms, exact = assignments(z, blocks, draws=draws, seed=seed)
    a_obs = float(effect(y, z, blocks)[0])
    a = effect(y, perms, blocks)
    b = effect(z.astype(float), perms, blocks)  # the effect of the assignment itself
    tol = 1e-9 * max(1.0, abs(a_obs))

    def p_at(tau: np.ndarray) -> np.ndarray:
        stat = np.abs(a[None, :] - tau[:, None] * b[None, :])
        obs = np.abs(a_obs - tau)[:, None]
        hits = (stat >= obs - tol).sum(axis=1)
        return hits / len(a) if exact else (hits + 1) / (len(a) + 1)

    p = float(p_at(np.array([0.0]))[0])
    # the least p: only the observed assignment and its mirror as extreme
    extreme = np.abs(b) >= 1 - 1e-9
    smallest = extreme.sum() / len(b) if exact else (extreme.sum() + 1) / (len(b) + 1)
    spread = max(float(np.ptp(y)), 1.0)
    taus = np.linspace(a_obs - 2 * spread, a_obs + 2 * spread, grid)
    kept = taus[p_at(taus) >= ALPHA]
    ci = (float(kept.min()), float(kept.max())) if len(kept) else (a_obs, a_obs)
    return Inference(a_obs, float(y[z == CONTROL].mean()) if (z == CONTROL).any() else 0.0,
                     float(y[z == PATROLLED].mean()) if (z == PATROLLED).any() else 0.0,
                     p, ci, len(a), exact, float(smallest))


def overdispersion(weekly: np.ndarray) -> float:
    """The negative binomial's size ``k`` of weekly counts (rows spots, columns weeks) by
    the method of moments around each spot's own mean: ``inf`` when they vary no more than
    Poisson counts."""
    weekly = np.asarray(weekly, dtype=float)
    if weekly.size == 0 or weekly.shape[1] < 2:
        return float("inf")
    m = weekly.mean(axis=1, keepdims=True)
    var = float(((weekly - m) ** 2).sum() / max(weekly.size - len(weekly), 1))
    mean = float(m.mean())
    mean_sq = float((m ** 2).mean())
    return mean_sq / (var - mean) if var > mean and mean > 0 else float("inf")


def power(rates: np.ndarray, blocks: np.ndarray, *, weeks: int, fall: float,
          k: float = float("inf"), alpha: float = ALPHA) -> float:
    """The chance to find a fall of ``fall`` (0.2: a fifth fewer incidents at the patrolled
    spots) significant in ``weeks`` weeks, by the normal approximation of the block-weighted
    difference with negative-binomial counts (``rates`` incidents per week per spot, ``k``
    the size; half of each block patrolled)."""
    rates = np.asarray(rates, dtype=float)
    codes, nb = _block_index(blocks)
    n_b = np.bincount(codes, minlength=nb).astype(float)
    mean_b = np.bincount(codes, weights=rates, minlength=nb) / np.maximum(n_b, 1)
    m_c = mean_b * weeks
    m_t = m_c * (1 - fall)
    disp = 0.0 if not np.isfinite(k) else 1.0 / k
    n_t = np.floor(n_b / 2)
    n_c = n_b - n_t
    ok = (n_t > 0) & (n_c > 0)
    if not ok.any():
        return 0.0
    w = np.where(ok, n_b, 0.0) / np.where(ok, n_b, 0.0).sum()
    # the spots of a block differ in their rates too: their spread around the block's mean
    within = np.bincount(codes, weights=rates, minlength=nb)
    spread = (np.bincount(codes, weights=rates ** 2, minlength=nb) / np.maximum(n_b, 1)
              - (within / np.maximum(n_b, 1)) ** 2) * n_b / np.maximum(n_b - 1, 1)
    var_b = (m_t + disp * m_t ** 2 + np.maximum(spread, 0) * weeks ** 2) / np.maximum(n_t, 1) \
        + (m_c + disp * m_c ** 2 + np.maximum(spread, 0) * weeks ** 2) / np.maximum(n_c, 1)
    gap = float((w * (m_c - m_t)).sum())
    se = float(np.sqrt((w ** 2 * np.where(ok, var_b, 0.0)).sum()))
    if se <= 0:
        return 1.0 if gap > 0 else 0.0
    return float(norm.cdf(gap / se - norm.ppf(1 - alpha / 2)))


def weeks_needed(rates: np.ndarray, blocks: np.ndarray, *, fall: float,
                 k: float = float("inf"), target: float = TARGET_POWER,
                 most: int = 104) -> int | None:
    """The fewest whole weeks with :func:`power` at least ``target`` (None: not within
    ``most`` weeks)."""
    for weeks in range(1, most + 1):
        if power(rates, blocks, weeks=weeks, fall=fall, k=k) >= target:
            return weeks
    return None


def simulated_power(rates: np.ndarray, blocks: np.ndarray, z: np.ndarray, *, weeks: int,
                    fall: float, k: float = float("inf"), trials: int = 200,
                    draws: int = 199, seed: int = 0) -> float:
    """The share of ``trials`` simulated trials (negative-binomial counts, the patrolled
    spots' rates cut by ``fall``) whose randomisation test finds the change significant."""
    rng = np.random.default_rng(seed)
    rates = np.asarray(rates, dtype=float)
    z = np.asarray(z, dtype=np.int64)
    mean = rates * weeks * np.where(z == PATROLLED, 1 - fall, 1.0)
    perms, exact = assignments(z, blocks, draws=draws, seed=seed)
    found = 0
    for _ in range(trials):
        if np.isfinite(k):
            lam = rng.gamma(k, np.maximum(mean, 1e-12) / k)
        else:
            lam = mean
        y = rng.poisson(lam).astype(float)
        obs = abs(float(effect(y, z, blocks)[0]))
        stat = np.abs(effect(y, perms, blocks))
        hits = int((stat >= obs - 1e-9).sum())
        p = hits / len(stat) if exact else (hits + 1) / (len(stat) + 1)
        found += p < ALPHA
    return found / trials


def wdq(response: tuple[float, float], buffer: tuple[float, float],
        control: tuple[float, float]) -> float | None:
    """The weighted displacement quotient of counts (before, after) in the response area,
    its buffer and a control area::

        WDQ = (B_a / C_a - B_b / C_b) / (R_a / C_a - R_b / C_b)

    Above 0: benefits spread to the buffer (diffusion); below 0: crime moved there
    (displacement), below -1 more than the response area gained. None when it cannot be
    read: no fall in the response area against the control, or a control without
    incidents."""
    (r_b, r_a), (b_b, b_a), (c_b, c_a) = response, buffer, control
    if c_b <= 0 or c_a <= 0:
        return None
    success = r_a / c_a - r_b / c_b
    if success >= 0:
        return None
    return float((b_a / c_a - b_b / c_b) / success)
