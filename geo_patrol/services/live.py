"""The live loop: positions from phones, the force now, coverage as it happens, call-outs.

:class:`Intake` decodes a request (:mod:`geo_patrol.ingest.positions`), checks the device and
the place at once (a refusal is answered and counted, nothing stored), and queues the
positions for a writer thread that stores, in one transaction, whatever arrived while the
previous batch was being stored (a group commit, one COPY per batch)
(``live_positions`` and the day partitions of ``patrol_fixes``, tracks extended). A request is
answered only when its batch has committed, so a crash loses nothing acknowledged, and a
re-sent position is stored once (unique per volunteer and time).
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import hmac
import logging
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pyproj

from geo_patrol.errors import ConflictError, DatabaseError, InputError, NotFoundError
from geo_patrol.ingest.fixes import CleanFixes
from geo_patrol.ingest.points import EXTENT_MARGIN_DEG
from geo_patrol.ingest.positions import (
    Position,
    PositionRefused,
    decode_request,
    flag_arrivals,
    is_mock,
)
from geo_patrol.ingest.volunteers import PASSIVE_OCCUPATIONS
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import fixes as fix_store
from geo_patrol.store import live as live_store
from geo_patrol.store.db import CONNECTION_LOST, metric_srid
from geo_patrol.store.volunteers import volunteer_ids
from geo_patrol.vocab import CERT_SKILLS, FLAG_MOCK

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from geo_patrol.access import Principal

log = logging.getLogger(__name__)
_US = 1_000_000


# -- devices ----------------------------------------------------------------------------------

def add_device(engine: Engine, device_id: str, volunteer_number: str, *,
               secret: str | None = None) -> bool:
    """Register a phone's device id to a volunteer (``True``: new, ``False``: re-bound)."""
    device_id = device_id.strip()
    if not device_id or len(device_id) > 64 or not device_id.isprintable():
        raise InputError("a device id is a short printable text (the app's identifier)")
    if secret is not None and len(secret) < 16:
        raise InputError("a device secret has at least 16 characters")
    with engine.begin() as conn:
        known = volunteer_ids(conn, [volunteer_number])
        if known.empty:
            raise NotFoundError(f"no volunteer {volunteer_number!r}: load the roster first")
        return live_store.add_device(conn, device_id, int(known["id"].iloc[0]),
                                     None if secret is None else live_store.secret_digest(secret))


def remove_device(engine: Engine, device_id: str) -> None:
    with engine.begin() as conn:
        if not live_store.remove_device(conn, device_id):
            raise NotFoundError(f"no active device {device_id!r}")


def local_times(frame: pd.DataFrame, tz: str, *columns: str) -> pd.DataFrame:
    """Timestamps shown in the deployment's time zone (stored in UTC)."""
    for col in columns:
        frame[col] = pd.to_datetime(frame[col], utc=True).dt.tz_convert(tz)
    return frame


def devices(engine: Engine, within: frozenset[int] | None = None, *,
            tz: str = "Asia/Shanghai") -> pd.DataFrame:
    with engine.connect() as conn:
        return local_times(live_store.device_table(conn, within), tz, "created_at",
                           "disabled_at", "last_seen")


def refusals(engine: Engine, days: int = 7, *, tz: str = "Asia/Shanghai") -> pd.DataFrame:
    with engine.connect() as conn:
        frame = live_store.refusal_table(conn, dt.date.today() - dt.timedelta(days=days))
    return local_times(frame, tz, "last_at")


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (Linux, macOS), else asyncio's own: the
    position port and the phones' replay run on it."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


# -- intake -----------------------------------------------------------------------------------

@dataclass
class _Pending:
    positions: list[Position]
    device_row: int
    volunteer_id: int
    occupation: str
    #: a thread's future, or an event loop's (settled on that loop, once per batch)
    future: Future | asyncio.Future = field(default_factory=Future)
    loop: asyncio.AbstractEventLoop | None = None


def _settle(pendings: list[_Pending], error: BaseException | None) -> None:
    for p in pendings:
        if p.future.done():  # an asyncio future whose waiter gave up
            continue
        if error is None:
            p.future.set_result(len(p.positions))
        else:
            p.future.set_exception(error)


