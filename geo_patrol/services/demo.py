"""The demo end to end: generate (or reuse) the files, load them through the ordinary
sources, analyse the last days and close the loop on them (a trial, the rota's tasks taken,
walked and checked, the dose delivered, the incidents after), write a briefing and a plan,
create one account per role."""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl

import geopandas as gpd
import numpy as np
import pandas as pd

from geo_patrol.cities import City
from geo_patrol.demo.generate import TZ, Frame, Manifest, generate
from geo_patrol.demo.walks import TaskWalk, walk_tasks, walks_csv
from geo_patrol.demo.replay import Request, device_id, requests_for
from geo_patrol.errors import InputError, NotFoundError
from geo_patrol.planning.plan import PlanParams
from geo_patrol.render.plan import plan_briefing_html
from geo_patrol.services.places import embedded_tiles
from geo_patrol.analysis import hotspots as hs
from geo_patrol.ingest.ledgers import crime_class
from geo_patrol.services import campaigns, crime, evidence, trials
from geo_patrol.services import tasks as task_service
from geo_patrol.services.analysis import RunSummary, analyze, default_params
from geo_patrol.services.cities import add_city, cities
from geo_patrol.services.maps import export_briefing
from geo_patrol.services.planning import plan_area
from geo_patrol.services.rota import STOP_MINUTES, RotaPlan, make_rota, save
from geo_patrol.services.sources import SOURCES, load_boundaries, load_tracks
from geo_patrol.services.tasks import demo_week
from geo_patrol.settings import Settings
from geo_patrol.store import live as live_store
from geo_patrol.store import results
from geo_patrol.store import trials as trial_store
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
              kinds: Collection[str] | None = None, hold: bool = False) -> list[LoadResult]:
    """Load Baotou's districts and every file of the manifest (each idempotent), or only its
    files of ``kinds``; with ``hold``, not the files it marks ``held`` (the incidents of the
    tracked days, which :func:`close_the_loop` loads once the patrols are known)."""
    manifest = Manifest.read(root)
    loaded = [load_boundaries(engine, BAOTOU_DISTRICTS, level="district", crs="wgs84",
                              code_field="adcode", settings=settings)]
    echo(loaded[-1].summary_line())
    for entry in manifest.files:
        if (kinds is not None and entry["kind"] not in kinds) or (hold and entry.get("held")):
            continue
        options = {k: v for k, v in entry.items() if k not in ("kind", "path", "held")}
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
    loop: Loop  # the analysed week as it goes with the product
    trial: trials.Report | None  # the trial the next week's rota follows


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


#: The demo's trial of the next weeks: hot spots of the busiest district, half of them
#: patrolled by the rota.
DEMO_TRIAL = {"spots": 12, "fall": 0.2}
#: The planted effect of patrols: at most this share of a hot spot's property incidents in
#: the tracked days does not happen, reached at ``PATROL_FULL_MIN`` minutes of presence
#: there (the dose, by the one stay rule) in the week: four of Koper's 15-minute stops.
PATROL_EFFECT = 0.5
PATROL_FULL_MIN = 60.0
#: The share of the tracked days' property incidents in the loop's area that fall at the
#: week's hot spots (the rota's and its trial's, patrolled and control alike, whatever the
#: dose): crime stays where it concentrates, while the generator's own hot streets are a
#: few spread over the whole city.
HOT_SPOT_SHARE = 0.4


def demo_trial(engine: Engine, settings: Settings, area: dict, start: dt.date, seed: int, *,
               weeks: int, today: dt.date | None = None) -> tuple[int, bool] | None:
    """The demo's trial of hot-spot patrols in ``area`` from ``start`` for ``weeks``, through
    :func:`geo_patrol.services.trials.create` (designed on ``today``, by default today), and
    whether it was made now (False: made by an earlier run); None when it cannot be (it
    would not start after the day it is designed, or the area has too few hot spots)."""
    if start <= (today or settings.today()):
        return None
    listed = trials.listing(engine)
    same = listed[(listed["area_id"] == area["id"]) & (listed["start_day"] == start)
                  & (listed["created_by"] == "demo")]
    if len(same):
        return int(same.iloc[0]["id"]), False
    try:
        trial_id, _ = trials.create(engine, settings, by="demo", area_id=area["id"],
                                    start=start, seed=seed, weeks=weeks, today=today,
                                    **DEMO_TRIAL)
    except InputError:
        return None
    return trial_id, True


