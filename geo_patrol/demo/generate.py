"""A deterministic Baotou: communities, streets, volunteers, tracks, hazards, reports and
incidents written as ordinary files, to be loaded through the same loaders as real data.

Same seed, scale and end date: byte-identical files. Coordinates are built in metres (UTM
49N) around Baotou's real urban districts and written in WGS-84, or GCJ-02 where Chinese apps
and ledgers would use it.
"""

from __future__ import annotations

import collections
import datetime as dt
import io
import json
import re
import zipfile
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import geopandas as gpd
import numpy as np
import openpyxl
import pyproj
import shapely

from geo_patrol.crs import wgs84_to_gcj02
from geo_patrol.demo import names
from geo_patrol.privacy import id_check_digit

DISTRICTS = Path(__file__).resolve().parents[2] / "data" / "boundaries" / \
    "baotou_districts_wgs84.geojson"
URBAN = ("昆都仑区", "青山区", "东河区", "九原区")
DISTRICT_CODES = {"昆都仑区": "150203", "青山区": "150204", "东河区": "150202", "九原区": "150207"}
METRIC = "EPSG:32649"
TZ = ZoneInfo("Asia/Shanghai")
OCCUPATIONS = ("taxi_driver", "delivery_rider", "security_guard", "property_staff",
               "sanitation", "retired_resident")
PASSIVE = ("taxi_driver", "delivery_rider")
HAZARD_MIX = {"school": 0.14, "kindergarten": 0.12, "gas_lpg": 0.15, "gas_station": 0.07,
              "dangerous_goods": 0.1, "guns_explosives_knives": 0.14, "rental_housing": 0.23,
              "other": 0.05}
CATEGORY_ZH = {"school": "学校", "kindergarten": "幼儿园", "gas_lpg": "液化气", "gas_station": "加油站",
               "dangerous_goods": "危化品", "guns_explosives_knives": "枪爆刀",
               "rental_housing": "出租房", "other": "其他"}
#: The incidents of the tracked days (a manifest entry marked ``held``).
RECENT_INCIDENTS = "incidents-tracked-days.csv"
STATUS_ZH = {"open": "未整改", "rectified": "已整改", "cleared": "已销号"}


@dataclass(frozen=True)
class Scale:
    box: tuple[float, float, float, float]  # lon/lat
    block_m: float
    community_m: float
    volunteers: int
    hazards: int
    reports: int
    incidents: int
    days: int


SCALES = {
    "small": Scale((109.80, 40.58, 110.00, 40.66), 280.0, 1400.0, 400, 80, 60, 1200, 7),
    "city": Scale((109.78, 40.55, 110.08, 40.70), 120.0, 900.0, 15_749, 5_000, 2_000, 5_000, 1),
}


@dataclass
class Manifest:
    """What was generated and how each file is to be loaded."""

    seed: int
    scale: str
    until: str
    days: int
    files: list[dict] = field(default_factory=list)
    planted: dict[str, int] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, path: Path, root: Path, **options: object) -> None:
        self.files.append({"kind": kind, "path": str(path.relative_to(root)), **options})

    def write(self, root: Path) -> Path:
        path = root / "manifest.json"
        path.write_text(json.dumps(asdict(self), ensure_ascii=False, indent=1, sort_keys=True)
                        + "\n", encoding="utf-8")
        return path

    @classmethod
    def read(cls, root: Path) -> Manifest:
        return cls(**json.loads((root / "manifest.json").read_text(encoding="utf-8")))


