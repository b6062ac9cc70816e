"""Whole days as the unit of analysis: one local day of fixes in, that day's visits out, and
any window of whole days composed from its days exactly.

A window's coverage is a union of covered intervals, not a sum of daily ratios, so a day keeps
what a union needs: the disjoint covered intervals of each street atom (by kind and band),
per-segment passes, dwell and last visits, the (segment, volunteer) pairs, the runs of fixes
near each hazard, and the grid cells its paths crossed. Paths are cut at midnight
(:func:`geo_patrol.analysis.paths.build_steps`), so every step belongs to one day; hazard runs
that continue over midnight are joined again when the days are composed. Days roll up into
spans (:class:`Span`: a month is stored as one), which compose like days but stay small, since
a span unites its days' intervals. The composed window equals the window analysed directly
(:func:`geo_patrol.analysis.run.analyse_window`).

Everything here is a pure function of its arguments (no database), so a day can be analysed
in any process: :mod:`geo_patrol.services.history` runs days as Dask tasks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from dataclasses import dataclass, field, replace
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import shapely

from geo_patrol.analysis.area import Grid, path_cells
from geo_patrol.analysis.compliance import Visits, hazard_visits
from geo_patrol.analysis.coverage import Atoms, merge_intervals
from geo_patrol.analysis.params import AnalysisParams
from geo_patrol.analysis.paths import Fixes, build_steps
from geo_patrol.analysis.visits import (
    AreaDaily,
    Calendar,
    RawVisits,
    SegmentVisits,
    area_codes,
    length_by,
    raw_visits,
    volunteer_pairs,
)
from geo_patrol.errors import InputError

FORMAT = 2  # bump when what a day keeps changes: stored days of another format are redone
SPAN_FORMAT = 4  # bump when what a span keeps changes: stored months are rolled up again


@dataclass
class Streets:
    """What every day of a deployment is analysed against: its street segments cut into
    atoms, its hazards and the grid its communities' ground is counted in, with the settings
    that shape a day's visits. ``key`` changes whenever the streets, the grid or the settings
    do, ``hazards_key`` whenever the hazards do (a day's runs near hazards are kept by hazard
    id, so a changed ledger redoes only those), ``span_key`` whenever ``key`` or the area of a
    segment does (a span keeps its volunteers by area; a day keeps them by segment, so new
    boundaries roll the months up again without analysing a day)."""

    segment_ids: np.ndarray
    atoms: Atoms
    hazard_ids: np.ndarray
    hx: np.ndarray
    hy: np.ndarray
    grid: Grid | None
    radius_m: float
    reach_m: float
    gap_s: float
    max_speed_kmh: float
    day_starts: dt.time
    night_starts: dt.time
    timezone: str
    key: str
    hazards_key: str
    segment_areas: np.ndarray  # area id of each segment (-1: none)
    span_key: str
    areas: np.ndarray = field(init=False)       # the segments' areas, sorted, once each
    area_index: np.ndarray = field(init=False)  # each segment's area among ``areas``

    def __post_init__(self) -> None:
        self.areas, self.area_index = np.unique(self.segment_areas, return_inverse=True)

    @classmethod
    def build(cls, segments: pd.DataFrame, hazards: pd.DataFrame,
              community_polygons: dict[int, Any], *, params: AnalysisParams, reach_m: float,
              timezone: str) -> Streets:
        lines = segments["geom"].to_numpy()
        polys = np.array([community_polygons[i] for i in sorted(community_polygons)])
        grid = Grid.around(polys, params.radius_m) if len(polys) else None
        hx = hazards["x"].to_numpy(dtype="float64")
        hy = hazards["y"].to_numpy(dtype="float64")
        settings = {
            "format": FORMAT, "radius": params.radius_m, "gap": params.gap_s,
            "speed": params.max_speed_kmh, "day": params.day_starts.isoformat(),
            "night": params.night_starts.isoformat(), "tz": timezone,
            "grid": None if grid is None else [grid.x0, grid.y0, grid.cell, grid.nx, grid.ny]}
        hazard_ids = hazards["id"].to_numpy(dtype="int64")
        key = _digest(settings, segments["id"].to_numpy(dtype="int64"),
                      shapely.to_wkb(lines, output_dimension=2) if len(lines) else np.array([]))
        hazards_key = _digest({"format": FORMAT, "reach": reach_m, "gap": params.gap_s},
                              hazard_ids, hx, hy)
        segment_areas = segments["area_id"].to_numpy(dtype="int64")
        span_key = _digest({"format": SPAN_FORMAT, "key": key}, segment_areas)
        return cls(segments["id"].to_numpy(dtype="int64"),
                   Atoms.from_lines(lines, params.radius_m), hazard_ids, hx, hy, grid,
                   params.radius_m, reach_m, params.gap_s, params.max_speed_kmh,
                   params.day_starts, params.night_starts, timezone, key, hazards_key,
                   segment_areas, span_key)

    @property
    def n_seg(self) -> int:
        return len(self.segment_ids)

    def calendar(self, start: dt.datetime, end: dt.datetime) -> Calendar:
        return Calendar.for_window(start, end, self.timezone, self.day_starts, self.night_starts)


def _digest(settings: dict[str, Any], *arrays: np.ndarray) -> str:
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    for array in arrays:
        digest.update(b"".join(array) if array.dtype == object else array.tobytes())
    return digest.hexdigest()


@dataclass
class DayVisits:
    """What one local day of fixes did (indices into the :class:`Streets` of ``key``; hazard
    runs by hazard id, as of ``hazards_key``)."""

    day: dt.date
    key: str
    hazards_key: str
    raw: RawVisits      # of a one-day calendar
    hazards: Visits     # runs of fixes near each hazard (``hazard``: its id), within the day
    cells: np.ndarray   # grid cells the day's paths crossed
    fixes: int
    steps: int

    def to_bytes(self) -> bytes:
        """The day, sparse (only visited segments) and compressed, for storage."""
        r = self.raw
        return _pack(self, key=r.key, start=r.start, end=r.end, seg_vol=r.seg_vol,
                     **_sparse(r.passes, r.dwell_s, r.last_visit, r.last_patrol_visit))

    @classmethod
    def from_bytes(cls, day: dt.date, key: str, data: bytes, n_seg: int) -> DayVisits:
        z = np.load(io.BytesIO(data))
        passes, dwell, last, last_patrol = _dense(z, n_seg)
        raw = RawVisits(z["key"], z["start"], z["end"], passes, dwell, last, last_patrol,
                        z["seg_vol"])
        fixes, steps = (int(v) for v in z["counts"])
        return cls(day, key, str(z["hazards_key"]), raw,
                   Visits(z["h_hazard"], z["h_volunteer"], z["h_start"], z["h_end"]),
                   _bits_cells(z), fixes, steps)


def _sparse(passes: np.ndarray, dwell: np.ndarray, last: np.ndarray, last_patrol: np.ndarray
            ) -> dict[str, np.ndarray]:
    """Per-segment figures of the visited segments only, for storage."""
    seen = np.flatnonzero(~np.isnan(last))
    return {"seen": seen, "passes": passes[:, seen], "dwell": dwell[:, seen],
            "last": last[seen], "last_patrol": last_patrol[seen]}


def _dense(z: Any, n_seg: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The per-segment figures :func:`_sparse` stored, for every segment again."""
    seen = z["seen"]
    passes, dwell = np.zeros((2, n_seg), "int64"), np.zeros((2, n_seg))
    last, last_patrol = np.full(n_seg, np.nan), np.full(n_seg, np.nan)
    passes[:, seen], dwell[:, seen] = z["passes"], z["dwell"]
    last[seen], last_patrol[seen] = z["last"], z["last_patrol"]
    return passes, dwell, last, last_patrol


