"""Planning use cases: a plan for an area from a stored run, and patrol posts alone.

The data comes from the store (a run's segments in scope, the volunteers who may be proposed,
the area's hazard counts); the planning itself (:mod:`geo_patrol.planning`) is pure.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.ingest.availability import read_availability
from geo_patrol.planning.crew import SLOTS
from geo_patrol.planning.demand import segment_demand
from geo_patrol.planning.force import force_table, slot_hours
from geo_patrol.planning.network import dense_nodes, node_points
from geo_patrol.planning.plan import Plan, PlanInputs, PlanParams, make_plan
from geo_patrol.planning.posts import (
    Solution,
    greedy,
    maximal_covering,
    network_coverage,
    set_covering,
)
from geo_patrol.services import crime
from geo_patrol.settings import Settings
from geo_patrol.store import force as store
from geo_patrol.store import results
from geo_patrol.store.accounts import audit
from geo_patrol.store.volunteers import volunteer_pool

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

    from geo_patrol.store.db import Database


def _with_alerts(conn: Connection, settings: Settings | None, area_id: int, rows: Any) -> Any:
    """The demand rows with the open near-repeat alert areas of property crime reaching each
    segment (none without the deployment's settings or a near-repeat pattern)."""
    rows = rows.copy()
    rows["alerts"] = crime.alerts_per_segment(conn.engine, settings, area_id, rows["id"]) \
        if settings is not None and len(rows) else 0
    return rows


def plan_area(conn: Connection, run: dict, area: dict, params: PlanParams, *,
              settings: Settings, within: frozenset[int] | None = None) -> Plan:
    """A plan for ``area`` (a district or community) from ``run``'s results; volunteers are
    proposed only from the communities ``within`` (the planner's scope), when given. The
    deployment's time zone and rules (which inspections need a certificate) come from
    ``settings``."""
    params.check()
    hz_total, hz_ok = results.hazard_counts(conn, run["id"], area["id"])
    inputs = PlanInputs(
        run_id=run["id"], area=area,
        segments=_with_alerts(conn, settings, area["id"],
                              results.segment_demand_rows(conn, run["id"], area["id"])),
        pool=volunteer_pool(conn, run["window_end"], settings.timezone, SLOTS, within=within),
        hazards_total=hz_total, hazards_compliant=hz_ok,
        skills_needed=settings.rules.skills_needed())
    return make_plan(inputs, params)


@dataclass
class Posts:
    """Patrol posts chosen by covering, with the greedy heuristic beside them."""

    solution: Solution
    greedy: Solution | None
    total_demand: float
    features: list[dict]


def plan_posts(conn: Connection, run_id: int, area_id: int | None, *, k: int | None,
               distance_m: float = 500.0, time_limit: float = 60.0) -> Posts:
    """``k`` posts covering the most demand within ``distance_m`` along the streets, or with
    ``k=None`` the fewest posts covering all of it."""
    demand = segment_demand(results.segment_demand_rows(conn, run_id, area_id))
    if demand.empty:
        raise NotFoundError("no street segments in scope")
    if k is not None and k < 1:
        raise InputError("--k: at least one post")
    ids, a, b = dense_nodes(demand)
    points = node_points(demand)
    cov = network_coverage(a, b, demand["length_m"].to_numpy(), np.arange(len(ids)),
                           distance_m, demand["weight"].to_numpy())
    sol = set_covering(cov, time_limit=time_limit) if k is None else \
        maximal_covering(cov, int(k), time_limit=time_limit)
    features: list[dict[str, Any]] = []
    for j in sol.chosen:
        lon, lat = points[int(ids[j])]
        reach = cov.matrix[:, j].nonzero()[0]
        features.append({"type": "Feature",
                         "geometry": {"type": "Point", "coordinates": [lon, lat]},
                         "properties": {"node": int(ids[j]), "segments": len(reach),
                                        "demand": round(float(cov.weights[reach].sum()), 3)}})
    return Posts(sol, greedy(cov, int(k)) if k is not None else None,
                 float(cov.weights.sum()), features)


#: Weekday names a planner may type (Monday = 0).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def force(db: Database, settings: Settings, *, area_id: int | None = None,
          within: frozenset[int] | None = None, weeks: int = 4,
          end: dt.date | None = None) -> pd.DataFrame:
    """Volunteer-hours per community, weekday and slot a rota can count on: from the
    patrols of the ``weeks`` weeks before ``end`` (today), or as the planner set them (see
    :mod:`geo_patrol.planning.force`). Averages run over the weeks the patrols cover (at
    least one, at most ``weeks``); ``attrs["weeks"]`` tells how many."""
    if not 1 <= weeks <= 52:
        raise InputError("look back between 1 and 52 weeks")
    last = end or settings.today()
    stop = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), ZoneInfo(settings.timezone))
    with db.connect() as conn:
        places = store.communities(conn, area_id=area_id, within=within)
        spans = store.patrol_spans(conn, start=stop - dt.timedelta(weeks=weeks), end=stop,
                                   tz=settings.timezone, area_id=area_id, within=within)
        planner_set = store.set_hours(conn)
    seen = weeks
    if len(spans):
        first = pd.to_datetime(spans["start"]).min()
        days = (pd.Timestamp(stop.replace(tzinfo=None)) - first).total_seconds() / 86400
        seen = min(float(weeks), max(1.0, round(days / 7, 1)))
    table = force_table(places, slot_hours(spans, SLOTS, seen), planner_set, SLOTS)
    table.attrs["weeks"] = seen
    return table


