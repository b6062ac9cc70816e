"""Short-term forecasts: the self-exciting point process recovers the parameters of
incidents simulated from a known process, its forecast finds where they will be, and it
stands in the rolling evaluation beside Gi*, kernel density, the last period and random."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from geo_patrol.analysis import forecast as fc
from geo_patrol.analysis import hotspots as hs

#: The known process: incidents a day in the background, triggered per incident, decay per
#: day and spread in metres.
TRUTH = {"background": 1.6, "theta": 0.5, "omega": 0.25, "sigma_m": 60.0}
#: The stated intervals the fit must land in (relative, except θ: absolute).
WITHIN = {"background": 0.25, "theta": 0.15, "omega": 0.4, "sigma_m": 0.25}


def lattice(m: int, step: float = 50.0):
    """A square street grid of ``m`` blocks a side: midpoints and lengths."""
    segs = []
    for i in range(m + 1):
        for j in range(m):
            segs.append(((j * step, i * step), ((j + 1) * step, i * step)))
            segs.append(((i * step, j * step), (i * step, (j + 1) * step)))
    lines = shapely.linestrings(np.array(segs))
    mids = shapely.centroid(lines)
    return shapely.get_x(mids), shapely.get_y(mids), shapely.length(lines)


@pytest.fixture(scope="module")
def world():
    mx, my, lengths = lattice(16)
    # a smooth background with two hot areas, as the fit's background is smooth
    field = 0.3 + 3 * np.exp(-((mx - 250) ** 2 + (my - 550) ** 2) / (2 * 120 ** 2)) \
        + 3 * np.exp(-((mx - 600) ** 2 + (my - 200) ** 2) / (2 * 90 ** 2))
    mu = lengths * field
    mu *= TRUTH["background"] / mu.sum()
    return mx, my, lengths, mu


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_recovers_a_known_process(world, seed):
    mx, my, lengths, mu = world
    seg, t, triggered = fc.simulate(mu, TRUTH["theta"], TRUTH["omega"], TRUTH["sigma_m"],
                                    mx, my, lengths, days=300, seed=seed)
    assert 700 < len(seg) < 1300 and 0.35 < triggered.mean() < 0.65
    assert np.all(np.diff(t) >= 0)
    model = fc.fit(seg, t, mx, my, lengths, t_end=300.0)
    assert model.converged and model.incidents == len(seg) and model.pairs > 0
    got = {"background": model.mu.sum(), "theta": model.theta, "omega": model.omega,
           "sigma_m": model.sigma_m}
    for name in ("background", "omega", "sigma_m"):
        assert got[name] == pytest.approx(TRUTH[name], rel=WITHIN[name]), (name, got)
    assert got["theta"] == pytest.approx(TRUTH["theta"], abs=WITHIN["theta"]), got
    # the truth within the fit's stated 95 % intervals (from the observed information),
    # each around its estimate
    got["mean_days"] = model.mean_days
    for name, (lo, hi) in model.intervals.items():
        assert lo < got[name] < hi, (name, lo, hi)
        truth = 1 / TRUTH["omega"] if name == "mean_days" else TRUTH[name]
        assert lo <= truth <= hi, (name, lo, hi)
    # the declustering puts about the simulated share down to triggering
    assert model.background_share == pytest.approx(1 - triggered.mean(), abs=0.15)
    # the background is highest where it was planted
    hot = np.argsort(-model.mu / lengths)[:20]
    assert np.hypot(mx[hot] - 250, my[hot] - 550).min() < 150 or \
        np.hypot(mx[hot] - 600, my[hot] - 200).min() < 150


def test_a_process_without_triggering_is_fitted_as_background(world):
    mx, my, lengths, mu = world
    seg, t, triggered = fc.simulate(mu, 0.0, 0.25, 60.0, mx, my, lengths, days=300, seed=5)
    assert not triggered.any()
    model = fc.fit(seg, t, mx, my, lengths, t_end=300.0)
    assert model.theta < 0.1 and model.background_share > 0.9


def test_forecast_expects_the_triggered_incidents_near_the_last_ones(world):
    mx, my, lengths, mu = world
    model = fc.SeppFit(mu, 0.5, 0.25, 60.0, 100.0, 1, True, 0.0, 0.5, 1, 0)
    quiet = fc.expected(model, np.zeros(0, int), np.zeros(0), mx, my, lengths, days=7)
    assert quiet == pytest.approx(mu * 7)
    far = int(np.argmin(np.hypot(mx - 0, my - 800)))  # a corner away from the hot areas
    burst = fc.expected(model, np.full(5, far), np.full(5, 99.0), mx, my, lengths, days=7)
    # five incidents yesterday trigger 5 θ (e^{-ω} - e^{-8ω}) more, all within reach of them
    extra = 5 * 0.5 * (np.exp(-0.25) - np.exp(-0.25 * 8))
    assert (burst - quiet).sum() == pytest.approx(extra, rel=1e-6)
    assert np.argmax(burst - quiet) == far or \
        np.hypot(mx[np.argmax(burst - quiet)] - mx[far], my[np.argmax(burst - quiet)] - my[far]) \
        <= 50
    old = fc.expected(model, np.full(5, far), np.full(5, 100.0 - 60), mx, my, lengths, days=7)
    assert old == pytest.approx(quiet)  # beyond the cut, nothing is left


def test_sepp_beats_the_past_where_crime_repeats(world):
    """On a process that repeats near its last incidents, the week ahead is forecast
    better by the process than by the incidents of the last period or at random, scored by
    the rolling evaluation's hit rate and PAI."""
    mx, my, lengths, mu = world
    seg, t, _ = fc.simulate(mu * 0.5, 0.7, 0.3, 50.0, mx, my, lengths, days=140, seed=3)
    periods = []
    for week in range(4):
        begin = 112.0 + 7 * week
        past = t < begin
        model = fc.fit(seg[past], t[past], mx, my, lengths, t_end=begin)
        scores = {"sepp": fc.expected(model, seg[past], t[past], mx, my, lengths),
                  "last_period": hs.counts_on(seg[past & (t >= begin - 28)], len(lengths))
                  / lengths}
        test = hs.counts_on(seg[(t >= begin) & (t < begin + 7)], len(lengths))
        periods.append((scores, test))
    rows = hs.rolling_accuracy(periods, lengths, random_draws=50)
    at = {(p.method, p.length_share): p for p in rows}
    assert {m for m, _ in at} == {"sepp", "last_period", "random"}
    assert at["sepp", 0.1].pai > at["random", 0.1].pai
    assert at["sepp", 0.1].hits >= at["last_period", 0.1].hits
    assert at["random", 0.1].pai == pytest.approx(1.0, abs=0.5)