def _pack(visits: DayVisits | Span, **arrays: np.ndarray) -> bytes:
    """A day's or a span's arrays with its runs near hazards, cells and counts, compressed."""
    buf = io.BytesIO()
    np.savez_compressed(
        buf, h_hazard=visits.hazards.hazard, h_volunteer=visits.hazards.volunteer,
        h_start=visits.hazards.start, h_end=visits.hazards.end,
        counts=np.array([visits.fixes, visits.steps]), hazards_key=np.array(visits.hazards_key),
        **_cells_bits(visits.cells), **arrays)
    return buf.getvalue()


def _cells_bits(cells: np.ndarray) -> dict[str, np.ndarray]:
    """Sorted cell indices as one bit a cell up to the last: a day's paths cross a good part
    of the grid and a month's most of it, so its cells weigh an eighth of a byte each instead
    of eight bytes (a 57k-segment city-day: 2.2 MB stored instead of 4.5)."""
    size = int(cells[-1]) + 1 if len(cells) else 0
    mask = np.zeros(size, dtype=bool)
    mask[cells] = True
    return {"cells_bits": np.packbits(mask), "cells_size": np.array(size)}


def _bits_cells(z: Any) -> np.ndarray:
    if "cells" in z.files:  # a day stored before its cells were bits: read as it is
        return z["cells"]
    return np.flatnonzero(np.unpackbits(z["cells_bits"], count=int(z["cells_size"])))