def walk_taken_tasks(engine: Engine, settings: Settings, path: Path, seed: int,
                     walked: Counter) -> Callable[[list[dict[str, Any]]], None]:
    """What the takers of the demo week's tasks do (:func:`geo_patrol.demo.walks.walk_tasks`,
    drawn from ``seed``): their phones' fixes written to ``path`` as the app's CSV and loaded
    through the ordinary track loader; ``walked`` counts how they walked."""
    frame = Frame()
    params = default_params(settings)

    def walk(taken: list[dict[str, Any]]) -> None:
        tasks = []
        for task in taken:
            lon, lat = np.asarray(task["geom"].coords, dtype=float).T
            stops = np.asarray(task["stops"], dtype=float).reshape(-1, 2)
            sx, sy = frame.to_m.transform(stops[:, 0], stops[:, 1])
            tasks.append(TaskWalk(task["number"],
                                  np.column_stack(frame.to_m.transform(lon, lat)),
                                  np.column_stack([sx, sy]),
                                  task["window_start"].timestamp(),
                                  task["window_end"].timestamp()))
        rng = np.random.default_rng([seed, 34])
        done = walk_tasks(tasks, rng, dwell_min=params.stay_min(settings.rules),
                          stop_min=STOP_MINUTES)
        walked.update(w.behaviour for w in done)
        if any(len(w.t) for w in done):
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(walks_csv(done, frame, rng), encoding="utf-8")
            load_tracks(engine, path, crs="gcj02", kind="patrol", settings=settings)

    return walk


@dataclass
class Loop:
    """The analysed week as it goes with the product (:func:`close_the_loop`)."""

    dose: Any  # tasks planned and delivered per community (tasks.dose)
    walked: dict[str, int]  # how the takers walked them (demo.walks.COMPLIANCE's keys)
    trial: trials.Report | None  # the week's trial, reported at its end
    incidents: dict[str, int]  # the week's property incidents: at the hot spots (of which
    #                            moved there), at the dosed ones kept and prevented (the
    #                            planted effect), and how many hot spots were dosed
    seconds: float = 0.0


def close_the_loop(engine: Engine, settings: Settings, root: Path, manifest: Manifest,
                   run: dict, area: dict, *, first: dt.date, seed: int) -> Loop:
    """The analysed week (from ``first``) as it goes with the product: a week's trial of
    hot-spot patrols in ``area`` designed the day before it, the week's rota posting its
    patrols at the trial's patrolled spots, offered as tasks, taken, walked as volunteers
    do (:mod:`geo_patrol.demo.walks`) and checked against their fixes; then the week's
    incidents, held back by the generator, loaded with the patrols' planted effect where
    the dose was delivered; and the trial's report. Once per database: a second run reads
    what the first made."""
    began = time.perf_counter()
    made = demo_trial(engine, settings, area, first, seed, weeks=1,
                      today=first - dt.timedelta(days=1))
    last = first + dt.timedelta(days=6)
    if made is not None and not made[1]:  # walked by an earlier run
        return Loop(task_service.dose(engine, within=None, since=first, until=last), {},
                    trials.report(engine, settings, made[0]), {})
    walked: Counter = Counter()
    rota_id, dose = demo_week(engine, settings, run, area, start=first,
                              walk=walk_taken_tasks(engine, settings,
                                                    root / "tasks" / f"walked-{first:%Y%m%d}.csv",
                                                    seed, walked))
    with engine.connect() as conn:
        spots = [] if made is None else \
            trial_store.trial_spots(conn, made[0])["segment_id"].astype(int).tolist()
    counts = load_recent_incidents(engine, settings, root, manifest, rota_id, area["id"],
                                   seed, also=spots)
    return Loop(dose, dict(walked), None if made is None else
                trials.report(engine, settings, made[0]), counts,
                time.perf_counter() - began)


