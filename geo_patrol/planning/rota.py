"""A rota for a period: which candidate loops to walk on which day and time slot, within the
volunteer-hours each community can give, so that every street is patrolled within its
revisit interval and the hot spots get their visits — solved as one covering MILP in HiGHS,
with its gap reported; and, when the force is not enough, the hours missing.

Pure: arrays in, a :class:`Rota` out. Candidate loops come from the planner's building
blocks (posts, zones, loops); this module only chooses among them.

- The period is cut into windows of ``revisit_days`` days; a street is *due* in a window
  unless its last visit before the period keeps it fresh through that window's end.
- A due street of a window is met when some loop walked on a day of the window covers it.
- A hot spot needs ``hotspot_visits`` loops stopping at it in each risk slot of each day.
- Each (community, day, slot) spends at most the force's hours on its loops.
- Unpredictable on purpose: a seeded random perturbation of the loops' costs (far below
  any street's value) picks among equally good rotas, so two seeds meet the same guarantees
  with different timetables.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp

#: Value of one hot-spot visit against street metres (a met visit outweighs any street).
HOTSPOT_VALUE = 1e6


@dataclass(frozen=True)
class Candidate:
    """A loop a volunteer of ``community`` can walk in one slot: its hours, the street
    segments it covers and the hot spots it stops at (indices)."""

    community: int
    hours: float
    segments: np.ndarray
    hotspots: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


@dataclass(frozen=True)
class RotaProblem:
    length: np.ndarray  # metres per segment
    age_days: np.ndarray  # days since each segment's last visit before day 0 (inf: never)
    candidates: list[Candidate]
    force: np.ndarray  # volunteer-hours [community, day, slot]
    revisit_days: int = 3
    hotspots: int = 0
    risk_slots: tuple[int, ...] = ()
    hotspot_visits: int = 1

    @property
    def days(self) -> int:
        return int(self.force.shape[1])

    @property
    def slots(self) -> int:
        return int(self.force.shape[2])

    def windows(self) -> list[tuple[int, int]]:
        r = self.revisit_days
        return [(d, min(d + r, self.days)) for d in range(0, self.days, r)]

    def due(self) -> np.ndarray:
        """bool [segment, window]: the street needs a visit inside the window."""
        ends = np.array([e for _, e in self.windows()], dtype=float)
        return (self.age_days[:, None] + ends[None, :]) > self.revisit_days


@dataclass
class Rota:
    walks: list[tuple[int, int, int]]  # (day, slot, candidate)
    met: np.ndarray  # bool [segment, window]: due and met
    due: np.ndarray
    hotspot_met: int
    hotspot_due: int
    hours_used: np.ndarray  # [community, day, slot]
    objective: float
    bound: float
    gap: float
    status: str
    seconds: float

    def coverage(self, length: np.ndarray) -> list[float]:
        """Per window, the share of the due street length met."""
        out = []
        for w in range(self.due.shape[1]):
            due = length[self.due[:, w]].sum()
            out.append(float(length[self.met[:, w]].sum() / due) if due else 1.0)
        return out


def community_loops(node_from: np.ndarray, node_to: np.ndarray, length: np.ndarray,
                    weight: np.ndarray, hazards: np.ndarray, community: np.ndarray, *,
                    per_community: int = 3, minutes: float = 90.0,
                    speed_m_per_min: float = 75.0, dwell_min: float = 10.0
                    ) -> list[tuple[int, np.ndarray, float]]:
    """Candidate loops: for each community (index into ``np.unique(community)``), up to
    ``per_community`` loops of ``minutes`` from posts inside it through its most urgent
    streets (the planner's :func:`geo_patrol.planning.loops.plan_loop`), each later loop
    drawn where the earlier ones did not go. Returns (community index, segments, hours)."""
    from geo_patrol.planning.loops import plan_loop, walked_segments
    from geo_patrol.planning.network import street_graph

    graph = street_graph(node_from, node_to, length)
    out = []
    for ci, c in enumerate(np.unique(community)):
        members = np.flatnonzero(community == c)
        w = weight.astype(float).copy()
        for _ in range(per_community):
            if not (w[members] > 0).any():
                break
            post = int(node_from[members[int(np.argmax(w[members]))]])
            lp = plan_loop(graph, node_from, node_to, length, w, hazards, members, post, ci,
                           minutes=minutes, speed_m_per_min=speed_m_per_min,
                           dwell_min=dwell_min)
            segs = walked_segments(lp.nodes, node_from, node_to) if len(lp.nodes) > 1 \
                else np.zeros(0, dtype=np.int64)
            if not len(segs):
                break
            out.append((ci, segs, max(lp.minutes, 1.0) / 60.0))
            w[segs] *= 0.02  # the next loop goes where this one did not
    return out


def _highs(time_limit: float, gap: float) -> highspy.Highs:
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit))
    h.setOptionValue("mip_rel_gap", float(gap))
    h.setOptionValue("random_seed", 0)
    return h


def _add_rows(h: highspy.Highs, matrix: sp.csr_matrix, lower: np.ndarray,
              upper: np.ndarray) -> None:
    if matrix.shape[0] == 0:
        return
    m = matrix.tocsr()
    h.addRows(m.shape[0], lower, upper, m.nnz, m.indptr[:-1].astype(np.int32),
              m.indices.astype(np.int32), m.data.astype(np.float64))


def _segment_candidates(p: RotaProblem) -> sp.csr_matrix:
    """bool [segment, candidate]: the candidate loop covers the segment."""
    rows = [np.asarray(c.segments, dtype=np.int64) for c in p.candidates]
    cols = [np.full(len(r), k) for k, r in enumerate(rows)]
    data = np.ones(sum(len(r) for r in rows))
    return sp.csr_matrix((data, (np.concatenate(rows) if rows else np.zeros(0, int),
                                 np.concatenate(cols) if cols else np.zeros(0, int))),
                         shape=(len(p.length), len(p.candidates)))


def solve(problem: RotaProblem, *, seed: int = 0, time_limit: float = 60.0,
          gap: float = 0.01) -> Rota:
    """The best rota within the force (see the module's definitions)."""
    t0 = time.perf_counter()
    p = problem
    n_c, n_days, n_slots = len(p.candidates), p.days, p.slots
    windows = p.windows()
    due = p.due()
    n_x = n_c * n_days * n_slots

    def xi(c: int, d: int, s: int) -> int:
        return (c * n_days + d) * n_slots + s

    seg_cand = _segment_candidates(p)
    pairs = [(g, w) for w in range(len(windows)) for g in np.flatnonzero(due[:, w])
             if seg_cand.indptr[g + 1] > seg_cand.indptr[g]]
    hot_rows = [(k, d, s) for k in range(p.hotspots) for d in range(n_days)
                for s in p.risk_slots]
    n_y, n_h = len(pairs), len(hot_rows)
    rng = np.random.default_rng(seed)
    h = _highs(time_limit, gap)
    inf = highspy.kHighsInf
    cost = np.concatenate([
        -np.repeat([c.hours for c in p.candidates], n_days * n_slots)
        * rng.uniform(1e-3, 2e-3, n_x),
        np.array([p.length[g] for g, _ in pairs], dtype=float),
        np.full(n_h, HOTSPOT_VALUE)])
    upper = np.concatenate([np.ones(n_x + n_y), np.full(n_h, float(p.hotspot_visits))])
    h.addVars(n_x + n_y + n_h, np.zeros(n_x + n_y + n_h), upper)
    h.changeColsIntegrality(n_x, np.arange(n_x, dtype=np.int32),
                            np.full(n_x, highspy.HighsVarType.kInteger))
    h.changeColsCost(n_x + n_y + n_h, np.arange(n_x + n_y + n_h, dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    # y[g, w] <= sum of x[c, d, s] over the candidates covering g, days of w, all slots
    r_i, r_j, r_v = [], [], []
    for k, (g, w) in enumerate(pairs):
        cands = seg_cand.indices[seg_cand.indptr[g]:seg_cand.indptr[g + 1]]
        lo, hi = windows[w]
        for c in cands:
            for d in range(lo, hi):
                for s in range(n_slots):
                    r_i.append(k)
                    r_j.append(xi(int(c), d, s))
                    r_v.append(-1.0)
        r_i.append(k)
        r_j.append(n_x + k)
        r_v.append(1.0)
    _add_rows(h, sp.csr_matrix((r_v, (r_i, r_j)), shape=(n_y, n_x + n_y + n_h)),
              np.full(n_y, -inf), np.zeros(n_y))
    # hot spot visits: h[k, d, s] <= sum of x[c, d, s] over candidates stopping at k
    r_i, r_j, r_v = [], [], []
    for k, (spot, d, s) in enumerate(hot_rows):
        for c, cand in enumerate(p.candidates):
            if spot in set(np.asarray(cand.hotspots).tolist()):
                r_i.append(k)
                r_j.append(xi(c, d, s))
                r_v.append(-1.0)
        r_i.append(k)
        r_j.append(n_x + n_y + k)
        r_v.append(1.0)
    _add_rows(h, sp.csr_matrix((r_v, (r_i, r_j)), shape=(n_h, n_x + n_y + n_h)),
              np.full(n_h, -inf), np.zeros(n_h))
    # the force: sum of hours of a community's loops in a day's slot <= its hours
    n_comm = p.force.shape[0]
    r_i, r_j, r_v = [], [], []
    for c, cand in enumerate(p.candidates):
        for d in range(n_days):
            for s in range(n_slots):
                r_i.append((cand.community * n_days + d) * n_slots + s)
                r_j.append(xi(c, d, s))
                r_v.append(float(cand.hours))
    n_f = n_comm * n_days * n_slots
    _add_rows(h, sp.csr_matrix((r_v, (r_i, r_j)), shape=(n_f, n_x + n_y + n_h)),
              np.full(n_f, -inf), p.force.reshape(-1).astype(float))
    h.run()
    sol = np.asarray(h.getSolution().col_value) if n_x + n_y + n_h else np.zeros(0)
    x = np.rint(sol[:n_x]).astype(bool) if n_x else np.zeros(0, dtype=bool)
    walks = [(d, s, c) for c in range(n_c) for d in range(n_days) for s in range(n_slots)
             if x[xi(c, d, s)]]
    met = np.zeros_like(due)
    walked = {}
    for d, s, c in walks:
        walked.setdefault(d, set()).add(c)
    for w, (lo, hi) in enumerate(windows):
        cands = set().union(*(walked.get(d, set()) for d in range(lo, hi)))
        for c in cands:
            met[np.asarray(p.candidates[c].segments, dtype=np.int64), w] = True
    met &= due
    hot_met = 0
    for spot, d, s in hot_rows:
        visits = sum(1 for dd, ss, c in walks if dd == d and ss == s
                     and spot in set(np.asarray(p.candidates[c].hotspots).tolist()))
        hot_met += min(visits, p.hotspot_visits)
    used = np.zeros_like(p.force, dtype=float)
    for d, s, c in walks:
        used[p.candidates[c].community, d, s] += p.candidates[c].hours
    info = h.getInfo()
    objective = float(info.objective_function_value) if n_x else 0.0
    bound = float(getattr(info, "mip_dual_bound", objective)) if n_x else 0.0
    rel = abs(bound - objective) / max(abs(objective), 1e-9) if n_x else 0.0
    return Rota(walks, met, due, hot_met, len(hot_rows) * p.hotspot_visits, used, objective,
                bound, rel, h.modelStatusToString(h.getModelStatus()),
                time.perf_counter() - t0)


def shortfall(problem: RotaProblem, *, time_limit: float = 60.0) -> np.ndarray:
    """Volunteer-hours in the period each force pool lacks to meet every due street and
    hot-spot visit its loops can reach: the fewest hours that meet them all (the force left
    unbounded; the linear relaxation, so a lower bound on what is missing) less the hours it
    has, never below zero."""
    unlimited = RotaProblem(problem.length, problem.age_days, problem.candidates,
                            np.full_like(problem.force, 1e6, dtype=float),
                            problem.revisit_days, problem.hotspots, problem.risk_slots,
                            problem.hotspot_visits)
    per_candidate = fewest_hours(unlimited, time_limit)
    needed = np.zeros(problem.force.shape[0])
    for c, cand in enumerate(problem.candidates):
        needed[cand.community] += per_candidate[c]
    have = problem.force.sum(axis=(1, 2))
    return np.maximum(needed - have, 0.0)


def fewest_hours(problem: RotaProblem, time_limit: float = 60.0) -> np.ndarray:
    """Per candidate loop, its hours in the fewest loop-hours of the period (linear
    relaxation) that meet every due street (and hot-spot visit) a candidate reaches."""
    p = problem
    n_c, n_days, n_slots = len(p.candidates), p.days, p.slots
    windows, due = p.windows(), p.due()
    n_x = n_c * n_days * n_slots

    def xi(c: int, d: int, s: int) -> int:
        return (c * n_days + d) * n_slots + s

    h = _highs(time_limit, 1e-4)
    h.addVars(n_x, np.zeros(n_x), np.ones(n_x))
    h.changeColsCost(n_x, np.arange(n_x, dtype=np.int32),
                     np.repeat([c.hours for c in p.candidates], n_days * n_slots))
    seg_cand = _segment_candidates(p)
    r_i, r_j = [], []
    row = 0
    for w, (lo, hi) in enumerate(windows):
        for g in np.flatnonzero(due[:, w]):
            cands = seg_cand.indices[seg_cand.indptr[g]:seg_cand.indptr[g + 1]]
            if not len(cands):
                continue
            for c in cands:
                for d in range(lo, hi):
                    for s in range(n_slots):
                        r_i.append(row)
                        r_j.append(xi(c, d, s))
            row += 1
    lower = [1.0] * row
    for spot in range(p.hotspots):
        cands = [c for c, cand in enumerate(p.candidates) if spot in set(cand.hotspots)]
        if not cands:
            continue
        for d in range(n_days):
            for s in p.risk_slots:
                for c in cands:
                    r_i.append(row)
                    r_j.append(xi(c, d, s))
                row += 1
                # as many visits as loops pass there, at most the dose
                lower.append(float(min(p.hotspot_visits, len(cands))))
    _add_rows(h, sp.csr_matrix((np.ones(len(r_i)), (r_i, r_j)), shape=(row, n_x)),
              np.asarray(lower), np.full(row, highspy.kHighsInf))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"fewest hours: {h.modelStatusToString(h.getModelStatus())}")
    x = np.asarray(h.getSolution().col_value)[:n_x].reshape(n_c, n_days * n_slots)
    return x.sum(axis=1) * np.array([c.hours for c in p.candidates])


def timetable_entropy(timetables: list[list[tuple[int, int, int]]]) -> float:
    """How unpredictable rotas drawn with different seeds are: per (day, slot), the Shannon
    entropy (bits) of which loops are walked there across the draws, averaged over the cells
    walked at all. 0 means the same timetable every time."""
    cells: dict[tuple[int, int], list[tuple[int, ...]]] = {}
    for walks in timetables:
        seen: dict[tuple[int, int], list[int]] = {}
        for d, s, c in walks:
            seen.setdefault((d, s), []).append(c)
        for key in {(d, s) for d, s, _ in walks} | set(cells):
            cells.setdefault(key, []).append(tuple(sorted(seen.get(key, []))))
    if not cells:
        return 0.0
    out = []
    for picks in cells.values():
        _, counts = np.unique(np.array([hash(p) for p in picks]), return_counts=True)
        prob = counts / counts.sum()
        out.append(float(-(prob * np.log2(prob)).sum()))
    return float(np.mean(out))
