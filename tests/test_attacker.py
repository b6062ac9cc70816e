"""An attacker's walk over the whole web app: every URL rule, for every role and anonymous, in
two cities, with the ids of one's own city, of the other city and out of range, holding the
access matrix of ``geo_patrol/access.py`` route by route; the payloads of ``test_xss`` in every
query parameter and form field the routes read; and the README's table against the matrix.

The second city (Chifeng) holds the demo's files again, under ids from 1,000,000: no id of one
city names a record of the other, so asking one city for the other's id must find nothing.
Every area and hazard name and every roster number carries its city's marker (``QZA``,
``QZB``); no answer to an account of one city may carry another city's marker. A third city
(Wuhai) holds the same files under the same ids as Baotou, as any two cities of a deployment
do (each schema counts from 1): what one city computed must never be served to the other.
"""

from __future__ import annotations

import datetime as dt
import inspect
import io
import json
import re
import time
import types
from collections import Counter
from urllib.parse import urlencode

import pytest
import sqlalchemy as sa
from PIL import Image

from geo_patrol.access import MATRIX, Grant, Resource, Role
from geo_patrol.cities import City
from tests.conftest import DEMO_UNTIL, REPO, city_engine
from tests.helpers import PASSWORD, make_user, sign_in
from tests.test_xss import PAYLOADS

A, B, C = "baotou", "chifeng", "wuhai"
CITIES = {B: City(key=B, name="赤峰市", name_en="Chifeng", timezone="Asia/Shanghai"),
          C: City(key=C, name="乌海市", name_en="Wuhai", timezone="Asia/Shanghai")}
MARK = {A: "QZA", B: "QZB", C: "QZC"}
ROLES = ("command", "officer", "planner", "volunteer", "admin")
WHO = ROLES + ("anonymous",)
DAY = "2026-11-27"
#: Chifeng's records are numbered from here (Baotou's demo stays far below it).
OFFSET = 1_000_000
#: An id within the column's range that no city uses, and one beyond it (no route matches).
ABSENT, OVERFLOW = 2**31 - 1, "99999999999999999999"
#: The most requests the whole module may send.
BUDGET = 5_000

#: Path parameters that name a record (varied: own city, other city, absent, overflow).
ID_PARAMS = {"run_id", "area_id", "district_id", "volunteer_id", "hazard_id", "campaign_id",
             "rota_id", "task_id", "callout_id", "device_id", "report_id", "media_id",
             "job_id", "notice_id", "message_id"}
#: Path parameters that name no record: one fixed, valid value each.
FIXED = {"layer": "gaps", "fmt": "geojson", "z": 14, "x": 13178, "y": 6143, "code": "en",
         "name": "leaflet.js", "filename": "app.js", "copy": "thumb"}

#: What a route needs in its query to do its work rather than answer 400 (ids of the city
#: the variant names); a route that reads ``run`` also gets the run.
QUERIES = {
    "api.tracks": "area={area_id}&day=" + DAY,
    "api.run_gaps": "area={area_id}", "api.run_hazards": "area={area_id}",
    "api.run_areas": "level=community",
    "rota.api_rotas": "area={area_id}",
    "pages.dashboard": "district={district_id}",
    "planner.planner_page": "area={area_id}&zones=2&minutes=30",
    "planner.plan_map": "area={area_id}&zones=2&minutes=30",
    "planner.plan_export": "area={area_id}&zones=2&minutes=30",
    "planner.plan_briefing": "area={area_id}&zones=2&minutes=30",
    "planner.plan_api": "area={area_id}&zones=2&minutes=30",
    "planner.force_csv": "area={area_id}", "planner.api_force": "area={area_id}",
    "rota.rota_map_page": "rota={rota_id}", "rota.rota_csv": "rota={rota_id}",
    "rota.rota_export": "rota={rota_id}", "rota.rota_briefing": "rota={rota_id}",
    "training.batches_csv": "course={course}", "training.api_batches": "course={course}",
    "live.live_page": "callout={callout_id}", "live.live_map": "callout={callout_id}",
    "live.live_dispatch": "callout={callout_id}", "live.live_feed": "callout={callout_id}",
    "campaigns.campaigns_page": "id={campaign_id}",
    "maps.place_name": "lon=109.84&lat=40.65",
    "maps.street_line": "name=钢铁大街",
    **{f"crime.{e}": "area={area_id}&days=30" for e in (
        "crime_page", "crime_map", "hotspots_csv", "knox_csv", "evaluation_csv",
        "api_hotspots", "api_patterns", "api_near_repeat", "api_evaluation")},
}

#: Views the ``requires`` decorator does not mark, and what they need (checked in the view).
UNMARKED = {
    "pages.index": None,      # any account: sent on to the dashboard or to /me
    "api.me": None,           # any account: who it is
    "pages.me": None,         # a volunteer's own page (404 for an account with no roster row)
    "maps.base_tiles": None,  # any account: the base map (streets and area outlines)
    "maps.search": None,      # any account: places; records only as the role's grants allow
    "maps.place_name": None,  # any account: the street and community of a point
    "maps.street_line": None,  # any account: a street's line on a form's map
}
#: Pages a reader may open whose form (POST) needs a further grant, checked in the view.
POST_NEEDS = {
    "campaigns.campaigns_page": (Resource.CAMPAIGNS, "write"),
    "live.devices_page": (Resource.DEVICES, "write"),
    "training.training_page": (Resource.TRAINING, "write"),
}
#: Endpoints that take JSON, or a file.
JSON_POSTS = {"api.send_report", "live.api_call_out"}
FILE_POSTS = {"api.upload_track", "pages.upload", "planner.upload_force"}

#: The head of each payload's markup: seen raw in an HTML page, the payload was written as
#: markup, not text. Only the head is looked for, as the app may repeat only the first
#: characters of what was typed (none of these is in the app's own markup).
LIVE = ["<img src=x", "<svg onload", '<a href="javascript:', "</script><script>window",
        "<iframe srcdoc", "<details open ontoggle"]
JS_URL = re.compile(r"""(?:href|src|action|formaction|srcdoc|data)\s*=\s*["']?\s*javascript:""",
                    re.I)
