"""The demo end to end: generate (or reuse) the files, load them through the ordinary
sources, analyse the last days, write a briefing and a plan, create one account per role."""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import secrets
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

from geo_patrol.cities import City
from geo_patrol.demo.generate import TZ, Manifest, generate
from geo_patrol.demo.replay import Request, device_id, requests_for
from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.planning.plan import PlanParams
from geo_patrol.render.plan import plan_briefing_html
from geo_patrol.services.places import embedded_tiles
from geo_patrol.services import campaigns
from geo_patrol.services.analysis import RunSummary, analyze
from geo_patrol.services.cities import add_city, cities
from geo_patrol.services.maps import export_briefing
from geo_patrol.services.planning import plan_area
from geo_patrol.services.rota import RotaPlan, make_rota, save
from geo_patrol.services.sources import SOURCES, load_boundaries
from geo_patrol.services.tasks import demo_week
from geo_patrol.settings import Settings
from geo_patrol.store import live as live_store
from geo_patrol.store import results
from geo_patrol.access import Principal, Role
from geo_patrol.services import callouts
from geo_patrol.store.accounts import add_user, principal_named, usernames
from geo_patrol.store.areas import find_area
from geo_patrol.store.crime import districts
from geo_patrol.store.uploads import LoadResult
from geo_patrol.store.volunteers import (
    busiest_community,
    most_active_patroller,
    volunteer_ids,
)

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Engine

BAOTOU_DISTRICTS = Path(__file__).resolve().parents[2] / "data" / "boundaries" / \
    "baotou_districts_wgs84.geojson"


def demo_dir(settings: Settings, seed: int, scale: str, until: dt.date) -> Path:
    return settings.data_dir / "demo" / f"{scale}-seed{seed}-{until:%Y%m%d}"


def ensure_files(root: Path, *, seed: int, scale: str, until: dt.date,
                 days: int | None = None) -> Manifest:
    """The demo's files in ``root``: reused when already generated with the same inputs."""
    if (root / "manifest.json").exists():
        manifest = Manifest.read(root)
        if (manifest.seed, manifest.scale, manifest.until) == (seed, scale, until.isoformat()):
            return manifest
    return generate(root, seed=seed, scale=scale, until=until, days=days)


def load_demo(engine: Engine, root: Path, settings: Settings,
              echo: Callable[[str], None] = lambda _line: None, *,
              kinds: Collection[str] | None = None) -> list[LoadResult]:
    """Load Baotou's districts and every file of the manifest (each idempotent), or only its
    files of ``kinds``."""
    manifest = Manifest.read(root)
    loaded = [load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                              code_field="adcode", settings=settings)]
    echo(loaded[-1].summary_line())
    for entry in manifest.files:
        if kinds is not None and entry["kind"] not in kinds:
            continue
        options = {k: v for k, v in entry.items() if k not in ("kind", "path")}
        result = SOURCES[entry["kind"]](engine, root / entry["path"], settings=settings,
                                        **options)
        loaded.append(result)
        if entry["kind"] != "tracks":
            echo(result.summary_line())
    tracks = [r for r in loaded if r.kind == "tracks" and not r.duplicate]
    if tracks:
        flagged = {k: sum(r.details.get(k, 0) for r in tracks)
                   for k in ("speed_jump", "duplicate", "poor_accuracy", "out_of_order")}
        echo(f"tracks: {len(tracks)} files, {sum(r.stored for r in tracks)} fixes stored, "
             f"flagged {flagged}")
    return loaded


def last_days(until: dt.date, days: int) -> tuple[dt.datetime, dt.datetime]:
    """The window of the ``days`` whole local days before ``until``."""
    end = dt.datetime.combine(until, dt.time(), TZ)
    return end - dt.timedelta(days=days), end


