"""The search box of every map: communities, streets, crossings ("A路与B路交叉口"),
hazards and volunteers (for the roles that may see them), and coordinates pasted from AMap,
Baidu or a GPS, answered as one types (trigram matches in PostgreSQL).

Each answer is a dict: ``kind``, ``label`` (what the list shows), ``lon``/``lat`` (WGS-84)
and, for an area or a street, ``bounds`` (x0, y0, x1, y1) to fit the map to.
"""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from geo_patrol.access import Grant, Principal, Resource
from geo_patrol.analysis.places import Place, crossing_text, place_text
from geo_patrol.crs import bd09_to_wgs84, gcj02_to_wgs84, wgs84_to_gcj02
from geo_patrol.privacy import mask_name
from geo_patrol.render.i18n import label
from geo_patrol.services.places import communities_named
from geo_patrol.store import ledgers as ledger_store
from geo_patrol.store import places as store

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

#: Longest query taken (a name, or two with a separator).
MAX_QUERY = 40
#: What separates two street names in a crossing query ("钢铁大街与阿尔丁大街", "A & B", and
#: a space between two Chinese names: "钢铁大街 阿尔丁大街"; a Chinese name holds no space).
CROSSING = re.compile(r"\s*(?:与|和|&|/|／|×|x(?=\s))\s*"
                      r"|(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
_NUMBER = r"(-?\d{1,3}(?:\.\d+)?)"
COORDS = re.compile(rf"^\s*{_NUMBER}\s*[,，\s]\s*{_NUMBER}\s*(wgs|gps|gcj|amap|bd|baidu)?\s*$",
                    re.I)
#: A datum a pasted pair of numbers may be in: key, label key, conversion to WGS-84.
DATUMS = (("wgs84", "WGS-84 (GPS)", None), ("gcj02", "GCJ-02 (高德/AMap)", gcj02_to_wgs84),
          ("bd09", "BD-09 (百度/Baidu)", bd09_to_wgs84))
_DATUM_OF = {"wgs": "wgs84", "gps": "wgs84", "gcj": "gcj02", "amap": "gcj02", "bd": "bd09",
             "baidu": "bd09"}


def coordinates(q: str) -> list[dict[str, Any]]:
    """A pasted "lon, lat" (or "lat, lon": China's latitudes and longitudes do not overlap)
    read in each datum it may be in, or in the one named after it ("… gcj")."""
    m = COORDS.match(q)
    if not m:
        return []
    a, b = float(m.group(1)), float(m.group(2))
    lon, lat = (b, a) if 3 <= a <= 54 and 73 <= b <= 136 else (a, b)
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return []
    wanted = _DATUM_OF.get((m.group(3) or "").lower())
    out = []
    for key, name, convert in DATUMS:
        if wanted and key != wanted:
            continue
        x, y = (lon, lat) if convert is None else \
            (float(v[0]) for v in convert(np.array([lon]), np.array([lat])))
        out.append({"kind": "coordinates", "datum": key, "lon": round(x, 7), "lat": round(y, 7),
                    "label": f"{lon:.6f}, {lat:.6f} · {name}"})
    return out


def _bounds(row: dict[str, Any]) -> list[float]:
    return [float(row[k]) for k in ("x0", "y0", "x1", "y1")]


def shown_in(found: list[dict[str, Any]], datum: str) -> list[dict[str, Any]]:
    """Answers moved to the datum a map draws in (``gcj02`` under an AMap base map; WGS-84
    otherwise, as given)."""
    if datum != "gcj02":
        return found
    for item in found:
        (item["lon"],), (item["lat"],) = (v.round(7).tolist() for v in wgs84_to_gcj02(
            np.array([item["lon"]]), np.array([item["lat"]])))
        if "bounds" in item:
            x0, y0, x1, y1 = item["bounds"]
            xs, ys = wgs84_to_gcj02(np.array([x0, x1]), np.array([y0, y1]))
            item["bounds"] = [float(xs[0]), float(ys[0]), float(xs[1]), float(ys[1])]
    return found


#: The kinds of answer a picker may ask for alone (``kinds``).
KINDS = ("coordinates", "crossing", "street", "area", "hazard", "volunteer")


def search(conn: Connection, q: str, who: Principal, *, lang: str,
           kinds: frozenset[str] | None = None, scoped: bool = False) -> list[dict[str, Any]]:
    """What ``q`` may mean, best first, as far as ``who`` may see: coordinates, crossings,
    streets, areas, hazards (within the user's hazard scope) and volunteers (masked, for
    the roles that read personal data). ``kinds`` keeps only those kinds (a form's picker:
    ``area`` stands for districts and communities); a record's answer carries its ``id``
    (a volunteer's: their number; a street's: its name). ``scoped``: a form that takes
    places in the user's own communities only offers no other area (the district's and
    the station's neither, for a user bound to communities), and only the streets and
    crossings in those communities."""
    only = who.community_ids if scoped else None
    q = q.strip()[:MAX_QUERY]
    if not q:
        return []

    def wanted(kind: str) -> bool:
        return kinds is None or kind in kinds

    found = coordinates(q) if wanted("coordinates") else []
    if found:
        return found
    parts = [p for p in CROSSING.split(q, maxsplit=1) if p]
    if len(parts) == 2 and wanted("crossing"):
        for r in store.search_crossings(conn, parts[0], parts[1].removesuffix("交叉口"),
                                        only=only):
            found.append({"kind": "crossing", "lon": r["lon"], "lat": r["lat"],
                          "label": crossing_text(r["name_a"], r["name_b"], lang)})
        return found
    if wanted("street"):
        for r in store.search_streets(conn, q, only=only):
            found.append({"kind": "street", "id": r["name"], "lon": r["lon"], "lat": r["lat"],
                          "bounds": _bounds(r),
                          "label": f"{r['name']} · {label('street', lang)}"})
    if wanted("area"):
        for r in store.search_areas(conn, q, only=only):
            kind = label(r["level"] if r["level"] in ("community", "district") else "area",
                         lang)
            parent = f"（{r['parent']}）" if r["parent"] else ""
            found.append({"kind": r["level"], "id": r["id"], "name": r["name"],
                          "lon": r["lon"], "lat": r["lat"], "bounds": _bounds(r),
                          "label": f"{r['name']}{parent} · {kind}"})
    hazards = who.grant(Resource.HAZARDS)
    if hazards in (Grant.ALL, Grant.SCOPED) and wanted("hazard"):
        for r in store.search_hazards(conn, q, within=who.within(Resource.HAZARDS)):
            where = place_text(Place(r["street"], r["cross_a"], r["cross_b"]), lang) \
                if r["street"] else ""
            found.append({"kind": "hazard", "id": r["id"], "lon": r["lon"], "lat": r["lat"],
                          "label": " · ".join(p for p in (r["name"], where, r["community"])
                                              if p)})
    people = who.grant(Resource.PEOPLE)
    if people in (Grant.ALL, Grant.SCOPED) and wanted("volunteer"):
        for r in store.search_volunteers(conn, q, within=who.within(Resource.PEOPLE)):
            found.append({"kind": "volunteer", "id": r["number"], "lon": r["lon"],
                          "lat": r["lat"],
                          "label": f"{r['number']} {mask_name(r['name'])} · {r['community']}"})
    return found


#: A click this near the street chosen by name is a place on it (metres): the form's map
#: shows the street whole, kilometres in a phone's width, where a finger is ~100 m wide.
ON_STREET_M = 300.0


def place_name(conn: Connection, lon: float, lat: float, *, lang: str,
               street: str | None = None, who: Principal | None = None) -> dict[str, Any]:
    """A point picked on a form's map named as the pages name places: the street nearest it
    and its cross streets ("钢铁大街（阿尔丁大街—民族东路）"), then its community; its
    coordinates when no street is near. ``inside``: whether it lies in one of the city's
    communities (a form refuses a place outside them). With ``street`` (a street chosen by
    name, the map asking for a click on it), a point within :data:`ON_STREET_M` of it is
    moved onto it (its ``lon`` and ``lat`` in the answer) and named by it, not by a cross
    street nearer the click (``words``: its name in Chinese). With ``who`` (a form that
    takes the user's own communities only), a place inside the city but outside those says
    so: ``mine`` false, and the communities it may be in (``allowed``)."""
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return {"label": None, "inside": False}
    on = store.place_on_street(conn, lon, lat, street, ON_STREET_M) if street else None
    at = on or store.place_at(conn, lon, lat)
    def label_in(lang_: str) -> str:
        named = place_text(Place(at["street"], at["cross_a"], at["cross_b"]), lang_) \
            if at["street"] else f"{lat:.5f}, {lon:.5f}"
        return " · ".join(p for p in (named, at["community"]) if p)

    # ``words``: the place as a message to volunteers names it, in Chinese whatever the
    # page's language (a notice's place words, read on the volunteers' phones)
    answer = {"label": label_in(lang), "words": label_in("zh"),
              "inside": at["community"] is not None}
    if on is not None:
        answer |= {"lon": round(on["lon"], 6), "lat": round(on["lat"], 6)}
    if who is not None and who.community_ids is not None and answer["inside"]:
        point = answer.get("lon", lon), answer.get("lat", lat)
        if ledger_store.community_at(conn, *point) not in who.community_ids:
            answer |= {"mine": False,
                       "allowed": communities_named(conn, who.community_ids)}
    return answer


def street_line(conn: Connection, name: str) -> dict[str, Any] | None:
    """A street chosen by name, for the form's map to draw: its pieces as GeoJSON."""
    line = store.street_line(conn, name[:MAX_QUERY])
    return None if line is None else json.loads(line)
