"""Trial use cases: a randomised trial of hot-spot patrols designed (hot spots of the
favoured forecast blocked by district and risk, drawn to patrolled and control with a
stored seed, the power to detect a given fall in the weeks asked), stored before it starts
and never changed after; and its report, at the end or any time before (interim): the dose
each arm received from the tracks, the change in incidents with a randomisation-inference
p-value and interval, and displacement or diffusion in the streets around.

The CLI (``geo-patrol evidence trial``) and the evidence page both ask here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo_patrol.analysis import dose as dose_analysis
from geo_patrol.analysis import hotspots as hs
from geo_patrol.analysis import trial as tr
from geo_patrol.planning.crew import SLOTS
from geo_patrol.errors import N_, ConflictError, InputError, NotFoundError
from geo_patrol.services import crime, evidence
from geo_patrol.settings import Settings
from geo_patrol.store import evidence as evidence_store
from geo_patrol.store import trials as store
from geo_patrol.store.accounts import audit, audit_event
from geo_patrol.store.areas import find_area, subtree_ids

if TYPE_CHECKING:
    from geo_patrol.store.db import Database

#: What a trial counts: the outcome is fixed here, before any of its data is seen.
OUTCOME = "incidents per hot spot"
#: The weeks of incidents before the start the hot spots' rates are read from.
HISTORY_DAYS = 90
#: The rings of streets around the hot spots read for displacement (metres).
RINGS_M = (150.0, 300.0)
#: Trial hot spots lie at least this far apart (metres): patrolling one must not patrol its
#: neighbour in the other arm, and each one's rings are its own.
SPACING_M = 2 * RINGS_M[-1]
#: Re-randomisations of the report's test.
DRAWS = 5000


@dataclass(frozen=True)
class Design:
    """A trial as it would be stored: its hot spots with their blocks and arms, and what it
    can find."""

    area: dict[str, Any]
    start: dt.date
    weeks: int
    seed: int
    fall: float
    crime: str
    spots: pd.DataFrame  # per hot spot: place, district, block, arm, risk, weekly rate
    forecast: dict[str, Any]
    k: float  # the weekly counts' negative-binomial size (inf: Poisson)
    power: float  # at ``weeks``
    weeks_needed: int | None  # for TARGET_POWER
    smallest_p: float  # the least p-value this design can give

    @property
    def end(self) -> dt.date:
        """The trial's last day."""
        return self.start + dt.timedelta(days=7 * self.weeks - 1)

    @property
    def can_tell(self) -> bool:
        return self.smallest_p < tr.ALPHA

    def summary(self) -> dict[str, Any]:
        """What is stored with the trial besides its hot spots."""
        return {"forecast": self.forecast, "k": None if not np.isfinite(self.k) else
                round(self.k, 3), "power": round(self.power, 4),
                "weeks_needed": self.weeks_needed, "target_power": tr.TARGET_POWER,
                "smallest_p": round(self.smallest_p, 5), "history_days": HISTORY_DAYS,
                "rings_m": list(RINGS_M), "alpha": tr.ALPHA,
                "blocks": int(self.spots["block"].nunique()),
                "weekly": round(float(self.spots["weekly"].sum()), 3)}


def check_options(weeks: int, spots: int, fall: float, seed: int) -> None:
    if not 1 <= weeks <= 104:
        raise InputError(N_("A trial runs 1 to 104 weeks."), field="weeks", values={})
    if not 4 <= spots <= 400:
        raise InputError(N_("A trial has 4 to 400 hot spots."), field="spots", values={})
    if not 0.01 <= fall <= 0.9:
        raise InputError(N_("The fall to detect lies between 1 and 90 per cent."),
                         field="fall", values={})
    if not 0 <= seed < 2 ** 31:
        raise InputError("the seed is a whole number from 0", field="seed")


def check_start(start: dt.date, today: dt.date) -> None:
    """Refuse a trial that would not start after ``today``."""
    if start <= today:
        raise InputError(N_("A trial starts after today (%(today)s): its assignment is fixed "
                            "before its data are seen."), field="start",
                         values={"today": today.isoformat()})


