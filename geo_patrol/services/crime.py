"""Crime-pattern use cases: where property crime concentrates (hot spots on the street
network, a density surface), when (hour × weekday, weeks), repeats (Knox near-repeat and the
alert areas it implies) and whether the hot spots predict (held-out weeks against
baselines). The CLI, the pages, the API, the planner and the briefing all ask here.

A study is one scope (an area, a user's communities), one incident class and a window of
days ending on the latest incident in scope (or a given day). The methods live in
:mod:`geo_patrol.analysis.hotspots`, :mod:`~geo_patrol.analysis.near_repeat` and
:mod:`~geo_patrol.analysis.crime_times`.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_patrol.analysis import forecast as fc
from geo_patrol.analysis import hotspots as hs
from geo_patrol.analysis.crime_times import Rhythm, rhythm
from geo_patrol.analysis.near_repeat import Alert, Knox, alerts, knox
from geo_patrol.errors import InputError
from geo_patrol.ingest.ledgers import crime_class
from geo_patrol.render.charts import concentration_svg
from geo_patrol.settings import Settings
from geo_patrol.store import crime as crime_store
from geo_patrol.store.areas import subtree_ids
from geo_patrol.vocab import CRIME_CLASSES

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from geo_patrol.store.db import Database

#: Incidents farther than this from every street are left off the street analysis.
SNAP_M = 100.0


@dataclass(frozen=True)
class Study:
    """What to study: scope, incident class (``all`` for every class), window."""

    area_id: int | None = None
    within: frozenset[int] | None = None
    crime: str = "property"
    days: int = 90
    until: dt.date | None = None

    def __post_init__(self) -> None:
        if self.crime != "all" and self.crime not in CRIME_CLASSES:
            raise InputError(f"unknown incident class {self.crime!r}: use one of "
                             f"{', '.join(CRIME_CLASSES)} or all")
        if not 7 <= self.days <= 3660:
            raise InputError("the window is between 7 and 3660 days long")


@dataclass
class Data:
    """A study's incidents (``klass`` added; dated ones in the window, undated ones too) and
    the segments in scope with each incident's segment."""

    study: Study
    start: dt.date
    end: dt.date
    incidents: pd.DataFrame
    segments: Any  # GeoDataFrame, metric
    on_segment: np.ndarray
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def dated(self) -> pd.DataFrame:
        return self.incidents[self.incidents["day"].notna()]

    def day_number(self, frame: pd.DataFrame) -> np.ndarray:
        return np.array([(d - self.start).days for d in frame["day"]], dtype=np.int64)


_CACHE: OrderedDict[tuple, Data] = OrderedDict()
_CACHE_SIZE = 6
_CACHE_LOCK = threading.Lock()


def load(db: Database, settings: Settings, study: Study) -> Data:
    """The study's incidents and segments (kept for the next few asks of the same study
    while the incidents and streets stay as they are)."""
    with db.connect() as conn:
        end = study.until or crime_store.last_incident_day(
            conn, area_id=study.area_id, within=study.within) or settings.today()
        stamp = crime_store.data_stamp(conn)
        # each city counts its ids from 1: its key (and schema) is part of what data is of
        key = (settings.city, str(db.url), study.area_id, study.within, study.crime,
               study.days, end, stamp)
        with _CACHE_LOCK:
            if key in _CACHE:
                _CACHE.move_to_end(key)
                return _CACHE[key]
        frame = crime_store.incident_frame(conn, area_id=study.area_id, within=study.within,
                                           until=end, tz=settings.timezone)
        segments = crime_store.segment_frame(conn, area_id=study.area_id, within=study.within)
    start = end - dt.timedelta(days=study.days - 1)
    frame["klass"] = frame["category"].map(crime_class)
    keep = frame["day"].isna() | (pd.to_datetime(frame["day"]).dt.date >= start)
    if study.crime != "all":
        keep &= frame["klass"] == study.crime
    frame = frame[keep].reset_index(drop=True)
    on = hs.snap(frame["x"].to_numpy(), frame["y"].to_numpy(),
                 np.asarray(segments.geometry.values), SNAP_M)
    data = Data(study, start, end, frame, segments, on)
    with _CACHE_LOCK:  # the pages' threads and the job worker's share it
        _CACHE[key] = data
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return data