def demo_accounts(engine: Engine, settings: Settings) -> Path:
    """One account per role for trying the demo, with random passwords written (mode 600) to
    ``<data_dir>/demo-accounts.txt``; existing accounts are left as they are."""
    path = settings.data_dir / "demo-accounts.txt"
    with engine.connect() as conn:
        existing = usernames(conn)
        community = busiest_community(conn)
        volunteer = most_active_patroller(conn)
    wanted = {"command": {}, "officer": {"areas": [community]}, "planner": {},
              "volunteer": {"volunteer": volunteer}, "admin": {}}
    lines = []
    for role, options in wanted.items():
        name = f"demo-{role}"
        if name in existing:
            continue
        password = secrets.token_urlsafe(12)
        add_user(engine, name, role, password, **options)
        lines.append(f"{name}\t{role}\t{password}\n")
    if lines:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            fh.writelines(lines)
    return path


@dataclass
class DemoOutcome:
    """What :func:`run_demo` made."""

    manifest: Manifest
    root: Path
    run: RunSummary
    days: int
    briefing: Path
    plan: Path
    plan_before: dict
    plan_after: dict
    accounts: Path
    rota: RotaPlan
    dose: Any  # the analysed week as tasks: planned and delivered per community


#: The demo's campaign (双清双打: clear hazards of guns, explosives and dangerous goods;
#: schools checked) and the categories it targets.
#: The city the demo fills (its generated data lies in Baotou).
DEMO_CITY = City(key="baotou", name="包头市", name_en="Baotou", timezone="Asia/Shanghai")
DEMO_CAMPAIGN = "双清双打专项行动"
DEMO_TARGETS = ("school", "kindergarten", "gas_lpg", "gas_station", "dangerous_goods",
                "guns_explosives_knives")


def demo_campaign(engine: Engine, settings: Settings, until: dt.date) -> int:
    """The demo's campaign over every district, from 90 days before ``until`` to 30 after
    (created once)."""
    listed = campaigns.listing(engine)
    if DEMO_CAMPAIGN in set(listed["name"]):
        return int(listed[listed["name"] == DEMO_CAMPAIGN].iloc[0]["id"])
    with engine.connect() as conn:
        ids = districts(conn)["id"].tolist()
    return campaigns.create(engine, settings, name=DEMO_CAMPAIGN,
                            starts_on=until - dt.timedelta(days=90),
                            ends_on=until + dt.timedelta(days=30), districts=ids,
                            categories=list(DEMO_TARGETS), by="demo")


def ensure_demo_city(deployment: Engine, settings: Settings) -> str:
    """The key of the city the demo fills (``settings.city``, else the deployment's only
    city, else Baotou), added if the deployment does not hold it yet."""
    known = cities(deployment)
    key = settings.city or (known[0].key if len(known) == 1 else DEMO_CITY.key)
    if all(c.key != key for c in known):
        add_city(deployment, settings, DEMO_CITY.with_(key=key))
    return key