BASE64 = re.compile(r"base64,[A-Za-z0-9+/=\s]+")
CSRF_TOKEN = re.compile(r'(?:name="csrf-token" content|name="csrf_token" value)="[^"]*"')
#: A Content-Security-Policy's script hashes and nonces: random letters too
CSP_TOKENS = re.compile(r"sha256-[A-Za-z0-9+/=]+|nonce-[A-Za-z0-9+/=_-]+|nonce=\"[^\"]*\"")
TEXTUAL = ("text/", "application/json", "application/geo+json", "application/javascript")


# --- the world --------------------------------------------------------------------------

def _copy_demo(demo_world, engine, settings, key: str, kinds: set[str]) -> None:
    """The demo's files of ``kinds`` (never the tracks) in city ``key``; the streets copied
    from Baotou's schema rather than read from the OSM file again (the same segments)."""
    from geo_patrol.demo.generate import Manifest
    from geo_patrol.services.demo import BAOTOU_DISTRICTS
    from geo_patrol.services.sources import SOURCES, load_boundaries

    load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                    code_field="adcode", settings=settings)
    cols = ["osm_way_id", "u", "v", "key", "piece", "node_from", "node_to", "highway", "name",
            "length_m", "geom", "geom_m"]
    for entry in Manifest.read(demo_world["files"]).files:
        if entry["kind"] not in kinds:
            continue
        if entry["kind"] == "streets":
            with engine.begin() as conn:
                conn.execute(sa.text(
                    f"INSERT INTO city_{key}.street_segments ({', '.join(cols)}, area_id) "
                    f"SELECT {', '.join('s.' + c for c in cols)}, b.id "
                    "FROM city_baotou.street_segments s "
                    "LEFT JOIN city_baotou.areas a ON a.id = s.area_id "
                    f"LEFT JOIN city_{key}.areas b ON (b.level, b.name, b.code) "
                    "IS NOT DISTINCT FROM (a.level, a.name, a.code) ORDER BY s.id"))
            continue
        options = {k: v for k, v in entry.items() if k not in ("kind", "path")}
        SOURCES[entry["kind"]](engine, demo_world["files"] / entry["path"], settings=settings,
                               **options)