def _settle_batch(batch: list[_Pending], error: BaseException | None) -> None:
    """Answer a stored (or failed) batch: thread futures at once, each event loop's futures
    in one callback on that loop (one wake-up per batch, not per request)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Pending]] = collections.defaultdict(list)
    for p in batch:
        if p.loop is None:
            _settle([p], error)
        else:
            by_loop[p.loop].append(p)
    for loop, pendings in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, pendings, error)
        except RuntimeError:  # the loop has closed: nobody is waiting
            pass


class Intake:
    """Accepts position requests and stores them in batches (one writer thread).

    ``submit`` raises :class:`PositionRefused` for a request that stores nothing, and returns
    a future that resolves to the number of positions once they are committed (or raises
    :class:`DatabaseError` when the database is unreachable: the app retries). Called on an
    event loop's thread with ``loop``, the future is that loop's.
    """

    def __init__(self, engine: Engine, settings: Settings, *, interval_s: float = 0.2,
                 min_gap_s: float = 0.04) -> None:
        self.engine = engine
        self.settings = settings
        self.interval_s = interval_s
        self.min_gap_s = min_gap_s
        self._zone = ZoneInfo(settings.timezone)
        self._queue: list[_Pending] = []
        self._cond = threading.Condition()
        self._registry: dict[str, tuple[int, int, str | None, str]] = {}
        self._registry_at = 0.0
        self._extent: tuple[float, float, float, float] | None = None
        self._srid: int | None = None
        self._refused: collections.Counter[tuple[dt.date, str, str]] = collections.Counter()
        self._refused_at: dict[tuple[dt.date, str, str], dt.datetime] = {}
        self._closed = False
        self.stats = collections.Counter()
        self._thread = threading.Thread(target=self._run, name="position-intake", daemon=True)
        self._thread.start()

    # the request side

    def submit(self, query: str | bytes, body: bytes, *, now: float | None = None,
               loop: asyncio.AbstractEventLoop | None = None) -> Future | asyncio.Future:
        now = time.time() if now is None else now
        try:
            positions, key = decode_request(query, body, now=now)
            device = positions[0].device
            entry = self._device(device)
            if entry is None:
                raise PositionRefused("unknown_device", f"unknown device {device!r}: the "
                                      "command registers devices to volunteers first",
                                      device=device)
            row, volunteer_id, digest, occupation = entry
            if digest is not None or self.settings.require_device_secret:
                if key is None or digest is None or not hmac.compare_digest(
                        live_store.secret_digest(key), digest):
                    raise PositionRefused("wrong_secret", "the device secret (key=) is missing "
                                          "or wrong", device=device)
            self._check_place(positions)
        except PositionRefused as exc:
            self._count_refusal(exc.reason, exc.device or "", now)
            raise
        pending = _Pending(positions, row, volunteer_id, occupation) if loop is None else \
            _Pending(positions, row, volunteer_id, occupation, loop.create_future(), loop)
        with self._cond:
            if self._closed:
                raise DatabaseError("the position intake is shutting down")
            self._queue.append(pending)
            self._cond.notify()
        return pending.future

    def _device(self, device: str) -> tuple[int, int, str | None, str] | None:
        entry = self._registry.get(device)
        stale = time.monotonic() - self._registry_at > (1.0 if entry is None else 30.0)
        if stale:
            with self.engine.connect() as conn:
                self._registry = live_store.device_registry(conn)
                self._extent = area_store.deployment_extent(conn)
                self._srid = metric_srid(conn)
            self._registry_at = time.monotonic()
            entry = self._registry.get(device)
        return entry

    def _check_place(self, positions: list[Position]) -> None:
        if self._extent is None or self._srid is None:
            raise PositionRefused("outside_areas", "no areas are loaded yet: positions have "
                                  "nowhere to belong", device=positions[0].device)
        x0, y0, x1, y1 = self._extent
        m = EXTENT_MARGIN_DEG
        for p in positions:
            if not (x0 - m <= p.lon <= x1 + m and y0 - m <= p.lat <= y1 + m):
                raise PositionRefused("outside_areas", f"lat {p.lat:.5f}, lon {p.lon:.5f} lies "
                                      "far outside the deployment's areas", device=p.device)

    def _count_refusal(self, reason: str, device: str, now: float) -> None:
        when = dt.datetime.fromtimestamp(now, dt.UTC)
        key = (when.astimezone(self._zone).date(), reason, device[:64])
        with self._cond:
            self._refused[key] += 1
            self._refused_at[key] = when
        self.stats[f"refused_{reason}"] += 1

    # the writer side

    def _run(self) -> None:
        # group commit: a batch is whatever arrived while the previous one was being stored,
        # at most one batch every ``min_gap_s`` (a batch's fixed cost is spread over more
        # positions under load); refusals are flushed every interval
        started = 0.0
        while True:
            with self._cond:
                while not self._queue and not self._closed and not self._refused:
                    self._cond.wait(self.interval_s)
            rest = self.min_gap_s - (time.monotonic() - started)
            if rest > 0 and not self._closed:
                time.sleep(rest)
            started = time.monotonic()
            with self._cond:
                if not self._queue and not self._refused and self._closed:
                    return
                batch, self._queue = self._queue, []
                refused = [(k[0], k[1], k[2], n, self._refused_at[k])
                           for k, n in self._refused.items()]
                self._refused.clear()
                self._refused_at.clear()
            if not batch and not refused:
                continue
            try:
                stored = self._store(batch, refused)
            except CONNECTION_LOST as exc:
                log.warning("positions not stored, the database is unreachable: %s", exc)
                _settle_batch(batch, DatabaseError(
                    "the database is not reachable; the app will retry"))
                continue
            except Exception as exc:  # noqa: BLE001  (answered, never lost silently)
                log.exception("positions not stored")
                _settle_batch(batch, DatabaseError(f"positions not stored: {exc}"))
                continue
            self.stats["stored"] += stored
            _settle_batch(batch, None)

    def _store(self, batch: list[_Pending], refused: list[tuple[Any, ...]]) -> int:
        with self.engine.begin() as conn:
            live_store.count_refusals(conn, refused)
            if not batch:
                return 0
            frame = _batch_frame(batch)
            live_store.lock_intake(conn)
            frame = frame.drop_duplicates(["volunteer_id", "t"], keep="first")
            known = live_store.stored_keys(conn, frame["volunteer_id"].to_numpy(),
                                           frame["t"].to_numpy())
            if known:
                keys = list(zip(frame["volunteer_id"].tolist(), frame["t"].tolist()))
                frame = frame[[k not in known for k in keys]]
            self.stats["resent"] += sum(len(p.positions) for p in batch) - len(frame)
            if frame.empty:
                return 0
            if self._srid is None:  # read with the device registry
                raise DatabaseError("no metric CRS recorded: load the areas first")
            return _store_arrivals(conn, frame.reset_index(drop=True), self.settings,
                                   self._srid)

    def close(self, timeout: float = 10.0) -> None:
        """Store what is queued, then stop the writer."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)


