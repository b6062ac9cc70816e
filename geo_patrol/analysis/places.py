"""Places named by the street graph: each street cut into pieces between its cross streets,
the crossings of two named streets, and the name of any run of segments (a gap, a hot
street, the street nearest a hazard) as "钢铁大街（阿尔丁大街—民族东路），350 米".

The one home of these rules: the store keeps what :func:`street_pieces` computes, and every
page, table and briefing writes a place with :func:`place_text`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

#: OSM ``highway`` values from the most to the least important; a crossing names its cross
#: street by the most important one meeting there.
HIGHWAY_RANK = {k: i for i, k in enumerate((
    "motorway", "trunk", "primary", "secondary", "tertiary", "motorway_link", "trunk_link",
    "primary_link", "secondary_link", "tertiary_link", "residential", "unclassified",
    "living_street", "service", "pedestrian", "road", "track", "footway", "path", "cycleway",
    "steps"))}
#: The base map's street classes (drawn wider and labelled earlier from major to path).
STREET_CLASSES = {"motorway": "major", "trunk": "major", "primary": "major",
                  "secondary": "medium", "tertiary": "medium", "motorway_link": "medium",
                  "trunk_link": "medium", "primary_link": "medium", "secondary_link": "medium",
                  "tertiary_link": "medium", "footway": "path", "path": "path",
                  "cycleway": "path", "steps": "path", "pedestrian": "path", "track": "path"}


def street_class(highway: str | None) -> str:
    """``major``, ``medium``, ``minor`` or ``path``: how the base map draws a street."""
    return STREET_CLASSES.get(highway or "", "minor")


def _rank(highway: pd.Series) -> np.ndarray:
    return highway.map(HIGHWAY_RANK).fillna(len(HIGHWAY_RANK)).to_numpy(int)


@dataclass(frozen=True)
class Pieces:
    """The pieces of a street network.

    ``piece`` gives each segment's piece (a row number of ``table``); ``table`` has per piece
    its ``name`` (None: unnamed), ``highway``, the cross streets at its two ends ``cross_a``
    and ``cross_b`` (west before east, or north before south; None at a dead end) with those
    crossings' nodes ``node_a``/``node_b`` and coordinates; ``crossings`` has per node where
    named streets meet each pair of names (``node``, ``name_a``, ``name_b``, ``x``, ``y``)."""

    piece: np.ndarray
    table: pd.DataFrame
    crossings: pd.DataFrame


def street_pieces(segments: pd.DataFrame) -> Pieces:
    """Cut streets at every node where another named street meets them.

    ``segments`` has one row per segment: ``node_from``, ``node_to``, ``name`` (None for
    unnamed), ``highway`` and the coordinates of its two ends ``x0``, ``y0``, ``x1``, ``y1``
    (any CRS; only the order west to east and north to south is read)."""
    n = len(segments)
    names = segments["name"].fillna("").astype(str).to_numpy()
    ends = pd.DataFrame({
        "node": np.r_[segments["node_from"].to_numpy(np.int64),
                      segments["node_to"].to_numpy(np.int64)],
        "name": np.r_[names, names], "seg": np.r_[np.arange(n), np.arange(n)],
        "end": np.r_[np.zeros(n, int), np.ones(n, int)],
        "x": np.r_[segments["x0"].to_numpy(float), segments["x1"].to_numpy(float)],
        "y": np.r_[segments["y0"].to_numpy(float), segments["y1"].to_numpy(float)],
        "rank": np.r_[_rank(segments["highway"]), _rank(segments["highway"])]})
    named = ends[ends["name"] != ""].sort_values(["node", "rank", "name"]) \
        .drop_duplicates(["node", "name"])
    # the names meeting at each node, in that order (one slice of the sorted ends per node)
    node_of = named["node"].to_numpy()
    starts = np.flatnonzero(np.r_[True, node_of[1:] != node_of[:-1]]) if len(named) \
        else np.zeros(0, dtype=int)
    per_node = pd.Series([list(v) for v in np.split(named["name"].to_numpy(object),
                                                    starts[1:])] if len(named) else [],
                         index=pd.Index(node_of[starts], name="node"), name="name",
                         dtype=object)
    crossing_names = per_node[per_node.map(len) >= 2]
    at_crossing = ends["node"].isin(crossing_names.index).to_numpy()
    # a node joins the segments of one name meeting there; at a crossing each segment end is
    # a node of its own, so the pieces stop there
    own = -(2 * ends["seg"].to_numpy() + ends["end"].to_numpy() + 1)
    key = pd.MultiIndex.from_arrays([np.where(at_crossing, own, ends["node"].to_numpy()),
                                     np.where(at_crossing, "", ends["name"].to_numpy())])
    codes, _ = pd.factorize(key)
    graph = coo_matrix((np.ones(n), (codes[:n], codes[n:])),
                       shape=(codes.max() + 1, codes.max() + 1))
    _, label = connected_components(graph, directed=False)
    piece_raw = label[codes[:n]]
    piece, uniq = pd.factorize(piece_raw, sort=True)
    del uniq

    seg_rank = _rank(segments["highway"])
    order = np.lexsort((seg_rank,))
    first = pd.DataFrame({"piece": piece[order], "name": names[order],
                          "highway": segments["highway"].to_numpy()[order]}) \
        .drop_duplicates("piece").set_index("piece").sort_index()
    table = pd.DataFrame({"name": first["name"].replace("", None),
                          "highway": first["highway"]})

    ends["piece"] = np.r_[piece, piece]
    hits = ends[at_crossing].drop_duplicates(["piece", "node"])
    cross = [next((c for c in crossing_names[node] if c != own_name), None)
             for node, own_name in zip(hits["node"], hits["name"])]
    hits = hits.assign(cross=cross)
    hits = hits[hits["cross"].notna()]
    ext = hits.groupby("piece").agg(x0=("x", "min"), x1=("x", "max"), y0=("y", "min"),
                                    y1=("y", "max"))
    span = pd.DataFrame({"dx": ext["x1"] - ext["x0"], "dy": ext["y1"] - ext["y0"]})
    along_x = (span["dx"] >= span["dy"]).reindex(hits["piece"]).to_numpy()
    # west to east, or north to south: the order a reader of a map expects
    hits = hits.assign(pos=np.where(along_x, hits["x"].to_numpy(), -hits["y"].to_numpy()))
    hits = hits.sort_values(["piece", "pos"])
    a = hits.drop_duplicates("piece", keep="first").set_index("piece")
    b = hits.drop_duplicates("piece", keep="last").set_index("piece")
    b = b[b["node"] != a["node"].reindex(b.index)]
    for side, rows in (("a", a), ("b", b)):
        table[f"cross_{side}"] = rows["cross"].reindex(table.index)
        table[f"node_{side}"] = rows["node"].reindex(table.index).astype("Int64")
        table[f"x_{side}"] = rows["x"].reindex(table.index)
        table[f"y_{side}"] = rows["y"].reindex(table.index)
    table = table.astype(object).where(table.notna(), None)

    pairs = [(node, a_, b_) for node, names_ in crossing_names.items()
             for i, a_ in enumerate(names_) for b_ in names_[i + 1:]]
    where = ends[at_crossing].drop_duplicates("node").set_index("node")
    crossings = pd.DataFrame(pairs, columns=["node", "name_a", "name_b"])
    crossings["x"] = where["x"].reindex(crossings["node"]).to_numpy()
    crossings["y"] = where["y"].reindex(crossings["node"]).to_numpy()
    return Pieces(piece, table, crossings)


@dataclass(frozen=True)
class Place:
    """Where something is: its street and the cross streets at either end."""

    street: str | None
    cross_a: str | None = None
    cross_b: str | None = None


def run_place(pieces: pd.DataFrame, lengths_m: pd.Series | None = None) -> Place:
    """The place of a run of segments (a gap): its main street (the longest named one)
    between the cross streets at the run's two ends along it.

    ``pieces`` has one row per segment of the run with its piece's ``name``, ``cross_a``,
    ``cross_b``, ``node_a``, ``node_b``, ``x_a``, ``y_a``, ``x_b``, ``y_b`` (see
    :class:`Pieces`); ``lengths_m`` the segments' lengths (equal when not given)."""
    frame = pieces.assign(run=0, length=1.0 if lengths_m is None else lengths_m.to_numpy())
    row = run_places(frame).iloc[0]
    return Place(row["street"], row["cross_a"], row["cross_b"])


