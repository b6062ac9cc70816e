"""Coverage as it happens: the covered intervals of new patrol steps, merged into what a day
already holds.

Coverage is a union of intervals along each straight piece (*atom*) of each street segment
(:mod:`geo_patrol.analysis.coverage`), and a union can grow one step at a time: the steps
joining each volunteer's new clean fixes to the previous clean fix of the same day cover
exactly what they would cover in a full analysis of the day (a lone fix's reach is inside the
reach of any step from it). The work is proportional to the new fixes.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    old = stored.explode(["atoms", "starts", "ends"]) if len(stored) else stored
    parts = [new[["segment_id", "atom", "start", "end", "last"]]]
    if len(old):
        parts.append(pd.DataFrame({"segment_id": old["segment_id"].to_numpy(),
                                   "atom": old["atoms"].to_numpy(dtype="int64"),
                                   "start": old["starts"].to_numpy(dtype="float64"),
                                   "end": old["ends"].to_numpy(dtype="float64"),
                                   "last": old["last"].to_numpy(dtype="float64")}))
    both = pd.concat(parts, ignore_index=True)
    seg_codes, segs = pd.factorize(both["segment_id"], sort=True)
    atom = both["atom"].to_numpy(dtype="int64")
    span = int(atom.max()) + 1
    key, start, end = merge_intervals(seg_codes.astype("int64") * span + atom,
                                      both["start"].to_numpy(), both["end"].to_numpy())
    frame = pd.DataFrame({"seg": key // span, "atom": key % span, "start": start, "end": end})
    frame["len"] = frame["end"] - frame["start"]
    grouped = frame.groupby("seg", sort=True)
    last = both.groupby(seg_codes)["last"].max()
    return pd.DataFrame({
        "segment_id": np.asarray(segs)[grouped.size().index],
        "atoms": grouped["atom"].apply(list).to_numpy(),
        "starts": grouped["start"].apply(list).to_numpy(),
        "ends": grouped["end"].apply(list).to_numpy(),
        "covered_m": grouped["len"].sum().to_numpy(),
        "last": last.reindex(grouped.size().index).to_numpy()})


def _empty() -> pd.DataFrame:
    return pd.DataFrame({"segment_id": pd.Series(dtype="int64"),
                         "atom": pd.Series(dtype="int64"), "start": pd.Series(dtype="float64"),
                         "end": pd.Series(dtype="float64"), "last": pd.Series(dtype="float64")})
