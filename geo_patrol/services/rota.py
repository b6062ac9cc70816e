"""Rota use cases: a period's rota for an area sized to its force, stored with its figures,
and read back for pages, exports and briefings.

The data comes from the store (a run's streets and hazards, the force, the property-crime
hot spots, the volunteers of the area); choosing, timing and assigning the loops is pure
(:mod:`geo_patrol.planning.rota`).
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from shapely.geometry import LineString

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.ingest.volunteers import PASSIVE_OCCUPATIONS
from geo_patrol.planning.crew import PATROL_DUTY, SLOTS, _km
from geo_patrol.planning.demand import segment_demand
from geo_patrol.planning.loops import walked_segments
from geo_patrol.planning.network import dense_nodes, node_points
from geo_patrol.planning.plan import PlanParams
from geo_patrol.planning.rota import (
    Candidate,
    Rota,
    RotaProblem,
    Schedule,
    assign,
    community_loops,
    fewest_hours,
    schedule,
    solve,
    visit_entropy,
)
from geo_patrol.privacy import mask_name
from geo_patrol.services import crime, trials
from geo_patrol.services.planning import _with_alerts, force, plan_area
from geo_patrol.settings import Settings
from geo_patrol.store import results
from geo_patrol.store import rotas as store
from geo_patrol.store import trials as trial_store
from geo_patrol.store.accounts import audit
from geo_patrol.store.areas import find_area, subtree_ids
from geo_patrol.store.force import idle_on_duty
from geo_patrol.store.results import find_run
from geo_patrol.store.volunteers import volunteer_pool

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from geo_patrol.store.db import Database

#: Koper's dose: a hot-spot stop of this many minutes, at least every ``EVERY_MINUTES``
#: through the risk hours.
STOP_MINUTES = 15.0
EVERY_MINUTES = 120.0
#: The least time a walk takes from a volunteer, however few streets it has.
MIN_MINUTES = 15.0


@dataclass
class Walk:
    """One loop of the rota as it will be walked."""

    day: dt.date
    slot: str
    starts_at: dt.datetime
    minutes: float
    kind: str  # "streets" or "hotspot"
    community_id: int | None
    volunteer_id: int | None
    length_m: float
    segment_ids: list[int]
    hazard_ids: list[int]
    hotspot_segment_id: int | None
    coords: list[tuple[float, float]]

    def row(self) -> dict[str, Any]:
        return {"day": self.day, "slot": self.slot, "starts_at": self.starts_at,
                "minutes": round(self.minutes, 1), "kind": self.kind,
                "community_id": self.community_id, "volunteer_id": self.volunteer_id,
                "length_m": round(self.length_m, 1), "segment_ids": self.segment_ids,
                "hazard_ids": self.hazard_ids, "hotspot_segment_id": self.hotspot_segment_id,
                "wkt": LineString(self.coords).wkt}


@dataclass
class RotaPlan:
    """A rota for an area and period, with what it is expected to achieve and what is
    missing (see :mod:`geo_patrol.planning.rota`)."""

    area: dict
    run_id: int
    start: dt.date
    days: int
    revisit_days: int
    minutes: float
    seed: int
    community_ids: list[int]
    communities: list[str]
    candidates: int
    rota: Rota
    schedule: Schedule
    walks: list[Walk]
    length: np.ndarray
    shortfall: np.ndarray  # hours in the period [community, slot]
    hours_available: np.ndarray  # hours in the period [community, slot]
    hotspots: int
    forecast: dict[str, Any]  # the method the hot spots come from, and why
    risk_slots: tuple[str, ...]
    last_period: float  # street coverage of the analysed period
    single_loop_after: float  # today's planner: four zones, one loop each, once
    rota_after: float  # the same measure with the rota's streets walked
    hazards_before: float  # hazard compliance of the analysed period
    entropy: float  # bits: the first hot-spot visit's quarter-hour over draws
    start_entropy: float  # bits: each walk's starting quarter-hour over draws
    entropy_max: float
    daily: pd.DataFrame
    idle_on_duty: dict[int, int]  # per community: on the roster to patrol, no patrol lately
    seconds: float
    hotspot_given: int = 0  # hot-spot stops of Koper's dose in walks given to a volunteer
    hotspot_walk_h: float = 0.0  # hours of one hot-spot walk

    @property
    def hotspot_missing(self) -> int:
        """Hot-spot stops of Koper's dose the force cannot make."""
        return max(self.rota.hotspot_due - self.hotspot_given, 0)

    @property
    def coverage(self) -> float:
        """Share of the due street length met in its window."""
        due = self.length[:, None] * self.rota.due
        return float((self.length[:, None] * self.rota.met).sum() / due.sum()) \
            if due.sum() else 1.0

    @property
    def unassigned(self) -> int:
        return sum(1 for w in self.walks if w.volunteer_id is None)

    def summary(self) -> dict[str, Any]:
        """The figures kept with a stored rota (no personal data)."""
        r, s = self.rota, self.schedule
        short = self.shortfall.sum(axis=1)
        per_day = self.minutes / 60 * self.days
        return {
            "area": self.area["name"], "candidates": self.candidates, "walks": len(r.walks),
            "status": r.status, "gap": round(r.gap, 5), "solver_s": round(r.seconds, 2),
            "seconds": round(self.seconds, 2),
            "last_period": round(self.last_period, 4),
            "single_loop_after": round(self.single_loop_after, 4),
            "rota_after": round(self.rota_after, 4), "due_met": round(self.coverage, 4),
            "windows": [round(v, 4) for v in r.coverage(self.length)],
            "hazards_before": round(self.hazards_before, 4),
            "hazard_met": r.hazard_met, "hazard_due": r.hazard_due,
            "hotspots": self.hotspots, "risk_slots": list(self.risk_slots),
            "forecast": {k: (v.isoformat() if isinstance(v, dt.date) else
                             [d.isoformat() for d in v] if isinstance(v, tuple) else v)
                         for k, v in self.forecast.items()},
            "hotspot_met": r.hotspot_met, "hotspot_due": r.hotspot_due,
            "hotspot_given": self.hotspot_given, "hotspot_missing": self.hotspot_missing,
            "hotspot_missing_h": round(self.hotspot_missing * self.hotspot_walk_h, 1),
            "hotspot_walk_min": round(60 * self.hotspot_walk_h, 1),
            "promises_kept": s.promises_kept, "promised": s.promised,
            "entropy_bits": round(self.entropy, 3),
            "start_entropy_bits": round(self.start_entropy, 3),
            "entropy_max": round(self.entropy_max, 3),
            "hours_available": round(float(self.hours_available.sum()), 1),
            "hours_used": round(float(r.hours_used.sum()), 1),
            "unassigned": self.unassigned,
            "shortfall_h": round(float(short.sum()), 1),
            "shortfall": [
                {"community_id": cid, "community": name,
                 "hours": round(float(short[i]), 1),
                 "volunteers_a_day": round(float(short[i]) / per_day, 1),
                 "idle_on_duty": self.idle_on_duty.get(cid, 0),
                 **{slot: round(float(self.shortfall[i, j]), 1)
                    for j, slot in enumerate(SLOTS)}}
                for i, (cid, name) in enumerate(zip(self.community_ids, self.communities))
                if short[i] > 0.05],
            "daily": [{k: (v.isoformat() if isinstance(v, dt.date) else v)
                       for k, v in row.items()} for row in self.daily.to_dict("records")],
        }