def _mark(engine, key: str) -> None:
    """Every area and hazard name and roster number of city ``key`` carries its marker."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE areas SET name = name || :m"), {"m": MARK[key]})
        conn.execute(sa.text("UPDATE hazards SET name = name || :m"), {"m": MARK[key]})
        conn.execute(sa.text("UPDATE volunteers SET number = :m || substr(number, 3)"),
                     {"m": MARK[key]})


def _records(engine, settings, key: str) -> dict:
    """One account per role and one record of every kind a route names by id: a community
    and its district with a roster row, an officer's proposal, a campaign, a phone, a
    call-out, a task and a rota."""
    from geo_patrol.services import callouts, campaigns, notify, rota, scope, tasks
    from geo_patrol.services.devices import add_device
    from geo_patrol.store import jobs as jobs_store
    from geo_patrol.store.accounts import authenticate

    with engine.connect() as conn:
        # the community with the fewest streets that has volunteers, hazards and results:
        # its plans, maps and tracks are the quickest to draw
        area, area_name = conn.execute(sa.text(
            "SELECT a.id, a.name FROM areas a JOIN street_segments s ON s.area_id = a.id "
            "WHERE a.level = 'community' AND EXISTS (SELECT FROM volunteers v WHERE "
            "v.community_id = a.id) AND EXISTS (SELECT FROM hazards h WHERE "
            "h.community_id = a.id) AND EXISTS (SELECT FROM area_results r WHERE "
            "r.area_id = a.id) GROUP BY a.id ORDER BY count(*), a.id LIMIT 1")).one()
        # the district with the fewest streets: its briefing and maps are the quickest
        district = conn.execute(sa.text(
            "WITH t AS (SELECT d.id AS d, area_subtree(d.id) AS a FROM areas d "
            "WHERE d.level = 'district') SELECT t.d FROM t JOIN street_segments s "
            "ON s.area_id = t.a GROUP BY t.d ORDER BY count(*), t.d LIMIT 1")).scalar_one()
        volunteer_id, number = conn.execute(sa.text(
            "SELECT id, number FROM volunteers WHERE community_id = :a ORDER BY id LIMIT 1"),
            {"a": area}).one()
        lon, lat = conn.execute(sa.text(
            "SELECT ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM areas "
            "WHERE id = :a"), {"a": area}).one()
        run = conn.execute(sa.text("SELECT max(id) FROM analysis_runs")).scalar_one()
        hazards = conn.execute(sa.text(
            "SELECT id FROM hazards WHERE community_id = :a ORDER BY id LIMIT 2"),
            {"a": area}).scalars().all()
        course = conn.execute(sa.text("SELECT min(name) FROM courses")).scalar_one() or "急救"
    for role in ROLES:
        options = {"officer": {"areas": [area_name]},
                   "volunteer": {"volunteer": number}}.get(role, {})
        make_user(engine, f"atk-{role}", role, **options)
    command = authenticate(engine, "atk-command", PASSWORD)
    officer = authenticate(engine, "atk-officer", PASSWORD)
    proposal = scope.record_hazard(engine, settings, officer, category="school",
                                   name=f"proposal {MARK[key]}", lon=lon, lat=lat)
    campaign = campaigns.create(engine, settings, name=f"campaign {MARK[key]}",
                                starts_on=dt.date(2026, 11, 1), ends_on=dt.date(2026, 12, 31),
                                districts=[district], categories=["school"], by="atk")
    add_device(engine, f"phone-{key}", number)
    callout = callouts.call_out(engine, settings, command, lon=lon, lat=lat, category="fight",
                                note=f"call-out {MARK[key]}", count=2)
    task = tasks.make_task(engine, settings, hazard_id=hazards[0],
                           day=dt.date.today() + dt.timedelta(days=2), slot="morning",
                           by="atk", number=number)
    rota_id, _ = rota.create(engine, settings, area_id=area, start=dt.date(*DEMO_UNTIL), days=1,
                             revisit_days=1, minutes=30, by="atk", time_limit=5,
                             per_community=1)
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), (90, 90, 90)).save(picture, "JPEG")
    report = scope.send_report(engine, settings, authenticate(engine, "atk-volunteer", PASSWORD),
                               category="suspicious", text=f"report {MARK[key]}", lon=lon,
                               lat=lat, photos=[("photo.jpg", picture.getvalue())])
    with engine.connect() as conn:
        media = conn.execute(sa.text("SELECT id FROM report_media WHERE report_id = :r"),
                             {"r": report}).scalar_one()
    # a notice with a photo, sent to the community's volunteers (the message is one of theirs)
    notice, _ = notify.broadcast(engine, settings, command, kind="missing",
                                 title=f"notice {MARK[key]}", body=f"notice {MARK[key]}",
                                 place=None, lon=lon, lat=lat, radius_m=2000,
                                 photo=("photo.jpg", picture.getvalue()))
    with engine.connect() as conn:
        message = conn.execute(sa.text(
            "SELECT id FROM notify_messages WHERE ref = :r ORDER BY volunteer_id = :v DESC, "
            "id LIMIT 1"), {"r": f"notice {notice}", "v": volunteer_id}).scalar_one()
    with engine.begin() as conn:  # a job the command asked for (its status is theirs)
        job = jobs_store.insert_job(conn, kind="zones", key=f"atk-{key}",
                                    params={"area_id": area}, by="atk-command")
    return {"run_id": run, "area_id": area, "district_id": district, "job_id": job,
            "volunteer_id": volunteer_id, "hazard_id": proposal, "campaign_id": campaign,
            "device_id": f"phone-{key}", "callout_id": callout, "task_id": task,
            "rota_id": rota_id, "report_id": report, "media_id": media,
            "notice_id": notice, "message_id": message,
            "course": course, "number": number, "lon": lon, "lat": lat,
            "hazard": hazards[-1]}


def _csrf(client) -> str:
    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


@pytest.fixture(scope="module")
def world(demo_world):
    """Baotou (the demo), Chifeng (the same files, ids from 1,000,000) and Wuhai (the same
    files, the same ids as Baotou), each with one account per role, signed in."""
    from geo_patrol.services.analysis import analyze
    from geo_patrol.services.demo import last_days
    from geo_patrol.services.intake import Intake, Intakes
    from web import create_app

    started = time.monotonic()
    url = demo_world["url"]
    engines, settings = {A: demo_world["engine"]}, {A: demo_world["settings"]}
    for key in (B, C):
        engines[key] = city_engine(url, CITIES[key])
        # one data directory: one deployment secret, which the ID numbers are sealed with
        settings[key] = demo_world["settings"].with_(city=key)
    with engines[B].begin() as conn:
        for seq in conn.execute(sa.text(
                "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE c.relkind = 'S' AND n.nspname = 'city_chifeng'")).scalars().all():
            conn.execute(sa.text(f"SELECT setval('city_chifeng.{seq}', {OFFSET})"))
    for key, kinds in ((B, {"boundaries", "streets", "volunteers", "hazards", "reports"}),
                       (C, {"boundaries", "streets", "volunteers"})):
        _copy_demo(demo_world, engines[key], settings[key], key, kinds)
        analyze(engines[key], *last_days(dt.date(*DEMO_UNTIL), 2), settings=settings[key])
    for key in (A, B, C):
        _mark(engines[key], key)
    ids = {key: _records(engines[key], settings[key], key) for key in (A, B)}
    assert min(v for v in ids[B].values() if isinstance(v, int)) > OFFSET
    make_user(engines[C], "atk-command", "command")
    # the position intake of /osmand, without the coverage workers the server would start
    intake = Intakes({key: Intake(engines[key], settings[key]) for key in (A, B, C)})
    app = create_app({
        "TESTING": True, "GEO_PATROL_INTAKE": intake,
        "GEO_PATROL_LOGIN_LIMIT": "100000 per minute", "GEO_PATROL_LOGIN_BACKOFF_AFTER": 100000,
        "GEO_PATROL_SETTINGS": demo_world["settings"].with_(city=None)})
    clients = {}
    for key in (A, B, C):
        for role in (WHO if key != C else ("command",)):
            client = app.test_client()
            client.csrf = _csrf(client) if role == "anonymous" else \
                sign_in(client, f"atk-{role}", city=key)
            clients[key, role] = client
    print(f"world: two more cities, {len(clients)} accounts signed in, "
          f"{time.monotonic() - started:.1f} s")
    yield {"app": app, "engines": engines, "settings": settings, "ids": ids,
           "clients": clients}
    intake.close()
    for key in (B, C):
        engines[key].dispose()
    for engine in app.extensions.get("geo_patrol_engines", {}).values():
        engine.dispose()
    if "geo_patrol_deployment" in app.extensions:
        app.extensions["geo_patrol_deployment"].dispose()


# --- sending, and what every answer is checked for --------------------------------------

class Attacker:
    """Sends requests as one of the world's clients and notes what no answer may do: fail
    with a 5xx, carry another city's marker, or show a payload as live markup."""

    sent = 0
    seconds: Counter = Counter()

    def __init__(self, world) -> None:
        self.world = world
        self.problems: list[str] = []
        self.escaped = 0  # HTML answers that showed a payload, as text

    def send(self, city: str, who: str, method: str, url: str, *, form: dict | None = None,
             body: dict | None = None, upload: tuple[bytes, str] | None = None,
             headers: dict | None = None, client=None, tag: str = ""):  # noqa: ANN201
        Attacker.sent += 1
        assert Attacker.sent <= BUDGET, "the attacker's request budget is spent"
        client = client or self.world["clients"][city, who]
        kwargs: dict = {"headers": dict(headers or {})}
        if method == "POST":
            kwargs["headers"].setdefault("X-CSRFToken", client.csrf)
            if body is not None:
                kwargs["json"] = body
            else:
                data = {"csrf_token": client.csrf, **(form or {})}
                if upload is not None:
                    data["file"] = (io.BytesIO(upload[0]), upload[1])
                    kwargs["content_type"] = "multipart/form-data"
                kwargs["data"] = data
        started = time.monotonic()
        resp = client.open(url, method=method, **kwargs)
        Attacker.seconds[tag or url.split("?")[0]] += time.monotonic() - started
        self.check(city, who, method, url, resp)
        return resp

    def note(self, *what: object) -> None:
        self.problems.append(" ".join(map(str, what)))

    def check(self, city: str, who: str, method: str, url: str, resp) -> None:  # noqa: ANN001
        where = f"{who}@{city} {method} {url[:160]} -> {resp.status_code}"
        if resp.status_code >= 500:
            self.note("server error:", where, resp.get_data(as_text=True)[:200])
        location = resp.headers.get("Location", "")
        if location.lower().lstrip().startswith(("javascript:", "//", "/\\")) or \
                "<" in location or "://" in location.split("?")[0][:12] and \
                "localhost" not in location:
            self.note("redirect off the site:", where, location[:120])
        if resp.direct_passthrough or not resp.mimetype.startswith(TEXTUAL):
            return
        # random tokens (data URIs, the CSRF token, CSP hashes) are no city's data: a marker's
        # letters can turn up in them by chance
        text = CSP_TOKENS.sub("", CSRF_TOKEN.sub("", BASE64.sub("", resp.get_data(as_text=True))))
        if method == "POST" and resp.status_code == 400 and "CSRF" in text:
            self.note("the CSRF token was refused:", where)
        for other, mark in MARK.items():
            if other != city and mark in text:
                at = text.index(mark)
                self.note(f"{other}'s data to an account of {city}:", where,
                          repr(text[max(0, at - 80):at + 20]))
        if resp.mimetype == "text/html":
            self.escaped += "window.__xss" in text
            for head in LIVE:
                if head in text:
                    at = text.index(head)
                    self.note("payload live in HTML:", where, repr(text[max(0, at - 60):at + 60]))
            for hit in JS_URL.finditer(text):
                if "__xss" in text[hit.end():hit.end() + 20]:
                    self.note("javascript: URL from a payload:", where,
                              repr(text[hit.start():hit.end() + 30]))

    def done(self, what: str) -> None:
        print(f"{what}: {Attacker.sent} requests so far")
        for p in self.problems:
            print("PROBLEM", p[:300])
        assert not self.problems, f"{len(self.problems)} problems:\n" + "\n".join(
            self.problems[:40])