@dataclass(frozen=True)
class HotSpotReport:
    data: Data
    counts: np.ndarray
    concentration: hs.Concentration
    spots: hs.HotSpots
    order: int

    def table(self) -> pd.DataFrame:
        """Per segment: street and the cross streets of its stretch, community, incidents,
        Gi* z, p-values and the verdict (``hot``, ``cold`` or empty), hottest first."""
        seg = self.data.segments
        out = pd.DataFrame({
            "segment_id": seg["id"].to_numpy(), "street": seg["name"].fillna("").to_numpy(),
            "cross_a": seg["cross_a"].to_numpy(), "cross_b": seg["cross_b"].to_numpy(),
            "community_id": seg["community_id"].to_numpy(),
            "length_m": seg["length_m"].round(1).to_numpy(), "incidents": self.counts.astype(int),
            "z": np.round(self.spots.z, 3), "p_sim": np.round(self.spots.p_sim, 4),
            "p": self.spots.p, "spot": np.where(self.spots.hot, "hot",
                                                np.where(self.spots.cold, "cold", ""))})
        return out.sort_values(["z", "incidents"], ascending=False).reset_index(drop=True)


def hotspots(data: Data, *, permutations: int = 499, alpha: float = 0.05, order: int = 2,
             seed: int = 0) -> HotSpotReport:
    """Gi* hot spots on the street network: counts per segment, neighbours up to ``order``
    segments along the streets."""
    if not 0 < alpha < 0.5:
        raise InputError("alpha is between 0 and 0.5")
    if not 19 <= permutations <= 9999:
        raise InputError("permutations are between 19 and 9999")
    if not 1 <= order <= 5:
        raise InputError("the neighbourhood order is between 1 and 5")
    key = f"hot:{permutations}:{alpha}:{order}:{seed}"
    if key not in data.cache:
        seg = data.segments
        counts = hs.counts_on(data.on_segment, len(seg))
        w = hs.network_neighbours(seg["node_from"].to_numpy(), seg["node_to"].to_numpy(), order)
        data.cache[key] = HotSpotReport(
            data, counts, hs.concentration(counts, seg["length_m"].to_numpy()),
            hs.gi_star(counts, w, permutations=permutations, alpha=alpha, seed=seed), order)
    return data.cache[key]


def patterns(data: Data) -> Rhythm:
    """When: hour × weekday (or weekdays only, for dates-only records) and weeks."""
    return rhythm(data.incidents["day"], data.incidents["local"])


@dataclass(frozen=True)
class NearRepeatReport:
    knox: Knox
    risk: tuple[float, int] | None
    alerts: list[Alert]
    today: dt.date


def near_repeat(data: Data, settings: Settings, *, space_step: float = 100.0,
                space_bands: int = 5, time_step: int = 7, time_bands: int = 4,
                permutations: int = 99, alpha: float = 0.05, seed: int = 0,
                today: dt.date | None = None) -> NearRepeatReport:
    """The Knox table of the dated incidents, how far and how long the risk lasts, and an
    alert area around each incident whose risk is still open ``today``."""
    if not (10 <= space_step <= 5000 and 1 <= space_bands <= 20 and 1 <= time_step <= 60
            and 1 <= time_bands <= 20):
        raise InputError("bands: 10–5000 m steps, 1–60 day steps, at most 20 of each")
    if not 19 <= permutations <= 9999:
        raise InputError("permutations are between 19 and 9999")
    dated = data.dated
    if len(dated) < 2:
        raise InputError("near-repeat analysis needs dated incidents: none in this window")
    key = f"knox:{space_step}:{space_bands}:{time_step}:{time_bands}:{permutations}:{seed}"
    if key not in data.cache:
        data.cache[key] = knox(dated["x"].to_numpy(), dated["y"].to_numpy(),
                               data.day_number(dated), space_step=space_step,
                               space_bands=space_bands, time_step=time_step,
                               time_bands=time_bands, permutations=permutations, seed=seed)
    table: Knox = data.cache[key]
    risk = table.risk(alpha)
    on = today or settings.today()
    return NearRepeatReport(table, risk, alerts(dated["id"].to_numpy(), dated["x"].to_numpy(),
                                                dated["y"].to_numpy(), list(dated["day"]),
                                                risk, on), on)