def day_bounds(day: dt.date, timezone: str) -> tuple[dt.datetime, dt.datetime]:
    """The local midnights that start and end ``day``."""
    zone = ZoneInfo(timezone)
    return (dt.datetime.combine(day, dt.time(), zone),
            dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone))


def whole_days(start: dt.datetime, end: dt.datetime, timezone: str) -> list[dt.date] | None:
    """The local days of a window that starts and ends at local midnights (else None)."""
    zone = ZoneInfo(timezone)
    a, b = start.astimezone(zone), end.astimezone(zone)
    if end <= start or a.time() != dt.time() or b.time() != dt.time():
        return None
    return [a.date() + dt.timedelta(days=i) for i in range((b.date() - a.date()).days)]


def analyse_day(streets: Streets, fixes: Fixes, day: dt.date, *, threads: int = 1
                ) -> DayVisits:
    """The visits of one local day's clean fixes (sorted by volunteer and time)."""
    start, end = day_bounds(day, streets.timezone)
    t0, t1 = start.timestamp(), end.timestamp()
    if len(fixes) and (fixes.t.min() < t0 or fixes.t.max() >= t1):
        raise InputError(f"fixes outside {day} were given to that day's analysis")
    cal = streets.calendar(start, end)
    steps = build_steps(fixes, gap_s=streets.gap_s, max_speed_kmh=streets.max_speed_kmh)
    raw = raw_visits(streets.atoms, steps, cal, radius=streets.radius_m, n_seg=streets.n_seg,
                     threads=threads)
    cells = path_cells(streets.grid, steps) if streets.grid is not None and len(steps) else \
        np.zeros(0, "int64")
    return DayVisits(day, streets.key, streets.hazards_key, raw, _near_hazards(streets, fixes),
                     cells, len(fixes), len(steps))


def redo_hazards(streets: Streets, visits: DayVisits, fixes: Fixes) -> DayVisits:
    """A stored day with its runs near hazards found again against today's hazards (the
    streets part kept): a changed hazard ledger costs a read of the day, not its analysis."""
    return replace(visits, hazards_key=streets.hazards_key,
                   hazards=_near_hazards(streets, fixes))


def _near_hazards(streets: Streets, fixes: Fixes) -> Visits:
    near = hazard_visits(streets.hx, streets.hy, fixes, radius=streets.reach_m,
                         gap_s=streets.gap_s)
    return Visits(streets.hazard_ids[near.hazard], near.volunteer, near.start, near.end)