def test_the_checks_see_what_they_look_for():
    """The checks every answer goes through notice a 5xx, another city's marker, a payload
    left live (cut short, too), a ``javascript:`` URL and a redirect off the site; and pass a
    payload shown as text."""
    from flask import Response
    from markupsafe import escape

    def problems(body: str, status: int = 200, mimetype: str = "text/html",
                 location: str = "") -> list[str]:
        attacker = Attacker(None)
        resp = Response(body, status, mimetype=mimetype,
                        headers={"Location": location} if location else {})
        attacker.check(A, "command", "GET", "/x", resp)
        return attacker.problems

    for payload in PAYLOADS:
        assert not problems(f"<p>{escape(payload)}</p>"), payload
        assert not problems(json.dumps({"name": payload}), mimetype="application/json")
    for payload in PAYLOADS:
        if "<" in payload and "<%" not in payload:
            assert problems(f"<p>{payload}</p>"), payload
            head = next(h for h in LIVE if h in payload)  # every payload's markup has a head
            assert problems(f"<p>{payload[:payload.index(head) + len(head)]}"), payload
    assert problems('<a href="javascript:window.__xss=3">x</a>')
    assert problems("oops", 500) and problems("[]", 503, "application/json")
    assert problems(f'{{"name": "凯旋一社区{MARK[B]}"}}', mimetype="application/json")
    assert not problems(f'{{"name": "凯旋一社区{MARK[A]}"}}', mimetype="application/json")
    assert not problems(f"<img src='data:image/png;base64,AAA{MARK[B]}AAA='>")
    assert problems("", 302, location="//evil.example/")
    assert problems("", 302, location="javascript:alert(1)")
    assert not problems("", 302, location="/login?city=chifeng&next=/dashboard")


# --- the routes -------------------------------------------------------------------------

def _routes(app) -> list[tuple[object, str]]:
    """(rule, method) for every rule of the app and every method it answers."""
    return sorted(((rule, method) for rule in app.url_map.iter_rules()
                   for method in sorted(rule.methods - {"HEAD", "OPTIONS"})),
                  key=lambda rm: (rm[0].rule, rm[1]))


def _functions(fn, seen: set) -> list:
    """``fn`` and every function of the web package it names, and they name, and so on."""
    fn = inspect.unwrap(fn)
    if fn in seen:
        return []
    seen.add(fn)
    found, codes = [fn], [fn.__code__]
    while codes:
        code = codes.pop()
        codes += [c for c in code.co_consts if isinstance(c, types.CodeType)]
        for name in code.co_names:
            obj = fn.__globals__.get(name)
            if isinstance(obj, types.FunctionType) and obj.__module__.startswith("web."):
                found += _functions(obj, seen)
    return found


_QUERY_READS = (r'request\.args\.get\(\s*"(\w+)"', r'request\.args\[\s*"(\w+)"',
                r'\bint_arg\(\s*"(\w+)"', r'\bfloat_arg\(\s*"(\w+)"',
                r'request\.values\.get\(\s*"(\w+)"')
_FORM_READS = (r'request\.form\.get(?:list)?\(\s*"(\w+)"', r'\bform\.get(?:list)?\(\s*"(\w+)"',
               r'\bform\[\s*"(\w+)"', r'request\.values\.get\(\s*"(\w+)"',
               r'\bbody\.get\(\s*"(\w+)"', r'\bbody\[\s*"(\w+)"')
_LOOPED = r'request\.{}\.get\((\w+)\b[^\n]*?\bfor\s+\1\s+in\s+(\([^)]*\)|\w+)'