class Intakes:
    """The deployment's position intake: each request goes to the intake of the city its
    device is registered in (a device registered in two cities is refused, not guessed)."""

    def __init__(self, intakes: dict[str, Intake]) -> None:
        if not intakes:
            raise ConflictError("no city yet: positions have nowhere to go")
        self.intakes = intakes

    def submit(self, query: str | bytes, body: bytes, *, now: float | None = None,
               loop: asyncio.AbstractEventLoop | None = None) -> Future | asyncio.Future:
        first = next(iter(self.intakes.values()))
        if len(self.intakes) > 1:
            try:
                device = decode_request(query, body, now=now or time.time())[0][0].device
            except PositionRefused:
                device = None
            if device is not None:
                found = [i for i in self.intakes.values() if i._device(device) is not None]
                if len(found) > 1:  # each of those cities' commands sees the refusals
                    for intake in found:
                        intake._count_refusal("ambiguous_device", device, now or time.time())
                    raise PositionRefused("ambiguous_device", f"device {device!r} is "
                                          "registered in more than one city", device=device)
                first = found[0] if found else first
        return first.submit(query, body, now=now, loop=loop)

    def close(self, timeout: float = 10.0) -> None:
        for intake in self.intakes.values():
            intake.close(timeout)


def _batch_frame(batch: list[_Pending]) -> pd.DataFrame:
    rows = [(p.volunteer_id, p.device_row, p.occupation, pos.t, pos.lon, pos.lat, pos.speed_mps,
             pos.heading, pos.accuracy_m, pos.battery_pct, pos.moving, pos.attrs)
            for p in batch for pos in p.positions]
    return pd.DataFrame(rows, columns=["volunteer_id", "device_id", "occupation", "t", "lon",
                                       "lat", "speed_mps", "heading", "accuracy_m",
                                       "battery_pct", "moving", "attrs"])