def knox_table(k: Knox) -> pd.DataFrame:
    """The Knox bands as rows: metres, days, observed and expected pairs, ratio, p."""
    s_bands, t_bands = k.observed.shape
    return pd.DataFrame([
        {"metres": f"{i * k.space_step:g}-{(i + 1) * k.space_step:g}",
         "days": f"{j * k.time_step}-{(j + 1) * k.time_step - 1}",
         "observed": int(k.observed[i, j]), "expected": round(float(k.expected[i, j]), 2),
         "ratio": round(float(k.ratio[i, j]), 3), "p": round(float(k.p[i, j]), 3)}
        for i in range(s_bands) for j in range(t_bands)])


#: The methods that can choose a rota's hot spots, in the order preferred on a tie.
FORECASTS = ("sepp", "gi_star", "kde", "last_period")


@dataclass(frozen=True)
class Evaluation:
    """Held-out weeks scored in turn, each against what every method learnt from the weeks
    before it (a rolling evaluation)."""

    train: tuple[dt.date, dt.date]  # the first held-out week's training
    test: tuple[dt.date, dt.date]  # all the held-out weeks
    train_incidents: int
    test_incidents: int
    rows: list[hs.Prediction]
    weeks: int = 1
    #: the last week's fitted parameters (:func:`sepp_fit`: with the bootstrap's intervals)
    sepp: dict[str, Any] | None = None

    def table(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.rows])

    def verdict(self, share: float = 0.05) -> dict[str, Any]:
        """Does Gi* beat both baselines at ``share`` of the street length (by PAI)?"""
        at = {p.method: p for p in self.rows if p.length_share == share}
        best_base = max((at[m].pai for m in ("last_period", "random") if m in at), default=0.0)
        gi = at.get("gi_star")
        return {"share": share, "gi_star_pai": gi.pai if gi else 0.0,
                "baseline_pai": best_base,
                "predicts": bool(gi and self.test_incidents and gi.pai > best_base)}

    def favoured(self, share: float = 0.05) -> dict[str, Any]:
        """The method whose choices caught the most held-out incidents per metre (PAI) at
        ``share`` of the street length, averaged with the other shares to break ties; with
        its PAI, the runner-up's and random's. ``method`` is Gi* when no method beats a
        random choice (nothing predicts: the rota keeps the hot spots of the past)."""
        pai = {m: np.mean([p.pai for p in self.rows if p.method == m]) for m in FORECASTS}
        at = {p.method: p.pai for p in self.rows if p.length_share == share}
        ranked = sorted((m for m in FORECASTS if m in at),
                        key=lambda m: (-at[m], -pai[m], FORECASTS.index(m)))
        if not ranked:
            return {"method": "gi_star", "pai": 0.0, "runner_up": None, "runner_up_pai": 0.0,
                    "random_pai": 0.0, "beats_random": False, "share": share}
        best = ranked[0]
        beats = bool(self.test_incidents and at[best] > at.get("random", 0.0))
        second = ranked[1] if len(ranked) > 1 else None
        return {"method": best if beats else "gi_star", "pai": at[best], "share": share,
                "runner_up": second, "runner_up_pai": at[second] if second else 0.0,
                "random_pai": at.get("random", 0.0), "beats_random": beats}


def incident_days(data: Data, frame: pd.DataFrame) -> np.ndarray:
    """Each incident's time in days since the study's first day (the middle of its day
    when it carries no time of day)."""
    day = data.day_number(frame).astype(np.float64)
    local = pd.to_datetime(frame["local"])
    frac = ((local.dt.hour * 3600 + local.dt.minute * 60 + local.dt.second) / 86400.0)
    return day + frac.fillna(0.5).to_numpy(dtype=np.float64)


def _street_points(data: Data) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The segments' midpoints (x, y) and lengths, as the self-exciting process sees them."""
    seg = data.segments
    mids = seg.geometry.interpolate(0.5, normalized=True)
    return (mids.x.to_numpy(), mids.y.to_numpy(),
            seg["length_m"].to_numpy(dtype=np.float64))