def _reads(view) -> tuple[set[str], set[str]]:
    """The query parameters and the form (or JSON) fields a view reads, found in its source
    and that of the web functions it calls (``request.args.get("x")``, ``int_arg("x")``,
    ``form.get("x")``, ``{k: request.form.get(k) for k in (...)}``...)."""
    query, form = set(), set()
    for fn in _functions(view, set()):
        source = inspect.getsource(fn)
        for pattern in _QUERY_READS:
            query |= set(re.findall(pattern, source))
        for pattern in _FORM_READS:
            form |= set(re.findall(pattern, source))
        for kind, into in (("args", query), ("form", form)):
            for _var, names in re.findall(_LOOPED.format(kind), source):
                if names.startswith("("):
                    into |= set(re.findall(r'"(\w+)"', names))
                else:
                    into |= {str(n) for n in fn.__globals__[names]}
        # a paged table's filters, named where the view asks for its page (web.params)
        for owner, attr in re.findall(r'filters=(?:(\w+)\.)?([A-Z_]+_FILTERS)', source):
            names = getattr(fn.__globals__[owner], attr) if owner else fn.__globals__[attr]
            query |= {str(n) for n in names}
        if "request.files" in source:
            form.add("file")
    return query, form


def _needs(app, endpoint: str, method: str) -> tuple[Resource, str] | None:
    """The (resource, action) a request needs: the ``requires`` decorator's mark, else the
    tables above."""
    if method == "POST" and endpoint in POST_NEEDS:
        return POST_NEEDS[endpoint]
    view = app.view_functions[endpoint]
    return getattr(view, "required", None) or UNMARKED.get(endpoint)


def _values(ids: dict, variant: str) -> dict:
    """Path and query values: the ids of a city, or none that exists, or out of range."""
    if variant in ("absent", "overflow"):
        named = {k: ABSENT if variant == "absent" else OVERFLOW for k in ID_PARAMS}
        return {**FIXED, **named, "device_id": "no-such-phone", "course": "no-such-course"}
    return {**FIXED, **{k: ids[k] for k in ID_PARAMS}, "course": ids["course"]}


def _query(rule, values: dict, reads: set[str]) -> dict[str, str]:
    query = dict(q.split("=", 1) for q in QUERIES.get(rule.endpoint, "").format(
        **values).split("&") if q)
    if "run" in reads:
        query["run"] = str(values["run_id"])
    return query


def _url(rule, values: dict, query: dict[str, str]) -> str:
    path = rule.build(values, append_unknown=False)[1]
    return f"{path}?{urlencode(query)}" if query else path


def _named(rule, reads: set[str]) -> bool:
    """Whether the route names a record by id (in its path, or in a query it reads)."""
    return bool(ID_PARAMS & set(rule.arguments)) or bool(
        {"run", "area", "district", "rota", "callout", "id"} & reads)


def _expected(app, rule, method: str, who: str, variant: str) -> set[int]:
    """The codes the README's access matrix allows."""
    from web.auth import PUBLIC

    endpoint = rule.endpoint
    if variant == "overflow":
        return {404}  # no route matches an id beyond the column's range
    if endpoint in PUBLIC:  # sign-in fails without a password; a phone without an id
        return {200, 302, 400, 401, 404} if endpoint in ("auth.login", "live.osmand") \
            else {200, 302}
    if who == "anonymous":
        return {401}
    needs = _needs(app, endpoint, method)
    if needs is None:
        return {"pages.index": {302}, "api.me": {200}, "maps.base_tiles": {200},
                "maps.search": {200}, "maps.place_name": {200},
                "maps.street_line": {200, 404},  # 404: no street of that name
                "pages.me": {200} if who == "volunteer" else {404}}[endpoint]
    grant = MATRIX.get(needs, {}).get(Role(who))
    if grant is None:
        return {403}
    if variant != "own" and ID_PARAMS & set(rule.arguments):
        allowed = {404} if method == "GET" else {400, 404}  # a form is checked first
        if endpoint == "maps.segment_tiles":
            allowed.add(200)  # a tile of a run not stored is empty (checked below)
    else:
        allowed = {200, 201, 202, 302, 303, 400, 404, 409}
    if grant in (Grant.OWN, Grant.AGGREGATE):
        allowed.add(403)  # lists and raw records are not for own-only or aggregate roles
    return allowed


def _reaching(app, rule, method: str, i: int) -> tuple[str, ...]:
    """The roles the matrix lets through to a route (the ids are theirs to be refused), and
    one role it stops, in turn (the refusal comes before any id is looked at)."""
    needs = _needs(app, rule.endpoint, method)
    granted = tuple(r for r in ROLES if needs is None or Role(r) in MATRIX.get(needs, {}))
    refused = [r for r in ROLES if r not in granted]
    return granted + ((refused[i % len(refused)],) if refused else ())


def _empty(rule, method: str) -> dict:
    """An empty-handed request to a route (JSON, or a form with the CSRF token)."""
    if method != "POST":
        return {}
    return {"body": {}} if rule.endpoint in JSON_POSTS else {"form": {}}


def test_every_url_rule_is_known_to_this_suite(world):
    """A new route, or a path parameter, must be placed here before it is walked: every view
    is marked by ``requires`` or listed in UNMARKED (or PUBLIC), every path parameter is
    known."""
    from web.auth import PUBLIC

    app = world["app"]
    unmarked = {rule.endpoint for rule in app.url_map.iter_rules()
                if rule.endpoint not in PUBLIC
                and getattr(app.view_functions[rule.endpoint], "required", None) is None}
    assert unmarked == set(UNMARKED)
    for rule in app.url_map.iter_rules():
        assert set(rule.arguments) <= ID_PARAMS | set(FIXED), rule.rule
    for endpoint, needs in {**POST_NEEDS, **UNMARKED}.items():
        assert needs is None or needs in MATRIX, endpoint
    assert {e for e in QUERIES} <= set(app.view_functions)
    # the scan of what views read finds what they are known to read
    query, form = _reads(app.view_functions["pages.hazards"])
    assert {"category", "status", "run"} <= query
    query, form = _reads(app.view_functions["api.upload_track"])
    assert {"crs", "tz", "volunteer", "file"} <= form
    query, form = _reads(app.view_functions["training.training_page"])
    assert {"course", "held_on", "present"} <= form and "community" in query
    for endpoint in FILE_POSTS:
        assert "file" in _reads(app.view_functions[endpoint])[1], endpoint
    for endpoint in JSON_POSTS:
        assert {"lon", "lat", "category"} <= _reads(app.view_functions[endpoint])[1], endpoint