def check_options(days: int, revisit_days: int, minutes: float, seed: int) -> None:
    """Refuse a rota request out of bounds (before any work is queued for it)."""
    if not 1 <= days <= 28:
        raise InputError("a rota is for 1 to 28 days")
    if not 1 <= revisit_days <= days:
        raise InputError("the revisit interval is between 1 day and the period")
    if not 0 <= seed < 2 ** 31:
        raise InputError("the seed is a whole number from 0")
    PlanParams(minutes=minutes).check()


def _hazard_rules(rows: pd.DataFrame, settings: Settings, start: dt.date, days: int,
                  day0: dt.datetime) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per hazard: its rule's interval, days since its last inspection, the days it may be
    inspected on (school days for schools) and the slots that meet its windows."""
    every, school, slots = [], [], []
    for cat in rows["category"]:
        rule = settings.rules.categories.get(cat)
        every.append(rule.every_days if rule else 7)
        school.append(bool(rule and rule.school_days_only))
        windows = rule.windows if rule else ()
        slots.append([not windows or any(a.hour < hi and (b.hour, b.minute) > (lo, 0)
                                         for a, b in windows)
                      for lo, hi in SLOTS.values()])
    last = pd.to_datetime(rows["last_inspection"], utc=True)
    age = ((pd.Timestamp(day0) - last).dt.total_seconds() / 86400).fillna(np.inf).to_numpy()
    weekdays = np.array([(start + dt.timedelta(days=d)).weekday() for d in range(days)])
    allowed = np.where(np.array(school, bool)[:, None], weekdays[None, :] < 5, True)
    return (np.array(every, dtype=np.int64), age, allowed.reshape(len(rows), days),
            np.array(slots, bool).reshape(len(rows), len(SLOTS)))


def _daily(start: dt.date, days: int, rota: Rota, cands: list, length: np.ndarray,
           age: np.ndarray, revisit: int, hazard_every: np.ndarray, hazard_age: np.ndarray
           ) -> pd.DataFrame:
    """Per day, at its end: the street length patrolled within the revisit interval and the
    hazards inspected within their rule's interval, with the rota walked and without."""
    seg_age, hz_age = age.copy(), hazard_age.copy()
    by_day: dict[int, list[int]] = {}
    for d, _, c in rota.walks:
        by_day.setdefault(d, []).append(c)
    rows = []
    total = length.sum() or 1.0
    for d in range(days):
        seg_age += 1
        hz_age += 1
        for c in by_day.get(d, []):
            seg_age[cands[c].segments] = 0
            hz_age[cands[c].hazards] = 0
        idle_seg, idle_hz = age + d + 1, hazard_age + d + 1
        n_hz = max(len(hazard_every), 1)
        rows.append({
            "day": start + dt.timedelta(days=d),
            "streets": round(float(length[seg_age <= revisit].sum() / total), 4),
            "streets_idle": round(float(length[idle_seg <= revisit].sum() / total), 4),
            "hazards": round(float((hz_age <= hazard_every).sum() / n_hz), 4)
            if len(hazard_every) else None,
            "hazards_idle": round(float((idle_hz <= hazard_every).sum() / n_hz), 4)
            if len(hazard_every) else None})
    return pd.DataFrame(rows)