def sepp_fit(data: Data, before: dt.date, *, seed: int = 0) -> dict[str, Any]:
    """The self-exciting process fitted to the incidents before ``before``, as shown:
    :meth:`SeppFit.as_dict` (its ``intervals`` from the observed information at the fit)
    with ``bootstrap``, :func:`~geo_patrol.analysis.forecast.bootstrap`'s intervals from
    refitting the model to simulated copies of itself (the background estimated anew),
    drawn from ``seed`` (None when the incidents are too few for the refits to bound every
    parameter). A job's work: the bootstrap costs less than one more fit (0.9 s of CPU
    against the fit's 1.5 s for the city demo's 3,300 incidents)."""
    key = f"sepp-fit:{before}:{seed}"
    if key not in data.cache:
        model = sepp_scores(data, before, seed=seed)[1]
        mx, my, lengths = _street_points(data)
        with np.errstate(over="ignore"):  # unbounded: told below
            boot = fc.bootstrap(model, mx, my, lengths, days=model.t_end, seed=seed)
        bounded = all(np.isfinite(v) for pair in boot.intervals.values() for v in pair)
        data.cache[key] = model.as_dict() | {"bootstrap": boot.as_dict() if bounded else None}
    return data.cache[key]


def sepp_scores(data: Data, before: dt.date, *, days: int = 7, seed: int = 0
                ) -> tuple[np.ndarray, fc.SeppFit]:
    """The self-exciting process fitted to the incidents on the streets before ``before``,
    and the incidents it expects on each segment in the ``days`` from then."""
    key = f"sepp:{before}:{days}"
    if key not in data.cache:
        dated = data.dated
        on = data.on_segment[data.incidents["day"].notna().to_numpy()]
        t = incident_days(data, dated)
        t_end = float((before - data.start).days)
        keep = (on >= 0) & (t < t_end)
        mx, my, lengths = _street_points(data)
        model = fc.fit(on[keep], t[keep], mx, my, lengths, t_end=t_end)
        data.cache[key] = (fc.expected(model, on[keep], t[keep], mx, my, lengths, days=days),
                           model)
    return data.cache[key]


def forecast_scores(data: Data, method: str, *, before: dt.date, weeks_back: int = 4,
                    permutations: int = 199, order: int = 2, seed: int = 0) -> np.ndarray:
    """One method's score per segment (higher = hotter) from the incidents before
    ``before``: Gi*'s z-score, the kernel density, the last ``weeks_back`` weeks' incidents
    per metre, or the process's expected incidents of the next week."""
    seg = data.segments
    lengths = seg["length_m"].to_numpy()
    n = len(seg)
    dated = data.dated
    on = data.on_segment[data.incidents["day"].notna().to_numpy()]
    days = np.array(list(dated["day"]), dtype=object)
    train = days < before if len(days) else np.zeros(0, dtype=bool)
    if method == "gi_star":
        w = hs.network_neighbours(seg["node_from"].to_numpy(), seg["node_to"].to_numpy(), order)
        spots = hs.gi_star(hs.counts_on(on[train], n), w, permutations=permutations, seed=seed)
        return spots.z - spots.z.min() + 1e-9
    if method == "kde":
        mids = seg.geometry.interpolate(0.5, normalized=True)
        return hs.density_at(dated["x"].to_numpy()[train], dated["y"].to_numpy()[train],
                             mids.x.to_numpy(), mids.y.to_numpy())
    if method == "last_period":
        recent = train & (days >= before - dt.timedelta(weeks=weeks_back)) if len(days) \
            else train
        return hs.counts_on(on[recent], n) / np.maximum(lengths, 1)
    if method == "sepp":
        return sepp_scores(data, before, seed=seed)[0]
    raise InputError(f"unknown forecast method {method!r}: use one of {', '.join(FORECASTS)}")