def load_recent_incidents(engine: Engine, settings: Settings, root: Path,
                          manifest: Manifest, rota_id: int, area_id: int,
                          seed: int, *, also: Collection[int] = ()) -> dict[str, int]:
    """Load the manifest's held incidents (those of the tracked days) as the demo's world
    has them after the rota's patrols. Crime stays where it concentrates: of the property
    incidents snapped to the streets of the rota's area ``area_id`` (as a trial there
    counts), ``HOT_SPOT_SHARE`` fall at the week's hot spots (the rota's, and ``also``: its
    trial's, both arms), those the generator put elsewhere drawn at random and moved onto
    a hot spot drawn at random, whatever its dose. Then the planted effect: a property
    incident at a hot spot is left out with chance ``PATROL_EFFECT`` times the share of
    ``PATROL_FULL_MIN`` minutes of presence measured there from the stored tracks (the
    rota's dose, by the one stay rule). Written beside the held file and loaded through the
    ordinary loader. Returns the property incidents at the hot spots (``moved`` of them
    moved there), at the dosed ones ``kept`` and ``prevented``, and the ``dosed`` hot
    spots."""
    held = [e for e in manifest.files if e.get("held") and e["kind"] == "incidents"]
    got = evidence.dose(engine, settings, rota_id)
    measured = got.cells
    minutes = measured.groupby("place")["minutes"].sum() if len(measured) else \
        pd.Series(dtype=float)
    minutes = minutes[minutes > 0]
    data = crime.load(engine, settings, crime.Study(area_id=area_id, crime="all"))
    ids = data.segments["id"].to_numpy()
    hot = np.array(sorted(({int(i) for i in got.places["id"]} | {int(i) for i in also})
                          & set(ids.tolist())), dtype=np.int64)
    hot_geom = data.segments.set_index("id").loc[hot].geometry if len(hot) else None
    rng = np.random.default_rng([seed, 35])
    counts = {"at_hot_spots": 0, "moved": 0, "kept": 0, "prevented": 0,
              "dosed": int(np.isin(minutes.index.to_numpy(), hot).sum())}
    for entry in held:
        src = root / entry["path"]
        rows = list(csv.reader(src.read_text(encoding="utf-8").splitlines()))
        header, body = rows[0], rows[1:]
        lon = np.array([float(r[4]) for r in body])
        lat = np.array([float(r[5]) for r in body])
        at = gpd.GeoSeries(gpd.points_from_xy(lon, lat), crs=4326).to_crs(data.segments.crs)
        on = hs.snap(at.x.to_numpy(), at.y.to_numpy(),
                     np.asarray(data.segments.geometry.values), crime.SNAP_M)
        seg = np.where(on >= 0, ids[np.maximum(on, 0)], -1)
        prop = np.array([crime_class(r[1]) == "property" for r in body], dtype=bool)
        on_hot = prop & np.isin(seg, hot)
        elsewhere = np.flatnonzero(prop & (seg >= 0) & ~on_hot)
        n_move = min(max(int(round(HOT_SPOT_SHARE * int((prop & (seg >= 0)).sum())))
                         - int(on_hot.sum()), 0), len(elsewhere)) if len(hot) else 0
        moved = rng.choice(elsewhere, n_move, replace=False) if n_move else \
            np.zeros(0, dtype=int)
        if n_move:
            to = rng.choice(hot, n_move)
            pts = [hot_geom.loc[t].interpolate(float(rng.uniform(0.2, 0.8)), normalized=True)
                   for t in to]
            wgs = gpd.GeoSeries(pts, crs=data.segments.crs).to_crs(4326)
            for k, i in enumerate(moved):
                body[i][4], body[i][5] = f"{wgs.iloc[k].x:.7f}", f"{wgs.iloc[k].y:.7f}"
            seg[moved] = to
        spot = prop & np.isin(seg, hot)
        dosed = minutes.reindex(seg).fillna(0.0).to_numpy() if len(body) else np.zeros(0)
        chance = PATROL_EFFECT * np.minimum(dosed / PATROL_FULL_MIN, 1.0)
        prevented = spot & (rng.random(len(body)) < chance)
        counts["at_hot_spots"] += int(spot.sum())
        counts["moved"] += int(n_move)
        counts["kept"] += int((spot & (dosed > 0) & ~prevented).sum())
        counts["prevented"] += int(prevented.sum())
        out = src.with_name(src.stem + "-patrolled.csv")
        out.write_text("\n".join(",".join(r) for r in [header] + [
            r for r, gone in zip(body, prevented) if not gone]) + "\n", encoding="utf-8")
        SOURCES["incidents"](engine, out, settings=settings,
                             **{k: v for k, v in entry.items()
                                if k not in ("kind", "path", "held")})
    return counts