def _walker_costs(pool: pd.DataFrame, posts: np.ndarray, slots: list[str],
                  skills: list[set[str]]) -> np.ndarray:
    """[walk, volunteer] km from home to the walk's post, less a km for a habit of
    patrolling in its slot; not allowed (inf) for passive occupations and for walks that
    inspect sites whose rule needs a certificate the volunteer does not hold."""
    if pool.empty or not len(posts):
        return np.zeros((len(posts), len(pool)))
    lon, lat = pool["lon"].to_numpy(float), pool["lat"].to_numpy(float)
    cost = np.stack([_km(lon, lat, float(x), float(y)) for x, y in posts])
    cost = np.where(np.isfinite(cost), cost, 50.0)  # no home on the roster: far away
    counts = pool[[s for s in SLOTS]].to_numpy(float)
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1.0)
    cost -= share[:, [list(SLOTS).index(s) for s in slots]].T
    cost[:, pool["occupation"].isin(PASSIVE_OCCUPATIONS).to_numpy()] = np.inf
    held = [set(c or []) for c in pool["certified"]]
    for i, need in enumerate(skills):
        if need:
            cost[i, [not need <= h for h in held]] = np.inf
    return cost


def observed_walkers(table: pd.DataFrame, start: dt.date, days: int
                     ) -> tuple[np.ndarray, float | None]:
    """From the force table (:func:`geo_patrol.services.planning.force`): the most walks
    each day and slot of the period can take, pooled over the area [day, slot] (the
    volunteers seen patrolling on that weekday's slot a week, rounded up; no bound where
    the planner set the hours), and the minutes one volunteer patrols in a slot (``None``:
    no patrol seen)."""
    walkers = np.zeros((days, len(SLOTS)))
    cell = table.groupby(["weekday", "slot"]).agg(volunteers=("volunteers", "sum"),
                                                  set=("set_hours", "count"))
    for d in range(days):
        weekday = (start + dt.timedelta(days=d)).weekday()
        for j, slot in enumerate(SLOTS):
            row = cell.loc[(weekday, slot)] if (weekday, slot) in cell.index else None
            walkers[d, j] = 0.0 if row is None else np.inf if row["set"] > 0 \
                else float(np.ceil(float(row["volunteers"]) - 1e-9))
    seen = table["volunteers"].to_numpy(float)
    minutes = None
    if seen.sum() > 0:
        minutes = 60.0 * float(table["observed_hours"].to_numpy(float).sum()) / float(seen.sum())
    return walkers, minutes