# --- 1. every route, role, city and id --------------------------------------------------

def test_every_route_holds_the_matrix_for_every_role_in_both_cities(world):
    """Every rule × method × role (and anonymous) × city with the ids of one's own city and
    of the other city, and (in Baotou) with ids no city uses and ids out of range: the
    matrix's code, never a 5xx, never another city's data."""
    from web.auth import PUBLIC

    app, ids = world["app"], world["ids"]
    attacker = Attacker(world)
    codes: Counter = Counter()
    walked = 0
    for i, (rule, method) in enumerate(_routes(app)):
        if rule.endpoint == "auth.logout" and method == "POST":
            continue  # signing out ends the session: tested on its own below
        reads, _ = _reads(app.view_functions[rule.endpoint])
        plan = [(A, "own"), (B, "own")]
        if _named(rule, reads):
            plan += [(A, "other"), (B, "other"), (A, "absent")]
        if (ID_PARAMS - {"device_id"}) & set(rule.arguments):
            plan.append((A, "overflow"))
        for city, variant in plan:
            other = B if city == A else A
            values = _values(ids[other if variant == "other" else city], variant)
            url = _url(rule, values, _query(rule, values, reads))
            if rule.endpoint in PUBLIC:  # the same for everyone: anonymous and one role
                clients = ("anonymous", ROLES[i % len(ROLES)])
            elif variant == "own":
                clients = WHO
            elif variant == "overflow":
                clients = ("anonymous", ROLES[i % len(ROLES)])
            elif variant == "other":  # the roles that get as far as the ids, and one not
                clients = _reaching(app, rule, method, i)
            else:
                clients = _reaching(app, rule, method, i)[:-1] or ("command",)
            for who in clients:
                resp = attacker.send(city, who, method, url, **_empty(rule, method),
                                     tag=f"{rule.endpoint} {method} {variant} {city}")
                codes[resp.status_code] += 1
                walked += 1
                allowed = _expected(app, rule, method, who, variant)
                if resp.status_code not in allowed:
                    attacker.note("outside the matrix:", f"{who}@{city}", method, url,
                                  variant, resp.status_code, "allowed", sorted(allowed),
                                  resp.get_data(as_text=True)[:150].replace("\n", " "))
                elif variant != "own" and ID_PARAMS & set(rule.arguments) and \
                        resp.status_code == 200 and resp.get_data():
                    attacker.note("a record of no city of this account answered:",
                                  f"{who}@{city}", method, url, len(resp.get_data()))
    print("codes", dict(codes))
    slow = sorted(Attacker.seconds.items(), key=lambda kv: -kv[1])[:5]
    for url, s in slow:
        print(f"{s:7.2f}s {url}")
    print(f"matrix walk: {walked} requests, {len(_routes(app))} rule × method pairs")
    attacker.done("matrix walk")


def test_another_citys_pages_send_to_its_sign_in_and_its_api_refuses(world):
    """An account of one city asking for the other (``?city=``): a page is sent to that city's
    sign-in, the API and every form answer 403 — on every route, each role in turn."""
    from web.db import NO_CITY

    app, ids = world["app"], world["ids"]
    attacker = Attacker(world)
    asked = 0
    for i, (rule, method) in enumerate(_routes(app)):
        if rule.endpoint in NO_CITY or (rule.endpoint, method) == ("auth.logout", "POST"):
            continue
        for city, other in ((A, B), (B, A)):
            who = ROLES[(i + (city == B)) % len(ROLES)]
            values = _values(ids[city], "own")
            query = {**_query(rule, values, _reads(app.view_functions[rule.endpoint])[0]),
                     "city": other}
            url = _url(rule, values, query)
            resp = attacker.send(city, who, method, url, **_empty(rule, method))
            asked += 1
            code, location = resp.status_code, resp.headers.get("Location", "")
            if rule.endpoint == "auth.login":  # signing in is how one changes city
                ok = code in (200, 401)
            elif method == "GET" and not rule.rule.startswith("/api/"):
                ok = code == 302 and f"/login?city={other}" in location
            else:
                ok = code == 403
            if not ok:
                attacker.note("another city answered:", f"{who}@{city}", method, url, code,
                              location)
    # a city that does not exist is not found, for anyone
    for who in ("command", "anonymous"):
        for path in ("/dashboard?city=nowhere", "/api/runs?city=nowhere"):
            resp = attacker.send(A, who, "GET", path)
            asked += 1
            if resp.status_code != 404:
                attacker.note("an unknown city answered:", who, path, resp.status_code)
    print(f"city switch: {asked} requests")
    attacker.done("city switch")


def test_api_tokens_answer_only_in_their_own_city(world):
    """A bearer token is its city's: every GET of the API answers by the matrix with it, and
    401 when the request names the other city."""
    from geo_patrol.store.accounts import issue_token

    app, ids = world["app"], world["ids"]
    attacker = Attacker(world)
    asked = 0
    for city, other in ((A, B), (B, A)):
        bearer = {"Authorization": "Bearer " + issue_token(world["engines"][city],
                                                           "atk-command", "attacker")}
        client = app.test_client()
        client.csrf = ""
        for rule, method in _routes(app):
            if method != "GET" or not rule.rule.startswith("/api/") or \
                    rule.endpoint in ("api.health", "api.openapi"):
                continue
            reads, _ = _reads(app.view_functions[rule.endpoint])
            values = _values(ids[city], "own")
            query = _query(rule, values, reads)
            # the token's own city: the matrix (a few cheap answers; the walk above holds
            # the rest); the other city: refused, on every route
            for asked_city in ((None, other) if rule.endpoint in ("api.me", "api.runs",
                                                                  "api.areas") else (other,)):
                url = _url(rule, values, {**query, **({"city": asked_city} if asked_city
                                                      else {})})
                resp = attacker.send(city, "command", "GET", url, headers=bearer,
                                     client=client)
                asked += 1
                allowed = {401} if asked_city else \
                    _expected(app, rule, "GET", "command", "own")
                if resp.status_code not in allowed:
                    attacker.note("token:", city, url, resp.status_code, sorted(allowed))
                if "Set-Cookie" in resp.headers:
                    attacker.note("a token client got a cookie:", city, url)
    print(f"tokens: {asked} requests")
    attacker.done("tokens")