def evaluate(data: Data, *, holdout_weeks: int = 4, permutations: int = 199, order: int = 2,
             seed: int = 0) -> Evaluation:
    """The last ``holdout_weeks`` weeks held out and scored one week at a time: for each,
    every method learns from the incidents before that week — hot spots by Gi* z-score,
    the density surface, the self-exciting process's forecast of the week, the last period's
    incidents (the ``holdout_weeks`` weeks before it) — and a random choice is drawn; hit
    rate, PAI and PEI at 1 %, 5 % and 10 % of the street length over all the held-out
    weeks."""
    if not 1 <= holdout_weeks <= 26:
        raise InputError("hold out between 1 and 26 weeks")
    dated = data.dated
    split = data.end - dt.timedelta(weeks=holdout_weeks) + dt.timedelta(days=1)
    if split <= data.start + dt.timedelta(weeks=holdout_weeks):
        raise InputError(f"the window of {data.study.days} days is too short to hold out "
                         f"{holdout_weeks} weeks and learn from the weeks before")
    if len(dated) < 10:
        raise InputError("evaluation needs dated incidents: fewer than 10 in this window")
    key = f"evaluate:{holdout_weeks}:{permutations}:{order}:{seed}"
    if key in data.cache:
        return data.cache[key]
    seg = data.segments
    lengths = seg["length_m"].to_numpy()
    on = data.on_segment[data.incidents["day"].notna().to_numpy()]
    days = np.array(list(dated["day"]), dtype=object)
    n = len(seg)
    periods = []
    for k in range(holdout_weeks):
        begin = split + dt.timedelta(weeks=k)
        in_week = (days >= begin) & (days < begin + dt.timedelta(weeks=1))
        scores = {m: forecast_scores(data, m, before=begin, weeks_back=holdout_weeks,
                                     permutations=permutations, order=order, seed=seed)
                  for m in ("gi_star", "kde", "last_period", "sepp")}
        periods.append((scores, hs.counts_on(on[in_week], n)))
    rows = hs.rolling_accuracy(periods, lengths, seed=seed)
    last = split + dt.timedelta(weeks=holdout_weeks - 1)
    out = Evaluation((data.start, split - dt.timedelta(days=1)), (split, data.end),
                     int(hs.counts_on(on[days < split], n).sum()),
                     int(sum(test.sum() for _, test in periods)), rows, holdout_weeks,
                     sepp_fit(data, last, seed=seed))
    data.cache[key] = out
    return out


def _favoured(ev: Evaluation | None, why_not: str | None) -> dict[str, Any]:
    if ev is None:
        return {"method": "gi_star", "pai": 0.0, "runner_up": None, "runner_up_pai": 0.0,
                "random_pai": 0.0, "beats_random": False, "share": 0.05, "why_not": why_not}
    return ev.favoured() | {"test": ev.test, "weeks": ev.weeks,
                            "test_incidents": ev.test_incidents, "sepp": ev.sepp}


def favoured_method(db: Database, settings: Settings, *, holdout_weeks: int = 4,
                    until: dt.date | None = None) -> dict[str, Any]:
    """The forecast the city's rolling evaluation favours (property crime, the whole
    city, from its incidents up to ``until``, by default all): its name and why
    (:meth:`Evaluation.favoured`); Gi* when the city's incidents are too few to tell.
    Computed here: the web's jobs read it from the stored study (:func:`favoured_of`)."""
    data = load(db, settings, Study(until=until))
    try:
        return _favoured(evaluate(data, holdout_weeks=holdout_weeks), None)
    except InputError as exc:
        return _favoured(None, str(exc))


def favoured_of(made: Page) -> dict[str, Any]:
    """:func:`favoured_method`'s answer from a stored study's page (the city's study gives
    the same as computing it)."""
    return _favoured(made.evaluation, made.why_not)


def rota_hotspots(data: Data, method: str, *, start: dt.date, k: int = 10) -> np.ndarray:
    """The ids of the ``k`` segments a rota from ``start`` posts patrols at, by ``method``:
    Gi*'s significant hot segments (hottest first), or the segments any other method
    scores highest from the incidents before ``start`` (none scored zero)."""
    seg_ids = data.segments["id"].to_numpy()
    if method == "gi_star":
        table = hotspots(data).table()
        return table[table["spot"] == "hot"].head(k)["segment_id"].to_numpy()
    score = forecast_scores(data, method, before=start)
    top = np.argsort(-score, kind="stable")[:k]
    return seg_ids[top[score[top] > 0]]