def _store_arrivals(conn: Any, frame: pd.DataFrame, settings: Settings, srid: int) -> int:
    """Flag, join into tracks and store one batch of new positions (inside the intake lock)."""
    vid = frame["volunteer_id"].to_numpy(dtype="int32")
    t = frame["t"].to_numpy(dtype="int64")
    previous = live_store.previous_fixes(conn, np.unique(vid).tolist())
    arr = flag_arrivals(vid, t, frame["lon"].to_numpy(dtype="float64"),
                        frame["lat"].to_numpy(dtype="float64"),
                        frame["accuracy_m"].to_numpy(dtype="float64"),
                        frame["speed_mps"].to_numpy(dtype="float64"), previous,
                        metric_crs=f"EPSG:{srid}", gap_s=settings.track_gap_s,
                        max_speed_kmh=settings.max_speed_kmh,
                        max_accuracy_m=settings.max_accuracy_m)
    rows = frame.iloc[arr.order].reset_index(drop=True)
    # a position the phone says is mocked is stored, flagged: it covers nothing, pays nothing
    mocked = rows["attrs"].map(is_mock).to_numpy(dtype=bool)
    arr.flags[mocked] |= FLAG_MOCK
    arr.step_m[mocked] = 0.0
    new_tracks = np.flatnonzero(arr.continues < 0)
    track_ids = arr.continues.copy()
    if len(new_tracks):
        track_ids[new_tracks] = fix_store.allocate_track_ids(conn, len(new_tracks))
    rows["flags"] = arr.flags
    rows["track_id"] = track_ids[arr.track]
    rows["x"], rows["y"] = arr.x, arr.y
    live_store.store_positions(conn, rows)
    zone = ZoneInfo(settings.timezone)
    days = pd.to_datetime(rows["t"], unit="us", utc=True).dt.tz_convert(zone).dt.date
    uploads = {}
    for day, idx in rows.groupby(days.to_numpy()).indices.items():
        flagged = int((rows["flags"].to_numpy()[idx] != 0).sum())
        uploads[day] = live_store.live_upload(conn, day, len(idx), flagged)
        fixes = CleanFixes(rows["volunteer_id"].to_numpy(dtype="int32")[idx], t=rows["t"].to_numpy()[idx],
                           lon=rows["lon"].to_numpy()[idx], lat=rows["lat"].to_numpy()[idx],
                           x=arr.x[idx], y=arr.y[idx],
                           accuracy=rows["accuracy_m"].to_numpy(dtype="float64")[idx],
                           speed=rows["speed_mps"].to_numpy(dtype="float64")[idx],
                           flags=arr.flags[idx].astype("int16"), track=arr.track[idx])
        fix_store.store_fixes(conn, fixes, upload_id=uploads[day], track_ids=track_ids,
                              srid=srid, tz=settings.timezone)
    _store_tracks(conn, rows, arr, track_ids, uploads, days)
    return len(rows)


def _store_tracks(conn: Any, rows: pd.DataFrame, arr: Any, track_ids: np.ndarray,
                  uploads: dict[dt.date, int], days: pd.Series) -> None:
    """New tracks inserted, continued ones extended (per batch track, rows sorted by track:
    counts, times and metres by numpy). A live track's line is drawn when it ends."""
    k = len(arr.continues)
    track = arr.track
    t = rows["t"].to_numpy(dtype="int64")
    n = np.bincount(track, minlength=k)
    flagged = np.bincount(track, weights=arr.flags != 0, minlength=k).astype(int)
    metres = np.bincount(track, weights=arr.step_m, minlength=k)
    first = np.searchsorted(track, np.arange(k))
    last = np.searchsorted(track, np.arange(k), side="right") - 1
    go_on = arr.continues >= 0
    live_store.extend_tracks(conn, [(int(track_ids[i]), int(t[last[i]]), int(n[i]),
                                     int(flagged[i]), float(metres[i]))
                                    for i in np.flatnonzero(go_on)])
    passive = rows["occupation"].isin(PASSIVE_OCCUPATIONS).to_numpy()
    vid = rows["volunteer_id"].to_numpy()
    day = days.to_numpy()
    new = [(int(track_ids[i]), int(vid[first[i]]), uploads[day[first[i]]],
            "passive" if passive[first[i]] else "patrol",
            pd.Timestamp(int(t[first[i]]), unit="us", tz="UTC"),
            pd.Timestamp(int(t[last[i]]), unit="us", tz="UTC"), int(n[i]), int(flagged[i]),
            float(metres[i]), None)
           for i in np.flatnonzero(~go_on)]
    if new:
        fix_store.store_track_rows(conn, new)