def run_demo(engine: Engine, settings: Settings, *, seed: int = 7, scale: str = "small",
             until: dt.date | None = None, city_name: str | None = DEMO_CITY.name,
             echo: Callable[[str], None] = lambda _line: None) -> DemoOutcome:
    """The whole demo: files, loads, the last 7 days analysed, the campaign, the busiest
    district's briefing and a 4-zone plan for it, one account per role (idempotent)."""
    until = until or dt.datetime.now(TZ).date()
    root = demo_dir(settings, seed, scale, until)
    manifest = ensure_files(root, seed=seed, scale=scale, until=until)
    echo(f"demo files: {root} ({manifest.counts['fixes']} fixes, "
         f"{manifest.counts['volunteers']} volunteers)")
    load_demo(engine, root, settings, echo)
    days = min(7, manifest.days)
    summary = analyze(engine, *last_days(until, days), settings=settings)
    with engine.connect() as conn:
        district = results.busiest_district(conn, summary.run_id)
        proposal = plan_area(conn, results.find_run(conn, summary.run_id),
                             find_area(conn, district), PlanParams(zones=4, minutes=90),
                             settings=settings)
    campaign = demo_campaign(engine, settings, until)
    totals = campaigns.progress(engine, settings, campaign, on=until).totals
    echo(f"campaign {DEMO_CAMPAIGN}: {totals['found']} hazards found, {totals['visited']} "
         f"visited, {totals['open']} still open, {totals['never_visited']} never visited")
    out = settings.data_dir / "briefings" / f"{settings.city or DEMO_CITY.key}-briefing-" \
        f"{district}-{until:%Y%m%d}.html"
    with engine.connect() as conn:
        briefing = export_briefing(conn, summary.run_id, district, out, settings,
                                   city=city_name)
    plan_path = out.with_name(f"plan-{district}-{until:%Y%m%d}.html")
    with engine.connect() as conn:
        tiles = embedded_tiles(conn, tuple(proposal.segments.total_bounds))
    plan_path.write_text(plan_briefing_html(proposal, tz=settings.timezone, tiles=tiles),
                         encoding="utf-8")
    with engine.connect() as conn:
        week = make_rota(conn, settings, results.find_run(conn, summary.run_id),
                         find_area(conn, district), start=until + dt.timedelta(days=1),
                         days=7, revisit_days=3, per_community=2, time_limit=60)
    save(engine, week, by="demo")
    with engine.connect() as conn:
        run_row, area = results.find_run(conn, summary.run_id), find_area(conn, district)
    past = demo_week(engine, settings, run_row, area, start=until - dt.timedelta(days=days))
    return DemoOutcome(manifest, root, summary, days, briefing, plan_path, proposal.before,
                       proposal.after, demo_accounts(engine, settings), week, past)


def live_replay(engine: Engine, *, speed: float, minutes: float,
                now: float | None = None) -> list:
    """The demo's busiest ``minutes`` of tracks as phone requests (devices registered
    ``demo-<number>`` on the way), ready for :func:`geo_patrol.demo.replay.send`."""
    if speed <= 0 or minutes <= 0:
        raise InputError("--speed and --minutes must be positive")
    with engine.begin() as conn:
        start = live_store.busiest_hour(conn)
        if start is None:
            raise InputError("no demo tracks are loaded: run `geo-patrol demo --no-serve` first")
        fixes = live_store.fixes_for_replay(conn, start, start + dt.timedelta(minutes=minutes))
        known = volunteer_ids(conn, sorted(fixes["number"].unique()))
        registry = live_store.device_registry(conn)
        for number, vid in zip(known.index, known["id"]):
            if device_id(number) not in registry:
                live_store.add_device(conn, device_id(number), int(vid), None)
    return requests_for(fixes, speed=speed, now=time.time() if now is None else now)


@dataclass
class LiveScene:
    """Something that happens during ``demo live``: ``run`` once ``after`` requests of the
    replay have been answered, saying what it did."""

    after: int
    run: Callable[[], str]


def live_scenes(engine: Engine, settings: Settings, requests: list[Request]) -> list[LiveScene]:
    """An SOS and a call-out during the replay, answered by replayed volunteers.

    In the middle third, the replayed phone with another phone nearest to it sends Traccar
    Client's SOS (its position with ``extras: {alarm: "sos"}``): the command's /live sounds
    the alarm and the nearest are called; the first of them accepts and sets out. Halfway, ``demo-command`` calls out to
    where a replayed volunteer will be a few minutes later: the first called accepts and sets
    out, the second declines; those who reach the site are marked arrived by their own
    positions. An SOS nobody acknowledges on /live is escalated after ``sos_ack_s``."""
    if len(requests) < 10:
        return []
    with engine.connect() as conn:  # the scenes answer only the call-outs they raise
        before = {kind: live_store.latest_callout(conn, kind, closed=True) or 0
                  for kind in ("sos", "callout")}
    span = requests[-1].at_s
    i = _sos_at(requests, span)
    scenes: list[LiveScene] = []
    if i is not None:
        doc = json.loads(requests[i].body)
        doc["location"]["extras"] = {"alarm": "sos"}
        requests[i] = Request(requests[i].at_s, requests[i].device, requests[i].query,
                              json.dumps(doc).encode())
        scenes.append(LiveScene(i + 1, lambda: _answer_latest(
            engine, "sos", before["sos"], ["accept", "on_way"])))
    # the site: where one phone will be ten percent of the replay later
    half_at = next((i for i, r in enumerate(requests) if r.at_s >= span / 2 and not r.body),
                   None)
    if half_at is not None:
        half = requests[half_at]
        later = [r for r in requests if r.device == half.device and r.query
                 and r.at_s >= half.at_s + span / 10]
        target = later[0] if later else half
        fields = dict(parse_qsl(target.query))
        lon, lat = float(fields["lon"]), float(fields["lat"])
        scenes.append(LiveScene(half_at, lambda: _call_out(engine, settings, lon, lat)
                                + "; " + _answer_latest(engine, "callout", before["callout"],
                                                        ["accept", "on_way"],
                                                        ["decline"])))
    return scenes