def run_places(pieces: pd.DataFrame) -> pd.DataFrame:
    """:func:`run_place` of many runs at once: ``pieces`` as there, with the run's key in
    ``run`` and each segment's ``length``; one row per run (in order of first appearance)
    with ``run``, ``street``, ``cross_a`` and ``cross_b`` (``None`` where there is none)."""
    out = pd.DataFrame({"run": pd.unique(pieces["run"])})
    out[["street", "cross_a", "cross_b"]] = None
    named = pieces[pieces["name"].notna()]
    if named.empty:
        return out.astype(object)
    # the main street: the longest named one (the last name in order among equals)
    sums = named.groupby(["run", "name"], sort=True)["length"].sum().reset_index()
    main = (sums.sort_values(["run", "length"], kind="stable")
            .drop_duplicates("run", keep="last").set_index("run")["name"])
    on = named[named["name"].to_numpy() == main.reindex(named["run"]).to_numpy()]
    on = on.drop_duplicates(["run", "cross_a", "cross_b", "node_a", "node_b"])
    side = ["run", "node", "cross", "x", "y"]
    ends = pd.concat([
        on[["run", "node_a", "cross_a", "x_a", "y_a"]].set_axis(side, axis=1),
        on[["run", "node_b", "cross_b", "x_b", "y_b"]].set_axis(side, axis=1)],
        ignore_index=True)
    ends = ends[ends["node"].notna()]
    # a crossing inside the run closes one of its pieces and opens the next: the run's ends
    # are the crossings met once
    ends = ends[ends.groupby(["run", "node"])["node"].transform("size") == 1]
    span = ends.groupby("run").agg(x0=("x", "min"), x1=("x", "max"), y0=("y", "min"),
                                   y1=("y", "max"))
    along_x = ((span["x1"] - span["x0"]) >= (span["y1"] - span["y0"])).reindex(ends["run"])
    pos = np.where(along_x.to_numpy(), ends["x"].to_numpy(float), -ends["y"].to_numpy(float))
    ends = ends.assign(pos=pos).sort_values(["run", "pos"], kind="stable")
    first = ends.drop_duplicates("run", keep="first").set_index("run")
    last = ends.drop_duplicates("run", keep="last").set_index("run")
    cross_b = last["cross"].where(last["node"] != first["node"].reindex(last.index))
    keys = out["run"]
    out["street"] = main.reindex(keys).astype(object).to_numpy()
    out["cross_a"] = first["cross"].reindex(keys).astype(object).to_numpy()
    out["cross_b"] = cross_b.reindex(keys).astype(object).to_numpy()
    out = out.astype(object)
    return out.where(out.notna(), None)