# -- the force now ----------------------------------------------------------------------------

@dataclass
class ForceNow:
    """The volunteers seen lately, their state and trails (``people``: names shown)."""

    volunteers: pd.DataFrame
    trails: pd.DataFrame
    counts: dict[str, int]
    at: dt.datetime


def live_state(frame: pd.DataFrame, now: dt.datetime, *, offline_after: dt.timedelta
               ) -> np.ndarray:
    """patrolling / passive / idle / offline for each last position."""
    age = (pd.Timestamp(now) - pd.to_datetime(frame["t"], utc=True)).dt.total_seconds()
    moving = frame["moving"].fillna(False).astype(bool) | \
        (frame["speed_mps"].fillna(0).astype(float) > 0.5)
    passive = frame["occupation"].isin(PASSIVE_OCCUPATIONS)
    return np.select([age > offline_after.total_seconds(), ~moving, passive],
                     ["offline", "idle", "passive"], "patrolling")


def force_now(engine: Engine, settings: Settings, *, within: frozenset[int] | None,
              now: dt.datetime | None = None, trail_min: float = 30.0,
              hours: float = 12.0) -> ForceNow:
    """Who is out now: each volunteer's last position (of the last ``hours``), their state and
    the trail of the last ``trail_min`` minutes, limited to ``within`` communities."""
    now = now or dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        last = live_store.last_positions(conn, now - dt.timedelta(hours=hours), within)
        trail = live_store.trails(conn, last["volunteer_id"].astype(int).tolist(),
                                  now - dt.timedelta(minutes=trail_min))
    last["state"] = live_state(last, now, offline_after=dt.timedelta(
        minutes=settings.live_offline_min)) if len(last) else []
    counts = {s: int((last["state"] == s).sum()) for s in
              ("patrolling", "passive", "idle", "offline")}
    return ForceNow(last, trail, counts, now)


# -- coverage as it happens -------------------------------------------------------------------