#: How many requests of a replay may still be on their way when a later one is answered.
_STORED_BEHIND = 32


def _where(request: Request) -> tuple[float, float]:
    """The (lon, lat) a replayed request sends."""
    if request.body:
        coords = json.loads(request.body)["location"]["coords"]
        return float(coords["longitude"]), float(coords["latitude"])
    fields = dict(parse_qsl(request.query))
    return float(fields["lon"]), float(fields["lat"])


def _sos_at(requests: list[Request], span: float) -> int | None:
    """The request that sends the SOS: a JSON phone's (Traccar Client's alarm field) in the
    middle third of the replay, the one with another phone nearest to it at that moment, so
    that somebody can be called to help (the others' positions counted from a few dozen
    requests earlier: those are stored by the time the SOS is)."""
    last: dict[str, tuple[float, float]] = {}
    best, best_m = None, math.inf
    for i, r in enumerate(requests):
        if i >= _STORED_BEHIND:
            earlier = requests[i - _STORED_BEHIND]
            last[earlier.device] = _where(earlier)
        lon, lat = _where(r)
        if r.body and span / 3 <= r.at_s <= 2 * span / 3:
            kx = 111_320.0 * math.cos(math.radians(lat))
            near = min((math.hypot((x - lon) * kx, (y - lat) * 110_540.0)
                        for d, (x, y) in last.items() if d != r.device), default=math.inf)
            if near < best_m:
                best, best_m = i, near
    return best


def _call_out(engine: Engine, settings: Settings, lon: float, lat: float) -> str:
    with engine.connect() as conn:
        command = principal_named(conn, "demo-command")
    if command is None:
        return "no demo-command account: run `geo-patrol demo` first"
    callout_id = callouts.call_out(engine, settings, command, lon=lon, lat=lat,
                                   category="dispute", note="演示：邻里纠纷")
    return f"call-out {callout_id} by demo-command at {lon:.5f}, {lat:.5f}"


def _answer_latest(engine: Engine, kind: str, after: int, *answers: list[str],
                   wait_s: float = 30.0) -> str:
    """The first volunteers the latest open call-out of ``kind`` above id ``after`` reached
    answer it (waiting up to ``wait_s`` for it to be raised: an SOS is raised once its
    position is stored)."""
    deadline = time.monotonic() + wait_s
    while True:
        with engine.connect() as conn:
            callout_id = live_store.latest_callout(conn, kind, after)
            called = live_store.first_called(conn, callout_id, len(answers)) \
                if callout_id is not None else []
        if called or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    done = []
    for (volunteer_id, number), steps in zip(called, answers):
        phone = Principal(id=0, username=f"demo-{number}", role=Role.VOLUNTEER,
                          volunteer_id=volunteer_id)
        taken = []
        for step in steps:
            try:
                callouts.answer(engine, phone, int(callout_id), step)
                taken.append(step)
            except NotFoundError:  # no longer open to this step: say where they stand
                with engine.connect() as conn:
                    stand = live_store.callout_targets(conn, int(callout_id))
                status = stand.loc[stand["number"] == number, "status"]
                taken.append(str(status.iloc[0]) if len(status) else "not called")
                break
        done.append(f"{number}: {', '.join(taken)}")
    return f"{kind} {callout_id}: " + ("; ".join(done) or "nobody within reach")