def density(data: Data, *, bandwidth: float = 250.0, cell: float = 100.0) -> gpd.GeoDataFrame:
    """The kernel density surface as shaded polygons (WGS-84), one per level: no incident
    point leaves the server."""
    crs = data.segments.crs
    inc = data.incidents
    bounds = tuple(data.segments.total_bounds) if len(data.segments) else (0, 0, 1, 1)
    surface = hs.density_surface(inc["x"].to_numpy(), inc["y"].to_numpy(), bounds,
                                 bandwidth=bandwidth, cell=cell)
    polys, levels, cuts = hs.surface_polygons(surface)
    frame = gpd.GeoDataFrame({"level": levels,
                              "per_km2": [round(cuts[k - 1], 1) for k in levels]},
                             geometry=polys, crs=crs)
    return frame.to_crs(4326)


def scope_ids(db: Database, study: Study) -> frozenset[int] | None:
    """The areas a study covers (its area's subtree cut to the user's), ``None``: all."""
    with db.connect() as conn:
        ids = subtree_ids(conn, study.area_id)
    scope = None if ids is None else frozenset(ids)
    if study.within is not None:
        scope = study.within if scope is None else scope & study.within
    return scope


def spot_layer(report: HotSpotReport) -> gpd.GeoDataFrame:
    """Hot and cold segments (WGS-84) with street, cross streets, incidents and z."""
    seg = report.data.segments
    spots = report.spots
    keep = spots.hot | spots.cold
    frame = seg.loc[keep, ["name", "cross_a", "cross_b", seg.geometry.name]].rename(
        columns={"name": "street"})
    frame["street"] = frame["street"].fillna("")
    frame["incidents"] = report.counts[keep].astype(int)
    frame["z"] = np.round(spots.z[keep], 1)
    frame["spot"] = np.where(spots.hot[keep], "hot", "cold")
    return frame.to_crs(4326)


def alert_layer(data: Data, report: NearRepeatReport | None) -> gpd.GeoDataFrame:
    """Open near-repeat alert areas as circles (WGS-84) with the day they lapse."""
    items = report.alerts if report else []
    circles = [shapely.Point(a.x, a.y).buffer(a.radius_m, 24) for a in items]
    frame = gpd.GeoDataFrame({"incident_id": [a.incident_id for a in items],
                              "day": [a.day for a in items],
                              "until": [a.until for a in items]},
                             geometry=circles, crs=data.segments.crs)
    return frame.to_crs(4326)


@dataclass(frozen=True)
class Page:
    """What the crime page shows of a study, computed once by a job and stored until the
    incidents change: the window and counts, the concentration (and its
    curve, per language), the hot spots' counts and the hottest segments, when, near-repeats
    and whether the hot spots predict."""

    study: Study
    start: dt.date
    end: dt.date
    incidents: int
    undated: int
    segments: int
    concentration: hs.Concentration
    spots: hs.HotSpots
    hot: pd.DataFrame  # the 20 hottest significant segments of :meth:`HotSpotReport.table`
    when: Rhythm
    repeats: NearRepeatReport | None
    evaluation: Evaluation | None
    why_not: str | None
    curves: dict[str, str]


def page(db: Database, settings: Settings, study: Study,
         progress: Any = lambda share, step: None, *, today: dt.date | None = None) -> Page:
    """The crime page of ``study``, computed in full (a job's work: seconds at city scale),
    with the near-repeat alerts open ``today`` (the city's today when not given)."""
    progress(0.05, "reading")
    data = load(db, settings, study)
    progress(0.3, "hot spots")
    report = hotspots(data)
    top = report.table()
    progress(0.6, "near-repeats")
    try:
        repeats: NearRepeatReport | None = near_repeat(data, settings, today=today)
    except InputError:
        repeats = None
    progress(0.8, "evaluation")
    try:
        evaluation, why_not = evaluate(data), None
    except InputError as exc:
        evaluation, why_not = None, str(exc)
    c = report.concentration
    return Page(study, data.start, data.end, int(len(data.incidents)),
                int(data.incidents["day"].isna().sum()), int(len(data.segments)), c,
                report.spots, top[top["spot"] == "hot"].head(20).reset_index(drop=True),
                patterns(data), repeats, evaluation, why_not,
                {lang: concentration_svg(c.length_share, c.incident_share, lang)
                 for lang in ("zh", "en")})


def stored_hotspots(db: Database, settings: Settings, made: Page) -> HotSpotReport:
    """The hot spots of a stored page with its study's segments and counts read again (the
    Gi* permutations are not run on a request)."""
    data = load(db, settings, made.study)
    counts = hs.counts_on(data.on_segment, len(data.segments))
    if len(counts) != len(made.spots.z):  # the streets changed since: a page of its own
        return hotspots(data)
    return HotSpotReport(data, counts, made.concentration, made.spots, order=2)