def run_demo(engine: Engine, settings: Settings, *, seed: int = 7, scale: str = "small",
             until: dt.date | None = None, city_name: str | None = DEMO_CITY.name,
             echo: Callable[[str], None] = lambda _line: None) -> DemoOutcome:
    """The whole demo: files, loads, the last 7 days analysed, the loop closed on them in
    the busiest district (:func:`close_the_loop`), the campaign, that district's briefing, a
    4-zone plan and a trial from tomorrow with the next week's rota following it, one
    account per role (idempotent)."""
    until = until or dt.datetime.now(TZ).date()
    root = demo_dir(settings, seed, scale, until)
    manifest = ensure_files(root, seed=seed, scale=scale, until=until)
    echo(f"demo files: {root} ({manifest.counts['fixes']} fixes, "
         f"{manifest.counts['volunteers']} volunteers)")
    load_demo(engine, root, settings, echo, hold=True)
    days = min(7, manifest.days)
    summary = analyze(engine, *last_days(until, days), settings=settings)
    with engine.connect() as conn:
        district = results.busiest_district(conn, summary.run_id)
        run_row, area = results.find_run(conn, summary.run_id), find_area(conn, district)
        proposal = plan_area(conn, run_row, area, PlanParams(zones=4, minutes=90),
                             settings=settings)
    loop = close_the_loop(engine, settings, root, manifest, run_row, area,
                          first=until - dt.timedelta(days=days), seed=seed)
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
    ahead = demo_trial(engine, settings, area, until + dt.timedelta(days=1), seed, weeks=8)
    with engine.connect() as conn:
        week = make_rota(conn, settings, results.find_run(conn, summary.run_id),
                         area, start=until + dt.timedelta(days=1),
                         days=7, revisit_days=3, per_community=2, time_limit=60)
    save(engine, week, by="demo")
    return DemoOutcome(manifest, root, summary, days, briefing, plan_path, proposal.before,
                       proposal.after, demo_accounts(engine, settings), week, loop,
                       None if ahead is None else trials.report(engine, settings, ahead[0]))


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

    Both happen once the replayed positions are recent enough for the nearest to be called
    (see :func:`scene_moments`). The replayed phone with another phone nearest to it sends
    Traccar Client's SOS (its position with ``extras: {alarm: "sos"}``): the command's /live
    sounds the alarm and the nearest are called; the first of them accepts and sets out.
    ``demo-command`` calls out to where a replayed volunteer will be a little later: the first called accepts and sets out, the second declines; those who reach the
    site are marked arrived by their own positions. An SOS nobody acknowledges on /live is
    escalated after ``sos_ack_s``."""
    if len(requests) < 10:
        return []
    with engine.connect() as conn:  # the scenes answer only the call-outs they raise
        before = {kind: live_store.latest_callout(conn, kind, closed=True) or 0
                  for kind in ("sos", "callout")}
    moments = scene_moments(requests, 60.0 * settings.rules.dispatch.fresh_min)
    scenes: list[LiveScene] = []
    if (i := moments.sos) is not None:
        doc = json.loads(requests[i].body)
        doc["location"]["extras"] = {"alarm": "sos"}
        # the button takes a fix when pressed: stamped when it is sent
        doc["location"]["timestamp"] = dt.datetime.fromtimestamp(
            time.time() + requests[i].at_s, dt.UTC).isoformat(timespec="milliseconds")
        requests[i] = Request(requests[i].at_s, requests[i].device, requests[i].query,
                              json.dumps(doc).encode())
        scenes.append(LiveScene(i + 1, lambda: _answer_latest(
            engine, settings, "sos", before["sos"], ["accept", "on_way"])))
    if moments.callout is not None and moments.site is not None:
        lon, lat = moments.site
        scenes.append(LiveScene(moments.callout, lambda: _call_out(engine, settings, lon, lat)
                                + "; " + _answer_latest(engine, settings, "callout",
                                                        before["callout"],
                                                        ["accept", "on_way"], ["decline"])))
    return scenes


@dataclass
class SceneMoments:
    """When ``demo live``'s scenes happen: the request that sends the SOS, the request after
    which the command calls out, and the call-out's site (lon, lat)."""

    sos: int | None
    callout: int | None
    site: tuple[float, float] | None