def _weekly(data: crime.Data, before: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """Per segment of ``data``: incidents per week in the ``HISTORY_DAYS`` before
    ``before``, and the weekly counts (segments x weeks) for the overdispersion."""
    dated = data.dated
    on = data.on_segment[data.incidents["day"].notna().to_numpy()]
    first = before - dt.timedelta(days=HISTORY_DAYS)
    days = np.array([(d - first).days for d in dated["day"]], dtype=np.int64)
    keep = (days >= 0) & (days < HISTORY_DAYS) & (on >= 0)
    n_weeks = HISTORY_DAYS // 7
    week = np.minimum(days[keep] // 7, n_weeks - 1)
    table = np.zeros((len(data.segments), n_weeks))
    np.add.at(table, (on[keep], week), 1.0)
    return table.sum(axis=1) / (HISTORY_DAYS / 7), table


def design(db: Database, settings: Settings, *, area_id: int | str | None,
           start: dt.date | None,
           weeks: int = 8, spots: int = 20, fall: float = 0.2, seed: int = 0,
           within: frozenset[int] | None = None, today: dt.date | None = None,
           favoured: dict[str, Any] | None = None) -> Design:
    """The trial that would be stored: the ``spots`` hottest segments of ``area`` by the
    forecast the city's evaluation favours, each ``SPACING_M`` from the hotter ones taken
    (from the incidents before ``start``, tomorrow
    by default: it must lie ahead; ``area_id`` None: the whole city), blocked in pairs by district and risk, half of each
    block patrolled by a draw from ``seed``; its power to find ``fall`` in ``weeks`` weeks
    and the weeks it would need (negative-binomial counts at the spots' rates of the
    ``HISTORY_DAYS`` before). ``today``: the day it is designed on, when not today (a
    simulation's past): it then reads only the incidents up to that day. ``favoured``: the
    forecast to take the hot spots from, as :func:`~geo_patrol.services.crime.favoured_method`
    gives it (the stored crime study's, in a job); the city's evaluation is run when not
    given."""
    check_options(weeks, spots, fall, seed)
    until = today
    today = today or settings.today()
    start = start or today + dt.timedelta(days=1)
    check_start(start, today)
    with db.connect() as conn:
        area = {"id": None, "name": None, "level": "city"} if area_id is None else \
            find_area(conn, area_id)
        if within is not None and (area["id"] is None or not set(
                subtree_ids(conn, area["id"]) or []) & set(within)):
            raise NotFoundError(f"no area {area_id}")
    study_area = None if area["level"] == "city" else area["id"]
    data = crime.load(db, settings, crime.Study(area_id=study_area, until=until))
    favoured = dict(favoured) if favoured is not None else \
        crime.favoured_method(db, settings, until=until)
    ids = data.segments["id"].to_numpy()
    ranked = crime.rota_hotspots(data, favoured["method"], start=start, k=spots * 10)
    with db.connect() as conn:  # a spot of another trial in the same weeks is not free
        taken = store.running_spots(conn, start, start + dt.timedelta(days=7 * weeks - 1))
    ranked = ranked[~np.isin(ranked, taken["segment_id"].to_numpy())]
    at = data.segments.set_index("id").loc[ranked].geometry.interpolate(0.5, normalized=True)
    hot = ranked[tr.spaced(at.x.to_numpy(), at.y.to_numpy(), spots, SPACING_M)]
    if len(hot) < 4:
        raise InputError(N_("The area has %(n)s hot spots by the favoured forecast: a trial "
                            "needs at least 4."), values={"n": len(hot)})
    score = crime.forecast_scores(data, favoured["method"], before=start)
    rates, table = _weekly(data, start)
    index = pd.Index(ids).get_indexer(hot)
    seg = data.segments.iloc[index]
    with db.connect() as conn:
        districts = store.segment_districts(conn, [int(h) for h in hot]).set_index(
            "segment_id")["district_id"]
    mids = seg.geometry.interpolate(0.5, normalized=True)
    frame = pd.DataFrame({
        "segment_id": hot.astype(np.int64), "street": seg["name"].to_numpy(),
        "x": mids.x.to_numpy(), "y": mids.y.to_numpy(),
        "cross_a": seg["cross_a"].to_numpy(), "cross_b": seg["cross_b"].to_numpy(),
        "district_id": districts.reindex(hot).to_numpy(),
        "risk": score[index].astype(float), "weekly": rates[index]})
    blocks = tr.blocks_by_risk(frame["district_id"].fillna(-1).to_numpy(),
                               frame["risk"].to_numpy())
    z = tr.assign(blocks, np.random.default_rng(seed))
    frame["block"] = blocks
    frame["arm"] = np.where(z == tr.PATROLLED, "patrolled", "control")
    frame = frame.sort_values(["block", "arm", "segment_id"]).reset_index(drop=True)
    k = tr.overdispersion(table[index])
    b = frame["block"].to_numpy()
    smallest = tr.randomisation_test(np.zeros(len(frame)),
                                     (frame["arm"] == "patrolled").to_numpy().astype(int),
                                     b, draws=DRAWS, seed=seed, grid=3).smallest_p
    return Design(area, start, weeks, seed, fall, "property", frame,
                  {k_: (v.isoformat() if isinstance(v, dt.date) else
                        [d.isoformat() for d in v] if isinstance(v, tuple) else v)
                   for k_, v in favoured.items()},
                  k, tr.power(frame["weekly"].to_numpy(), b, weeks=weeks, fall=fall, k=k),
                  tr.weeks_needed(frame["weekly"].to_numpy(), b, fall=fall, k=k), smallest)


def create(db: Database, settings: Settings, *, by: str, **options: Any) -> tuple[int, Design]:
    """Design and store a trial (:func:`design`); audit-logged. Its assignment, outcome,
    start and weeks are fixed from then on (the database refuses a change)."""
    got = design(db, settings, **options)
    starts_at = dt.datetime.combine(got.start, dt.time(), ZoneInfo(settings.timezone))
    with db.begin() as conn:
        trial_id = store.save_trial(
            conn, area_id=got.area["id"], start=got.start, starts_at=starts_at,
            weeks=got.weeks, seed=got.seed, crime=got.crime, outcome=OUTCOME, fall=got.fall,
            design=got.summary(), by=by, spots=got.spots)
        audit(conn, by, "trial_create", f"trial {trial_id}",
              details={"area": got.area["name"] or "city", "start": got.start.isoformat(),
                       "weeks": got.weeks, "seed": got.seed, "spots": len(got.spots),
                       "patrolled": int((got.spots["arm"] == "patrolled").sum()),
                       "outcome": OUTCOME, "fall": got.fall}
                      | ({"designed_on": options["today"].isoformat()}
                         if options.get("today") else {}))
    return trial_id, got


def _started(trial: dict[str, Any]) -> ConflictError:
    exc = ConflictError(f"trial {trial['id']} has started: its design is kept")
    exc.msgid = N_("Trial %(id)s started on %(start)s: it is kept as it was designed and "
                   "cannot be withdrawn.")
    exc.values = {"id": int(trial["id"]), "start": trial["start_day"].isoformat()}
    return exc


def reached(db: Database, trial_id: int, *, within: frozenset[int] | None = None
            ) -> dict[str, Any]:
    """The stored trial, for a reader whose communities are ``within`` (None: all); one
    outside their reach is not found."""
    with db.connect() as conn:
        trial = store.get_trial(conn, trial_id)
        if within is not None and (trial["area_id"] is None or not set(
                subtree_ids(conn, trial["area_id"]) or []) & set(within)):
            raise NotFoundError(f"no trial {trial_id}")
    return trial


def withdraw(db: Database, settings: Settings, trial_id: int, *, by: str,
             within: frozenset[int] | None = None) -> None:
    """Remove a trial before it starts (audit-logged): a trial outside ``within``'s reach is
    not found; once started (the city's today has reached its first day, or the database
    says so) it is kept, and the refusal is logged too."""
    with db.connect() as conn:
        trial = store.get_trial(conn, trial_id)
        if within is not None and (trial["area_id"] is None or not set(
                subtree_ids(conn, trial["area_id"]) or []) & set(within)):
            raise NotFoundError(f"no trial {trial_id}")
    try:
        if settings.today() >= trial["start_day"]:
            raise _started(trial)
        try:
            with db.begin() as conn:
                store.withdraw_trial(conn, trial_id)
                audit(conn, by, "trial_withdraw", f"trial {trial_id}")
        except ConflictError as exc:
            raise _started(trial) from exc
    except ConflictError:
        audit_event(db, by, "trial_change_refused", f"trial {trial_id}",
                    reason="the trial has started: its design is kept")
        raise


def listing(db: Database, *, within: frozenset[int] | None = None) -> pd.DataFrame:
    with db.connect() as conn:
        return store.trials(conn, within=within)


def area_reports(db: Database, settings: Settings, area_id: int, *,
                 on: dt.date) -> list[Report]:
    """The reports of the trials whose area meets ``area_id``'s, as they stand on ``on``
    (oldest first)."""
    with db.connect() as conn:
        ids = subtree_ids(conn, area_id)
    stored = listing(db, within=None if ids is None else frozenset(ids))
    return [report(db, settings, int(t), today=on) for t in stored["id"][::-1]]


@dataclass(frozen=True)
class Report:
    """A trial's report up to ``until``: interim before its last day."""

    trial: dict[str, Any]
    spots: pd.DataFrame  # per hot spot: arm, block, place, before, after, minutes, stays
    until: dt.date | None  # None: not started yet
    interim: bool
    inference: tr.Inference | None
    dose: dict[str, dict[str, float]] = field(default_factory=dict)  # per arm
    rings: pd.DataFrame | None = None  # per ring: counts before and after, the WDQ
    days: int = 0  # days of the trial read

    @property
    def end(self) -> dt.date:
        return self.trial["start_day"] + dt.timedelta(days=7 * int(self.trial["weeks"]) - 1)

    @property
    def delivered(self) -> bool:
        """Whether the patrolled spots received clearly more patrol time than the control
        ones (the trial tests patrols only when they happened)."""
        p, c = self.dose.get("patrolled", {}), self.dose.get("control", {})
        return p.get("per_spot_week", 0.0) >= max(2 * c.get("per_spot_week", 0.0), 15.0)

    @property
    def verdict(self) -> str:
        """``not_started``, ``too_small`` (the design cannot reach significance), ``fell``,
        ``rose`` (significant) or ``cannot_tell``."""
        inf = self.inference
        if inf is None:
            return "not_started"
        if not inf.can_tell:
            return "too_small"
        if not inf.significant:
            return "cannot_tell"
        return "fell" if inf.effect < 0 else "rose"

    def as_dict(self) -> dict[str, Any]:
        inf = self.inference
        return {"trial": int(self.trial["id"]), "until": str(self.until) if self.until else None,
                "interim": self.interim, "verdict": self.verdict, "days": self.days,
                "delivered": self.delivered, "dose": self.dose,
                "effect": None if inf is None else round(inf.effect, 4),
                "change": None if inf is None or inf.change is None else round(inf.change, 4),
                "p_value": None if inf is None else round(inf.p_value, 4),
                "ci": None if inf is None else [round(v, 4) for v in inf.ci],
                "ci_change": None if inf is None or inf.ci_change is None else
                [round(v, 4) for v in inf.ci_change],
                "smallest_p": None if inf is None else round(inf.smallest_p, 5),
                "draws": None if inf is None else inf.draws,
                "exact": None if inf is None else inf.exact,
                "rings": [] if self.rings is None else self.rings.to_dict("records")}


def _counts(data: crime.Data, first: dt.date, last: dt.date) -> np.ndarray:
    """Incidents per segment of ``data`` from ``first`` to ``last``."""
    dated = data.dated
    on = data.on_segment[data.incidents["day"].notna().to_numpy()]
    days = np.array(list(dated["day"]), dtype=object)
    keep = (days >= first) & (days <= last) & (on >= 0) if len(days) else \
        np.zeros(0, dtype=bool)
    return hs.counts_on(on[keep], len(data.segments))


def _dose(db: Database, settings: Settings, places: pd.DataFrame, first: dt.date,
          last: dt.date) -> pd.DataFrame:
    """Minutes of presence and stays (the one stay rule) at each place from ``first`` to
    ``last``: ``place, minutes, stays, koper_stays``."""
    stays = evidence.stays_near(db, settings, places, first, last)
    cells = dose_analysis.dose_cells(stays, timezone=settings.timezone, slots=SLOTS)
    out = pd.DataFrame({"place": np.arange(len(places))})
    if len(cells):
        per = cells.groupby("place")[["minutes", "stays", "koper_stays"]].sum()
        out = out.join(per, on="place")
    for col in ("minutes", "stays", "koper_stays"):
        out[col] = out.get(col, pd.Series(0.0, index=out.index)).fillna(0.0)
    return out


def report(db: Database, settings: Settings, trial_id: int, *,
           within: frozenset[int] | None = None, today: dt.date | None = None) -> Report:
    """The trial's report up to its last day, or up to ``today`` (interim) while it runs."""
    trial = reached(db, trial_id, within=within)
    with db.connect() as conn:
        spots = store.trial_spots(conn, trial_id)
        places = evidence_store.segment_places(conn, spots["segment_id"].tolist())
    spots = spots.merge(places.rename(columns={"id": "segment_id"})[
        ["segment_id", "street", "cross_a", "cross_b", "x", "y"]], on="segment_id", how="left")
    start = trial["start_day"]
    last = start + dt.timedelta(days=7 * int(trial["weeks"]) - 1)
    until = min(last, today or settings.today())
    if until < start:
        return Report(trial, spots, None, True, None)
    days = (until - start).days + 1
    before = start - dt.timedelta(days=days)
    data = crime.load(db, settings, crime.Study(
        area_id=trial["area_id"], until=until,
        days=min(max(days * 2, 7), 3660)))
    ids = data.segments["id"].to_numpy()
    after_n, before_n = _counts(data, start, until), _counts(data, before, start -
                                                           dt.timedelta(days=1))
    index = pd.Index(ids).get_indexer(spots["segment_id"])
    known = index >= 0
    spots["after"] = np.where(known, after_n[np.maximum(index, 0)], 0).astype(int)
    spots["before"] = np.where(known, before_n[np.maximum(index, 0)], 0).astype(int)
    z = (spots["arm"] == "patrolled").to_numpy().astype(np.int64)
    inference = tr.randomisation_test(spots["after"].to_numpy(float), z,
                                      spots["block"].to_numpy(), draws=DRAWS,
                                      seed=int(trial["seed"]))
    measured = _dose(db, settings, spots, start, until)
    spots["minutes"] = measured["minutes"].round(1).to_numpy()
    spots["stays"] = measured["stays"].astype(int).to_numpy()
    spot_weeks = days / 7
    dose = {}
    for arm in ("patrolled", "control"):
        mine = spots[spots["arm"] == arm]
        dose[arm] = {"spots": int(len(mine)), "minutes": round(float(mine["minutes"].sum()), 1),
                     "stays": int(mine["stays"].sum()),
                     "koper_stays": int(measured.loc[mine.index, "koper_stays"].sum()),
                     "per_spot_week": round(float(mine["minutes"].sum())
                                            / max(len(mine) * spot_weeks, 1e-9), 1),
                     "before": int(mine["before"].sum()), "after": int(mine["after"].sum())}
    with db.connect() as conn:
        around = store.rings_around(conn, spots.loc[z == 1, "segment_id"].tolist(),
                                    spots.loc[z == 0, "segment_id"].tolist(), list(RINGS_M))
    ring_idx = pd.Index(ids).get_indexer(around["segment_id"])
    around = around[ring_idx >= 0].assign(
        before=before_n[ring_idx[ring_idx >= 0]], after=after_n[ring_idx[ring_idx >= 0]])
    rows = []
    r = (dose["patrolled"]["before"], dose["patrolled"]["after"])
    c = (dose["control"]["before"], dose["control"]["after"])
    for ring, edge in enumerate(RINGS_M):
        mine = around[(around["ring"] == ring) & (around["arm"] == "patrolled")]
        theirs = around[(around["ring"] == ring) & (around["arm"] == "control")]
        buf = (int(mine["before"].sum()), int(mine["after"].sum()))
        rows.append({"ring": ring, "from_m": 0.0 if ring == 0 else RINGS_M[ring - 1],
                     "to_m": edge, "segments": int(len(mine)), "before": buf[0],
                     "after": buf[1], "control_before": int(theirs["before"].sum()),
                     "control_after": int(theirs["after"].sum()),
                     "wdq": tr.wdq(r, buf, c)})
    return Report(trial, spots, until, until < last, inference, dose, pd.DataFrame(rows), days)


def patrolled_only(running: pd.DataFrame, area_segments: set[int],
                   hot_ids: np.ndarray) -> tuple[np.ndarray, list[int]]:
    """A rota's hot spots while trials run (``running``: their spots and arms): the
    patrolled spots of its area, highest risk first, when it has any; else its own hot spots
    without any trial's control spots. Returns them and the trials they follow."""
    if running.empty:
        return hot_ids, []
    control = set(running.loc[running["arm"] == "control", "segment_id"].astype(int))
    mine = running[running["segment_id"].astype(int).isin(area_segments)]
    if len(mine):
        patrolled = mine[(mine["arm"] == "patrolled")
                         & ~mine["segment_id"].astype(int).isin(control)]
        return (patrolled["segment_id"].astype(np.int64).drop_duplicates().to_numpy(),
                sorted({int(t) for t in mine["trial_id"]}))
    return np.array([h for h in hot_ids if int(h) not in control], dtype=np.int64), []


def area_choices(db: Database, *, within: frozenset[int] | None = None) -> pd.DataFrame:
    """The city and the districts a trial may cover."""
    with db.connect() as conn:
        return store.area_choices(conn, within=within)