def test_the_background_bandwidth_is_chosen_from_the_data():
    """On a sparse city whose background is far wider than 100 m (4 km of streets a side,
    ~1,300 background incidents spread almost evenly), each incident's background at a
    fixed 100 m leans on the few incidents around it, its own cluster among them: the
    background comes out too high and the triggering too low, past the stated intervals in
    some draws. Chosen from the data (likelihood cross-validation), the bandwidth is wide
    and every parameter's interval holds the truth in every draw."""
    mx, my, lengths = lattice(80)
    side = mx.max()
    field = 0.2 + np.exp(-((mx - side / 2) ** 2 + (my - side / 2) ** 2) / (2 * 3000 ** 2))
    mu = lengths * field
    mu *= 4.3 / mu.sum()
    truth = {"background": mu.sum(), "theta": 0.5, "omega": 0.25, "sigma_m": 60.0}

    def misses(model: fc.SeppFit) -> list[str]:
        got = {"background": model.mu.sum(), "theta": model.theta, "omega": model.omega,
               "sigma_m": model.sigma_m}
        assert all(lo < got[k] < hi for k, (lo, hi) in model.intervals.items()
                   if k in got), model.intervals
        return [k for k in truth
                if not model.intervals[k][0] <= truth[k] <= model.intervals[k][1]]

    chosen, at_100 = [], []
    for seed in range(4):
        seg, t, _ = fc.simulate(mu, truth["theta"], truth["omega"], truth["sigma_m"], mx, my,
                                lengths, days=300, seed=seed)
        chosen.append(fc.fit(seg, t, mx, my, lengths, t_end=300.0))
        at_100.append(fc.fit(seg, t, mx, my, lengths, t_end=300.0, background_m=100.0))
    assert all(m.converged for m in chosen)
    assert [misses(m) for m in chosen] == [[]] * 4, [m.as_dict() for m in chosen]
    assert np.median([m.background_m for m in chosen]) > 200, [m.background_m for m in chosen]
    assert all(m.background_m == 100.0 for m in at_100)
    # a fixed 100 m misses the truth in some draws
    assert any(misses(m) for m in at_100), [m.as_dict() for m in at_100]
    # the wider background leaves more of the clustering to the triggering
    assert all(c.mu.sum() < f.mu.sum() and c.theta > f.theta for c, f in zip(chosen, at_100))


