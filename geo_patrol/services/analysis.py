"""Analyse a window: read its inputs from the store, run the pure engine, store the results
as one run (replacing an earlier run of the same question).

A window of whole local days, of any length, is composed from its days' stored visits
(:func:`geo_patrol.analysis.run.analyse_spans`), each whole calendar month in it from the
month's stored roll-up of its days; a day missing or out of date is analysed from its fixes
and stored first (its month rolled up again). A window with a time of day is analysed directly from its fixes
(:func:`geo_patrol.analysis.run.analyse_window`), at most 92 days long."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes
from geo_patrol.analysis.days import (
    DayVisits,
    Span,
    Streets,
    analyse_day,
    day_bounds,
    redo_hazards,
    roll_up,
    span_of_day,
    whole_days,
)
from geo_patrol.analysis.run import (
    WindowInputs,
    WindowResults,
    analyse_spans,
    analyse_window,
    check_window,
)
from geo_patrol.clock import parse_day
from geo_patrol.errors import InputError
from geo_patrol.services import places
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import days as day_store
from geo_patrol.store import results as store
from geo_patrol.store import windows
from geo_patrol.store.uploads import Timer

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from geo_patrol.store.db import Database

log = logging.getLogger(__name__)


@dataclass
class RunSummary:
    """What a run did; ``stats["coverage"]`` is the share of street length visited in scope."""

    run_id: int
    replaced: bool
    seconds: float
    stats: dict[str, Any] = field(default_factory=dict)


def parse_window(start: str, end: str, tz: str) -> tuple[dt.datetime, dt.datetime]:
    """A window from two local days (inclusive) or date-times, as aware datetimes."""
    zone = ZoneInfo(tz)

    def one(text: str, is_end: bool) -> dt.datetime:
        day = parse_day(text) if ":" not in text else None  # a day as typed or picked
        if day is not None:
            return dt.datetime.combine(day + dt.timedelta(days=1 if is_end else 0), dt.time(),
                                       zone)
        try:
            value = dt.datetime.fromisoformat(text)
        except ValueError:
            raise InputError(f"{text!r} is not a date (YYYY-MM-DD) or date and time") from None
        return value if value.tzinfo else value.replace(tzinfo=zone)

    return one(start, False), one(end, True)


def default_params(settings: Settings) -> AnalysisParams:
    return AnalysisParams(gap_s=settings.track_gap_s, max_speed_kmh=settings.max_speed_kmh)


def run_key(start: dt.datetime, end: dt.datetime, area_id: int | None,
            params: AnalysisParams) -> str:
    text = json.dumps({"start": start.isoformat(), "end": end.isoformat(), "area": area_id,
                       "params": params.as_dict()}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def read_scope(conn: Any, area_id: int | None) -> WindowInputs:
    """The streets, hazards and areas of a scope (the whole deployment for ``None``)."""
    scope = area_store.subtree_ids(conn, area_id)
    tree = area_store.area_tree(conn)
    community_ids = [int(i) for i, level in zip(tree["id"], tree["level"])
                     if level == "community" and (scope is None or i in scope)]
    return WindowInputs(segments=windows.read_segments(conn, scope),
                        hazards=windows.read_hazards(conn, scope), fixes=Fixes.empty(),
                        areas=tree,
                        community_polygons=area_store.area_polygons_m(conn, community_ids),
                        scoped=scope is not None)


def read_inputs(conn: Any, start: dt.datetime, end: dt.datetime,
                area_id: int | None) -> WindowInputs:
    """Everything the engine needs for one window and scope, from the store."""
    inputs = read_scope(conn, area_id)
    inputs.fixes = Fixes(*windows.read_fixes(conn, start, end))
    return inputs


def read_streets(conn: Any, params: AnalysisParams, settings: Settings,
                 whole: WindowInputs | None = None) -> Streets:
    """The whole deployment's streets and hazards, as every day is analysed against them
    (``whole``: its scope, when already read)."""
    whole = whole or read_scope(conn, None)
    return Streets.build(whole.segments, whole.hazards, whole.community_polygons,
                         params=params,
                         reach_m=params.inspection_radius_m or settings.rules.radius_m,
                         timezone=settings.timezone)


def day_visits(conn: Any, streets: Streets, days: list[dt.date], *, threads: int = 2
               ) -> tuple[list[DayVisits], int]:
    """The visits of ``days``: stored ones where they match ``streets`` (runs near hazards
    found again where the hazards changed), the others analysed from their fixes and stored.
    A day analysed against other streets whose raw fixes retention has dropped cannot be
    redone: it counts as a day without patrols, and its stored visits are kept. Also
    returns how many days were analysed."""
    stored = day_store.read_days(conn, days[0], days[-1])
    out, analysed = [], 0
    for day in days:
        kept = stored.get(day)
        if kept is not None and kept.streets_key == streets.key:
            visits = DayVisits.from_bytes(day, kept.streets_key, kept.visits, streets.n_seg)
            if visits.hazards_key != streets.hazards_key:
                fixes = _day_fixes(conn, day, streets)
                if len(fixes) or not visits.fixes:  # else the day's raw fixes are gone
                    visits = redo_hazards(streets, visits, fixes)
                    store_day(conn, visits)
            out.append(visits)
            continue
        fixes = _day_fixes(conn, day, streets)
        visits = analyse_day(streets, fixes, day, threads=threads)
        if kept is None or len(fixes) or not kept.fixes:
            store_day(conn, visits)
        out.append(visits)
        analysed += 1
    return out, analysed


def window_spans(conn: Any, streets: Streets, days: list[dt.date], *, threads: int = 2
                 ) -> tuple[list[Span], int]:
    """The consecutive ``days`` as spans: each whole calendar month among them from its stored
    roll-up (rolled up from its days and stored when missing or out of date), the other days
    one by one. Also returns how many days were analysed."""
    groups: list[list[dt.date]] = []
    for day in days:
        if groups and groups[-1][-1].month == day.month:
            groups[-1].append(day)
        else:
            groups.append([day])

    def whole(group: list[dt.date]) -> bool:
        after = group[-1] + dt.timedelta(days=1)
        return group[0].day == 1 and after.day == 1

    stored = day_store.read_months(conn, [g[0] for g in groups if whole(g)])
    spans: list[Span] = []
    analysed = 0
    for group in groups:
        kept = stored.get(group[0]) if whole(group) else None
        if kept is not None and kept.streets_key == streets.span_key:
            span = Span.from_bytes(group[0], len(group), streets.key, kept.visits,
                                   streets.n_seg)
            if span.hazards_key == streets.hazards_key:
                spans.append(span)
                continue
        visits, n = day_visits(conn, streets, group, threads=threads)
        analysed += n
        parts = [span_of_day(streets, v) for v in visits]
        if not whole(group):
            spans.extend(parts)
            continue
        month = roll_up(streets, parts)
        if month.hazards_key == streets.hazards_key:
            day_store.write_month(conn, day_store.StoredDay(group[0], streets.span_key,
                                                            month.to_bytes(), month.fixes))
        spans.append(month)
    return spans, analysed


def _day_fixes(conn: Any, day: dt.date, streets: Streets) -> Fixes:
    return Fixes(*windows.read_fixes(conn, *day_bounds(day, streets.timezone)))


def store_day(conn: Any, visits: DayVisits) -> None:
    day_store.write_day(conn, day_store.StoredDay(visits.day, visits.key, visits.to_bytes(),
                                                  visits.fixes))


def analyze(db: Database, start: dt.datetime, end: dt.datetime, *,
            area: str | int | None = None, params: AnalysisParams | None = None,
            settings: Settings, threads: int = 2) -> RunSummary:
    """Analyse ``start <= t < end`` (aware datetimes) for the whole city or one area."""
    params = params or default_params(settings)
    days = whole_days(start, end, settings.timezone)
    if days is None:
        check_window(start, end)
    timer = Timer()
    with db.begin() as conn:
        area_id = area_store.find_area(conn, area)["id"] if area is not None else None
        out = _from_days(conn, days, area_id, params, settings, threads) if days else \
            analyse_window(read_inputs(conn, start, end, area_id), start, end, params=params,
                           rules=settings.rules, timezone=settings.timezone, threads=threads)
        run_id, replaced = store.start_run(conn, key=run_key(start, end, area_id, params),
                                           start=start, end=end, area_id=area_id,
                                           params=params.as_dict())
        for table, frame in (("segment_results", out.segments), ("hazard_results", out.hazards),
                             ("area_results", out.areas), ("area_daily", out.daily)):
            store.write_frame(conn, table, frame.assign(run_id=run_id))
        store.refresh_statistics(conn)
        n_gaps = store.write_gaps(
            conn, run_id, context_m=params.gap_context_m, hazard_weight=params.hazard_weight,
            incident_weight=params.incident_weight,
            incidents_since=end - dt.timedelta(days=params.incident_days))
        places.name_gaps(conn, run_id)
        stats = {**out.stats, "gaps": n_gaps}
        seconds = timer.seconds
        store.finish_run(conn, run_id, seconds, stats)
    log.info("run %s: %s in %.1f s", run_id, stats, seconds)
    return RunSummary(run_id, replaced, seconds, stats)


def _from_days(conn: Any, days: list[dt.date], area_id: int | None, params: AnalysisParams,
               settings: Settings, threads: int) -> WindowResults:
    whole = read_scope(conn, None)
    streets = read_streets(conn, params, settings, whole)
    spans, analysed = window_spans(conn, streets, days, threads=threads)
    out = analyse_spans(whole if area_id is None else read_scope(conn, area_id), streets,
                        spans, params=params, rules=settings.rules)
    out.stats.update(days=len(days), days_analysed=analysed)
    return out