def test_signing_out_ends_the_session_in_each_city(world):
    """The one route the walk leaves out: a signed-out session is anonymous again (and the
    sign-out form needs its CSRF token)."""
    app = world["app"]
    attacker = Attacker(world)
    for city in (A, B):
        client = app.test_client()
        client.csrf = sign_in(client, "atk-planner", city=city)
        assert attacker.send(city, "planner", "GET", "/api/me", client=client).status_code == 200
        forged = client.post("/logout", data={"csrf_token": "forged"})
        assert forged.status_code == 400
        assert attacker.send(city, "planner", "POST", "/logout", client=client,
                             form={}).status_code == 302
        assert attacker.send(city, "anonymous", "GET", "/api/me", client=client
                             ).status_code == 401
    attacker.done("sign-out")


# --- 2. the payloads of test_xss in every parameter -------------------------------------

#: Query parameters sent to every route, whether it reads them or not (the layout repeats
#: the whole query in its language links; a 401 page carries it back to the sign-in form).
GENERIC = ("q", "area", "day", "next", "category", "lang")
#: Forms filled in as a user would, so that a payload in one field is stored and shown
#: (ids of Baotou); any other form is sent with the payload fields alone.
FORMS = {
    "pages.new_hazard": {"category": "school", "name": "x", "lon": "{lon}", "lat": "{lat}"},
    "pages.send_report": {"category": "school", "text": "x", "lon": "{lon}", "lat": "{lat}"},
    "api.send_report": {"category": "school", "text": "x", "lon": "{lon}", "lat": "{lat}"},
    "campaigns.campaigns_page": {"name": "x", "from": "2026-11-01", "to": "2026-12-31",
                                 "district": "{district_id}", "category": "school"},
    "live.devices_page": {"device_id": "phone-x", "number": "{number}"},
    "live.call_out": {"lon": "{lon}", "lat": "{lat}", "category": "fight", "note": "x",
                      "count": "1"},
    "live.api_call_out": {"lon": "{lon}", "lat": "{lat}", "category": "fight", "note": "x",
                          "count": "1"},
    "pages.unmask": {"reason": "checking a duplicate entry"},
    "planner.set_force_hours": {"community": "{area_id}", "weekday": "mon", "slot": "morning",
                                "hours": "2", "next": "/planner"},
    "tasks.new_task": {"hazard": "{hazard}", "slot": "morning", "number": "{number}",
                       "day": (dt.date.today() + dt.timedelta(days=3)).isoformat()},
    "auth.login": {"username": "nobody-here", "password": "not the password"},
}
#: Pages that show what the forms stored, opened afterwards.
SHOWN = {"command": ("/hazards", "/reports", "/campaigns", "/devices", "/live", "/training",
                     "/tasks", "/audit", "/uploads", "/volunteers", "/community/{area_id}",
                     "/maps/community/{area_id}", "/maps/district/{district_id}"),
         "officer": ("/hazards", "/live"), "volunteer": ("/me",)}


def _best(app, rule, method: str) -> str:
    """The account that gets furthest into a route: anonymous for the public ones, else the
    first role the matrix lets through."""
    from web.auth import PUBLIC

    if rule.endpoint in PUBLIC:
        return "anonymous"
    needs = _needs(app, rule.endpoint, method)
    if needs is None:
        return "volunteer" if rule.endpoint == "pages.me" else "command"
    return next(r for r in ("command", "volunteer", "officer", "planner", "admin")
                if Role(r) in MATRIX.get(needs, {}))


class Payloads:
    """The payloads in turn: the next one alone, or all of them at once starting from the
    next (a value the app cuts short keeps a different payload's head each time)."""

    def __init__(self) -> None:
        self.k = 0

    def one(self) -> str:
        self.k += 1
        return PAYLOADS[self.k % len(PAYLOADS)]

    def all(self) -> str:
        self.k += 1
        return " ".join(PAYLOADS[(self.k + j) % len(PAYLOADS)] for j in range(len(PAYLOADS)))


