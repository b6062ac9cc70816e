"""What a visit is, in one place: a street walked (the part within ``R`` of a path's steps,
:func:`segment_visits`, :func:`walked_m`) and the time spent near a place (runs of fixes
within reach, :func:`place_visits`; a stay is such a run lasting long enough,
:meth:`Visits.stays`). Coverage, hazard compliance and task delivery all call these, with the
steps :func:`geo_patrol.analysis.paths.build_steps` makes from one
:class:`~geo_patrol.analysis.params.AnalysisParams`.

Per-segment visits for a window: covered length (by kind, band and day), last visit,
distinct passes and dwell, from patrol steps (see :mod:`geo_patrol.analysis.coverage`)."""

from __future__ import annotations

import datetime as dt
import warnings
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from geo_patrol.analysis.coverage import Atoms, chunk_bounds, hits_for, map_chunks, merge_intervals
from geo_patrol.analysis.paths import Fixes, Steps

KINDS = ("patrol", "passive")
BANDS = ("day", "night")


@dataclass
class Calendar:
    """Local days of a window and the day/night band boundaries."""

    midnights: np.ndarray  # epoch seconds of each local midnight, plus the one after the end
    day_starts_s: float
    night_starts_s: float
    dates: list[dt.date]

    @classmethod
    def for_window(cls, start: dt.datetime, end: dt.datetime, tz: str, day_starts: dt.time,
                   night_starts: dt.time) -> Calendar:
        zone = ZoneInfo(tz)
        first = start.astimezone(zone).date()
        last = (end - dt.timedelta(microseconds=1)).astimezone(zone).date()
        days = [first + dt.timedelta(days=i) for i in range((last - first).days + 2)]
        mids = np.array([dt.datetime.combine(d, dt.time(), zone).timestamp() for d in days])
        return cls(mids, day_starts.hour * 3600 + day_starts.minute * 60,
                   night_starts.hour * 3600 + night_starts.minute * 60, days[:-1])

    @property
    def days(self) -> int:
        return len(self.midnights) - 1

    def day_of(self, t: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.midnights, t, side="right") - 1, 0, self.days - 1)

    def band_of(self, t: np.ndarray) -> np.ndarray:
        """0 in the day band, 1 at night."""
        sec = t - self.midnights[self.day_of(t)]
        return np.where((sec >= self.day_starts_s) & (sec < self.night_starts_s), 0, 1)


@dataclass
class AreaDaily:
    """Covered metres of each area's own street segments (not its sub-areas') on each day:
    all the per-day figures a window needs, small however long the window."""

    area_ids: np.ndarray  # sorted unique area ids (-1: segments in no area)
    m: np.ndarray         # (len(area_ids), days)

    @classmethod
    def of(cls, segment_areas: np.ndarray, seg: np.ndarray, day: np.ndarray, m: np.ndarray,
           days: int) -> AreaDaily:
        """Summed from covered metres ``m`` of segments ``seg`` on days ``day``."""
        ids, index = np.unique(segment_areas, return_inverse=True)
        sums = np.bincount(index[seg] * days + day, weights=m, minlength=len(ids) * days)
        return cls(ids, sums.reshape(len(ids), days))

    def take(self, area_ids: np.ndarray) -> AreaDaily:
        keep = np.isin(self.area_ids, area_ids)
        return AreaDaily(self.area_ids[keep], self.m[keep])


@dataclass
class SegmentVisits:
    """Arrays aligned with the segments analysed."""

    covered_m: np.ndarray
    covered_kind_m: np.ndarray  # (2, n): patrol, passive
    covered_band_m: np.ndarray  # (2, n): day, night
    covered_daily: AreaDaily
    last_visit: np.ndarray  # epoch seconds, NaN when never
    last_patrol_visit: np.ndarray
    passes: np.ndarray  # (2, n)
    dwell_s: np.ndarray  # (2, n)
    area_volunteer: np.ndarray  # (k, 2) unique (area id, volunteer) pairs of their areas

    def take(self, idx: np.ndarray, area_ids: np.ndarray) -> SegmentVisits:
        """The visits of segments ``idx`` only, renumbered in that order, with the pairs of
        their areas ``area_ids`` (the areas of a scope hold exactly the scope's segments)."""
        pairs = self.area_volunteer
        pairs = pairs[np.isin(pairs[:, 0], area_ids)] if len(pairs) else pairs
        return SegmentVisits(
            self.covered_m[idx], self.covered_kind_m[:, idx], self.covered_band_m[:, idx],
            self.covered_daily.take(area_ids), self.last_visit[idx],
            self.last_patrol_visit[idx],
            self.passes[:, idx], self.dwell_s[:, idx], pairs)