def place_text(place: Place, lang: str, length_m: float | None = None) -> str:
    """"钢铁大街（阿尔丁大街—民族东路），350 米" / "钢铁大街 (阿尔丁大街–民族东路), 350 m";
    near one cross street only: "钢铁大街（近阿尔丁大街）"."""
    zh = lang == "zh"
    text = place.street or ("无名道路" if zh else "unnamed street")
    a, b = place.cross_a, place.cross_b
    if a and b:
        text += f"（{a}—{b}）" if zh else f" ({a}–{b})"
    elif a or b:
        text += f"（近{a or b}）" if zh else f" (near {a or b})"
    if length_m is not None:
        text += f"，{length_m:,.0f} 米" if zh else f", {length_m:,.0f} m"
    return text


def crossing_text(name_a: str, name_b: str, lang: str) -> str:
    """"A路与B路交叉口" / "A路 & B路"."""
    return f"{name_a}与{name_b}交叉口" if lang == "zh" else f"{name_a} & {name_b}"


def tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    """The web-mercator tile (x, y) at zoom ``z`` holding a WGS-84 point."""
    n = 2 ** z
    x = int((lon + 180.0) / 360.0 * n)
    rad = np.radians(lat)
    y = int((1.0 - np.log(np.tan(rad) + 1.0 / np.cos(rad)) / np.pi) / 2.0 * n)
    return min(max(x, 0), n - 1), min(max(y, 0), n - 1)


