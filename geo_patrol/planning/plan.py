"""A patrol plan for an area from a stored run: posts, balanced zones, a loop per zone, who
walks them, and the coverage and hazard compliance expected if the plan is followed.

"Followed" means each zone's loop is walked (with its inspection stops) at least once in the
next period: every street of a loop counts as covered and every overdue hazard on a loop as
inspected; everything else stays as the last period left it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo_patrol.errors import NotFoundError
from geo_patrol.planning.crew import ZoneSpot, propose_crew
from geo_patrol.planning.demand import segment_demand
from geo_patrol.planning.loops import Loop, plan_loop, walked_segments
from geo_patrol.planning.network import dense_nodes, street_graph
from geo_patrol.planning.params import PlanParams
from geo_patrol.planning.posts import maximal_covering, network_coverage, node_metres
from geo_patrol.planning.zones import balanced_zones, imbalance, zone_components

ARTERIALS = ("motorway", "trunk", "primary", "secondary")


@dataclass
class Plan:
    run_id: int
    area: dict
    params: PlanParams
    segments: gpd.GeoDataFrame          # demand, zone label
    posts: gpd.GeoDataFrame             # one per zone
    zones: pd.DataFrame                 # per zone figures
    loops: gpd.GeoDataFrame             # one line per zone
    crew: pd.DataFrame
    before: dict[str, float]
    after: dict[str, float]
    communities: dict[str, float]       # today's communities, for comparison
    seconds: dict[str, float] = field(default_factory=dict)
    posts_gap: float = 0.0
    posts_status: str = ""


@dataclass
class PlanInputs:
    """What a plan is made from: a run's segments in scope (see
    :func:`geo_patrol.store.results.segment_demand_rows`), the volunteers who may be proposed
    (:func:`geo_patrol.store.volunteers.volunteer_pool`) and the area's hazard counts."""

    run_id: int
    area: dict
    segments: gpd.GeoDataFrame
    pool: pd.DataFrame
    hazards_total: int
    hazards_compliant: int
    #: hazard category → the certified skill its inspections need (``rules.toml``)
    skills_needed: dict[str, str] = field(default_factory=dict)