def _chunk(atoms: Atoms, steps: Steps, cal: Calendar, radius: float, n_seg: int, lo: int,
           hi: int) -> dict[str, np.ndarray]:
    hits = hits_for(atoms, steps, lo, hi, radius)
    mid = (steps.t0[hits.step] + steps.t1[hits.step]) / 2
    kind = steps.kind[hits.step].astype("int64")
    group = (cal.day_of(mid) * 2 + kind) * 2 + cal.band_of(mid)
    fine = hits.atom.astype("int64") * (cal.days * 4) + group
    key, start, end = merge_intervals(fine, hits.start, hits.end)
    # one row per (segment, step): passes, dwell, last visit
    seg = atoms.seg[hits.atom].astype("int64")
    pair = _unique(seg * len(steps) + hits.step)
    pseg, pstep = pair // len(steps), pair % len(steps)
    pkind = steps.kind[pstep]
    vol = steps.volunteer[pstep]
    sday = cal.day_of(steps.t0[pstep])
    new = np.ones(len(pair), dtype=bool)
    # a pass is a run of one volunteer's consecutive steps on a segment within one local day
    new[1:] = (pseg[1:] != pseg[:-1]) | (pstep[1:] != pstep[:-1] + 1) | \
        (vol[1:] != vol[:-1]) | (sday[1:] != sday[:-1])
    out = {"key": key, "start": start, "end": end,
           "passes": np.stack([np.bincount(pseg, weights=new & (pkind == k), minlength=n_seg)
                               for k in (0, 1)]),
           "dwell": np.stack([np.bincount(pseg, weights=(steps.t1 - steps.t0)[pstep]
                                          * (pkind == k), minlength=n_seg) for k in (0, 1)]),
           "last": np.full(n_seg, np.nan), "last_patrol": np.full(n_seg, np.nan),
           "seg_vol": _unique(pseg * _VOL_SPAN + vol)}
    for name, mask in (("last", np.ones(len(pair), bool)), ("last_patrol", pkind == 0)):
        if mask.any():
            s, t = pseg[mask], steps.t1[pstep[mask]]
            first = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
            out[name][s[first]] = np.maximum.reduceat(t, first)
    return out


def length_by(key: np.ndarray, start: np.ndarray, end: np.ndarray, size: int, *,
               presorted: bool = False) -> np.ndarray:
    k, s, e = merge_intervals(key, start, end, presorted=presorted)
    return np.bincount(k, weights=e - s, minlength=size)


@dataclass
class RawVisits:
    """What the steps of a window did, before it is summed per segment: the disjoint covered
    intervals of each (atom, day, kind, band) and per-segment passes, dwell and last visits.

    Whole days compose: the raw visits of a window are those of its days put side by side
    (:mod:`geo_patrol.analysis.days`).
    """

    key: np.ndarray     # atom * (days * 4) + (day * 2 + kind) * 2 + band (in any order)
    start: np.ndarray   # metres along the atom
    end: np.ndarray
    passes: np.ndarray  # (2, n_seg)
    dwell_s: np.ndarray  # (2, n_seg)
    last_visit: np.ndarray
    last_patrol_visit: np.ndarray
    seg_vol: np.ndarray  # sorted unique segment * _VOL_SPAN + volunteer


def raw_visits(atoms: Atoms, steps: Steps, cal: Calendar, *, radius: float, n_seg: int,
               threads: int = 2, chunk: int = 400_000) -> RawVisits:
    """The raw visits of ``steps`` to the segments cut into ``atoms``."""
    parts = map_chunks(lambda lo, hi: _chunk(atoms, steps, cal, radius, n_seg, lo, hi),
                       chunk_bounds(steps.volunteer, chunk), threads)
    if not parts:
        z = np.zeros(0)
        nan = np.full(n_seg, np.nan)
        return RawVisits(np.zeros(0, "int64"), z, z, np.zeros((2, n_seg), "int64"),
                         np.zeros((2, n_seg)), nan, nan.copy(), np.zeros(0, "int64"))
    key, start, end = merge_intervals(np.concatenate([p["key"] for p in parts]),
                                      np.concatenate([p["start"] for p in parts]),
                                      np.concatenate([p["end"] for p in parts]))

    def latest(name: str) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns: never visited
            return np.nanmax(np.stack([p[name] for p in parts]), axis=0)

    zero = np.zeros((2, n_seg))
    return RawVisits(key, start, end,
                     sum((p["passes"] for p in parts), zero).astype("int64"),
                     sum((p["dwell"] for p in parts), zero), latest("last"),
                     latest("last_patrol"),
                     _unique(np.concatenate([p["seg_vol"] for p in parts])))