class LiveCoverage:
    """Advances today's live coverage from positions that arrived since the last update.

    The street atoms are built once per process; one process at a time updates (an advisory
    lock), so several web workers may all run it.
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        from geo_patrol.services.analysis import default_params

        self.engine = engine
        self.settings = settings
        self.params = default_params(settings)
        self._streets: Any = None
        self._streets_key: tuple[int, int] | None = None

    def _atoms(self, conn: Any) -> Any:
        from geo_patrol.analysis.live import StreetAtoms
        from geo_patrol.store.windows import read_segments

        key = area_store.segment_count(conn)
        if self._streets is None or key != self._streets_key:
            segs = read_segments(conn, None)
            self._streets = StreetAtoms.build(segs["id"].to_numpy(), segs["geom"].to_numpy(),
                                              self.params.radius_m)
            self._streets_key = key
        return self._streets

    def update(self, *, limit: int = 200_000) -> int:
        """Take in up to ``limit`` new positions; the number read (0: nothing new or another
        process is updating)."""
        from geo_patrol.analysis.live import merge_cover, step_cover
        from geo_patrol.analysis.paths import Fixes

        zone = ZoneInfo(self.settings.timezone)
        # arrivals and ended tracks first, in a short transaction of their own, so that no
        # track the intake may extend is locked while the coverage advances
        with self.engine.begin() as conn:
            if not live_store.lock_coverage(conn):
                return 0
            live_store.mark_arrivals(conn, self.settings.callout_arrival_m)
            live_store.close_tracks(conn, dt.datetime.now(dt.UTC) - dt.timedelta(
                seconds=self.settings.track_gap_s))
        with self.engine.begin() as conn:
            if not live_store.lock_coverage(conn):
                return 0
            new = live_store.new_clean_fixes(conn, live_store.cursor(conn), limit)
            if new.empty:
                return 0
            top = int(new["seq"].max())
            new = new[new["flags"] == 0]
            if len(new):
                streets = self._atoms(conn)
                local = pd.to_datetime(new["t"], unit="s", utc=True).dt.tz_convert(zone)
                new = new.assign(day=local.dt.date.to_numpy(),
                                 day_start=local.dt.normalize().map(
                                     lambda d: d.timestamp()).to_numpy())
                for day, part in new.groupby("day"):
                    self._advance(conn, day, part, streets, step_cover, merge_cover, Fixes)
            live_store.set_cursor(conn, top)
            return int(len(new))

    def _advance(self, conn: Any, day: dt.date, part: pd.DataFrame, streets: Any,
                 step_cover: Any, merge_cover: Any, fixes_type: Any) -> None:
        firsts = part.sort_values("t").groupby("volunteer_id", as_index=False).first()
        before = live_store.clean_before(conn, firsts[["volunteer_id", "t", "day_start"]])
        both = pd.concat([before.assign(seq=0), part[["volunteer_id", "t", "x", "y", "kind",
                                                      "seq"]]], ignore_index=True)
        both = both.sort_values(["volunteer_id", "t"], kind="stable")
        kind = (both["kind"] == "passive").to_numpy(dtype="int8")
        fixes = fixes_type(both["volunteer_id"].to_numpy(dtype="int32"), kind,
                           both["t"].to_numpy(dtype="float64"), both["x"].to_numpy(dtype="float64"),
                           both["y"].to_numpy(dtype="float64"))
        cover = step_cover(streets, fixes, radius=self.params.radius_m,
                           gap_s=self.params.gap_s, max_speed_kmh=self.params.max_speed_kmh)
        if cover.empty:
            return
        segs = cover["segment_id"].unique().tolist()
        stored = live_store.cover_rows(conn, day, segs)
        live_store.store_cover(conn, day, merge_cover(stored, cover))


def coverage_loop(engine: Engine, settings: Settings,
                  stop: threading.Event | None = None) -> None:
    """Advance the live coverage (and call-out arrivals) every ``live_update_s`` until
    ``stop`` is set; a lost database is retried on the next turn."""
    coverage = LiveCoverage(engine, settings)
    stop = stop or threading.Event()
    while not stop.is_set():
        try:
            while coverage.update():
                pass
        except CONNECTION_LOST as exc:
            log.warning("live coverage not updated, the database is unreachable: %s",
                        str(exc).splitlines()[0])
        except Exception:  # noqa: BLE001  (the next turn tries again)
            log.exception("live coverage not updated")
        stop.wait(settings.live_update_s)


def coverage_process(settings: Settings) -> None:
    """:func:`coverage_loop` as a process of its own (``geo-patrol serve``: the intake keeps
    its core)."""
    import os

    from geo_patrol.store.db import open_database

    parent, stop = os.getppid(), threading.Event()

    def orphaned() -> None:  # the server went away (even by SIGKILL): so does this process
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=orphaned, daemon=True).start()
    coverage_loop(open_database(settings, upgrade=False), settings, stop)


def coverage_today(engine: Engine, settings: Settings, *, within: frozenset[int] | None,
                   day: dt.date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per community: street length and covered length today; and the segments visited."""
    day = day or settings.today()
    with engine.connect() as conn:
        return (live_store.live_coverage(conn, day, within),
                live_store.covered_segments(conn, day, within))


# -- call-outs --------------------------------------------------------------------------------