def set_force(db: Database, *, community_id: int, weekday: str | int, slot: str,
              hours: float | None, by: str, within: frozenset[int] | None = None) -> None:
    """Set (``hours``) or clear (``None``) what a community can give in one weekday's slot;
    audit-logged."""
    day = WEEKDAYS.index(weekday) if weekday in WEEKDAYS else weekday
    if not isinstance(day, int) or not 0 <= day <= 6:
        raise InputError(f"weekday: one of {', '.join(WEEKDAYS)}")
    if slot not in SLOTS:
        raise InputError(f"slot: one of {', '.join(SLOTS)}")
    if hours is not None and (hours != hours or not 0 <= hours <= 10000):
        raise InputError("hours: between 0 and 10000")
    if within is not None and community_id not in within:
        raise NotFoundError(f"no community {community_id}")
    with db.begin() as conn:
        if community_id not in set(store.communities(conn, area_id=None, within=None)
                                   ["community_id"]):
            raise NotFoundError(f"no community {community_id}")
        store.store_hours(conn, community_id, day, slot, hours, by)
        audit(conn, by, "force_set", f"community {community_id}",
              details={"weekday": WEEKDAYS[day], "slot": slot, "hours": hours})


def load_force(db: Database, path: Any, *, by: str, within: frozenset[int] | None = None,
               source: str | None = None) -> dict[str, int]:
    """Set the hours of an availability sheet (:mod:`geo_patrol.ingest.availability`), all
    or nothing: every community must be one in ``within``'s reach (by name or id);
    audit-logged. Returns how many weekday slots were set, in how many communities."""
    table = read_availability(path)
    name = source or str(getattr(path, "name", path))
    with db.begin() as conn:
        places = store.communities(conn, area_id=None, within=within)
        ids = {**{str(n): int(i) for i, n in zip(places["community_id"], places["community"])},
               **{str(int(i)): int(i) for i in places["community_id"]}}
        for row, community in zip(table["row"], table["community"]):
            if community not in ids:
                raise InputError(f"no community {community!r} in your areas", source=name,
                                 location=f"row {row}")
        for r in table.itertuples():
            store.store_hours(conn, ids[r.community], int(r.weekday), r.slot, float(r.hours),
                              by)
        done = {"slots": len(table), "communities": int(table["community"].nunique())}
        audit(conn, by, "force_load", name, details=done)
    return done