def summarise(raw: RawVisits, atoms: Atoms, days: int, segment_areas: np.ndarray
              ) -> SegmentVisits:
    """Per-segment covered length (by kind, band and day) from raw visits, and the
    volunteers of each area from the area id of each segment (-1: none)."""
    n_seg = len(segment_areas)
    # one sort by (atom, start): the kind and band subsets keep that order
    order = np.lexsort((raw.start, raw.key // (days * 4)))
    key, start, end = raw.key[order], raw.start[order], raw.end[order]
    atom = key // (days * 4)
    group = key % (days * 4)
    day, kind, band = group // 4, (group // 2) % 2, group % 2
    n_atoms = len(atoms.seg)

    def per_segment(atom_len: np.ndarray) -> np.ndarray:
        return np.bincount(atoms.seg, weights=atom_len, minlength=n_seg)

    def length(mask: np.ndarray | None = None) -> np.ndarray:
        if mask is None:
            return per_segment(length_by(atom, start, end, n_atoms, presorted=True))
        return per_segment(length_by(atom[mask], start[mask], end[mask], n_atoms,
                                      presorted=True))

    covered = length()
    by_kind = np.stack([length(kind == k) for k in (0, 1)])
    by_band = np.stack([length(band == b) for b in (0, 1)])
    k, s, e = merge_intervals(atom * days + day, start, end)
    seg_day = atoms.seg[k // days].astype("int64") * days + k % days
    per = np.bincount(seg_day, weights=e - s, minlength=n_seg * days)
    pairs = np.flatnonzero(per)
    daily = AreaDaily.of(segment_areas, pairs // days, pairs % days, per[pairs], days)
    return SegmentVisits(
        covered_m=covered, covered_kind_m=by_kind, covered_band_m=by_band,
        covered_daily=daily, last_visit=raw.last_visit,
        last_patrol_visit=raw.last_patrol_visit, passes=raw.passes, dwell_s=raw.dwell_s,
        area_volunteer=volunteer_pairs(area_codes(raw.seg_vol, segment_areas)))


def segment_visits(lines_m: np.ndarray, steps: Steps, cal: Calendar, *, radius: float,
                   segment_areas: np.ndarray | None = None, threads: int = 2,
                   chunk: int = 400_000) -> SegmentVisits:
    """Visits of the street segments ``lines_m`` (metric LineStrings) by ``steps``, with
    the volunteers of the segments' areas ``segment_areas`` (none given: no areas)."""
    n_seg = len(lines_m)
    atoms = Atoms.from_lines(lines_m, radius)
    raw = raw_visits(atoms, steps, cal, radius=radius, n_seg=n_seg, threads=threads,
                     chunk=chunk)
    areas = np.full(n_seg, -1) if segment_areas is None else segment_areas
    return summarise(raw, atoms, cal.days, areas)


def walked_m(lines_m: np.ndarray, steps: Steps, *, radius: float,
             line_owner: np.ndarray | None = None, threads: int = 2,
             chunk: int = 400_000) -> np.ndarray:
    """Metres of each street line ``lines_m`` (metric) within ``radius`` of ``steps``: its
    ``covered_m`` in :func:`segment_visits`. With ``line_owner``, a line counts only the steps
    whose ``volunteer`` equals its owner (several tasks checked at once, each line against its
    own task's path)."""
    n_lines = len(lines_m)
    atoms = Atoms.from_lines(lines_m, radius)
    owner = None if line_owner is None else np.asarray(line_owner, dtype="int64")

    def one(lo: int, hi: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        hits = hits_for(atoms, steps, lo, hi, radius)
        keep = slice(None) if owner is None else \
            owner[atoms.seg[hits.atom]] == steps.volunteer[hits.step]
        return merge_intervals(hits.atom[keep].astype("int64"), hits.start[keep],
                               hits.end[keep])

    parts = map_chunks(one, chunk_bounds(steps.volunteer, chunk), threads)
    if not parts or not len(atoms.seg):
        return np.zeros(n_lines)
    per_atom = length_by(np.concatenate([p[0] for p in parts]),
                         np.concatenate([p[1] for p in parts]),
                         np.concatenate([p[2] for p in parts]), len(atoms.seg))
    return np.bincount(atoms.seg, weights=per_atom, minlength=n_lines)


_VOL_SPAN = 1 << 31


def _unique(values: np.ndarray) -> np.ndarray:
    values = np.sort(values)
    return values[np.r_[True, values[1:] != values[:-1]]] if len(values) else values


def area_codes(seg_vol: np.ndarray, segment_areas: np.ndarray) -> np.ndarray:
    """Sorted unique ``area * _VOL_SPAN + volunteer`` of the segments' ``seg_vol`` pairs, by
    each segment's area id (-1, no area: left out). Areas number in the hundreds, so these
    are far fewer than the segment pairs and unite cheaply over a long window."""
    area = np.asarray(segment_areas, dtype="int64")[seg_vol // _VOL_SPAN]
    keep = area >= 0
    return np.unique(area[keep] * _VOL_SPAN + seg_vol[keep] % _VOL_SPAN)


def volunteer_pairs(keys: np.ndarray) -> np.ndarray:
    """(segment or area, volunteer) rows from combined keys."""
    return np.column_stack([keys // _VOL_SPAN, keys % _VOL_SPAN])


@dataclass
class Visits:
    """Runs of one volunteer's fixes within reach of a place (``hazard``: the place's index,
    or its id once stored), from the first fix of the run to the last."""

    hazard: np.ndarray
    volunteer: np.ndarray
    start: np.ndarray
    end: np.ndarray

    @property
    def minutes(self) -> np.ndarray:
        """Minutes spent near the place on each visit."""
        return (self.end - self.start) / 60

    def stays(self, dwell_min: float) -> np.ndarray:
        """Which visits are stays (an inspection, a stop made): ``dwell_min`` or longer."""
        return self.minutes >= dwell_min


def near_pairs(px: np.ndarray, py: np.ndarray, qx: np.ndarray, qy: np.ndarray,
               radius: float) -> tuple[np.ndarray, np.ndarray]:
    """All (p, q) index pairs within ``radius``: a hash join on ``radius``-sized grid cells
    (each q registered in its 3 x 3 neighbourhood), then exact distances. Suits many p
    (fixes) and fewer q (places)."""
    if not len(px) or not len(qx):
        empty = np.zeros(0, dtype="int64")
        return empty, empty
    span = 1 << 31

    def cell(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.floor(x / radius).astype("int64") * span + np.floor(y / radius).astype("int64")

    home = cell(qx, qy)
    keys = np.concatenate([home + dx * span + dy for dx in (-1, 0, 1) for dy in (-1, 0, 1)])
    owner = np.tile(np.arange(len(qx)), 9)
    order = np.argsort(keys, kind="stable")
    keys, owner = keys[order], owner[order]
    pc = cell(px, py)
    lo = np.searchsorted(keys, pc, side="left")
    hi = np.searchsorted(keys, pc, side="right")
    count = hi - lo
    p_idx = np.repeat(np.arange(len(px)), count)
    offset = np.arange(len(p_idx)) - np.repeat(np.cumsum(count) - count, count)
    q_idx = owner[np.repeat(lo, count) + offset]
    close = np.hypot(px[p_idx] - qx[q_idx], py[p_idx] - qy[q_idx]) <= radius
    return p_idx[close], q_idx[close]


def place_visits(px: np.ndarray, py: np.ndarray, fixes: Fixes, *, radius: float,
                 gap_s: float) -> Visits:
    """Visits to each place (``px, py``, metric): a volunteer's fixes within ``radius`` of it,
    joined into one run while consecutive ones are at most ``gap_s`` apart.

    Only the fixes within reach decide: one that strays out of reach between two within reach
    at most ``gap_s`` apart does not end the visit (a fix thrown off by a wall or a
    tree), a longer absence does. So a day's runs join the next day's by the same rule
    (:mod:`geo_patrol.analysis.days`), and every caller (hazard compliance, task stops, the
    minutes near a hot spot) gets the same visits from the same fixes."""
    f_idx, h_idx = near_pairs(fixes.x, fixes.y, px, py, radius)
    order = np.lexsort((fixes.t[f_idx], fixes.volunteer[f_idx], h_idx))
    f_idx, h_idx = f_idx[order], h_idx[order]
    vol, t = fixes.volunteer[f_idx], fixes.t[f_idx]
    new = np.ones(len(f_idx), dtype=bool)
    new[1:] = (h_idx[1:] != h_idx[:-1]) | (vol[1:] != vol[:-1]) | (np.diff(t) > gap_s)
    first = np.flatnonzero(new)
    last = np.append(first[1:], len(f_idx)) - 1
    if not len(first):
        last = first
    return Visits(h_idx[first], vol[first], t[first], t[last])
