"""A rota for a period: which candidate loops to walk on which day and time slot, within the
volunteer-hours there are, so that every street is patrolled within its revisit interval,
every hazard is inspected by its rule and the hot spots get their visits — solved as one
covering MILP in HiGHS, with its gap reported; then timed at random inside the guarantees,
given to volunteers near home, and, when the force is not enough, the hours missing.

Pure: arrays in, a :class:`Rota` (and a :class:`Schedule`) out. Candidate loops come from
the planner's building blocks (posts, loops); this module only chooses among them.

- The period is cut into windows of ``revisit_days`` days; a street is *due* in a window
  unless its last visit before the period keeps it fresh through that window's end.
- A due street of a window is met when some loop walked on a day of the window covers it.
- A hazard is due in each block of its rule's ``every`` days (likewise kept fresh by its
  last inspection), counting only its allowed days (school days) and the slots that meet
  its time windows; a loop with an inspection stop there meets it.
- A hot spot needs ``hotspot_visits`` loops stopping at it in each risk slot of each day.
- Each force pool's (day, slot) spends at most the force's hours on its loops and, when
  ``day_force`` is given, each day at most that day's hours (so a slot may take a whole
  loop where its average hours are less, as long as the day has them); when ``walkers`` is
  given, a (day, slot) takes at most that many walks (the volunteers who patrol then).
- What is met is worth, in this order: a hot-spot visit, a hazard inspection, a street's
  metres. Unpredictable on purpose: a seeded random perturbation of the loops' costs (far
  below any street's value) picks among equally good rotas; :func:`schedule` then draws each
  walk's direction and start inside its slot such that the hot spots' visits stay at most
  ``every_minutes`` apart through the risk slot.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import highspy
import numpy as np
import scipy.sparse as sp
from scipy.optimize import linear_sum_assignment

from geo_patrol.planning.loops import plan_loop
from geo_patrol.planning.network import street_graph
from geo_patrol.planning.posts import milp_solver

#: Value of one hot-spot visit against street metres (a met visit outweighs any street).
HOTSPOT_VALUE = 1e6
#: Value of one hazard inspection due by its rule (worth more than 20 km of street).
HAZARD_VALUE = 2e4


def _ints(values: object = ()) -> np.ndarray:
    return np.asarray(values, dtype=np.int64).reshape(-1)


@dataclass(frozen=True)
class Candidate:
    """A loop a volunteer of ``community`` (a force pool) can walk in one slot: its hours,
    the street segments it covers, the hot spots it stops at (with the minutes from its
    start to each stop, walked forward) and the hazards it inspects (indices)."""

    community: int
    hours: float
    segments: np.ndarray
    hotspots: np.ndarray = field(default_factory=_ints)
    hazards: np.ndarray = field(default_factory=_ints)
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0))


@dataclass(frozen=True)
class RotaProblem:
    length: np.ndarray  # metres per segment
    age_days: np.ndarray  # days since each segment's last visit before day 0 (inf: never)
    candidates: list[Candidate]
    force: np.ndarray  # volunteer-hours [pool, day, slot]
    revisit_days: int = 3
    hotspots: int = 0
    risk_slots: tuple[int, ...] = ()
    hotspot_visits: int = 1
    #: per hazard: its rule's interval, days since its last inspection (inf: never), the
    #: days of the period it may be inspected on and the slots that meet its windows
    hazard_every: np.ndarray = field(default_factory=_ints)
    hazard_age: np.ndarray = field(default_factory=lambda: np.zeros(0))
    hazard_days: np.ndarray | None = None  # bool [hazard, day]; None: every day
    hazard_slots: np.ndarray | None = None  # bool [hazard, slot]; None: every slot
    day_force: np.ndarray | None = None  # volunteer-hours [pool, day]; None: no day bound
    #: the most walks a (day, slot) takes, pooled [day, slot] (the volunteers who patrol
    #: then; inf: no bound); None: no bound
    walkers: np.ndarray | None = None

    @property
    def hours(self) -> float:
        """The volunteer-hours of the period."""
        return float(np.sum(self.day_force if self.day_force is not None else self.force))

    @property
    def days(self) -> int:
        return int(self.force.shape[1])

    @property
    def slots(self) -> int:
        return int(self.force.shape[2])

    @property
    def hazards(self) -> int:
        return int(len(self.hazard_every))

    def windows(self) -> list[tuple[int, int]]:
        r = self.revisit_days
        return [(d, min(d + r, self.days)) for d in range(0, self.days, r)]

    def due(self) -> np.ndarray:
        """bool [segment, window]: the street needs a visit inside the window."""
        ends = np.array([e for _, e in self.windows()], dtype=float)
        return (self.age_days[:, None] + ends[None, :]) > self.revisit_days

    def hazard_blocks(self) -> list[tuple[int, np.ndarray]]:
        """The inspections due: (hazard, bool [day, slot] of the walks that count)."""
        days = np.ones((self.hazards, self.days), bool) if self.hazard_days is None \
            else np.asarray(self.hazard_days, bool)
        slots = np.ones((self.hazards, self.slots), bool) if self.hazard_slots is None \
            else np.asarray(self.hazard_slots, bool)
        out = []
        for z in range(self.hazards):
            every = max(int(self.hazard_every[z]), 1)
            for lo in range(0, self.days, every):
                hi = min(lo + every, self.days)
                if self.hazard_age[z] + hi <= every:
                    continue  # its last inspection keeps it fresh through the block
                cells = np.zeros((self.days, self.slots), bool)
                cells[lo:hi] = days[z, lo:hi, None] & slots[z][None, :]
                if cells.any():
                    out.append((z, cells))
        return out


@dataclass
class Rota:
    walks: list[tuple[int, int, int]]  # (day, slot, candidate)
    met: np.ndarray  # bool [segment, window]: due and met
    due: np.ndarray
    hotspot_met: int
    hotspot_due: int
    hazard_met: int
    hazard_due: int
    hours_used: np.ndarray  # [pool, day, slot]
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
                    speed_m_per_min: float = 75.0, dwell_min: float = 10.0,
                    hotspot_nodes: np.ndarray | None = None, stop_min: float = 15.0,
                    short: bool = True, must_stop: np.ndarray | None = None,
                    hotspot_minutes: float | None = None) -> list[tuple[int, object]]:
    """Candidate loops (:class:`geo_patrol.planning.loops.Loop`): for each community
    (index into ``np.unique(community)``), up to ``per_community`` loops of ``minutes`` from
    posts inside it through its most urgent streets (the planner's
    :func:`geo_patrol.planning.loops.plan_loop`), each later loop drawn where the earlier
    ones did not go, and (``short``) one of half that length; for each segment of
    ``must_stop`` (hazards to inspect) that none of those stops at, a half-length loop
    posted there; and for each node of
    ``hotspot_nodes`` a loop posted there, which
    starts with a stop of ``stop_min`` and walks the rest of its time around it (of
    ``hotspot_minutes`` in all, by default ``minutes``: a volunteer's usual patrol). Returns
    (community index, loop)."""
    graph = street_graph(node_from, node_to, length)
    places = np.unique(community)
    out: list[tuple[int, object]] = []
    for ci, c in enumerate(places):
        members = np.flatnonzero(community == c)
        w = weight.astype(float).copy()
        for _ in range(per_community):
            if not (w[members] > 0).any():
                break
            post = int(node_from[members[int(np.argmax(w[members]))]])
            lp = plan_loop(graph, node_from, node_to, length, w, hazards, members, post, ci,
                           minutes=minutes, speed_m_per_min=speed_m_per_min,
                           dwell_min=dwell_min)
            if len(lp.nodes) < 2:
                break
            out.append((ci, lp))
            w[lp.targets] *= 0.02  # the next loop goes where this one did not
        if short and (weight[members] > 0).any():
            # a half-length loop from the first post: it fits a slot with less than a
            # whole loop's hours (the force is an average over weeks)
            post = int(node_from[members[int(np.argmax(weight[members]))]])
            lp = plan_loop(graph, node_from, node_to, length, weight, hazards, members, post,
                           ci, minutes=minutes / 2, speed_m_per_min=speed_m_per_min,
                           dwell_min=dwell_min)
            if len(lp.nodes) >= 2:
                out.append((ci, lp))
    reached = {int(g) for _, lp in out for g in lp.targets}
    for g in [] if must_stop is None else [int(g) for g in np.unique(must_stop)]:
        if g in reached:
            continue
        # an inspection no loop stops at: a half-length loop posted there, its stop first
        ci = int(np.searchsorted(places, community[g]))
        w = weight.astype(float).copy()
        w[g] = w.max() * 10 + 1.0
        lp = plan_loop(graph, node_from, node_to, length, w, hazards,
                       np.flatnonzero(community == community[g]), int(node_from[g]), ci,
                       minutes=minutes / 2, speed_m_per_min=speed_m_per_min,
                       dwell_min=dwell_min)
        if g in lp.targets:
            out.append((ci, lp))
            reached.update(int(t) for t in lp.targets)
    for node in ([] if hotspot_nodes is None else hotspot_nodes):
        touching = np.flatnonzero((node_from == node) | (node_to == node))
        ci = int(np.searchsorted(places, community[touching[0]])) if len(touching) else 0
        near = np.arange(len(length))
        lp = plan_loop(graph, node_from, node_to, length, weight, hazards, near, int(node),
                       ci, minutes=max((hotspot_minutes or minutes) - stop_min, 10.0),
                       speed_m_per_min=speed_m_per_min, dwell_min=dwell_min)
        lp.minutes += stop_min
        if len(lp.nodes) < 2:  # nothing to walk: the stop alone
            lp.nodes = [int(node), int(node)]
        out.append((ci, lp))
    return out


def _add_rows(h: highspy.Highs, matrix: sp.spmatrix, lower: np.ndarray,
              upper: np.ndarray) -> None:
    if matrix.shape[0] == 0:
        return
    m = sp.csr_matrix(matrix)
    h.addRows(m.shape[0], np.asarray(lower, float), np.asarray(upper, float), m.nnz,
              m.indptr[:-1].astype(np.int32), m.indices.astype(np.int32),
              m.data.astype(np.float64))


def _incidence(p: RotaProblem, attr: str, rows: int) -> sp.csr_matrix:
    """bool [row, candidate]: the candidate loop covers the segment / stops at the hot spot
    / inspects the hazard (``attr``)."""
    idx = [_ints(getattr(c, attr)) for c in p.candidates]
    cols = np.concatenate([np.full(len(r), k) for k, r in enumerate(idx)]) if idx \
        else _ints()
    flat = np.concatenate(idx) if idx else _ints()
    m = sp.csr_matrix((np.ones(len(flat)), (flat, cols)), shape=(rows, len(p.candidates)))
    m.sum_duplicates()
    m.data[:] = 1.0
    return m


@dataclass
class _Targets:
    """The covering rows over the walks x[c, d, s] (flattened c, d, s): each row is met when
    its walks sum to at least ``need``; ``value`` is what meeting it once is worth."""

    matrix: sp.csr_matrix
    need: np.ndarray
    value: np.ndarray
    kind: np.ndarray  # 0 street, 1 hot spot, 2 hazard
    segment: np.ndarray  # the street's segment (street rows)
    window: np.ndarray  # its window (street rows)


def _targets(p: RotaProblem) -> _Targets:
    n_days, n_slots = p.days, p.slots
    parts, need, value, kind, seg, win = [], [], [], [], [], []
    covers = _incidence(p, "segments", len(p.length))
    reached = np.diff(covers.indptr) > 0
    due = p.due()
    for w, (lo, hi) in enumerate(p.windows()):
        rows = np.flatnonzero(due[:, w] & reached)
        if not len(rows):
            continue
        cells = np.zeros((1, n_days * n_slots))
        cells[0, lo * n_slots:hi * n_slots] = 1.0
        parts.append(sp.kron(covers[rows], cells, format="csr"))
        need.append(np.ones(len(rows)))
        value.append(p.length[rows].astype(float))
        kind.append(np.zeros(len(rows), int))
        seg.append(rows)
        win.append(np.full(len(rows), w))
    stops = _incidence(p, "hotspots", p.hotspots)
    for d in range(n_days):
        for s in p.risk_slots:
            cells = np.zeros((1, n_days * n_slots))
            cells[0, d * n_slots + s] = 1.0
            parts.append(sp.kron(stops, cells, format="csr"))
            need.append(np.full(p.hotspots, float(p.hotspot_visits)))
            value.append(np.full(p.hotspots, HOTSPOT_VALUE))
            kind.append(np.ones(p.hotspots, int))
    inspects = _incidence(p, "hazards", p.hazards)
    for z, cells in p.hazard_blocks():
        parts.append(sp.kron(inspects[z], cells.reshape(1, -1).astype(float), format="csr"))
        need.append(np.ones(1))
        value.append(np.full(1, HAZARD_VALUE))
        kind.append(np.full(1, 2))
    n_x = len(p.candidates) * n_days * n_slots
    cat = (lambda xs, dtype=float: np.concatenate(xs).astype(dtype) if xs
           else np.zeros(0, dtype))
    matrix = sp.vstack(parts, format="csr") if parts else sp.csr_matrix((0, n_x))
    kinds = cat(kind, int)
    segment = np.full(len(kinds), -1)
    window = np.full(len(kinds), -1)
    segment[kinds == 0] = cat(seg, int)
    window[kinds == 0] = cat(win, int)
    return _Targets(matrix, cat(need), cat(value), kinds, segment, window)


def _merged(t: _Targets) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """The targets for the solver: those met by the same walks in the same measure (the
    streets of a window that the same loops pass along) summed into one row worth their
    values together. The optimum is the same, the model a fraction of the size."""
    m = t.matrix.tocsr()
    m.sort_indices()
    group = np.empty(m.shape[0], dtype=np.int64)
    seen: dict[tuple, int] = {}
    for i in range(m.shape[0]):
        a, b = m.indptr[i], m.indptr[i + 1]
        key = (m.indices[a:b].tobytes(), m.data[a:b].tobytes(), float(t.need[i]),
               bool(t.value[i] > 0))
        group[i] = seen.setdefault(key, len(seen))
    first = np.unique(group, return_index=True)[1]
    return m[first], t.need[first], np.bincount(group, weights=t.value, minlength=len(seen))


def _force_rows(p: RotaProblem) -> sp.csr_matrix:
    """[pool × day × slot, walk]: the hours each walk spends from its pool's cell."""
    n = p.days * p.slots
    pools = sp.csr_matrix(([c.hours for c in p.candidates],
                           ([c.community for c in p.candidates], range(len(p.candidates)))),
                          shape=(p.force.shape[0], len(p.candidates)))
    return sp.kron(pools, sp.identity(n), format="csr")


def solve(problem: RotaProblem, *, seed: int = 0, time_limit: float = 60.0,
          gap: float = 0.01) -> Rota:
    """The best rota within the force (see the module's definitions)."""
    t0 = time.perf_counter()
    p = problem
    n_c, n_days, n_slots = len(p.candidates), p.days, p.slots
    n_x = n_c * n_days * n_slots
    t = _targets(p)
    meets, need, value = _merged(t)
    n_y = len(need)
    rng = np.random.default_rng(seed)
    h = milp_solver(time_limit, gap)
    # x: walks (binary); y: how much of each target is met (up to its need)
    hours = np.repeat([c.hours for c in p.candidates], n_days * n_slots)
    cost = np.concatenate([-hours * rng.uniform(1e-3, 2e-3, n_x), value])
    h.addVars(n_x + n_y, np.zeros(n_x + n_y), np.concatenate([np.ones(n_x), need]))
    if n_x:
        h.changeColsIntegrality(n_x, np.arange(n_x, dtype=np.int32),
                                np.full(n_x, highspy.HighsVarType.kInteger))
    h.changeColsCost(n_x + n_y, np.arange(n_x + n_y, dtype=np.int32), cost)
    h.changeObjectiveSense(highspy.ObjSense.kMaximize)
    # y[target] <= the walks that meet it
    _add_rows(h, sp.hstack([-meets, sp.identity(n_y)], format="csr"),
              np.full(n_y, -highspy.kHighsInf), np.zeros(n_y))
    # the force: a pool's walks in a day's slot spend at most its hours
    f = _force_rows(p)
    _add_rows(h, sp.hstack([f, sp.csr_matrix((f.shape[0], n_y))], format="csr"),
              np.full(f.shape[0], -highspy.kHighsInf), p.force.reshape(-1).astype(float))
    if p.day_force is not None:  # and a day's walks at most the day's hours
        days = sp.kron(sp.identity(p.force.shape[0] * n_days), np.ones((1, n_slots)),
                       format="csr") @ f
        _add_rows(h, sp.hstack([days, sp.csr_matrix((days.shape[0], n_y))], format="csr"),
                  np.full(days.shape[0], -highspy.kHighsInf),
                  np.asarray(p.day_force, float).reshape(-1))
    if p.walkers is not None:  # a walk is one volunteer's: at most as many as walk then
        bound = np.asarray(p.walkers, float).reshape(-1)
        rows = sp.kron(np.ones((1, n_c)), sp.identity(n_days * n_slots), format="csr")
        keep = np.isfinite(bound)
        _add_rows(h, sp.hstack([rows[keep], sp.csr_matrix((int(keep.sum()), n_y))],
                               format="csr"),
                  np.full(int(keep.sum()), -highspy.kHighsInf), bound[keep])
    if n_x:
        h.run()
    sol = np.asarray(h.getSolution().col_value) if n_x else np.zeros(0)
    x = np.rint(sol[:n_x]).astype(bool) if n_x else np.zeros(0, dtype=bool)
    cube = x.reshape(n_c, n_days, n_slots)
    walks = [(int(d), int(s), int(c)) for c, d, s in zip(*np.nonzero(cube))]
    walks.sort()
    reached = np.minimum(t.matrix @ x.astype(float), t.need)
    due = p.due()
    met = np.zeros_like(due)
    street = t.kind == 0
    met[t.segment[street], t.window[street]] = reached[street] >= 1
    used = (_force_rows(p) @ x.astype(float)).reshape(p.force.shape) if n_x \
        else np.zeros_like(p.force, dtype=float)
    info = h.getInfo()
    objective = float(info.objective_function_value) if n_x else 0.0
    bound = float(getattr(info, "mip_dual_bound", objective)) if n_x else 0.0
    rel = abs(bound - objective) / max(abs(objective), 1e-9) if n_x else 0.0
    return Rota(walks, met, due,
                int(reached[t.kind == 1].sum()), int(t.need[t.kind == 1].sum()),
                int(reached[t.kind == 2].sum()), int((t.kind == 2).sum()),
                used, objective, bound, rel,
                h.modelStatusToString(h.getModelStatus()) if n_x else "Empty",
                time.perf_counter() - t0)


def fewest_hours(problem: RotaProblem, time_limit: float = 60.0) -> np.ndarray:
    """Hours [candidate, day, slot] of the fewest loop-hours of the period (linear
    relaxation) that meet every target some candidate reaches: each due street, hazard
    inspection, and hot-spot visit (as many as the loops passing there allow, at most the
    dose)."""
    p = problem
    n_c, n_days, n_slots = len(p.candidates), p.days, p.slots
    n_x = n_c * n_days * n_slots
    t = _targets(p)
    reachable = np.minimum(t.need, np.asarray((t.matrix > 0).sum(axis=1)).ravel())
    keep = reachable > 0
    h = milp_solver(time_limit, 1e-4)
    h.addVars(n_x, np.zeros(n_x), np.ones(n_x))
    h.changeColsCost(n_x, np.arange(n_x, dtype=np.int32),
                     np.repeat([c.hours for c in p.candidates], n_days * n_slots))
    _add_rows(h, t.matrix[keep], reachable[keep], np.full(int(keep.sum()), highspy.kHighsInf))
    if not n_x:
        return np.zeros((0, n_days, n_slots))
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        raise RuntimeError(f"fewest hours: {h.modelStatusToString(h.getModelStatus())}")
    x = np.asarray(h.getSolution().col_value)[:n_x].reshape(n_c, n_days, n_slots)
    return x * np.array([c.hours for c in p.candidates])[:, None, None]


def shortfall(problem: RotaProblem, *, time_limit: float = 60.0) -> np.ndarray:
    """Volunteer-hours in the period each force pool lacks to meet every target its loops
    can reach: the fewest hours that meet them all (:func:`fewest_hours`, a lower bound on
    what is missing) less the hours it has, never below zero."""
    per_candidate = fewest_hours(problem, time_limit).sum(axis=(1, 2))
    needed = np.zeros(problem.force.shape[0])
    for c, cand in enumerate(problem.candidates):
        needed[cand.community] += per_candidate[c]
    have = problem.force.sum(axis=(1, 2)) if problem.day_force is None \
        else np.asarray(problem.day_force).sum(axis=1)
    return np.maximum(needed - have, 0.0)


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
    return float(np.mean([_entropy(picks) for picks in cells.values()]))


def _entropy(values: list) -> float:
    """Shannon entropy (bits) of the observed values."""
    _, counts = np.unique(np.array([hash(v) for v in values]), return_counts=True)
    prob = counts / counts.sum()
    return float(-(prob * np.log2(prob)).sum())


@dataclass
class Schedule:
    """When and which way each walk of a rota goes: start minute inside its slot and
    whether it is walked backwards (aligned with ``Rota.walks``); per hot spot, day and
    risk slot, the visit minutes and whether they keep the promise (at least the problem's
    ``hotspot_visits`` visits, the first within ``every`` of the slot's start, at most
    ``every`` apart, the last within ``every`` of its end)."""

    start: np.ndarray
    reverse: np.ndarray
    visits: dict[tuple[int, int, int], list[float]]
    kept: dict[tuple[int, int, int], bool]

    @property
    def promised(self) -> int:
        return len(self.kept)

    @property
    def promises_kept(self) -> int:
        return int(sum(self.kept.values()))


def _keeps(times: list[float], length: float, every: float) -> bool:
    edges = [0.0, *sorted(times), length]
    return len(times) > 0 and max(np.diff(edges)) <= every + 1e-9


def schedule(problem: RotaProblem, rota: Rota, *, seed: int = 0, slot_minutes: float = 240,
             every_minutes: float = 120.0, step: float = 5.0, stop_minutes: float = 15.0,
             tries: int = 40) -> Schedule:
    """Draw each walk's direction and start (on a ``step``-minute grid, the walk inside its
    slot). In a risk slot, the walks stopping at a hot spot are timed one after another,
    each visit drawn among the times that still let the rest keep the promise; a slot whose
    draw breaks a promise is drawn again (up to ``tries`` times, the best kept). A hot spot
    with fewer stops in a slot than the promise needs (``hotspot_visits``) could keep it only
    at one predictable minute: its stops are drawn anywhere in the slot instead, and its
    promise is counted as not kept."""
    rng = np.random.default_rng(seed)
    cands = problem.candidates
    n = len(rota.walks)
    start, reverse = np.zeros(n), rng.random(n) < 0.5
    visits: dict[tuple[int, int, int], list[float]] = {}
    kept: dict[tuple[int, int, int], bool] = {}
    by_cell: dict[tuple[int, int], list[int]] = {}
    for i, (d, s, _) in enumerate(rota.walks):
        by_cell.setdefault((d, s), []).append(i)

    def offset(i: int, spot: int) -> float:
        c = cands[rota.walks[i][2]]
        at = float(c.offsets[list(_ints(c.hotspots)).index(spot)]) if len(c.offsets) else 0.0
        return c.hours * 60 - at - stop_minutes if reverse[i] and at > 0 else at

    def latest(i: int) -> float:
        return max(slot_minutes - cands[rota.walks[i][2]].hours * 60, 0.0)

    def grid(lo: float, hi: float) -> float:
        options = np.arange(np.ceil(lo / step) * step, hi + 1e-9, step)
        return float(rng.choice(options)) if len(options) else float(max(lo, 0.0))

    needed = max(int(problem.hotspot_visits), 1)
    for (d, s), members in sorted(by_cell.items()):
        spots = sorted({int(k) for i in members for k in _ints(cands[rota.walks[i][2]].hotspots)}
                       ) if s in problem.risk_slots else []
        at_spot = {spot: [i for i in members if spot in _ints(cands[rota.walks[i][2]].hotspots)]
                   for spot in spots}
        # too few stops to keep the promise with any freedom (one stop in a slot keeps it
        # only at one minute, the same every day): drawn anywhere in the slot, not kept
        timed = [spot for spot in spots if len(at_spot[spot]) >= needed]
        best: tuple[int, dict, dict, dict] | None = None
        for _ in range(tries if timed else 1):
            fixed: dict[int, float] = {}
            for spot in timed:
                walks = list(at_spot[spot])
                rng.shuffle(walks)
                prev, left = 0.0, len(walks)
                for i in sorted(walks, key=lambda i: i not in fixed):
                    off = offset(i, spot)
                    if i not in fixed:
                        lo = max(off, slot_minutes - left * every_minutes, prev)
                        hi = min(latest(i) + off, prev + every_minutes)
                        fixed[i] = grid(lo, hi) - off if lo <= hi else grid(0, latest(i))
                    prev, left = max(prev, fixed[i] + off), left - 1
            for i in members:
                if i not in fixed:
                    fixed[i] = grid(0.0, latest(i))
            times = {(spot, d, s): sorted(fixed[i] + offset(i, spot) for i in members
                                          if spot in _ints(cands[rota.walks[i][2]].hotspots))
                     for spot in spots}
            ok = {k: len(v) >= needed and _keeps(v, slot_minutes, every_minutes)
                  for k, v in times.items()}
            score = sum(ok.values())
            if best is None or score > best[0]:
                best = (score, dict(fixed), times, ok)
            if score == len(timed):
                break
        assert best is not None
        for i, at in best[1].items():
            start[i] = at
        visits.update(best[2])
        kept.update(best[3])
    return Schedule(start, reverse, visits, kept)


def visit_entropy(problem: RotaProblem, rota: Rota, *, draws: int = 100, seed: int = 0,
                  bin_minutes: float = 15.0, **options: float) -> tuple[float, float, float]:
    """How unpredictable the rota's timing is, over ``draws`` schedules: the Shannon entropy
    (bits) of the quarter-hour of the first visit at each hot spot in each risk slot, and of
    each walk's start, each averaged (0 where there is none); and the most either could be
    (every quarter-hour of the slot alike)."""
    spots: dict[tuple, list] = {}
    starts: dict[int, list] = {}
    for k in range(draws):
        sch = schedule(problem, rota, seed=seed + k, **options)
        for key, times in sch.visits.items():
            spots.setdefault(key, []).append(int(times[0] // bin_minutes) if times else -1)
        for i, at in enumerate(sch.start):
            starts.setdefault(i, []).append(int(at // bin_minutes))
    slot = float(options.get("slot_minutes", 240))

    def mean(groups: dict) -> float:
        return float(np.mean([_entropy(v) for v in groups.values()])) if groups else 0.0

    return mean(spots), mean(starts), float(np.log2(max(slot / bin_minutes, 1)))


def assign(day: np.ndarray, cost: np.ndarray, *, repeat_km: float = 2.0) -> np.ndarray:
    """Who walks each walk: ``cost`` [walk, volunteer] in km (from home to the loop's post,
    less what their habits earn; ``inf`` where they may not take it), ``day`` per walk. Each
    day's walks are matched to volunteers by the least total cost (one walk a day each),
    a volunteer's earlier days in the period adding ``repeat_km`` each so the load spreads.
    Returns the volunteer index per walk, -1 where nobody could take it."""
    out = np.full(len(day), -1)
    if not cost.size:
        return out
    load = np.zeros(cost.shape[1])
    big = 1e9
    for d in np.unique(day):
        rows = np.flatnonzero(day == d)
        c = cost[rows] + repeat_km * load[None, :]
        c = np.where(np.isfinite(c), c, big)
        r, v = linear_sum_assignment(c)
        ok = c[r, v] < big
        out[rows[r[ok]]] = v[ok]
        load[v[ok]] += 1
    return out