def test_the_decay_allows_for_the_triggering_the_window_cuts_short():
    """Children drawn for parents over a 100-day window at a slow decay (10 days on
    average), seen only before the window ends: those of the last weeks' parents are
    missing, which reads as a fast decay if left out of the step (the naive
    children / total delay); the step that allows for each parent's reach finds the truth,
    and θ with it."""
    rng = np.random.default_rng(4)
    theta, omega, days, cut = 0.5, 0.1, 100.0, fc.T_MAX_DAYS
    born = rng.uniform(0, days, 40_000)
    kids = rng.poisson(theta, len(born))
    delay = rng.exponential(1 / omega, kids.sum())
    seen = (delay <= cut) & (np.repeat(born, kids) + delay < days)
    reach = np.minimum(days - born, cut)
    n, gaps = float(seen.sum()), float(delay[seen].sum())
    naive = n / gaps
    got = fc._omega_step(n, gaps, reach, 0.2, cut)
    assert naive > 1.15 * omega  # the cut-short triggering, read as a fast decay
    assert got == pytest.approx(omega, rel=0.03)
    assert n / (1 - np.exp(-got * reach)).sum() == pytest.approx(theta, rel=0.03)


def test_bootstrap_intervals_carry_the_background(world):
    """The bootstrap's intervals, from refits on a window of the streets with the
    background estimated anew, hold the truth, are no narrower than the observed
    information's, and say how biased the procedure is."""
    mx, my, lengths, mu = world
    seg, t, _ = fc.simulate(mu, TRUTH["theta"], TRUTH["omega"], TRUTH["sigma_m"], mx, my,
                            lengths, days=300, seed=0)
    model = fc.fit(seg, t, mx, my, lengths, t_end=300.0)
    boot = fc.bootstrap(model, mx, my, lengths, days=300.0, share=0.5, draws=4, seed=1)
    assert boot.draws == 4 and 0.3 * len(seg) < boot.incidents < 0.7 * len(seg)
    assert set(boot.intervals) == set(model.intervals) | {"mean_days"}
    for name, (lo, hi) in boot.intervals.items():
        truth = 1 / TRUTH["omega"] if name == "mean_days" else TRUTH[name]
        assert lo <= truth <= hi, (name, lo, hi)
        w_lo, w_hi = model.intervals[name]
        if name == "theta":
            assert hi - lo >= 0.99 * (w_hi - w_lo)
        else:
            assert np.log(hi / lo) >= 0.99 * np.log(w_hi / w_lo), name
    assert set(boot.bias) == {"background", "theta", "omega", "sigma_m"}
    assert all(np.isfinite(v) for v in boot.bias.values())