def make_plan(inputs: PlanInputs, params: PlanParams) -> Plan:
    """Plan ``inputs.area`` (a district or community) from a run's results."""
    params.check()
    run_id, area = inputs.run_id, inputs.area
    clock: dict[str, float] = {}
    t = time.perf_counter()
    demand = segment_demand(inputs.segments, hazard_weight=params.hazard_weight,
                            incident_weight=params.incident_weight,
                            alert_weight=params.alert_weight)
    if demand.empty:
        raise NotFoundError(f"no analysed streets in {area['name']} for run {run_id}")
    ids, a, b = dense_nodes(demand)
    length = demand["length_m"].to_numpy(dtype="float64")
    weight = demand["weight"].to_numpy(dtype="float64")
    hazards = demand["hazards"].to_numpy()
    clock["demand_s"] = time.perf_counter() - t

    t = time.perf_counter()
    graph = street_graph(a, b, length)  # one graph for posts, zones and loops
    cov = network_coverage(a, b, length, np.arange(len(ids)), params.post_reach_m, weight,
                           graph=graph, xy=node_metres(a, b, demand.geometry.values),
                           wanted=weight > 0)
    posts = maximal_covering(cov, min(params.zones, len(ids)),
                             time_limit=params.time_limit_s, gap=0.01)
    clock["posts_s"] = time.perf_counter() - t

    t = time.perf_counter()
    workload = length / 1000.0 + weight  # street km to walk plus what is urgent on them
    zones = balanced_zones(a, b, length, workload, posts.chosen, graph=graph)
    demand["zone"] = zones.label
    clock["zones_s"] = time.perf_counter() - t

    t = time.perf_counter()
    speed = params.speed_kmh * 1000 / 60
    loops: list[Loop] = []
    for z, post in enumerate(zones.seeds):
        members = np.flatnonzero(zones.label == z)
        loops.append(plan_loop(graph, a, b, length, weight, hazards, members, int(post), z,
                               minutes=params.minutes, speed_m_per_min=speed,
                               dwell_min=params.dwell_min))
    clock["loops_s"] = time.perf_counter() - t

    # positions and lines of the walks, following each segment's own geometry
    lines = np.asarray(demand.geometry.values)  # shapely's own array, read without a loop
    # every segment's coordinates read at once: segment i's are ``xy[cut[i]:cut[i + 1]]``
    xy, owner = shapely.get_coordinates(lines, return_index=True)
    cut = np.searchsorted(owner, np.arange(len(demand) + 1))
    way_of: dict[tuple[int, int], tuple[int, bool]] = {}  # (from, to): segment, forwards
    for i, (u, v) in enumerate(zip(a.tolist(), b.tolist())):
        way_of.setdefault((u, v), (i, True))
        way_of.setdefault((v, u), (i, False))

    def coords_of(u: int, v: int) -> np.ndarray:
        i, forwards = way_of[(u, v)]
        coords = xy[cut[i]:cut[i + 1]]
        return coords if forwards else coords[::-1]

    first_pt = dict(zip(a.tolist(), map(tuple, xy[cut[:-1]])))
    first_pt.update(zip(b.tolist(), map(tuple, xy[cut[1:] - 1])))

    def walk_line(nodes: list[int]) -> Any:
        pts: list[np.ndarray] = []
        for u, v in zip(nodes, nodes[1:]):
            if u != v:
                pts.append(coords_of(u, v) if not pts else coords_of(u, v)[1:])
        return shapely.linestrings(np.concatenate(pts)) if pts else \
            shapely.points(first_pt[nodes[0]])

    walked = [walked_segments(lp.nodes, a, b) for lp in loops]
    on_loop = np.zeros(len(demand), dtype=bool)
    for w in walked:
        on_loop[w] = True
    inspected = sum(int(hazards[lp.targets].sum()) for lp in loops if lp.targets)
    categories = demand["hazard_categories"].to_numpy() if "hazard_categories" in demand \
        else [()] * len(demand)
    loop_skills = [tuple(sorted({inputs.skills_needed[c] for i in lp.targets
                                 for c in (categories[i] or ()) if c in inputs.skills_needed}))
                   for lp in loops]

    zone_rows = []
    for z, lp in enumerate(loops):
        members = zones.label == z
        zone_rows.append({
            "zone": z + 1, "segments": int(members.sum()),
            "street_km": round(float(length[members].sum()) / 1000, 2),
            "stale_km": round(float(demand["stale_km"][members].sum()), 2),
            "demand": round(float(weight[members].sum()), 2),
            "workload": round(float(zones.workload[z]), 2),
            "pieces": zone_components(a, b, zones.label, z),
            "overdue_hazards": int(hazards[members].sum()),
            "loop_km": round(lp.length_m / 1000, 2), "loop_min": round(lp.minutes),
            "loop_streets": len(lp.targets), "loop_hazards": lp.hazards,
            "loop_demand": round(lp.weight, 2), "loop_skills": ",".join(loop_skills[z])})
    zone_table = pd.DataFrame(zone_rows)

    post_pts = [shapely.points(first_pt[int(n)]) for n in zones.seeds]
    posts_frame = gpd.GeoDataFrame(
        {"zone": np.arange(1, len(post_pts) + 1), "node": ids[zones.seeds]},
        geometry=post_pts, crs=4326)
    loop_frame = gpd.GeoDataFrame(
        zone_table[["zone", "loop_km", "loop_min", "loop_streets", "loop_hazards",
                    "loop_demand"]],
        geometry=[walk_line(lp.nodes) for lp in loops], crs=4326)

    # who
    t = time.perf_counter()
    spots = []
    arterial = demand["highway"].isin(ARTERIALS).to_numpy()
    for z in range(len(loops)):
        members = zones.label == z
        centre = shapely.centroid(shapely.multilinestrings(lines[members])) \
            if members.any() else post_pts[z]
        spots.append(ZoneSpot(z + 1, float(centre.x), float(centre.y),
                              float(length[members & arterial].sum()), loop_skills[z]))
    crew = propose_crew(inputs.pool, spots)
    clock["crew_s"] = time.perf_counter() - t

    # before and after
    total_m = float(length.sum())
    covered = demand["covered_m"].to_numpy(dtype="float64")
    hz_total, hz_ok = inputs.hazards_total, inputs.hazards_compliant
    before = {"coverage": float(covered.sum() / total_m) if total_m else 0.0,
              "hazard_compliance": hz_ok / hz_total if hz_total else 1.0,
              "hazards": hz_total}
    after_cov = np.where(on_loop, length, covered)
    after = {"coverage": float(after_cov.sum() / total_m) if total_m else 0.0,
             "hazard_compliance": min(hz_total, hz_ok + inspected) / hz_total
             if hz_total else 1.0, "hazards_inspected": inspected}

    # today's communities as zones, for comparison
    comm = pd.Series(workload).groupby(demand["area_id"].to_numpy()).sum()
    communities = {"count": int(len(comm)), "imbalance": imbalance(comm.to_numpy()),
                   "zones_imbalance": zones.imbalance}
    return Plan(run_id, area, params, demand, posts_frame, zone_table, loop_frame, crew,
                before, after, communities, clock, posts.gap, posts.status)


def plan_geojson(plan: Plan, *, people: bool = True) -> dict:
    """The plan as one FeatureCollection: zone outlines, posts and loops. Proposed volunteers
    appear as roster numbers and masked names for readers of personal data (``people``),
    else only as the occupation proposed for each slot."""
    features: list[dict] = []
    seg = plan.segments
    for row in plan.zones.itertuples():
        members = seg[seg["zone"] == row.zone - 1]
        if members.empty:
            continue
        hull = shapely.concave_hull(shapely.multilinestrings(list(members.geometry.values)),
                                    ratio=0.3)
        crew = plan.crew[plan.crew["zone"] == row.zone]
        props = {"kind": "zone", **{k: _plain(v) for k, v in row._asdict().items()
                                    if k != "Index"},
                 "crew": [f"{c.slot}: {c.number} {c.name}" if people else
                          f"{c.slot}: {c.occupation}" for c in crew.itertuples()]}
        features.append({"type": "Feature", "properties": props,
                         "geometry": json.loads(shapely.to_geojson(hull))})
    for frame, kind in ((plan.posts, "post"), (plan.loops, "loop")):
        for rec in json.loads(frame.to_json(drop_id=True))["features"]:
            rec["properties"] = {"kind": kind, **rec["properties"]}
            features.append(rec)
    return {"type": "FeatureCollection", "features": features,
            "properties": {"run": plan.run_id, "area": plan.area["name"],
                           "before": plan.before, "after": plan.after,
                           "params": plan.params.__dict__}}


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value