def summary(db: Database, settings: Settings, study: Study, *,
            today: dt.date | None = None) -> dict[str, Any]:
    """The dashboard's figures of ``study``, the same as its page's (:meth:`Page.tile`):
    incidents of the window, share on the top 5 % of street length, hot segments and the
    near-repeat alert areas open ``today`` (the city's today when not given). Without the
    rest of the page (its rolling evaluation costs the most), so the dashboard's job is done
    in a fraction of the study's time and leaves the worker to the planner's."""
    data = load(db, settings, study)
    out: dict[str, Any] = {"incidents": int(len(data.incidents)), "end": data.end}
    if not len(data.incidents) or not len(data.segments):
        return out | {"top5": None, "hot": 0, "alerts": 0}
    report = hotspots(data)
    try:
        n_alerts = len(near_repeat(data, settings, today=today).alerts)
    except InputError:
        n_alerts = 0
    return out | {"top5": report.concentration.at[0.05], "hot": int(report.spots.hot.sum()),
                  "alerts": n_alerts}


def briefing_figures(db: Database, settings: Settings, district_id: int) -> dict[str, Any]:
    """What a district briefing says of property crime: the window, incidents, share on
    the hottest 5 % of street length, the hottest streets (names and counts only: no
    personal data), near-repeat risk and whether the hot spots predict."""
    data = load(db, settings, Study(area_id=district_id))
    out: dict[str, Any] = {"incidents": int(len(data.incidents)), "start": data.start,
                           "end": data.end, "top5": None, "hot": 0, "risk": None,
                           "alerts": 0, "predicts": None, "streets": []}
    if not len(data.incidents) or not len(data.segments):
        return out
    report = hotspots(data)
    table = report.table()
    hot = table[table["spot"] == "hot"]
    with db.connect() as conn:
        names = crime_store.community_names(conn)
    # one row per stretch of a street between two cross streets: a long street's hot
    # stretches stay apart
    streets = (hot.assign(street=hot["street"].replace("", "-"),
                          cross_a=hot["cross_a"].fillna(""), cross_b=hot["cross_b"].fillna(""))
               .groupby(["street", "cross_a", "cross_b", "community_id"], as_index=False)
               .agg(incidents=("incidents", "sum"), z=("z", "max"))
               .sort_values("z", ascending=False).head(10))
    out["streets"] = [{"street": r.street, "cross_a": r.cross_a or None,
                       "cross_b": r.cross_b or None,
                       "community": names.get(r.community_id, ""),
                       "incidents": int(r.incidents), "z": float(r.z)}
                      for r in streets.itertuples()]
    out |= {"top5": report.concentration.at[0.05], "hot": int(report.spots.hot.sum())}
    try:
        repeats = near_repeat(data, settings)
        out |= {"risk": repeats.risk, "alerts": len(repeats.alerts)}
    except InputError:
        pass
    try:
        out["predicts"] = evaluate(data).verdict()["predicts"]
    except InputError:
        pass
    return out


def alerts_per_segment(db: Database, settings: Settings, area_id: int,
                       segment_ids: Any) -> np.ndarray:
    """For each of ``segment_ids``, how many open near-repeat alert areas of property crime
    reach it (the planner's temporary demand)."""
    data = load(db, settings, Study(area_id=area_id))
    out = pd.Series(0, index=pd.Index(segment_ids))
    try:
        repeats = near_repeat(data, settings)
    except InputError:
        return out.to_numpy()
    if not repeats.alerts or not len(data.segments):
        return out.to_numpy()
    tree = shapely.STRtree(np.asarray(data.segments.geometry.values))
    centres = shapely.points([(a.x, a.y) for a in repeats.alerts])
    radius = np.array([a.radius_m for a in repeats.alerts])
    # within the radius exactly (a buffered circle is a polygon inside the circle)
    _, hit = tree.query(centres, predicate="dwithin", distance=radius)
    counts = pd.Series(data.segments["id"].to_numpy()[hit]).value_counts()
    return out.add(counts.reindex(out.index, fill_value=0), fill_value=0).astype(int).to_numpy()