def _union_cells(grid: Grid | None, parts: list[np.ndarray]) -> np.ndarray:
    """The cells of several days, sorted and once each (marked on the grid: no sort)."""
    if grid is None:
        return np.zeros(0, "int64")
    mask = np.zeros(grid.nx * grid.ny, dtype=bool)
    for cells in parts:
        mask[cells] = True
    return np.flatnonzero(mask)


def _join_runs(parts: list[Visits], gap_s: float) -> Visits:
    """One volunteer's runs near a hazard, joined again where they continue over midnight."""
    hazard = np.concatenate([p.hazard for p in parts]).astype("int64")
    vol = np.concatenate([p.volunteer for p in parts])
    start = np.concatenate([p.start for p in parts])
    end = np.concatenate([p.end for p in parts])
    order = np.lexsort((start, vol, hazard))
    hazard, vol, start, end = hazard[order], vol[order], start[order], end[order]
    new = np.ones(len(hazard), dtype=bool)
    new[1:] = (hazard[1:] != hazard[:-1]) | (vol[1:] != vol[:-1]) | \
        (start[1:] - end[:-1] > gap_s)
    first = np.flatnonzero(new)
    if not len(first):
        return Visits(hazard, vol, start, end)
    return Visits(hazard[first], vol[first], start[first], np.maximum.reduceat(end, first))


@dataclass
class Span:
    """Consecutive whole days put together (a day, a month), in the form that composes with
    other spans exactly and stays small however many days it holds: each street atom's covered
    intervals per kind and band united over the span (not kept day by day), the covered metres
    of each area's own segments on each day, the (area, volunteer) pairs, and the per-segment
    sums, latest visits, runs near hazards and cells as in :class:`DayVisits`. A window's
    union of intervals is the union of its spans' unions; its daily figures are its spans'
    side by side."""

    first: dt.date
    n_days: int
    key: str
    hazards_key: str
    cover_key: np.ndarray    # atom * 4 + kind * 2 + band, pieces disjoint per key
    cover_start: np.ndarray
    cover_end: np.ndarray
    daily_m: np.ndarray      # (n_days, areas): covered metres, by ``Streets.areas``
    passes: np.ndarray       # (2, n_seg)
    dwell_s: np.ndarray      # (2, n_seg)
    last_visit: np.ndarray
    last_patrol_visit: np.ndarray
    area_vol: np.ndarray     # sorted unique area id * _VOL_SPAN + volunteer
    hazards: Visits
    cells: np.ndarray
    fixes: int
    steps: int

    @property
    def last(self) -> dt.date:
        return self.first + dt.timedelta(days=self.n_days - 1)

    def to_bytes(self) -> bytes:
        return _pack(self, cover_key=self.cover_key, cover_start=self.cover_start,
                     cover_end=self.cover_end, daily_m=self.daily_m, area_vol=self.area_vol,
                     **_sparse(self.passes, self.dwell_s, self.last_visit,
                               self.last_patrol_visit))

    @classmethod
    def from_bytes(cls, first: dt.date, n_days: int, key: str, data: bytes, n_seg: int
                   ) -> Span:
        z = np.load(io.BytesIO(data))
        passes, dwell, last, last_patrol = _dense(z, n_seg)
        fixes, steps = (int(v) for v in z["counts"])
        return cls(first, n_days, key, str(z["hazards_key"]), z["cover_key"], z["cover_start"],
                   z["cover_end"], z["daily_m"], passes, dwell, last, last_patrol,
                   z["area_vol"],
                   Visits(z["h_hazard"], z["h_volunteer"], z["h_start"], z["h_end"]),
                   _bits_cells(z), fixes, steps)