#: How many requests of a replay may still be on their way when a later one is answered.
_STORED_BEHIND = 32


def scene_moments(requests: list[Request], fresh_s: float) -> SceneMoments:
    """The scenes' moments in a replay: in its middle third, or later when only then are
    the replayed positions recent enough to be called (each at most half of ``fresh_s``
    older than its sending time). A replay faster than it was walked keeps the walks' pace:
    a position sent ``x`` seconds before the end is stamped ``(speed - 1) · x`` seconds
    before it is sent (the last one "now")."""
    span = requests[-1].at_s
    start_stamp = _stamp(requests[-1]) - span  # the replay's start, on the stamps' clock
    recent = next((r.at_s for r in requests
                   if start_stamp + r.at_s - _stamp(r) <= fresh_s / 2), span)
    start = max(span / 3, recent)
    end = max(2 * span / 3, start + (span - start) / 2)
    sos = _sos_at(requests, start, end)
    # the call-out: in the middle of those moments, to where one phone will be a little later
    mid = (start + end) / 2
    at = next((i for i, r in enumerate(requests) if r.at_s >= mid and not r.body), None)
    if at is None:
        return SceneMoments(sos, None, None)
    ahead = min(span / 10, (span - requests[at].at_s) / 2)
    later = [r for r in requests if r.device == requests[at].device and r.query
             and r.at_s >= requests[at].at_s + ahead]
    return SceneMoments(sos, at, _where(later[0] if later else requests[at]))


def _stamp(request: Request) -> float:
    """The time (epoch seconds) a replayed request's position is stamped with."""
    if request.body:
        when = json.loads(request.body)["location"]["timestamp"].replace("Z", "+00:00")
        return dt.datetime.fromisoformat(when).timestamp()
    return float(dict(parse_qsl(request.query))["timestamp"])


def _where(request: Request) -> tuple[float, float]:
    """The (lon, lat) a replayed request sends."""
    if request.body:
        coords = json.loads(request.body)["location"]["coords"]
        return float(coords["longitude"]), float(coords["latitude"])
    fields = dict(parse_qsl(request.query))
    return float(fields["lon"]), float(fields["lat"])


def _sos_at(requests: list[Request], start: float, end: float) -> int | None:
    """The request that sends the SOS: a JSON phone's (Traccar Client's alarm field) sent
    between ``start`` and ``end`` seconds into the replay, the one with another phone nearest
    to it at that moment, so that somebody can be called to help (the others' positions
    counted from a few dozen requests earlier: those are stored by the time the SOS is)."""
    last: dict[str, tuple[float, float]] = {}
    best, best_m = None, math.inf
    for i, r in enumerate(requests):
        if i >= _STORED_BEHIND:
            earlier = requests[i - _STORED_BEHIND]
            last[earlier.device] = _where(earlier)
        if r.body and start <= r.at_s <= end:
            lon, lat = _where(r)
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


def _answer_latest(engine: Engine, settings: Settings, kind: str, after: int,
                   *answers: list[str], wait_s: float = 30.0) -> str:
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
                    stand = live_store.callout_targets(conn, int(callout_id),
                                                        settings.callout_arrival_m)
                status = stand.loc[stand["number"] == number, "status"]
                taken.append(str(status.iloc[0]) if len(status) else "not called")
                break
        done.append(f"{number}: {', '.join(taken)}")
    return f"{kind} {callout_id}: " + ("; ".join(done) or "nobody within reach")