def tiles_covering(bounds: tuple[float, float, float, float], z: int
                   ) -> list[tuple[int, int, int]]:
    """Every tile (z, x, y) at zoom ``z`` meeting WGS-84 ``bounds`` (x0, y0, x1, y1)."""
    x0, y1 = tile_of(bounds[0], bounds[1], z)
    x1, y0 = tile_of(bounds[2], bounds[3], z)
    return [(z, x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def place_texts(frame: pd.DataFrame, lang: str, *, length: bool = True) -> list[str]:
    """:func:`place_text` of each row of a table with ``street``, ``cross_a``, ``cross_b``
    (and ``length_m``, written when ``length``)."""
    def value(v: object) -> str | None:
        return None if v is None or (isinstance(v, float) and np.isnan(v)) else str(v)

    lengths = frame["length_m"] if length and "length_m" in frame else [None] * len(frame)
    return [place_text(Place(value(s), value(a), value(b)), lang,
                       None if n is None else float(n))
            for s, a, b, n in zip(frame["street"], frame["cross_a"], frame["cross_b"], lengths)]


def walking_order(route: shapely.LineString, lons: np.ndarray, lats: np.ndarray) -> np.ndarray:
    """The order (1, 2, ...) in which a walk along ``route`` (a shapely line, WGS-84) passes
    the points nearest it: by how far along the route each point's nearest spot lies."""
    along = shapely.line_locate_point(route, shapely.points(lons, lats))
    order = np.empty(len(along), dtype=int)
    order[np.argsort(along, kind="stable")] = np.arange(1, len(along) + 1)
    return order


def distinct_place_texts(frame: pd.DataFrame, lang: str) -> list[str]:
    """:func:`place_texts` (without lengths) that tell apart the rows of different segments
    sharing a street and both cross streets: those are numbered along the street, west to
    east or north to south by their middles ``x, y`` when given ("翠竹街（前进路—赛罕路）第
    2 段" / "... part 2"). Rows of one segment (``segment_id``) keep one name."""
    texts = pd.Series(place_texts(frame, lang, length=False), index=frame.index)
    seg = frame["segment_id"] if "segment_id" in frame else pd.Series(frame.index,
                                                                       index=frame.index)
    has_xy = "x" in frame and "y" in frame
    firsts = pd.DataFrame({"text": texts, "seg": seg}).drop_duplicates("seg")
    shared = firsts.groupby("text")["seg"].transform("size") > 1
    number: dict[object, int] = {}
    for _, group in firsts[shared].groupby("text"):
        rows = frame.loc[group.index]
        if has_xy:
            x, y = rows["x"].astype(float), rows["y"].astype(float)
            pos = x if (x.max() - x.min()) >= (y.max() - y.min()) else -y
        else:
            pos = rows.index.to_series().astype(float)
        ordered = group.assign(pos=pos.to_numpy()).sort_values(["pos", "seg"])
        number.update({s: k for k, s in enumerate(ordered["seg"], start=1)})
    suffix = "第 {n} 段" if lang == "zh" else ", part {n}"
    return [t + suffix.format(n=number[s]) if s in number else t
            for t, s in zip(texts, seg)]
