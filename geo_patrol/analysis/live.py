"""Coverage as it happens: the covered intervals of new patrol steps, merged into what a day
already holds.

Coverage is a union of intervals along each straight piece (*atom*) of each street segment
(:mod:`geo_patrol.analysis.coverage`), and a union can grow one step at a time: the steps
joining each volunteer's new clean fixes to the previous clean fix of the same day cover
exactly what they would cover in a full analysis of the day (a lone fix's reach is inside the
reach of any step from it). The work is proportional to the new fixes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from geo_patrol.analysis.coverage import Atoms, hits_for, merge_intervals
from geo_patrol.analysis.paths import Fixes, build_steps


@dataclass
class StreetAtoms:
    """The deployment's street segments cut into atoms, built once and reused."""

    segment_ids: np.ndarray
    atoms: Atoms
    first_atom: np.ndarray  # per segment: index of its first atom

    @classmethod
    def build(cls, segment_ids: np.ndarray, lines_m: np.ndarray, radius: float) -> StreetAtoms:
        atoms = Atoms.from_lines(lines_m, radius)
        first = np.searchsorted(atoms.seg, np.arange(len(segment_ids)))
        return cls(np.asarray(segment_ids), atoms, first)


def step_cover(streets: StreetAtoms, fixes: Fixes, *, radius: float, gap_s: float,
               max_speed_kmh: float) -> pd.DataFrame:
    """Merged covered intervals of the steps of ``fixes`` (sorted by volunteer and time):
    one row per (segment_id, atom within the segment, start, end), with each segment's last
    visit (epoch s)."""
    steps = build_steps(fixes, gap_s=gap_s, max_speed_kmh=max_speed_kmh)
    if not len(steps):
        return _empty()
    hits = hits_for(streets.atoms, steps, 0, len(steps), radius)
    if not len(hits.atom):
        return _empty()
    key, start, end = merge_intervals(hits.atom.astype("int64"), hits.start, hits.end)
    seg = streets.atoms.seg[key]
    last = pd.Series(steps.t1[hits.step]).groupby(streets.atoms.seg[hits.atom]).max()
    return pd.DataFrame({"segment_id": streets.segment_ids[seg],
                         "atom": key - streets.first_atom[seg], "start": start, "end": end,
                         "last": last.reindex(seg).to_numpy()})


def merge_cover(stored: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Union of stored per-segment intervals (rows of segment_id, atoms, starts, ends, last)
    and new ones (from :func:`step_cover`): one row per segment, with covered_m."""
    seg = [new["segment_id"].to_numpy(dtype="int64")]
    atom = [new["atom"].to_numpy(dtype="int64")]
    start = [new["start"].to_numpy(dtype="float64")]
    end = [new["end"].to_numpy(dtype="float64")]
    last = [new["last"].to_numpy(dtype="float64")]
    if len(stored):
        sizes = np.fromiter(map(len, stored["atoms"]), dtype="int64", count=len(stored))
        total = int(sizes.sum())
        seg.append(np.repeat(stored["segment_id"].to_numpy(dtype="int64"), sizes))
        atom.append(_flat(stored["atoms"], "int64", total))
        start.append(_flat(stored["starts"], "float64", total))
        end.append(_flat(stored["ends"], "float64", total))
        last.append(np.repeat(stored["last"].to_numpy(dtype="float64"), sizes))
    seg_all, atom_all = np.concatenate(seg), np.concatenate(atom)
    codes, segs = pd.factorize(seg_all, sort=True)
    span = int(atom_all.max()) + 1
    key, s0, s1 = merge_intervals(codes.astype("int64") * span + atom_all,
                                  np.concatenate(start), np.concatenate(end))
    code = key // span
    cuts = np.flatnonzero(np.diff(code)) + 1
    present = code[np.r_[0, cuts]] if len(code) else code
    newest = np.full(len(segs), -np.inf)
    np.maximum.at(newest, codes, np.concatenate(last))
    bounds = list(zip(np.r_[0, cuts].tolist(), np.r_[cuts, len(code)].tolist()))

    def pieces(values: np.ndarray) -> list[list[Any]]:  # one list per segment (no np.split)
        flat = values.tolist()
        return [flat[a:b] for a, b in bounds] if len(code) else []

    return pd.DataFrame({
        "segment_id": np.asarray(segs)[present],
        "atoms": pieces(key % span),
        "starts": pieces(s0),
        "ends": pieces(s1),
        "covered_m": np.bincount(code, weights=s1 - s0)[present],
        "last": newest[present]})


def _flat(lists: pd.Series, dtype: str, count: int) -> np.ndarray:
    """The lists of a column one after another, as one array."""
    return np.fromiter(itertools.chain.from_iterable(lists), dtype=dtype, count=count)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"segment_id": pd.Series(dtype="int64"),
                         "atom": pd.Series(dtype="int64"), "start": pd.Series(dtype="float64"),
                         "end": pd.Series(dtype="float64"), "last": pd.Series(dtype="float64")})