def span_of_day(streets: Streets, visits: DayVisits) -> Span:
    """One day as a span (its intervals are already one day's: ``atom * 4 + kind * 2 +
    band``)."""
    raw = visits.raw
    k, s, e = merge_intervals(raw.key // 4, raw.start, raw.end)  # the day's union per atom
    per_seg = np.bincount(streets.atoms.seg[k], weights=e - s, minlength=streets.n_seg)
    daily = np.bincount(streets.area_index, weights=per_seg, minlength=len(streets.areas))
    return Span(visits.day, 1, visits.key, visits.hazards_key, raw.key, raw.start, raw.end,
                daily[np.newaxis, :], raw.passes, raw.dwell_s, raw.last_visit,
                raw.last_patrol_visit, area_codes(raw.seg_vol, streets.segment_areas),
                visits.hazards, visits.cells, visits.fixes, visits.steps)


def roll_up(streets: Streets, spans: list[Span]) -> Span:
    """Consecutive spans (oldest first) as one span."""
    if not spans:
        raise InputError("a span needs at least one day")
    for a, b in zip(spans, spans[1:]):
        if b.first != a.last + dt.timedelta(days=1):
            raise InputError(f"days {a.last} and {b.first} are not consecutive")
    stale = [s.first for s in spans if s.key != streets.key]
    if stale:
        raise InputError(f"the visits of {stale[0]} were analysed against other streets")
    # a day kept from before a hazard changed (its raw fixes gone) leaves the span mixed
    hazards_keys = {s.hazards_key for s in spans}
    hazards_key = hazards_keys.pop() if len(hazards_keys) == 1 else "mixed"
    key, start, end = merge_intervals(np.concatenate([s.cover_key for s in spans]),
                                      np.concatenate([s.cover_start for s in spans]),
                                      np.concatenate([s.cover_end for s in spans]))
    passes, dwell = spans[0].passes.copy(), spans[0].dwell_s.copy()
    last, last_patrol = spans[0].last_visit.copy(), spans[0].last_patrol_visit.copy()
    for s in spans[1:]:
        passes += s.passes
        dwell += s.dwell_s
        np.fmax(last, s.last_visit, out=last)
        np.fmax(last_patrol, s.last_patrol_visit, out=last_patrol)
    area_vol = np.unique(np.concatenate([s.area_vol for s in spans]))  # one sort
    return Span(
        spans[0].first, sum(s.n_days for s in spans), streets.key, hazards_key,
        key, start, end,
        np.concatenate([s.daily_m for s in spans]), passes, dwell, last, last_patrol, area_vol,
        _join_runs([s.hazards for s in spans], streets.gap_s),
        _union_cells(streets.grid, [s.cells for s in spans]),
        sum(s.fixes for s in spans), sum(s.steps for s in spans))


def span_visits(streets: Streets, span: Span) -> SegmentVisits:
    """Per-segment visits of a span (a whole window), as :func:`summarise` gives them for the
    window analysed at once."""
    n_seg, atoms = streets.n_seg, streets.atoms
    order = np.lexsort((span.cover_start, span.cover_key // 4))
    key, start, end = span.cover_key[order], span.cover_start[order], span.cover_end[order]
    atom, kind, band = key // 4, (key // 2) % 2, key % 2

    def length(mask: np.ndarray | None = None) -> np.ndarray:
        a, s, e = (atom, start, end) if mask is None else (atom[mask], start[mask], end[mask])
        per_atom = length_by(a, s, e, len(atoms.seg), presorted=True)
        return np.bincount(atoms.seg, weights=per_atom, minlength=n_seg)

    return SegmentVisits(
        covered_m=length(), covered_kind_m=np.stack([length(kind == k) for k in (0, 1)]),
        covered_band_m=np.stack([length(band == b) for b in (0, 1)]),
        covered_daily=AreaDaily(streets.areas, span.daily_m.T),
        last_visit=span.last_visit, last_patrol_visit=span.last_patrol_visit,
        passes=span.passes, dwell_s=span.dwell_s,
        area_volunteer=volunteer_pairs(span.area_vol))
