"""Analyse a window: read its inputs from the store, run the pure engine
(:func:`geo_patrol.analysis.run.analyse_window`), store the results as one run (replacing an
earlier run of the same question)."""

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
from geo_patrol.analysis.run import WindowInputs, analyse_window, check_window
from geo_patrol.errors import InputError
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import results as store
from geo_patrol.store import windows
from geo_patrol.store.uploads import Timer

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Engine

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
        try:
            if len(text) == 10:
                day = dt.date.fromisoformat(text) + dt.timedelta(days=1 if is_end else 0)
                return dt.datetime.combine(day, dt.time(), zone)
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


def read_inputs(conn: Any, start: dt.datetime, end: dt.datetime,
                area_id: int | None) -> WindowInputs:
    """Everything the engine needs for one window and scope, from the store."""
    scope = area_store.subtree_ids(conn, area_id)
    tree = area_store.area_tree(conn)
    community_ids = [int(i) for i, level in zip(tree["id"], tree["level"])
                     if level == "community" and (scope is None or i in scope)]
    return WindowInputs(segments=windows.read_segments(conn, scope),
                        hazards=windows.read_hazards(conn, scope),
                        fixes=Fixes(*windows.read_fixes(conn, start, end)), areas=tree,
                        community_polygons=area_store.area_polygons_m(conn, community_ids),
                        scoped=scope is not None)


def analyze(engine: Engine, start: dt.datetime, end: dt.datetime, *,
            area: str | int | None = None, params: AnalysisParams | None = None,
            settings: Settings | None = None, threads: int = 2) -> RunSummary:
    """Analyse ``start <= t < end`` (aware datetimes) for the whole city or one area."""
    settings = settings or Settings.from_env()
    params = params or default_params(settings)
    check_window(start, end)
    timer = Timer()
    with engine.begin() as conn:
        area_id = area_store.find_area(conn, area)["id"] if area is not None else None
        inputs = read_inputs(conn, start, end, area_id)
        out = analyse_window(inputs, start, end, params=params, rules=settings.rules,
                             timezone=settings.timezone, threads=threads)
        run_id, replaced = store.start_run(conn, key=run_key(start, end, area_id, params),
                                           start=start, end=end, area_id=area_id,
                                           params=params.as_dict())
        for table, frame in (("segment_results", out.segments), ("hazard_results", out.hazards),
                             ("area_results", out.areas), ("area_daily", out.daily)):
            store.write_frame(conn, table, frame.assign(run_id=run_id))
        n_gaps = store.write_gaps(
            conn, run_id, context_m=params.gap_context_m, hazard_weight=params.hazard_weight,
            incident_weight=params.incident_weight,
            incidents_since=end - dt.timedelta(days=params.incident_days))
        stats = {**out.stats, "gaps": n_gaps}
        seconds = timer.seconds
        store.finish_run(conn, run_id, seconds, stats)
    log.info("run %s: %s in %.1f s", run_id, stats, seconds)
    return RunSummary(run_id, replaced, seconds, stats)