def nearest_by_walking(engine: Engine, settings: Settings, *, lon: float, lat: float,
                       count: int, within_m: float = 3000.0, skill: str | None = None,
                       require_skill: bool = True, now: dt.datetime | None = None
                       ) -> pd.DataFrame:
    """The on-duty volunteers nearest to a point by walking along the streets (not straight
    lines), with distance and ETA, best first.

    With ``skill`` (a certified skill: first aid, mediation...) only volunteers holding a
    current certificate in it are called, or with ``require_skill=False`` they come first
    and the others after them; ``certified`` tells which is which. A skill only declared
    on the roster does not count."""
    if skill is not None and skill not in CERT_SKILLS:
        raise InputError(f"unknown skill {skill[:40]!r}: use one of {', '.join(CERT_SKILLS)}")
    from geo_patrol.planning.network import walking_distances

    now = now or dt.datetime.now(dt.UTC)
    with engine.connect() as conn:
        srid = metric_srid(conn)
        if srid is None:
            raise InputError("no areas are loaded yet")
        x, y = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{srid}",
                                           always_xy=True).transform(lon, lat)
        box = (x - within_m, y - within_m, x + within_m, y + within_m)
        people = live_store.on_duty_positions(
            conn, now - dt.timedelta(minutes=settings.live_offline_min), box,
            settings.today(now))
        segs = area_store.segments_near(conn, box)
    people["certified"] = [skill in held for held in people.pop("skills_held")]
    if skill and require_skill:
        people = people[people["certified"]]
    if people.empty or segs.empty:
        return people.assign(walk_m=[], eta_s=[]).iloc[:0]
    walk = walking_distances(segs, x, y, people["x"].to_numpy(), people["y"].to_numpy())
    out = people.assign(walk_m=walk, eta_s=walk / settings.walk_speed_mps)
    out = out[np.isfinite(out["walk_m"])].sort_values(["certified", "walk_m"],
                                                      ascending=[False, True])
    return out.head(count).reset_index(drop=True)


def call_out(engine: Engine, settings: Settings, principal: Principal, *, lon: object,
             lat: object, category: str, note: str | None, count: int = 5,
             skill: str | None = None, require_skill: bool = True) -> int:
    """Mark an incident and call the ``count`` nearest on-duty volunteers (audit-logged)."""
    from geo_patrol.services.sources import entered_point, form_text
    from geo_patrol.store.accounts import audit

    note = form_text(note, "note", limit=500)
    category = (form_text(category, "category", limit=32) or "").strip()
    if not category:
        raise InputError("choose the incident's category")
    if not 1 <= count <= 50:
        raise InputError("call between 1 and 50 volunteers")
    with engine.begin() as conn:
        plon, plat, community = entered_point(conn, lon, lat, "wgs84", principal.community_ids)
    targets = nearest_by_walking(engine, settings, lon=plon, lat=plat, count=count, skill=skill,
                                 require_skill=require_skill)
    with engine.begin() as conn:
        callout_id = live_store.store_callout(
            conn, category=category, note=note, lon=plon, lat=plat,
            srid=int(metric_srid(conn) or 0), community_id=community, user_id=principal.id,
            targets=targets, skill=skill, skill_required=bool(skill and require_skill))
        audit(conn, principal.username, "callout", f"callout {callout_id}",
              details={"volunteers": targets["number"].tolist(), "category": category,
                       "skill": skill, "skill_required": bool(skill and require_skill)})
    return callout_id


def callouts(engine: Engine, within: frozenset[int] | None, *,
             tz: str = "Asia/Shanghai") -> pd.DataFrame:
    with engine.connect() as conn:
        return local_times(live_store.callout_table(conn, within), tz, "created_at")


def callout_detail(engine: Engine, callout_id: int, principal: Principal) -> pd.DataFrame:
    with engine.connect() as conn:
        try:
            area = live_store.callout_area(conn, callout_id)
        except LookupError:
            raise NotFoundError(f"no call-out {callout_id}") from None
        principal.check_area(area, "call-out")
        return live_store.callout_targets(conn, callout_id)


def my_callouts(engine: Engine, volunteer_id: int, *, tz: str = "Asia/Shanghai"
                ) -> pd.DataFrame:
    with engine.connect() as conn:
        return local_times(live_store.volunteer_callouts(conn, volunteer_id), tz, "created_at")


def answer(engine: Engine, principal: Principal, callout_id: int, accept: bool) -> None:
    """A volunteer accepts or declines their own call-out."""
    from geo_patrol.store.accounts import audit

    if principal.volunteer_id is None:
        raise NotFoundError(f"no call-out {callout_id}")
    with engine.begin() as conn:
        if not live_store.answer_callout(conn, callout_id, principal.volunteer_id,
                                         "accepted" if accept else "declined"):
            raise NotFoundError(f"no open call-out {callout_id} for this volunteer")
        audit(conn, principal.username, "callout_answer", f"callout {callout_id}",
              details={"accepted": accept})