def hotspot_stops_given(problem: RotaProblem, rota: Rota, who: np.ndarray) -> int:
    """The hot-spot stops of the dose (at most ``hotspot_visits`` per hot spot, day and
    risk slot) that walks given to a volunteer (``who`` per walk, -1: nobody) make."""
    count: dict[tuple[int, int, int], int] = {}
    for i, (d, s, c) in enumerate(rota.walks):
        if who[i] < 0 or s not in problem.risk_slots:
            continue
        for spot in np.asarray(problem.candidates[c].hotspots, dtype=int).reshape(-1):
            count[int(spot), d, s] = count.get((int(spot), d, s), 0) + 1
    return int(sum(min(n, problem.hotspot_visits) for n in count.values()))


def make_rota(conn: Connection, settings: Settings, run: dict, area: dict, *,
              start: dt.date, days: int = 7, revisit_days: int = 3, minutes: float = 90.0,
              seed: int = 0, per_community: int = 3, hotspots: int = 10,
              time_limit: float = 60.0, draws: int = 50,
              force_until: dt.date | None = None,
              favoured: dict[str, Any] | None = None) -> RotaPlan:
    """A rota for ``area`` from ``start`` for ``days``: candidate loops per community and one
    posted at each property-crime hot spot (the hottest ``hotspots`` by the forecast the
    city's evaluation favours: :func:`geo_patrol.services.crime.favoured_method`), chosen
    per day and slot within the force (:func:`geo_patrol.services.planning.force`) so that every
    street is patrolled within ``revisit_days``, every hazard by its rule, and each hot spot
    visited at least every two hours through the risk slots (the slots of the busiest
    hours); timed at random inside those guarantees (``draws`` schedules measure how
    unpredictable), given to the area's volunteers nearest their home, and the hours
    missing where the force is not enough. The force is what the patrols of the weeks up to
    ``force_until`` (the day before ``start``) show. ``favoured`` is the forecast to take
    the hot spots from, as :func:`~geo_patrol.services.crime.favoured_method` gives it (the
    stored crime study's, on the web); the city's evaluation is run when not given."""
    t0 = time.perf_counter()
    check_options(days, revisit_days, minutes, seed)
    params = PlanParams(minutes=minutes)
    tz = ZoneInfo(settings.timezone)
    demand = segment_demand(_with_alerts(conn, settings, area["id"],
                                         results.segment_demand_rows(conn, run["id"],
                                                                     area["id"])))
    if demand.empty:
        raise NotFoundError(f"no analysed streets in {area['name']}")
    _, a, b = dense_nodes(demand)
    points = node_points(demand)
    node_ids = np.unique(np.concatenate([demand["node_from"], demand["node_to"]]))
    length = demand["length_m"].to_numpy(dtype=float)
    seg_ids = demand["id"].to_numpy(dtype=int)
    index_of = {int(g): k for k, g in enumerate(seg_ids)}
    day0 = dt.datetime.combine(start, dt.time(), tz)
    seen = results.last_visits(conn, run["id"], area["id"]).set_index("id")["last_visit"]
    last = pd.to_datetime(demand["id"].map(seen), utc=True)
    age = ((pd.Timestamp(day0) - last).dt.total_seconds() / 86400).fillna(np.inf).to_numpy()
    community = demand["area_id"].fillna(-1).astype(int).to_numpy()
    place_ids = np.unique(community)
    # the hazards to inspect in the period, each on its nearest street
    hz = results.hazard_rota_rows(conn, run["id"], area["id"])
    hz = hz[hz["segment_id"].isin(index_of)].reset_index(drop=True)
    hz_seg = hz["segment_id"].map(index_of).to_numpy(dtype=int)
    hz_every, hz_age, hz_days, hz_slots = _hazard_rules(hz, settings, start, days, day0)
    stops = np.bincount(hz_seg, minlength=len(length))
    # hot spots: the area's hottest segments by the forecast the city's evaluation
    # favours, in its risk slots
    data = crime.load(conn.engine, settings, crime.Study(area_id=area["id"]))
    favoured = dict(favoured) if favoured is not None else \
        crime.favoured_method(conn.engine, settings)
    hot_ids = crime.rota_hotspots(data, favoured["method"], start=start, k=hotspots)
    # while a trial runs, its patrolled hot spots only (never its control ones)
    hot_ids, following = trials.patrolled_only(
        trial_store.running_spots(conn, start, start + dt.timedelta(days=days - 1)),
        set(index_of), hot_ids)
    if following:
        favoured = favoured | {"trials": following}
    hot_seg = np.array([index_of[int(g)] for g in hot_ids if int(g) in index_of], dtype=int)
    when = crime.patterns(data)
    busiest = np.argsort(-when.by_hour.sum(axis=0))[:3] if when.hours_known else []
    risk = tuple(sorted({j for j, (lo, hi) in enumerate(SLOTS.values())
                         for hr in busiest if lo <= hr < hi}))
    weight = demand["weight"].to_numpy(dtype=float) + length / 1000.0
    # the force, pooled over the area per day and slot: volunteers walk near home but not
    # only in their own community (the home community is kept for the shortfall)
    table = force(conn.engine, settings, area_id=area["id"],
                  end=force_until or start - dt.timedelta(days=1))
    walkers, patrol_min = observed_walkers(table, start, days)
    # a hot-spot walk is as long as the volunteers' own patrols, so the stops the force
    # can make are planned (a whole loop each would take the hours of several)
    hot_min = float(np.clip(patrol_min, STOP_MINUTES + 10.0, minutes)) \
        if patrol_min is not None else minutes
    loops = community_loops(a, b, length, weight, stops, community,
                            per_community=per_community, minutes=minutes,
                            speed_m_per_min=params.speed_kmh * 1000 / 60,
                            dwell_min=params.dwell_min, hotspot_nodes=a[hot_seg],
                            must_stop=hz_seg, hotspot_minutes=hot_min,
                            stop_min=STOP_MINUTES)
    n_plain = len(loops) - len(hot_seg)
    candidates, home = [], []
    for k, (ci, lp) in enumerate(loops):
        targets = set(lp.targets)
        candidates.append(Candidate(
            0, max(lp.minutes, MIN_MINUTES) / 60.0, walked_segments(lp.nodes, a, b),
            np.array([k - n_plain] if k >= n_plain else [], dtype=int),
            np.flatnonzero([int(g) in targets for g in hz_seg])))
        home.append(ci)
    home = np.array(home, dtype=int)
    names = dict(zip(table["community_id"], table["community"]))
    by_key = table.set_index(["community_id", "weekday", "slot"])["hours"]
    hours = np.zeros((len(place_ids), days, len(SLOTS)))
    for i, c in enumerate(place_ids):
        for d in range(days):
            weekday = (start + dt.timedelta(days=d)).weekday()
            for j, slot in enumerate(SLOTS):
                hours[i, d, j] = float(by_key.get((int(c), weekday, slot), 0.0))
    # a slot with any hours may take a whole loop, a day at most the day's hours: the hours
    # are averages over weeks, and a rota may ask a volunteer for a loop where the average
    # shows less than one
    cell = hours.sum(axis=0, keepdims=True)
    cap = np.where(cell > 0, np.maximum(cell, minutes / 60), 0.0)
    problem = RotaProblem(length, age, candidates, cap, day_force=cell.sum(axis=2),
                          revisit_days=revisit_days, hotspots=len(hot_seg), risk_slots=risk,
                          hotspot_visits=int(np.ceil(240 / EVERY_MINUTES)),
                          hazard_every=hz_every, hazard_age=hz_age, hazard_days=hz_days,
                          hazard_slots=hz_slots, walkers=walkers)
    best = solve(problem, seed=seed, time_limit=time_limit)
    options = {"every_minutes": EVERY_MINUTES, "stop_minutes": STOP_MINUTES}
    timing = schedule(problem, best, seed=seed, **options)
    entropy, start_entropy, top = visit_entropy(problem, best, draws=draws, seed=seed + 1,
                                                **options)
    need = np.zeros((len(place_ids), len(SLOTS)))
    np.add.at(need, home, fewest_hours(problem, time_limit).sum(axis=1))
    missing = np.maximum(need - hours.sum(axis=1), 0.0)
    # who walks: the area's volunteers, nearest home first, one walk a day each
    pool = volunteer_pool(conn, run["window_end"], settings.timezone, SLOTS,
                          within=frozenset(int(c) for c in place_ids))
    slot_names = list(SLOTS)
    posts = np.array([points[int(node_ids[loops[c][1].post])] for _, _, c in best.walks])
    needs = [{settings.rules.categories[cat].skill
              for cat in hz["category"].iloc[candidates[c].hazards]
              if cat in settings.rules.categories and settings.rules.categories[cat].skill}
             for _, _, c in best.walks]
    who = assign(np.array([d for d, _, _ in best.walks]),
                 _walker_costs(pool, posts.reshape(-1, 2),
                               [slot_names[s] for _, s, _ in best.walks], needs))
    given = hotspot_stops_given(problem, best, who)
    walk_h = float(np.mean([candidates[n_plain + k].hours for k in range(len(hot_seg))])) \
        if len(hot_seg) else hot_min / 60
    walks = []
    for i, (d, s, c) in enumerate(best.walks):
        ci, lp = loops[c]
        nodes = lp.nodes[::-1] if timing.reverse[i] else lp.nodes
        day = start + dt.timedelta(days=d)
        begin = dt.datetime.combine(day, dt.time(list(SLOTS.values())[s][0]), tz) \
            + dt.timedelta(minutes=float(timing.start[i]))
        walks.append(Walk(
            day, slot_names[s], begin, max(lp.minutes, MIN_MINUTES),
            "hotspot" if c >= n_plain else "streets",
            int(place_ids[ci]) if place_ids[ci] >= 0 else None,
            int(pool["id"].iloc[who[i]]) if who[i] >= 0 else None, lp.length_m,
            [int(g) for g in seg_ids[candidates[c].segments]],
            [int(h) for h in hz["id"].iloc[candidates[c].hazards]],
            int(seg_ids[hot_seg[c - n_plain]]) if c >= n_plain else None,
            [points[int(node_ids[n])] for n in nodes]))
    # today's planner: four zones, one loop each, walked once (its own "after" coverage)
    today = plan_area(conn, run, area, PlanParams(zones=4, minutes=minutes, time_limit_s=5),
                      settings=settings)
    covered = demand["covered_m"].to_numpy(dtype=float)
    walked = np.zeros(len(length), dtype=bool)
    for _, _, c in best.walks:
        walked[candidates[c].segments] = True
    after = float(np.where(walked, length, covered).sum() / length.sum())
    hz_total, hz_ok = results.hazard_counts(conn, run["id"], area["id"])
    idle = idle_on_duty(conn, [int(c) for c in place_ids], duty=PATROL_DUTY,
                        since=day0 - dt.timedelta(weeks=4))
    return RotaPlan(area, int(run["id"]), start, days, revisit_days, minutes, seed,
                    [int(c) for c in place_ids], [names.get(int(c), str(c)) for c in place_ids],
                    len(candidates), best, timing, walks, length, missing, hours.sum(axis=1),
                    len(hot_seg), favoured, tuple(slot_names[j] for j in risk),
                    today.before["coverage"], today.after["coverage"], after,
                    hz_ok / hz_total if hz_total else 1.0, entropy, start_entropy, top,
                    _daily(start, days, best, candidates, length, age, revisit_days, hz_every,
                           hz_age), idle, time.perf_counter() - t0, given, walk_h)