def test_payloads_in_every_parameter_are_never_live_markup(world):
    """Every route, as the account that gets furthest into it: each query parameter it reads
    carries all the payloads at once, each form (or JSON) field one payload and then all of
    them; the common parameters it does not read carry one each. No answer is a 5xx, no
    HTML answer shows a payload as markup, no redirect leaves the site; then the pages that
    show what the forms stored are opened, as the command, an officer and the volunteer."""
    app, ids = world["app"], world["ids"]
    attacker, pay = Attacker(world), Payloads()
    values = _values(ids[A], "own")
    fill = {**values, **ids[A]}
    sent = Counter()
    for rule, method in _routes(app):
        if rule.endpoint == "auth.logout" and method == "POST":
            continue
        who = _best(app, rule, method)
        reads, fields = _reads(app.view_functions[rule.endpoint])
        base = _query(rule, values, reads)
        form = {k: v.format(**fill) for k, v in FORMS.get(rule.endpoint, {}).items()}
        kind = "body" if rule.endpoint in JSON_POSTS else "form"

        def send(query: dict, data: dict | None = None, upload=None, *, as_who: str = who):
            sent[as_who] += 1
            extra = {}
            if method == "POST":
                extra = {kind: data if data is not None else form}
                if upload is not None:
                    extra["upload"] = upload
            return attacker.send(A, as_who, method, _url(rule, values, query), **extra)

        unread = [g for g in GENERIC if g not in reads]
        send({**base, **{g: pay.one() for g in unread}})
        if who != "anonymous" and method == "GET":  # the sign-in page carries the query back
            send({**base, **{g: pay.one() for g in unread}}, as_who="anonymous")
        for name in sorted(reads):  # a redirect target is tried as a path of this site too
            send({**base, name: ("/" if name == "next" else "") + pay.all()})
        if method != "POST":
            continue
        for name in sorted(fields):  # one payload (a stored field has a length limit), all
            # (and the first, short and marked, so that every stored field holds a marker
            # whichever payload the turn gives it)
            for value in dict.fromkeys((pay.one(), PAYLOADS[0], pay.all())):
                if name == "file":
                    send(base, form, upload=(value.encode(), f"F{value[:80]}.csv"))
                else:
                    send(base, {**form, name: ("/" if name == "next" else "") + value})
    # a city named by a payload is not found, and its name is not markup
    for who in ("anonymous", "command"):
        for path in ("/dashboard", "/api/runs"):
            for payload in PAYLOADS:
                attacker.send(A, who, "GET", f"{path}?{urlencode({'city': payload})}")
                sent[who] += 1
    # what the forms stored, where it is shown
    for who, paths in SHOWN.items():
        for path in paths:
            resp = attacker.send(A, who, "GET", path.format(**fill))
            sent[who] += 1
            if resp.status_code != 200:
                attacker.note("a page that shows stored text did not open:", who, path,
                              resp.status_code)
    # the forms stored the payloads, and the pages show them as text
    with world["engines"][A].connect() as conn:
        stored = {table: conn.execute(sa.text(
            f"SELECT count(*) FROM {table} WHERE position('__xss' in {column}) > 0")
        ).scalar_one()
            for table, column in (("hazards", "name"), ("reports", "text"),
                                  ("campaigns", "name"), ("callouts", "note"))}
    print("stored payloads", stored)
    assert all(stored.values()), stored
    for who, path in (("command", "/reports"), ("volunteer", "/me"), ("command", "/campaigns")):
        page = world["clients"][A, who].get(path).get_data(as_text=True)
        assert "window.__xss" in page and "&lt;" in page, (who, path)
    print(f"payloads: {sum(sent.values())} requests ({dict(sent)}), {attacker.escaped} HTML "
          "answers showed a payload, as text")
    assert attacker.escaped >= 100  # the payloads reached the pages, and were escaped there
    attacker.done("payloads")


# --- 3. the README's table is the matrix ------------------------------------------------

def test_the_readme_table_is_the_matrix():
    """The README's access table, read as a table (its own words for roles, resources and
    grants), is ``geo_patrol.access.MATRIX``: the same cells in the same order."""
    roles = {"district command": Role.COMMAND, "community officer": Role.OFFICER,
             "planner": Role.PLANNER, "volunteer": Role.VOLUNTEER, "admin": Role.ADMIN}
    resources = {"volunteer personal data": Resource.PEOPLE, "tracks": Resource.TRACKS,
                 "hazards and reports": Resource.HAZARDS,
                 "coverage, plans, exports": Resource.COVERAGE, "audit log": Resource.AUDIT,
                 "accounts": Resource.ACCOUNTS, "position devices": Resource.DEVICES,
                 "call-outs": Resource.CALLOUTS, "training and certificates": Resource.TRAINING,
                 "crime patterns": Resource.CRIME, "campaigns": Resource.CAMPAIGNS,
                 "patrol tasks, points, payouts": Resource.TASKS}
    grants = {"yes": Grant.ALL, "own communities": Grant.SCOPED, "own only": Grant.OWN,
              "aggregates only": Grant.AGGREGATE, "—": None}
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert readme.count("<!-- access-matrix -->") == 1
    block = readme.split("<!-- access-matrix -->")[1].split("<!-- /access-matrix -->")[0]
    rows = [[cell.strip() for cell in line.strip().strip("|").split("|")]
            for line in block.strip().splitlines()]
    header, rule, body = rows[0], rows[1], rows[2:]
    assert header[:2] == ["resource", "action"] and set(header[2:]) == set(roles)
    assert all(set(cell) <= {"-", ":"} for cell in rule) and len(rule) == len(header)
    table: dict = {}
    for row in body:
        assert len(row) == len(header), row
        key = (resources[row[0]], row[1])
        assert key not in table, f"{row[0]} / {row[1]} twice"
        table[key] = {roles[h]: grants[c] for h, c in zip(header[2:], row[2:])
                      if grants[c] is not None}
    assert table == MATRIX
    assert list(table) == list(MATRIX)
    assert {r for r, _ in table} == set(Resource)
    # and what the prose promises of it
    assert "Anything not granted is 403" in readme and "no sign-in is 401" in readme
    assert "An admin has the district command's rights" in readme
    assert all(cells.get(Role.ADMIN) == cells[Role.COMMAND]
               for cells in table.values() if Role.COMMAND in cells)


# --- what one city computed is never served to another ----------------------------------

def test_a_plan_computed_for_one_city_is_never_served_to_another(world):
    """Wuhai holds the same files as Baotou under the same ids (as two cities of a deployment
    do: each schema counts from 1). Baotou's command plans an area; Wuhai's command asks for
    the same run and area ids: the plan must be Wuhai's own."""
    area, run = world["ids"][A]["area_id"], world["ids"][A]["run_id"]
    with world["engines"][C].connect() as conn:  # the same ids name Wuhai's own records
        assert conn.execute(sa.text("SELECT name FROM areas WHERE id = :a"),
                            {"a": area}).scalar_one().endswith(MARK[C])
        assert conn.execute(sa.text("SELECT count(*) FROM analysis_runs WHERE id = :r"),
                            {"r": run}).scalar_one() == 1
    url = f"/api/plan?area={area}&run={run}&zones=3&minutes=45"
    baotou = world["clients"][A, "command"].get(url)
    assert baotou.status_code == 200 and MARK[A] in baotou.get_data(as_text=True)
    wuhai = world["clients"][C, "command"].get(url)
    assert wuhai.status_code == 200
    assert MARK[A] not in wuhai.get_data(as_text=True), "Baotou's plan served to Wuhai"