class Frame:
    """Metres <-> WGS-84 / GCJ-02."""

    def __init__(self) -> None:
        self.to_m = pyproj.Transformer.from_crs("EPSG:4326", METRIC, always_xy=True)
        self.to_ll = pyproj.Transformer.from_crs(METRIC, "EPSG:4326", always_xy=True)

    def wgs(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return self.to_ll.transform(np.asarray(x, float), np.asarray(y, float))

    def gcj(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return wgs84_to_gcj02(*self.wgs(x, y))


# -- areas -------------------------------------------------------------------------------------

def _areas(scale: Scale, frame: Frame, rng: np.random.Generator
           ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    districts = gpd.read_file(DISTRICTS).to_crs(METRIC)
    districts = districts[districts["name"].isin(URBAN)].sort_values("name")
    x0, y0 = frame.to_m.transform(scale.box[0], scale.box[1])
    x1, y1 = frame.to_m.transform(scale.box[2], scale.box[3])
    size = scale.community_m
    nx, ny = int((x1 - x0) // size), int((y1 - y0) // size)
    cells = [(i, j, shapely.box(x0 + i * size, y0 + j * size, x0 + (i + 1) * size,
                                y0 + (j + 1) * size)) for i in range(nx) for j in range(ny)]
    rows = []
    for d in districts.itertuples():
        for i, j, cell in cells:
            piece = shapely.intersection(cell, d.geometry)
            if piece.area >= 0.3 * cell.area:
                rows.append({"district": d.name, "i": i, "j": j,
                             "geometry": shapely.make_valid(piece)})
    comm = gpd.GeoDataFrame(rows, crs=METRIC)
    words = list(names.COMMUNITY_WORDS)
    pool = list(names.COMMUNITIES) + [f"{w}{n}社区" for n in ("", *names.NUMERALS[:3])
                                      for w in words]
    pool = pool[:20] + list(rng.permutation(pool[20:]))
    comm["name"] = pool[: len(comm)] if len(comm) <= len(pool) else \
        [pool[k] if k < len(pool) else f"第{k}社区" for k in range(len(comm))]
    comm["station_key"] = comm["district"] + ":" + (comm["i"] // 3).astype(str) + "-" + \
        (comm["j"] // 3).astype(str)
    keys = list(dict.fromkeys(comm["station_key"]))
    station_names = {k: (f"{names.STATIONS[n]}派出所" if n < len(names.STATIONS)
                         else f"{k.split(':')[0][:2]}第{n}派出所") for n, k in enumerate(keys)}
    comm["station"] = comm["station_key"].map(station_names)
    stations = comm.dissolve(by="station", as_index=False)[["station", "district", "geometry"]]
    stations = stations.rename(columns={"station": "name"})
    stations["geometry"] = stations.geometry.buffer(0.01).buffer(-0.01)
    return stations, comm[["name", "station", "district", "geometry"]]


def _write_geojson(frame: gpd.GeoDataFrame, path: Path, coords: Frame) -> None:
    feats = []
    for rec in frame.to_crs(4326).itertuples(index=False):
        geom = shapely.set_precision(rec.geometry, 1e-7)
        props = {k: getattr(rec, k) for k in frame.columns if k != "geometry"}
        feats.append({"type": "Feature", "properties": props,
                      "geometry": json.loads(shapely.to_geojson(geom))})
    path.write_text(json.dumps({"type": "FeatureCollection", "features": feats},
                               ensure_ascii=False, sort_keys=True) + "\n", encoding="utf-8")


# -- streets -----------------------------------------------------------------------------------

@dataclass
class Streets:
    x: np.ndarray
    y: np.ndarray
    edges: np.ndarray  # (m, 2) node indices
    arterial: np.ndarray  # per edge
    neighbours: list[np.ndarray]
    arterial_neighbours: list[np.ndarray]
    shape: tuple[int, int] = (0, 0)  # nodes east-west, north-south (node k = i * ny + j)


def _streets(scale: Scale, frame: Frame, communities: gpd.GeoDataFrame,
             rng: np.random.Generator) -> tuple[Streets, list[tuple[str, str]]]:
    x0, y0 = frame.to_m.transform(scale.box[0], scale.box[1])
    x1, y1 = frame.to_m.transform(scale.box[2], scale.box[3])
    b = scale.block_m
    nx, ny = int((x1 - x0) // b) + 1, int((y1 - y0) // b) + 1
    ii, jj = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    gx = x0 + ii * b + rng.uniform(-0.12, 0.12, ii.shape) * b
    gy = y0 + jj * b + rng.uniform(-0.12, 0.12, ii.shape) * b
    every = 6
    gx[ii % every == 0] = (x0 + ii * b)[ii % every == 0]  # arterials run straight
    gy[jj % every == 0] = (y0 + jj * b)[jj % every == 0]
    idx = np.arange(nx * ny).reshape(nx, ny)
    horiz = np.column_stack([idx[:-1, :].ravel(), idx[1:, :].ravel()])
    vert = np.column_stack([idx[:, :-1].ravel(), idx[:, 1:].ravel()])
    edges = np.concatenate([horiz, vert])
    row_of = np.concatenate([jj[:-1, :].ravel(), ii[:, :-1].ravel()])
    is_h = np.r_[np.ones(len(horiz), bool), np.zeros(len(vert), bool)]
    arterial = row_of % every == 0
    xs, ys = gx.ravel(), gy.ravel()
    mid = shapely.points((xs[edges[:, 0]] + xs[edges[:, 1]]) / 2,
                         (ys[edges[:, 0]] + ys[edges[:, 1]]) / 2)
    urban = shapely.union_all(communities.geometry.to_numpy())
    shapely.prepare(urban)
    keep = shapely.contains(urban, mid)
    keep &= arterial | (rng.random(len(edges)) > 0.08)  # some dead ends and missing links
    edges, arterial, row_of, is_h = edges[keep], arterial[keep], row_of[keep], is_h[keep]
    labels = [("primary" if h else "secondary") if art else "residential"
              for h, art in zip(is_h, arterial)]
    labels = [(hw, street_name(bool(h), int(r), every))
              for hw, h, r in zip(labels, is_h, row_of)]
    n = nx * ny
    nb: list[list[int]] = [[] for _ in range(n)]
    anb: list[list[int]] = [[] for _ in range(n)]
    for (a, c), art in zip(edges, arterial):
        nb[a].append(c)
        nb[c].append(a)
        if art:
            anb[a].append(c)
            anb[c].append(a)
    streets = Streets(xs, ys, edges, arterial, [np.array(v, dtype=int) for v in nb],
                      [np.array(v, dtype=int) for v in anb], (nx, ny))
    return streets, labels


@dataclass
class Land:
    """Water, parks and buildings of the demo city: rings (metric, closed) and their tags."""

    rings: list[np.ndarray] = field(default_factory=list)
    tags: list[dict[str, str]] = field(default_factory=list)


def _land(streets: Streets, communities: gpd.GeoDataFrame, rng: np.random.Generator) -> Land:
    """Inside each urban block between four streets: now and then a park or a lake (named as
    a Chinese city's are), otherwise a few buildings set back from the streets."""
    nx, ny = streets.shape
    ii, jj = np.meshgrid(np.arange(nx - 1), np.arange(ny - 1), indexing="ij")
    corners = np.stack([ii * ny + jj, (ii + 1) * ny + jj, (ii + 1) * ny + jj + 1,
                        ii * ny + jj + 1], axis=-1).reshape(-1, 4)
    x0 = streets.x[corners].max(axis=1, where=[True, False, False, True], initial=-np.inf)
    x1 = streets.x[corners].min(axis=1, where=[False, True, True, False], initial=np.inf)
    y0 = streets.y[corners].max(axis=1, where=[True, True, False, False], initial=-np.inf)
    y1 = streets.y[corners].min(axis=1, where=[False, False, True, True], initial=np.inf)
    urban = shapely.union_all(communities.geometry.to_numpy())
    shapely.prepare(urban)
    inside = shapely.contains_xy(urban, (x0 + x1) / 2, (y0 + y1) / 2) & (x1 > x0) & (y1 > y0)
    draw = rng.random(len(corners))
    land = Land()
    parks, lakes = iter(names.PARKS), iter(names.LAKES)

    def box(a: float, b: float, c: float, d: float) -> np.ndarray:
        return np.array([[a, b], [c, b], [c, d], [a, d], [a, b]])

    for k in np.flatnonzero(inside):
        w, h = x1[k] - x0[k], y1[k] - y0[k]
        if draw[k] < 0.05:
            land.rings.append(box(x0[k] + 0.1 * w, y0[k] + 0.1 * h, x1[k] - 0.1 * w,
                                  y1[k] - 0.1 * h))
            land.tags.append({"leisure": "park", "name": next(parks, "街心公园")})
        elif draw[k] < 0.07:
            cx, cy = (x0[k] + x1[k]) / 2, (y0[k] + y1[k]) / 2
            t = np.linspace(0, 2 * np.pi, 25)
            ring = np.column_stack([cx + 0.38 * w * np.cos(t), cy + 0.33 * h * np.sin(t)])
            land.rings.append(ring)
            land.tags.append({"natural": "water", "name": next(lakes, "人工湖")})
        else:
            for fx in ((0.12, 0.44), (0.56, 0.88)):
                for fy in ((0.12, 0.44), (0.56, 0.88)):
                    land.rings.append(box(x0[k] + fx[0] * w, y0[k] + fy[0] * h,
                                          x0[k] + fx[1] * w, y0[k] + fy[1] * h))
                    land.tags.append({"building": "residential"})
    return land


def street_name(east_west: bool, row: int, every: int) -> str:
    """The name of the ``row``-th east-west (or north-south) street of the grid, every
    ``every``-th an arterial: each row its own name, as in a real city, so that the cross
    streets tell two stretches of one street apart."""
    words = names.STREET_WORDS
    if row % every == 0:
        k = row // every
        own = names.ARTERIALS[0 if east_west else 1::2]
        if k < len(own):
            return own[k]
        ending = names.ARTERIAL_ENDINGS[0 if east_west else 1][0]
        return words[(k - len(own)) * 13 % len(words)] + ending
    m = row - row // every - 1
    endings = names.STREET_ENDINGS[0 if east_west else 1]
    word = words[(m * 11 + (0 if east_west else 35)) % len(words)]
    return word + endings[(m // len(words)) % len(endings)]


def _write_osm(streets: Streets, labels: list[tuple[str, str]], land: Land, path: Path,
               frame: Frame) -> None:
    used = np.unique(streets.edges)
    lon, lat = frame.wgs(streets.x[used], streets.y[used])
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n'
                 '<osm version="0.6" generator="geo-patrol demo">\n')
        for k, a, b in zip(used, lon, lat):
            fh.write(f'  <node id="{k + 1}" lat="{b:.7f}" lon="{a:.7f}"/>\n')
        node = len(streets.x) + 1
        rings = []
        for ring in land.rings:  # closed: the last node is the first
            ids = list(range(node, node + len(ring) - 1))
            rlon, rlat = frame.wgs(ring[:-1, 0], ring[:-1, 1])
            for k, a, b in zip(ids, rlon, rlat):
                fh.write(f'  <node id="{k}" lat="{b:.7f}" lon="{a:.7f}"/>\n')
            rings.append([*ids, ids[0]])
            node += len(ids)
        for w, ((a, c), (hw, name)) in enumerate(zip(streets.edges, labels), start=1):
            fh.write(f'  <way id="{w}"><nd ref="{a + 1}"/><nd ref="{c + 1}"/>'
                     f'<tag k="highway" v="{hw}"/><tag k="name" v="{name}"/></way>\n')
        for w, (ids, tags) in enumerate(zip(rings, land.tags), start=len(streets.edges) + 1):
            refs = "".join(f'<nd ref="{k}"/>' for k in ids)
            kv = "".join(f'<tag k="{k}" v="{v}"/>' for k, v in tags.items())
            fh.write(f'  <way id="{w}">{refs}{kv}</way>\n')
        fh.write("</osm>\n")


# -- people ------------------------------------------------------------------------------------

def _id_number(rng: np.random.Generator, district: str) -> str:
    birth = dt.date(1955, 1, 1) + dt.timedelta(days=int(rng.integers(0, 365 * 45)))
    first17 = f"{DISTRICT_CODES[district]}{birth:%Y%m%d}{int(rng.integers(0, 1000)):03d}"
    return first17 + id_check_digit(first17)


def _volunteers(scale: Scale, communities: gpd.GeoDataFrame, rng: np.random.Generator) -> list[dict]:
    weights = rng.pareto(1.3, len(communities)) + 0.05  # uneven: some communities have few
    weights /= weights.sum()
    occ_p = np.array([0.2, 0.18, 0.2, 0.15, 0.1, 0.17])
    people = []
    for k in range(scale.volunteers):
        occ = OCCUPATIONS[int(rng.choice(len(OCCUPATIONS), p=occ_p))]
        home = int(rng.choice(len(communities), p=weights))
        name = names.SURNAMES[int(rng.integers(len(names.SURNAMES)))] + "".join(
            names.GIVEN[int(g)] for g in rng.integers(0, len(names.GIVEN), int(rng.integers(1, 3))))
        phone = f"1{int(rng.choice([3, 5, 7, 8, 9]))}{int(rng.integers(0, 10**9)):09d}"
        duties = sorted({"巡逻防控", *rng.choice(names.DUTIES, int(rng.integers(0, 3)))},
                        key=names.DUTIES.index)
        people.append({
            "number": f"BT{k + 1:05d}", "name": name, "phone": phone,
            "id_number": _id_number(rng, communities.iloc[home]["district"]),
            "occupation": occ, "team": names.TEAMS[occ],
            "skills": "、".join(sorted(set(rng.choice(names.SKILLS, int(rng.integers(0, 3)))))),
            "duties": "、".join(duties), "home": home,
            "community": communities.iloc[home]["name"],
            "active": bool(rng.random() > 0.04), "zeal": float(rng.beta(1.5, 4))})
    return people


def _save_xlsx(rows: list[list[object]], path: Path, stamp: dt.datetime) -> None:
    """An XLSX with fixed timestamps inside, so the same rows give the same bytes."""
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    book.properties.created = book.properties.modified = stamp.replace(tzinfo=None)
    buf = io.BytesIO()
    book.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, \
            zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in sorted(src.infolist(), key=lambda i: i.filename):
            fixed = zipfile.ZipInfo(info.filename, date_time=(2020, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" +
                              stamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode(), data)
            dst.writestr(fixed, data)


# -- hazards -----------------------------------------------------------------------------------

def _hazards(scale: Scale, streets: Streets, communities: gpd.GeoDataFrame, until: dt.date,
             rng: np.random.Generator) -> list[dict]:
    cats = list(HAZARD_MIX)
    p = np.array(list(HAZARD_MIX.values()))
    out = []
    counters: dict[str, int] = {}
    for k in range(scale.hazards):
        cat = cats[int(rng.choice(len(cats), p=p / p.sum()))]
        e = streets.edges[int(rng.integers(len(streets.edges)))]
        f = rng.uniform(0.2, 0.8)
        ax, ay = streets.x[e[0]], streets.y[e[0]]
        bx, by = streets.x[e[1]], streets.y[e[1]]
        length = np.hypot(bx - ax, by - ay)
        off = rng.uniform(12, 30) * rng.choice([-1, 1])
        x = ax + f * (bx - ax) - off * (by - ay) / length
        y = ay + f * (by - ay) + off * (bx - ax) / length
        counters[cat] = counters.get(cat, 0) + 1
        pattern = names.HAZARDS.get(cat, ["其他场所{n}"])[k % len(names.HAZARDS.get(cat, [1]))]
        first = until - dt.timedelta(days=int(rng.integers(20, 90)))
        history = [("open", first)]
        if rng.random() < 0.4:
            history.append(("rectified", first + dt.timedelta(days=int(rng.integers(3, 15)))))
            if rng.random() < 0.35:
                history.append(("cleared", history[-1][1] + dt.timedelta(days=int(
                    rng.integers(2, 10)))))
        out.append({"id": f"HZ{k + 1:05d}", "category": cat, "x": x, "y": y, "edge": e,
                    "name": pattern.format(n=names.NUMERALS[counters[cat] % 10]
                                           if "{n}" in pattern else "") + f"（{k + 1}）",
                    "history": history})
    return out


# -- tracks ------------------------------------------------------------------------------------

def _walk(streets: Streets, start: int, distance: float, rng: np.random.Generator,
          prefer_arterial: bool) -> tuple[np.ndarray, np.ndarray]:
    """A random walk along the streets (no U-turns except at dead ends) of ``distance`` m."""
    path = [start]
    prev = -1
    total = 0.0
    node = start
    while total < distance and len(path) < 20_000:
        options = streets.arterial_neighbours[node] if prefer_arterial and \
            len(streets.arterial_neighbours[node]) else streets.neighbours[node]
        if not len(options):
            break
        choices = options[options != prev] if len(options) > 1 else options
        nxt = int(choices[int(rng.integers(len(choices)))])
        total += float(np.hypot(streets.x[nxt] - streets.x[node], streets.y[nxt] - streets.y[node]))
        prev, node = node, nxt
        path.append(node)
    p = np.array(path)
    return streets.x[p], streets.y[p]


def _sample(xs: np.ndarray, ys: np.ndarray, speed: float, step: float, start: float
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    d = np.r_[0, np.cumsum(np.hypot(np.diff(xs), np.diff(ys)))]
    n = max(int(d[-1] / (speed * step)), 1)
    at = np.arange(n + 1) * speed * step
    return np.interp(at, d, xs), np.interp(at, d, ys), start + np.arange(n + 1) * step


@dataclass
class Trip:
    volunteer: str
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    gpx: bool


def _trips(day: dt.date, people: list[dict], streets: Streets, hazards: list[dict],
           communities: gpd.GeoDataFrame, rng: np.random.Generator) -> Iterator[Trip]:
    used = np.unique(streets.edges)
    tree = shapely.STRtree(shapely.points(streets.x[used], streets.y[used]))
    centres = communities.geometry.representative_point()
    home_node = used[tree.nearest(centres.to_numpy())]
    hz_node = used[tree.nearest(shapely.points([h["x"] for h in hazards],
                                               [h["y"] for h in hazards]))]
    hz_by_home: dict[int, list[int]] = {}
    hz_comm = communities.sindex.query(shapely.points([h["x"] for h in hazards],
                                                      [h["y"] for h in hazards]),
                                       predicate="within")
    for h_i, c_i in zip(*hz_comm):
        hz_by_home.setdefault(int(c_i), []).append(int(h_i))
    midnight = dt.datetime.combine(day, dt.time(), TZ).timestamp()
    weekday = day.weekday() < 5
    for person in people:
        if not person["active"]:
            continue
        passive = person["occupation"] in PASSIVE
        if rng.random() > (0.3 if passive else person["zeal"]):
            continue
        if passive:
            start = int(used[int(rng.integers(len(used)))])
            speed, step = rng.uniform(7, 11), float(rng.choice([15.0, 20.0, 30.0]))
            hours = rng.uniform(0.5, 1.5)
            t0 = midnight + rng.uniform(8, 20) * 3600
            xs, ys = _walk(streets, start, speed * hours * 3600, rng, prefer_arterial=True)
            x, y, t = _sample(xs, ys, speed, step, t0)
            yield Trip(person["number"], t, x, y, False)
            continue
        speed, step = rng.uniform(1.1, 1.5), float(rng.choice([5.0, 10.0, 15.0, 30.0]))
        mine = hz_by_home.get(person["home"], [])
        dwell_at = None
        if mine and rng.random() < 0.45:
            dwell_at = mine[int(rng.integers(len(mine)))]
        school = dwell_at is not None and hazards[dwell_at]["category"] in (
            "school", "kindergarten") and weekday
        if school:
            t0 = midnight + rng.uniform(7.1, 7.6) * 3600
        elif rng.random() < 0.15:
            t0 = midnight + rng.uniform(19.5, 22.5) * 3600
        else:
            t0 = midnight + rng.uniform(8, 17) * 3600
        xs_all, ys_all, ts_all = [], [], []
        if dwell_at is not None:
            h = hazards[dwell_at]
            minutes = rng.uniform(11, 16) if rng.random() < 0.8 else rng.uniform(3, 8)
            k = int(minutes * 60 / step) + 1
            xs_all.append(h["x"] + rng.normal(0, 3, k) + 8)
            ys_all.append(h["y"] + rng.normal(0, 3, k))
            ts_all.append(t0 + np.arange(k) * step)
            start_node = int(hz_node[dwell_at])
            t0 = ts_all[-1][-1] + step
        else:
            start_node = int(home_node[person["home"]])
        xs, ys = _walk(streets, start_node, speed * rng.uniform(20, 60) * 60, rng, False)
        x, y, t = _sample(xs, ys, speed, step, t0)
        xs_all.append(x)
        ys_all.append(y)
        ts_all.append(t)
        yield Trip(person["number"], np.concatenate(ts_all), np.concatenate(xs_all),
                   np.concatenate(ys_all), bool(rng.random() < 0.1))


def _gpx(trip: Trip, frame: Frame) -> str:
    lon, lat = frame.wgs(trip.x, trip.y)
    pts = "".join(
        f'<trkpt lat="{b:.7f}" lon="{a:.7f}"><time>'
        f'{dt.datetime.fromtimestamp(float(t), dt.UTC):%Y-%m-%dT%H:%M:%SZ}</time></trkpt>\n'
        for a, b, t in zip(lon, lat, trip.t))
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<gpx version="1.1" creator="义警通" xmlns="http://www.topografix.com/GPX/1/1">\n'
            f"<trk><name>{trip.volunteer}</name><trkseg>\n{pts}</trkseg></trk></gpx>\n")


# -- the whole demo ----------------------------------------------------------------------------

def _incidents(streets: Any, n: int, until: dt.date, rng: np.random.Generator
               ) -> list[tuple[str, dt.date, str, float, float]]:
    """Police incidents as a city records them: property crime (about two thirds)
    concentrated on a few streets, in the evening and at night, with near-repeats (a
    quarter of thefts followed within 100 m and a week); other classes spread out; three in
    ten with the date only."""
    edges = streets.edges
    hot = rng.choice(len(edges), 15, replace=False)

    def on_street(e: Any) -> tuple[float, float]:
        t = rng.random()
        x = streets.x[e[0]] + t * (streets.x[e[1]] - streets.x[e[0]])
        y = streets.y[e[0]] + t * (streets.y[e[1]] - streets.y[e[0]])
        return float(x + rng.normal(0, 12)), float(y + rng.normal(0, 12))

    def clock(evening: bool) -> str:
        if rng.random() < 0.3:
            return ""
        hour = int(rng.choice(24, p=_PROPERTY_HOURS)) if evening else int(rng.integers(7, 23))
        return f"{hour:02d}:{int(rng.integers(0, 60)):02d}"

    out = []
    while len(out) < n:
        day = until - dt.timedelta(days=int(rng.integers(1, 91)))
        if rng.random() < 0.66:
            e = edges[hot[int(rng.integers(len(hot)))]] if rng.random() < 0.45 else \
                edges[int(rng.integers(len(edges)))]
            x, y = on_street(e)
            cat = names.PROPERTY_INCIDENTS[int(rng.integers(len(names.PROPERTY_INCIDENTS)))]
            out.append((cat, day, clock(True), x, y))
            if rng.random() < 0.25 and len(out) < n:  # a repeat nearby within the week
                later = day + dt.timedelta(days=int(rng.integers(1, 8)))
                if later < until:
                    out.append((cat, later, clock(True), x + rng.normal(0, 40),
                                y + rng.normal(0, 40)))
        else:
            x, y = on_street(edges[int(rng.integers(len(edges)))])
            cat = names.OTHER_INCIDENTS[int(rng.integers(len(names.OTHER_INCIDENTS)))]
            out.append((cat, day, clock(False), x, y))
    return out[:n]


#: Hour of day of property crime: low in the morning, rising to the evening and night.
_PROPERTY_HOURS = np.array([4, 4, 3, 3, 2, 1, 1, 1, 2, 2, 3, 3, 3, 3, 3, 3, 4, 5, 7, 8, 9,
                            9, 8, 6], dtype=float)
_PROPERTY_HOURS /= _PROPERTY_HOURS.sum()


def _training(course: tuple, people: list[dict], communities: gpd.GeoDataFrame,
              until: dt.date, rng: np.random.Generator, path: Path) -> int:
    """A year of one course's sessions as a GBK sign-in sheet; returns the sessions written.

    Sessions are sized to the force: enough seats in a year for about two thirds of those the
    course is for. Each session invites a batch of up to 30 from one police station's
    communities, the untrained first; about one in eight stays away and the others pass at
    the course's rate."""
    title, skill, duty, months, mode, per_year, pass_rate = course
    rows = ["课程,认证技能,服务职责,有效期（月）,培训日期,培训地点,培训形式,授课人,批次,义警编号,姓名,"
            "考核结果"]
    pool = [p for p in people if p["active"] and (duty is None or duty in p["duties"])]
    if not pool:
        return 0
    station_of = communities["station"].to_numpy()
    stations = sorted({station_of[p["home"]] for p in pool})
    per_station = collections.Counter(station_of[p["home"]] for p in pool)
    weight = np.array([per_station[s] for s in stations], float)
    trained: set[str] = set()
    skill_zh = {"patrol": "巡逻", "first_aid": "急救", "mediation": "调解", "law": "法律",
                "incident_response": "先期处置", "hazmat_inspection": "危化品",
                "weapons_inspection": "枪爆"}[skill]
    n_sessions = max(2, min(per_year * 4, round(len(pool) * 0.67 / 25)))
    days = sorted((int(d) for d in rng.integers(3, 365, n_sessions)), reverse=True)
    for i, ago in enumerate(days, start=1):
        held = until - dt.timedelta(days=ago)
        if held.weekday() < 5 and rng.random() < 0.7:  # mostly at weekends
            held -= dt.timedelta(days=held.weekday() + 2)
        station = stations[int(rng.choice(len(stations), p=weight / weight.sum()))]
        local = [p for p in pool if station_of[p["home"]] == station]
        local.sort(key=lambda p: (p["number"] in trained, rng.random()))
        place = "线上直播" if mode == "线上" else (
            f"{station}警务室" if mode == "跟班"
            else names.TRAINING_PLACES[int(rng.integers(len(names.TRAINING_PLACES)))])
        trainer = names.TRAINERS[int(rng.integers(len(names.TRAINERS)))]
        for p in local[:30]:
            came = rng.random() > 0.12
            passed = came and rng.random() < pass_rate
            if passed:
                trained.add(p["number"])
            rows.append(f"{title},{skill_zh},{duty or ''},{months},{held:%Y年%m月%d日},{place},"
                        f"{mode},{trainer},第{i}期,{p['number']},{p['name']},"
                        f"{'合格' if passed else ('出勤' if came else '缺勤')}")
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    return len(days)



def generate(out: Path | str, *, seed: int = 7, scale: str = "small",
             until: dt.date | None = None, days: int | None = None) -> Manifest:
    """Write the demo files into ``out`` (created) for the ``days`` days before ``until``."""
    spec = SCALES[scale]
    until = until or dt.datetime.now(TZ).date()
    days = days or spec.days
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    (root / "tracks").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    frame = Frame()
    manifest = Manifest(seed, scale, until.isoformat(), days)
    stamp = dt.datetime.combine(until, dt.time())

    stations, communities = _areas(spec, frame, rng)
    _write_geojson(stations, root / "stations.geojson", frame)
    manifest.add("boundaries", root / "stations.geojson", root, level="station", crs="wgs84",
                 parent_field="district")
    _write_geojson(communities.drop(columns=["district"]), root / "communities.geojson", frame)
    manifest.add("boundaries", root / "communities.geojson", root, level="community",
                 crs="wgs84", parent_field="station")

    streets, labels = _streets(spec, frame, communities, rng)
    land = _land(streets, communities, np.random.default_rng([seed, 31]))  # its own draws
    _write_osm(streets, labels, land, root / "streets.osm", frame)
    manifest.add("streets", root / "streets.osm", root)

    people = _volunteers(spec, communities, rng)
    header = ["编号", "姓名", "手机号", "身份证号", "职业", "队伍", "技能特长", "职责", "社区", "状态"]
    _save_xlsx([header] + [[p["number"], p["name"], p["phone"], p["id_number"],
                            names.OCCUPATION_ZH[p["occupation"]], p["team"], p["skills"],
                            p["duties"], p["community"], "在岗" if p["active"] else "离岗"]
                           for p in people], root / "volunteers.xlsx", stamp)
    manifest.add("volunteers", root / "volunteers.xlsx", root)

    hazards = _hazards(spec, streets, communities, until, rng)
    hx, hy = frame.gcj(np.array([h["x"] for h in hazards]), np.array([h["y"] for h in hazards]))
    rows = [["编号", "名称", "类别", "地址", "经度", "纬度", "状态", "检查日期", "备注"]]
    for h, a, b in zip(hazards, hx, hy):
        for status, when in h["history"]:
            rows.append([h["id"], h["name"], CATEGORY_ZH[h["category"]], "包头市", f"{a:.7f}",
                         f"{b:.7f}", STATUS_ZH[status], f"{when.isoformat()}T10:00:00+08:00",
                         "双清双打排查" if status == "open" else "复查"])
    _save_xlsx(rows, root / "hazards.xlsx", stamp)
    manifest.add("hazards", root / "hazards.xlsx", root, crs="gcj02")

    planted = {"speed_jump": 0, "duplicate": 0}
    n_fixes = 0
    for d in range(days, 0, -1):
        day = until - dt.timedelta(days=d)
        lines = ["编号,定位时间,经度,纬度,精度"]
        gpx_dir = root / "tracks" / f"{day:%Y%m%d}"
        for trip in _trips(day, people, streets, hazards, communities, rng):
            x, y = trip.x + rng.normal(0, 4, len(trip.x)), trip.y + rng.normal(0, 4, len(trip.y))
            t = trip.t
            if len(t) >= 20 and rng.random() < 0.06:  # a GPS jump of several km
                k = int(rng.integers(5, len(t) - 5))
                x, y = x.copy(), y.copy()
                x[k] += rng.uniform(4000, 8000)
                planted["speed_jump"] += 1
            if len(t) >= 20 and rng.random() < 0.06:  # the same fix sent twice
                k = int(rng.integers(5, len(t) - 5))
                x, y, t = np.insert(x, k, x[k]), np.insert(y, k, y[k]), np.insert(t, k, t[k])
                planted["duplicate"] += 1
            n_fixes += len(t)
            if trip.gpx:
                gpx_dir.mkdir(exist_ok=True)
                path = gpx_dir / f"{trip.volunteer}.gpx"
                path.write_text(_gpx(Trip(trip.volunteer, t, x, y, True), frame),
                                encoding="utf-8")
                manifest.add("tracks", path, root, crs="wgs84", volunteer=trip.volunteer)
                continue
            lon, lat = frame.gcj(x, y)
            stamps = [dt.datetime.fromtimestamp(float(v), TZ).isoformat() for v in t]
            acc = rng.choice([5, 8, 10, 15], len(t))
            lines += [f"{trip.volunteer},{s},{a:.7f},{b:.7f},{c}"
                      for s, a, b, c in zip(stamps, lon, lat, acc)]
        path = root / "tracks" / f"app-{day:%Y%m%d}.csv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        manifest.add("tracks", path, root, crs="gcj02")
    manifest.planted = planted

    # volunteers' reports (a GBK export), police incidents
    rows = ["编号,义警编号,上报时间,经度,纬度,类别,内容,核实状态,奖励,隐患编号"]
    cats = list(names.REPORTS)
    for k in range(spec.reports):
        p = people[int(rng.integers(len(people)))]
        h = hazards[int(rng.integers(len(hazards)))]
        cat = cats[int(rng.integers(len(cats)))]
        when = dt.datetime.combine(until - dt.timedelta(days=int(rng.integers(1, days + 1))),
                                   dt.time(int(rng.integers(8, 21)), int(rng.integers(0, 60))), TZ)
        lon, lat = frame.wgs(h["x"] + rng.normal(0, 30), h["y"] + rng.normal(0, 30))
        state = str(rng.choice(["已核实", "待核实", "不属实"], p=[0.5, 0.3, 0.2]))
        reward = int(rng.choice([50, 100, 200, 500])) if state == "已核实" else ""
        link = h["id"] if cat in ("gas_refill", "knife_sale", "fire_hazard") else ""
        rows.append(f"RP{k + 1:05d},{p['number']},{when.isoformat()},{float(lon):.7f},"
                    f"{float(lat):.7f},{cat},{names.REPORTS[cat]},{state},{reward},{link}")
    (root / "reports.csv").write_bytes(("\n".join(rows) + "\n").encode("gbk"))
    manifest.add("reports", root / "reports.csv", root, crs="wgs84")

    # police incidents: those of the tracked days in a file of their own, which the demo
    # loads once its volunteers have walked their tasks (fewer where they patrolled)
    header = "警情编号,警情类别,发案日期,报警时间,经度,纬度"
    rows, recent = [header], [header]
    tracked = until - dt.timedelta(days=days)
    for k, (cat, day, clock, x, y) in enumerate(_incidents(streets, spec.incidents, until, rng)):
        lon, lat = frame.wgs(x, y)
        (recent if day >= tracked else rows).append(
            f"JQ{k + 1:06d},{cat},{day:%Y/%m/%d},{clock},{float(lon):.7f},{float(lat):.7f}")
    for name, lines, held in (("incidents.csv", rows, False),
                              (RECENT_INCIDENTS, recent, True)):
        (root / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
        manifest.add("incidents", root / name, root, crs="wgs84", tz="Asia/Shanghai",
                     **({"held": True} if held else {}))
    sessions = 0
    for k, course in enumerate(names.COURSES):
        path = root / "training" / f"签到表-{k + 1:02d}.csv"
        sessions += _training(course, people, communities, until,
                              np.random.default_rng(seed * 1000 + k), path)
        manifest.add("training", path, root)
    manifest.counts = {"stations": len(stations), "communities": len(communities),
                       "street_edges": int(len(streets.edges)), "volunteers": len(people),
                       "hazards": len(hazards), "fixes": n_fixes, "reports": spec.reports,
                       "incidents": spec.incidents, "training_sessions": sessions}
    manifest.write(root)
    return manifest