def save(db: Database, plan: RotaPlan, *, by: str) -> int:
    """Store a rota with its walks; audit-logged. Returns its id."""
    with db.begin() as conn:
        rota_id = store.save_rota(conn, area_id=plan.area["id"], run_id=plan.run_id,
                                  start=plan.start, days=plan.days,
                                  revisit_days=plan.revisit_days, minutes=plan.minutes,
                                  seed=plan.seed, summary=plan.summary(), by=by,
                                  walks=[w.row() for w in plan.walks])
        audit(conn, by, "rota_create", f"rota {rota_id}",
              details={"area": plan.area["name"], "start": plan.start.isoformat(),
                       "days": plan.days, "walks": len(plan.walks)})
    return rota_id


def create(db: Database, settings: Settings, *, area_id: int | str, start: dt.date | None,
           days: int = 7, revisit_days: int = 3, minutes: float = 90.0, seed: int = 0,
           by: str, run_id: int | None = None, within: frozenset[int] | None = None,
           time_limit: float = 60.0, per_community: int = 3,
           favoured: dict[str, Any] | None = None) -> tuple[int, RotaPlan]:
    """Plan and store a rota for an area (a district or community, in ``within``'s reach
    when given) from the latest run (or ``run_id``); ``start`` defaults to tomorrow; its
    hot spots by the ``favoured`` forecast (:func:`make_rota`)."""
    check_options(days, revisit_days, minutes, seed)
    with db.connect() as conn:
        area = find_area(conn, area_id)
        if within is not None and not _reaches(conn, area["id"], within):
            raise NotFoundError(f"no area {area_id}")
        plan = make_rota(conn, settings, find_run(conn, run_id), area,
                         start=start or settings.today() + dt.timedelta(days=1), days=days,
                         revisit_days=revisit_days, minutes=minutes, seed=seed,
                         time_limit=time_limit, per_community=per_community,
                         favoured=favoured)
    return save(db, plan, by=by), plan


def reached(db: Database, rota_id: int, *, within: frozenset[int] | None = None
            ) -> dict[str, Any]:
    """A stored rota's header, for a reader whose communities are ``within`` (None: all);
    one outside their reach is not found."""
    with db.connect() as conn:
        header = store.get_rota(conn, rota_id)
        if within is not None and not _reaches(conn, header["area_id"], within):
            raise NotFoundError(f"no rota {rota_id}")
    return header


def _reaches(conn: Connection, area_id: int, within: frozenset[int]) -> bool:
    return bool(set(subtree_ids(conn, area_id)) & set(within))


@dataclass
class RotaView:
    """A stored rota as a reader in scope sees it: its header and figures, and its walks
    (names masked; without the right to see people, no roster numbers either)."""

    header: dict[str, Any]
    walks: Any  # GeoDataFrame

    @property
    def summary(self) -> dict[str, Any]:
        return self.header["summary"]

    def days(self) -> list[dt.date]:
        start = self.header["start_day"]
        return [start + dt.timedelta(days=d) for d in range(int(self.header["days"]))]

    def week(self) -> pd.DataFrame:
        """Per day: walks and hours in each slot, and the day's expected figures."""
        w = self.walks
        rows = []
        daily = {r["day"]: r for r in self.summary.get("daily", [])}
        for day in self.days():
            mine = w[w["day"] == day] if len(w) else w
            row: dict[str, Any] = {"day": day}
            for slot in SLOTS:
                cell = mine[mine["slot"] == slot] if len(mine) else mine
                row[f"{slot}_walks"] = int(len(cell))
                row[f"{slot}_hours"] = round(float(cell["minutes"].sum()) / 60, 1) \
                    if len(cell) else 0.0
            row["hotspot_walks"] = int((mine["kind"] == "hotspot").sum()) if len(mine) else 0
            figures = daily.get(day.isoformat(), {})
            row.update({k: figures.get(k) for k in ("streets", "streets_idle", "hazards",
                                                    "hazards_idle")})
            rows.append(row)
        return pd.DataFrame(rows)

    def table(self) -> pd.DataFrame:
        """The walks as rows for CSV: no geometry, no segment lists."""
        w = self.walks
        cols = ["id", "day", "slot", "starts_at", "minutes", "kind", "community", "number",
                "name", "length_m", "hazards", "hotspot_segment_id"]
        if not len(w):
            return pd.DataFrame(columns=cols)
        out = pd.DataFrame(w.drop(columns="geometry" if "geometry" in w else "geom"))
        out["hazards"] = out["hazard_ids"].map(len)
        out["hotspot_segment_id"] = out["hotspot_segment_id"].astype("Int64")
        out["starts_at"] = pd.to_datetime(out["starts_at"], utc=True).dt.tz_convert(
            self.header["tz"]).dt.strftime("%Y-%m-%d %H:%M")
        return out[cols]


def view(db: Database, settings: Settings, rota_id: int, *,
         within: frozenset[int] | None = None, people: bool = False,
         day: dt.date | None = None) -> RotaView:
    """A stored rota for a reader whose communities are ``within`` (None: all): only their
    walks; masked names, and roster numbers only with ``people``."""
    with db.connect() as conn:
        header = store.get_rota(conn, rota_id)
        if within is not None and not _reaches(conn, header["area_id"], within):
            raise NotFoundError(f"no rota {rota_id}")
        walks = store.rota_walks(conn, rota_id, day=day, within=within)
    header["tz"] = settings.timezone
    walks["name"] = walks["name"].map(mask_name) if people else None
    if not people:
        walks["number"] = None
    return RotaView(header, walks)


def listing(db: Database, *, area_id: int | None = None,
            within: frozenset[int] | None = None) -> pd.DataFrame:
    with db.connect() as conn:
        return store.rotas(conn, area_id=area_id, within=within)
