"""Position intake (a group-commit writer per city); starts the intake and coverage workers."""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import hmac
import logging
import multiprocessing
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo_patrol.errors import ConflictError, DatabaseError, InputError
from geo_patrol.ingest.fixes import CleanFixes
from geo_patrol.ingest.points import EXTENT_MARGIN_DEG
from geo_patrol.ingest.positions import (
    Position,
    PositionRefused,
    alarm_of,
    decode_request,
    flag_arrivals,
    is_mock,
)
from geo_patrol.ingest.volunteers import PASSIVE_OCCUPATIONS
from geo_patrol.services.callouts import raise_sos, watch_still
from geo_patrol.services.live_coverage import coverage_loop, coverage_process
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import fixes as fix_store
from geo_patrol.store import live as live_store
from geo_patrol.store.db import CONNECTION_LOST, metric_srid, open_database
from geo_patrol.vocab import FLAG_MOCK

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: A device looked up and not found is taken as unknown for this long (seconds) without
#: another query; at most ``UNKNOWN_KEPT`` such devices are remembered.
UNKNOWN_FOR_S = 10.0
UNKNOWN_KEPT = 100_000
#: Unknown devices are looked up in the database at most this many times a second (with
#: bursts of twice as many); beyond it they are refused as unknown without a query.
LOOKUPS_PER_S = 50.0


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (Linux, macOS), else asyncio's own: the
    position port and the phones' replay run on it."""
    try:
        import uvloop  # optional: asyncio's own loop does the same work, slower
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


@dataclass(frozen=True)
class Queued:
    """A checked request's positions and whose they are, as the writer stores them."""

    positions: list[Position]
    device_row: int
    volunteer_id: int
    occupation: str
    #: the phone proved itself with its device secret: its positions may prove work
    proven: bool


@dataclass
class _Pending:
    queued: Queued
    #: a thread's future, or an event loop's (settled on that loop, once per batch)
    future: Future | asyncio.Future = field(default_factory=Future)
    loop: asyncio.AbstractEventLoop | None = None


def _done(loop: asyncio.AbstractEventLoop | None) -> Future | asyncio.Future:
    """A request's answer with nothing to store: settled already."""
    future: Future | asyncio.Future = Future() if loop is None else loop.create_future()
    future.set_result(0)
    return future


class RateLimit:
    """Token buckets, one per key (a device, an address): ``rate`` tokens a second with
    bursts of ``burst``; ``rate`` 0 lifts the limit. A request costs ``cost`` tokens; one
    costing more than the burst is taken from a full bucket, which then owes the rest (its
    key waits for the refill). The least recently seen keys are forgotten beyond ``size``,
    so a flood of new keys costs bounded memory."""

    def __init__(self, rate: float, burst: float, *, size: int = 100_000) -> None:
        self.rate, self.burst, self.size = rate, max(burst, 1.0), size
        self._buckets: collections.OrderedDict[str, tuple[float, float]] = \
            collections.OrderedDict()
        self._lock = threading.Lock()

    def allow(self, key: str, now: float, cost: float = 1.0) -> bool:
        """Take a request of ``key`` at ``now`` (seconds) if its bucket holds its ``cost``
        (or is full)."""
        if self.rate <= 0:
            return True
        with self._lock:
            tokens, at = self._buckets.pop(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            allowed = tokens >= min(cost, self.burst)
            self._buckets[key] = (tokens - cost if allowed else tokens, now)
            while len(self._buckets) > self.size:
                self._buckets.popitem(last=False)
        return allowed


#: Why a batch's requests were not stored, by their place in the batch (none: all stored).
Failures = dict[int, str]


def _all_failed(n: int, why: str) -> Failures:
    return dict.fromkeys(range(n), why)


def _settle(pendings: list[tuple[_Pending, str | None]]) -> None:
    for p, failure in pendings:
        if p.future.done():  # an asyncio future whose waiter gave up
            continue
        if failure is None:
            p.future.set_result(len(p.queued.positions))
        else:
            p.future.set_exception(DatabaseError(failure))


def _settle_batch(batch: list[_Pending], failures: Failures) -> None:
    """Answer a stored (or failed) batch, each request stored or told why not: thread
    futures at once, each event loop's futures in one callback on that loop (one wake-up per
    batch, not per request)."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[_Pending, str | None]]] = \
        collections.defaultdict(list)
    for i, p in enumerate(batch):
        if p.loop is None:
            _settle([(p, failures.get(i))])
        else:
            by_loop[p.loop].append((p, failures.get(i)))
    for loop, pendings in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, pendings)
        except RuntimeError:  # the loop has closed: nobody is waiting
            pass


class Intake:
    """Accepts position requests and stores them in batches (one writer thread; with
    ``process``, the writer's work is done in a process of its own).

    A request is decoded (:mod:`geo_patrol.ingest.positions`), its device and place checked at
    once (a refusal is answered and counted, nothing stored), and its positions queued for the
    writer thread, which stores in one transaction whatever arrived while the previous batch
    was being stored (a group commit, one COPY per batch: ``live_positions`` and the day
    partitions of ``patrol_fixes``, tracks extended). A request is answered only when its
    batch has committed, so a crash loses nothing acknowledged, and a re-sent position is
    stored once (unique per volunteer and time).

    ``submit`` raises :class:`PositionRefused` for a request that stores nothing, and returns
    a future that resolves to the number of positions once they are committed (or raises
    :class:`DatabaseError` when the database is unreachable: the app retries). Called on an
    event loop's thread with ``loop``, the future is that loop's. ``accept`` does the same for
    a request already decoded (each request is decoded once, whichever city takes it).

    With ``process`` (``geo-patrol serve``) the writer thread hands each batch to a process
    of its own (:class:`BatchWriter` there), so that storing a batch and taking the next
    requests run side by side, not by turns in one interpreter.
    """

    def __init__(self, engine: Engine, settings: Settings, *, interval_s: float = 0.2,
                 min_gap_s: float = 0.01, process: bool = False) -> None:
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
        self._per_device = RateLimit(settings.intake_device_rate, settings.intake_device_burst)
        self._per_address = RateLimit(settings.intake_address_rate,
                                      settings.intake_address_burst)
        #: devices looked up and not found (monotonic time), and the lookups' own limit
        self._unknown: collections.OrderedDict[str, float] = collections.OrderedDict()
        self._lookups = RateLimit(LOOKUPS_PER_S, 2 * LOOKUPS_PER_S)
        self.stats: collections.Counter[str] = collections.Counter()
        #: the writer's work: here, on the writer thread, or in its process (started there)
        self._writer = None if process else BatchWriter(engine, settings, self.stats)
        self._process: Any = None
        self._pipe: Any = None
        if process:  # started before the first request, which would otherwise wait for it
            self._start_process()
        self._thread = threading.Thread(target=self._run, name="position-intake", daemon=True)
        self._thread.start()

    # the request side

    def check_address(self, address: str | None, now: float) -> None:
        """Refuse (``rate_limited``) an address sending faster than its limit."""
        if address is not None and not self._per_address.allow(address, now):
            self._count_refusal("rate_limited", "", now)
            raise PositionRefused("rate_limited", "too many position requests from this "
                                  "address: try again in a moment")

    def submit(self, query: str | bytes, body: bytes, *, now: float | None = None,
               address: str | None = None,
               loop: asyncio.AbstractEventLoop | None = None) -> Future | asyncio.Future:
        """Decode, check and queue one request (from ``address``, when the front end knows
        it); refused requests raise :class:`PositionRefused` and are counted."""
        now = time.time() if now is None else now
        positions, key = self.decode(query, body, now=now, address=address)
        return self.accept(positions, key, now=now, loop=loop)

    def decode(self, query: str | bytes, body: bytes, *, now: float, address: str | None
               ) -> tuple[list[Position], str | None]:
        """A request's positions and device secret, once its address is within its limit
        (refusals counted here)."""
        self.check_address(address, now)
        try:
            return decode_request(query, body, now=now)
        except PositionRefused as exc:
            self._count_refusal(exc.reason, exc.device or "", now)
            raise

    def accept(self, positions: list[Position], key: str | None, *, now: float,
               loop: asyncio.AbstractEventLoop | None = None) -> Future | asyncio.Future:
        """Check and queue the positions of a decoded request (``key``: its device secret)."""
        try:
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
            # only a request that is the device's own spends its bucket: requests naming it
            # with a wrong key cannot silence the real phone (they spend their address's)
            if not self._per_device.allow(device, now, len(positions)):
                raise PositionRefused("rate_limited", "too many position requests from this "
                                      "device: try again in a moment", device=device)
            self._check_place(positions)
        except PositionRefused as exc:
            self._count_refusal(exc.reason, exc.device or "", now)
            raise
        positions = self._recent(positions, now)
        if not positions:  # answered as taken: the phone drops them from its buffer
            return _done(loop)
        proven = digest is not None  # a device with a secret got here with the right key
        queued = Queued(positions, row, volunteer_id, occupation, proven)
        pending = _Pending(queued) if loop is None \
            else _Pending(queued, loop.create_future(), loop)
        with self._cond:
            if self._closed:
                raise DatabaseError("the position intake is shutting down")
            self._queue.append(pending)
            if len(self._queue) == 1:  # the writer waits only on an empty queue
                self._cond.notify()
        return pending.future

    def _device(self, device: str) -> tuple[int, int, str | None, str] | None:
        """The device's registry entry: the registry is reloaded every
        ``device_registry_s``, and a device it does not know is looked up on its own (a
        phone registered a moment ago is taken at once) unless it was looked up in the last
        :data:`UNKNOWN_FOR_S` seconds or unknown devices are being asked for faster than
        :data:`LOOKUPS_PER_S` (a flood of made-up ids costs no query each: a phone
        registered meanwhile is found by the registry's next reading)."""
        entry = self._registry.get(device)
        clock = time.monotonic()
        if entry is not None and clock - self._registry_at <= self.settings.device_registry_s:
            return entry
        if entry is None and self._extent is not None:
            missed = self._unknown.get(device)
            if missed is not None and clock - missed < UNKNOWN_FOR_S:
                return None
            if not self._lookups.allow("", clock):
                return None
        with self.engine.connect() as conn:
            if entry is None and self._extent is not None:
                found = live_store.device_registry(conn, device)
                self._registry.update(found)
                if device not in found:
                    self._unknown[device] = clock
                    self._unknown.move_to_end(device)
                    while len(self._unknown) > UNKNOWN_KEPT:
                        self._unknown.popitem(last=False)
                return found.get(device)
            self._reload_registry(conn)
        return self._registry.get(device)

    def _reload_registry(self, conn: Any) -> None:
        """Read the whole registry (and the deployment's extent and metric CRS), swapped in
        at once: a request meanwhile sees the old one or the new, never a half of each."""
        started = time.monotonic()
        registry = live_store.device_registry(conn)
        extent, srid = area_store.deployment_extent(conn), metric_srid(conn)
        self._registry, self._extent, self._srid = registry, extent, srid
        self._registry_at = started  # a change made while it was read is read next time

    def _refresh_registry(self) -> None:
        """On the writer's thread, after a batch: the registry read again once half of
        ``device_registry_s`` has gone by, so that the requests (on the position port's
        event loop) find it fresh instead of stopping every phone while it is read. A
        failure is only logged: a request finding it stale reads it itself."""
        if self._extent is None or \
                time.monotonic() - self._registry_at <= self.settings.device_registry_s / 2:
            return
        try:
            with self.engine.connect() as conn:
                self._reload_registry(conn)
        except Exception:  # noqa: BLE001  (the request path reads it when it must)
            log.warning("the device registry was not read again", exc_info=True)

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

    def _recent(self, positions: list[Position], now: float) -> list[Position]:
        """The positions that are not older than the live positions are kept
        (``live_keep_days``); older ones are counted (``too_old``) and dropped. They would be
        pruned at once, and each old day they named would be a new day of stored fixes:
        history is loaded as files, not sent live."""
        oldest = round((now - self.settings.live_keep_days * 86_400) * 1e6)
        recent = [p for p in positions if p.t >= oldest]
        if len(recent) < len(positions):
            self._count_refusal("too_old", positions[0].device, now)
        return recent

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
            queued = [p.queued for p in batch]
            if self._writer is not None:
                failures = self._writer.write(queued, refused)
            else:
                failures = self._write_there(queued, refused)
            _settle_batch(batch, failures)
            if self._writer is not None and len(failures) < len(batch):
                self._writer.follow_up()
            self._refresh_registry()

    def _write_there(self, queued: list[Queued], refused: list[tuple[Any, ...]]) -> Failures:
        """A batch written by the writer's process (started on first use, and again after it
        died: that batch is answered "retry", and a position whose commit was not answered
        is found stored and skipped when re-sent)."""
        if self._process is None or not self._process.is_alive():
            self._start_process()
        try:
            self._pipe.send((queued, refused))
            failures, stats = self._pipe.recv()
        except (EOFError, OSError) as exc:
            log.warning("the position writer stopped (%s): started again", exc)
            self._stop_process()
            return _all_failed(len(queued), "the position writer stopped; the app will retry")
        self.stats.update(stats)
        return failures

    def _start_process(self) -> None:
        self._stop_process()
        here, there = multiprocessing.get_context("spawn").Pipe()
        self._process = multiprocessing.get_context("spawn").Process(
            target=writer_process, args=(self.settings, there), name="position-writer",
            daemon=True)
        self._process.start()
        there.close()
        self._pipe = here

    def _stop_process(self, timeout: float = 10.0) -> None:
        process, pipe, self._process, self._pipe = self._process, self._pipe, None, None
        if pipe is not None:
            pipe.close()  # the process ends when it has read everything
        if process is not None:
            process.join(timeout)
            if process.is_alive():
                process.kill()

    def close(self, timeout: float = 10.0) -> None:
        """Store what is queued, then stop the writer."""
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout)
        if not self._thread.is_alive():
            if self._writer is not None:
                self._writer.close()
            self._stop_process(timeout)


class Intakes:
    """The deployment's position intake: each request goes to the intake of the city its
    device is registered in (a device registered in two cities is refused, not guessed)."""

    def __init__(self, intakes: dict[str, Intake]) -> None:
        if not intakes:
            raise ConflictError("no city yet: positions have nowhere to go")
        self.intakes = intakes

    def submit(self, query: str | bytes, body: bytes, *, now: float | None = None,
               address: str | None = None,
               loop: asyncio.AbstractEventLoop | None = None) -> Future | asyncio.Future:
        """Decode a request once and hand it to its city's intake (see :meth:`Intake.submit`);
        a request that names no device is counted by the first city, whose limit per address
        is the deployment's."""
        now = time.time() if now is None else now
        first = next(iter(self.intakes.values()))
        positions, key = first.decode(query, body, now=now, address=address)
        if len(self.intakes) > 1:
            device = positions[0].device
            found = [i for i in self.intakes.values() if i._device(device) is not None]
            if len(found) > 1:  # each of those cities' commands sees the refusals
                for intake in found:
                    intake._count_refusal("ambiguous_device", device, now)
                raise PositionRefused("ambiguous_device", f"device {device!r} is "
                                      "registered in more than one city", device=device)
            first = found[0] if found else first
        return first.accept(positions, key, now=now, loop=loop)

    def close(self, timeout: float = 10.0) -> None:
        for intake in self.intakes.values():
            intake.close(timeout)


class BatchWriter:
    """Stores batches of checked positions in one transaction each, on a connection of its
    own (kept from batch to batch: no pool check-out and ping per batch), and follows a
    stored batch up (SOS alarms, the "no movement" check). It works on the intake's writer
    thread, or in the writer's process (:func:`writer_process`); ``stats`` counts what it
    stored and re-sent positions skipped."""

    def __init__(self, engine: Engine, settings: Settings,
                 stats: collections.Counter[str]) -> None:
        self.engine, self.settings, self.stats = engine, settings, stats
        self._conn: Any = None
        #: the day partitions seen committed, and the metric CRS (read on each connection)
        self._partitions: set[str] = set()
        self._srid: int | None = None
        #: when the next "no movement" check may be asked for (monotonic seconds)
        self._still_due = 0.0
        #: new positions stored by the last batch, and the SOS they raise (volunteer id: its
        #: last SOS position, lon and lat)
        self._stored = 0
        self._sos: dict[int, tuple[float, float]] = {}

    def write(self, batch: list[Queued], refused: list[tuple[Any, ...]]) -> Failures:
        """Store a batch and the refusals counted meanwhile, in one transaction; the requests
        not stored, and why (their phones retry: nothing of theirs was committed). A batch
        refused for what one request holds is stored again in halves, down to the requests
        refused alone: one phone's bad position never fails the others'."""
        self._stored, self._sos = 0, {}
        try:
            self._stored = self._store(batch, refused)
            self.stats["stored"] += self._stored
            return {}
        except CONNECTION_LOST as exc:
            log.warning("positions not stored, the database is unreachable: %s", exc)
            return _all_failed(len(batch), "the database is not reachable; the app will retry")
        except Exception as exc:  # noqa: BLE001  (answered, never lost silently)
            if len(batch) <= 1:
                log.exception("positions not stored")
                return _all_failed(len(batch), f"positions not stored: {exc}")
            log.warning("a batch of %d requests not stored (%s): stored in halves",
                        len(batch), exc)
        failures: Failures = {}
        sos: dict[int, tuple[float, float]] = {}
        try:
            try:
                self._store([], refused)
            except CONNECTION_LOST:
                raise
            except Exception:  # noqa: BLE001  (counts of refusals only: the positions go on)
                log.exception("refusals not counted")
            stored = self._halves(batch, 0, failures, sos)
        except CONNECTION_LOST as exc:
            log.warning("positions not stored, the database is unreachable: %s", exc)
            return _all_failed(len(batch), "the database is not reachable; the app will retry")
        self._stored, self._sos = stored, sos
        self.stats["stored"] += stored
        return failures

    def _halves(self, batch: list[Queued], first: int, failures: Failures,
                sos: dict[int, tuple[float, float]]) -> int:
        """Store a refused batch's two halves apart (the requests at ``first`` on), each
        again in halves when refused; a request refused alone is named in ``failures``."""
        self._sos = {}  # (what a refused half would have raised is not kept)
        try:
            stored = self._store(batch, [])
            sos.update(self._sos)
            return stored
        except CONNECTION_LOST:
            raise
        except Exception as exc:  # noqa: BLE001  (answered, never lost silently)
            if len(batch) == 1:
                log.warning("positions of device %s not stored: %s", batch[0].device_row, exc)
                failures[first] = f"positions not stored: {exc}"
                return 0
        half = len(batch) // 2
        return (self._halves(batch[:half], first, failures, sos)
                + self._halves(batch[half:], first + half, failures, sos))

    def follow_up(self) -> None:
        """After the phones have their answer: the SOS alarms the last batch stored, and the
        "no movement" check asked for when it stored new positions."""
        self._alarms()
        if self._stored:
            self._watch_still()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _alarms(self) -> None:
        """The SOS positions the last batch stored raise their volunteers' alarms (an alarm
        that fails is logged, its position stays stored)."""
        sos, self._sos = self._sos, {}
        for volunteer_id, (lon, lat) in sos.items():
            try:
                raise_sos(self.engine, self.settings, volunteer_id, lon=lon, lat=lat,
                          source="device")
                self.stats["sos"] += 1
            except InputError as exc:  # raised too often: the command has the others
                log.warning("SOS of volunteer %s not raised: %s", volunteer_id, exc)
            except Exception:  # noqa: BLE001  (the position is stored; the log says why)
                log.exception("SOS of volunteer %s not raised", volunteer_id)

    def _watch_still(self) -> None:
        """The "no movement during a patrol" check asked of the job worker, at most once
        every ``still_check_s`` (it runs that long after, seeing every position stored
        until then)."""
        now = time.monotonic()
        if now < self._still_due or self.settings.rules.dispatch.still_min <= 0:
            return
        self._still_due = now + self.settings.still_check_s
        try:
            if watch_still(self.settings):
                self.stats["still_checks"] += 1
        except Exception:  # noqa: BLE001  (the positions are stored; the next batch asks again)
            log.exception("the no-movement check was not queued")
            self._still_due = 0.0

    def _store(self, batch: list[Queued], refused: list[tuple[Any, ...]]) -> int:
        """Store a batch in one transaction. A connection found lost is replaced and the
        batch tried once more on the new one (nothing of it was committed, or, if the
        commit's answer was what got lost, its positions are found stored and skipped)."""
        for attempt in (0, 1):
            conn = self._conn
            if conn is None:
                conn = self._conn = self.engine.connect()
                self._srid = metric_srid(conn)
                conn.commit()
            try:
                with conn.begin():
                    return self._store_on(conn, batch, refused)
            except CONNECTION_LOST:
                self._drop_connection()
                if attempt:
                    raise
            except Exception:
                # a fresh start for the next batch: a new connection, every day partition
                # looked up again (one may have been dropped)
                self._drop_connection()
                raise
        raise AssertionError("unreachable")

    def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        self._partitions.clear()
        if conn is not None:
            try:
                conn.invalidate()
                conn.close()
            except Exception:  # noqa: BLE001  (a lost connection may not even close)
                log.debug("a lost intake connection did not close", exc_info=True)

    def _store_on(self, conn: Any, batch: list[Queued], refused: list[tuple[Any, ...]]
                  ) -> int:
        live_store.count_refusals(conn, refused)
        if not batch:
            return 0
        cols = _batch_columns(batch)
        first = _first_of_each(cols["volunteer_id"], cols["t"])
        if len(first) < len(cols["t"]):  # sent twice within the batch: stored once
            cols = _take(cols, first)
        known, previous = live_store.open_batch(conn, cols["volunteer_id"], cols["t"])
        if known:
            keys = zip(cols["volunteer_id"].tolist(), cols["t"].tolist())
            cols = _take(cols, np.flatnonzero([k not in known for k in keys]))
        stored = len(cols["t"])
        self.stats["resent"] += sum(len(q.positions) for q in batch) - stored
        if not stored:
            return 0
        self._sos = _fresh_sos(cols, time.time())
        if self._srid is None:
            raise DatabaseError("no metric CRS recorded: load the areas first")
        return _store_arrivals(conn, cols, previous, self.settings, self._srid,
                               self._partitions)


def writer_process(settings: Settings, pipe: Any) -> None:
    """The writer's process (``geo-patrol serve``): batches read from ``pipe`` are stored by
    a :class:`BatchWriter` and answered (the requests not stored and why, and the counts
    since the last answer), then followed up; it ends when the intake closes the pipe or
    goes away."""
    stats: collections.Counter[str] = collections.Counter()
    writer = BatchWriter(open_database(settings, upgrade=False), settings, stats)
    try:
        while True:
            try:
                batch, refused = pipe.recv()
            except (EOFError, OSError):  # the intake closed (or died): nothing more comes
                return
            failures = writer.write(batch, refused)
            try:
                pipe.send((failures, dict(stats)))
            except OSError:  # the intake went away while it was stored
                return
            stats.clear()
            if len(failures) < len(batch):
                writer.follow_up()
    finally:
        writer.close()


#: A batch's positions by column (numpy arrays of one length): a frame's fixed costs, paid
#: for each of its operations, would be most of a batch's.
Columns = dict[str, np.ndarray]


def _batch_columns(batch: list[Queued]) -> Columns:
    """The batch's positions, a row each."""
    n = np.array([len(p.positions) for p in batch])
    positions = [pos for p in batch for pos in p.positions]

    def each(values: list[Any], dtype: str) -> np.ndarray:
        return np.repeat(np.array(values, dtype=dtype), n)

    return {
        "volunteer_id": each([p.volunteer_id for p in batch], "int64"),
        "device_id": each([p.device_row for p in batch], "int64"),
        "occupation": each([p.occupation for p in batch], "object"),
        "t": np.array([pos.t for pos in positions], dtype="int64"),
        **{c: np.array([getattr(pos, c) for pos in positions], dtype="float64")
           for c in ("lon", "lat", "speed_mps", "heading", "accuracy_m", "battery_pct")},
        "moving": np.fromiter((pos.moving for pos in positions), dtype=object,
                              count=len(positions)),
        "attrs": np.fromiter((pos.attrs for pos in positions), dtype=object,
                             count=len(positions)),
        "proven": each([p.proven for p in batch], "bool")}


def _take(cols: Columns, rows: np.ndarray) -> Columns:
    return {c: v[rows] for c, v in cols.items()}


#: An SOS position sent longer ago than this raises no alarm when it arrives (a phone back
#: online after half an hour, a request stamped in the past): a stale alarm would send people
#: to where nobody is any more.
SOS_FRESH_S = 1800.0


def _fresh_sos(cols: Columns, now: float) -> dict[int, tuple[float, float]]:
    """The SOS among a batch's new positions sent in the last :data:`SOS_FRESH_S`: each
    volunteer's last, its lon and lat."""
    found: dict[int, tuple[int, float, float]] = {}
    for i in np.flatnonzero(cols["t"] >= round((now - SOS_FRESH_S) * 1e6)):
        if alarm_of(cols["attrs"][i]) != "sos":
            continue
        vid, t = int(cols["volunteer_id"][i]), int(cols["t"][i])
        if vid not in found or t > found[vid][0]:
            found[vid] = (t, float(cols["lon"][i]), float(cols["lat"][i]))
    return {vid: (lon, lat) for vid, (_, lon, lat) in found.items()}


def _first_of_each(volunteer_id: np.ndarray, t: np.ndarray) -> np.ndarray:
    """The rows that are the first of their (volunteer, time), in their order."""
    order = np.lexsort((t, volunteer_id))  # stable: the first sent comes first
    same = (volunteer_id[order][1:] == volunteer_id[order][:-1]) & \
        (t[order][1:] == t[order][:-1])
    again = np.zeros(len(t), dtype=bool)
    again[order[1:][same]] = True
    return np.flatnonzero(~again)


def _store_arrivals(conn: Any, cols: Columns, previous: Mapping[str, np.ndarray],
                    settings: Settings, srid: int, partitions: set[str]) -> int:
    """Flag, join into tracks and store one batch of new positions (inside the intake lock;
    ``previous``: their volunteers' previous fixes, ``partitions``: the day partitions known
    to exist). The bookkeeping goes in one round trip, then three COPYs."""
    arr = flag_arrivals(cols["volunteer_id"].astype("int32"), cols["t"], cols["lon"],
                        cols["lat"], cols["accuracy_m"], cols["speed_mps"], previous,
                        metric_crs=f"EPSG:{srid}", gap_s=settings.track_gap_s,
                        max_speed_kmh=settings.max_speed_kmh,
                        max_accuracy_m=settings.max_accuracy_m)
    rows = _take(cols, arr.order)
    # a position the phone says is mocked is stored, flagged: it covers nothing, pays nothing
    mocked = np.fromiter(map(is_mock, rows["attrs"]), dtype=bool, count=len(arr.order))
    arr.flags[mocked] |= FLAG_MOCK
    arr.step_m[mocked] = 0.0
    new_tracks = np.flatnonzero(arr.continues < 0)
    track_ids = arr.continues.copy()
    proven = rows["proven"]
    # the batch by local day and proof: each such group has its upload and its COPY
    day_no = _local_days(rows["t"], settings.timezone)
    keys, group = np.unique(day_no * 2 + proven, return_inverse=True)
    groups = [(_EPOCH_DAY + dt.timedelta(days=int(k) // 2), bool(k % 2),
               np.flatnonzero(group == g)) for g, k in enumerate(keys)]
    stats = _track_stats(rows["t"], arr)
    new_ids, uploads = live_store.file_batch(
        conn, new_tracks=len(new_tracks),
        uploads=[(day, vouched, len(idx), int((arr.flags[idx] != 0).sum()))
                 for day, vouched, idx in groups],
        days=[day for day, _, _ in groups],
        extend=[(int(track_ids[i]), int(stats.t[stats.last[i]]), int(stats.n[i]),
                 int(stats.flagged[i]), float(stats.metres[i]))
                for i in np.flatnonzero(arr.continues >= 0)])
    track_ids[new_tracks] = new_ids
    rows |= {"flags": arr.flags, "track_id": track_ids[arr.track], "x": arr.x, "y": arr.y}
    live_store.store_positions(conn, rows)
    vids = rows["volunteer_id"].astype("int32")
    flags16 = arr.flags.astype("int16")
    for day, vouched, idx in groups:
        fixes = CleanFixes(vids[idx], t=stats.t[idx], lon=rows["lon"][idx],
                           lat=rows["lat"][idx], x=arr.x[idx], y=arr.y[idx],
                           accuracy=rows["accuracy_m"][idx], speed=rows["speed_mps"][idx],
                           flags=flags16[idx], track=arr.track[idx])
        fix_store.store_fixes(conn, fixes, upload_id=uploads[day, vouched],
                              track_ids=track_ids, srid=srid, tz=settings.timezone,
                              known=partitions, forget=False)  # forgotten with the uploads
    upload_of_group = np.array([uploads[day, vouched] for day, vouched, _ in groups])
    _store_new_tracks(conn, rows, arr, stats, track_ids, upload_of_group[group])
    return len(arr.order)


@dataclass
class _TrackStats:
    """Per batch track (rows sorted by track): its fixes, flagged fixes, metres, and its
    first and last row."""

    t: np.ndarray
    n: np.ndarray
    flagged: np.ndarray
    metres: np.ndarray
    first: np.ndarray
    last: np.ndarray


def _track_stats(t: np.ndarray, arr: Any) -> _TrackStats:
    k = len(arr.continues)
    track = arr.track
    return _TrackStats(
        t=t, n=np.bincount(track, minlength=k),
        flagged=np.bincount(track, weights=arr.flags != 0, minlength=k).astype(int),
        metres=np.bincount(track, weights=arr.step_m, minlength=k),
        first=np.searchsorted(track, np.arange(k)),
        last=np.searchsorted(track, np.arange(k), side="right") - 1)


_EPOCH_DAY = dt.date(1970, 1, 1)


def _local_days(t_us: np.ndarray, timezone: str) -> np.ndarray:
    """Each time's local day (µs since the epoch -> days since 1970-01-01, local): one
    offset for a batch within a day whose ends share it (no change of the zone's offset can
    lie between), else each time's own."""
    zone = ZoneInfo(timezone)
    lo, hi = int(t_us.min()), int(t_us.max())
    offsets = {dt.datetime.fromtimestamp(v / 1e6, zone).utcoffset() for v in (lo, hi)}
    if hi - lo < _DAY_US and len(offsets) == 1:
        offset_us = int(offsets.pop().total_seconds()) * 1_000_000  # type: ignore[union-attr]
        return (t_us + offset_us) // _DAY_US
    local = pd.DatetimeIndex(pd.to_datetime(t_us, unit="us", utc=True)).tz_convert(
        timezone).tz_localize(None)
    return local.to_numpy().astype("datetime64[D]").astype("int64")


_DAY_US = 86_400_000_000


def _store_new_tracks(conn: Any, rows: Columns, arr: Any, stats: _TrackStats,
                      track_ids: np.ndarray, upload_of_row: np.ndarray) -> None:
    """New tracks inserted (continued ones were extended with the batch's bookkeeping:
    counts, times and metres by numpy). A live track's line is drawn when it ends."""
    passive = np.fromiter((o in PASSIVE_OCCUPATIONS for o in rows["occupation"]), dtype=bool,
                          count=len(rows["occupation"]))
    vid = rows["volunteer_id"]
    t, first, last = stats.t, stats.first, stats.last
    new = [(int(track_ids[i]), int(vid[first[i]]), int(upload_of_row[first[i]]),
            "passive" if passive[first[i]] else "patrol",
            _instant(t[first[i]]), _instant(t[last[i]]), int(stats.n[i]),
            int(stats.flagged[i]), float(stats.metres[i]), None)
           for i in np.flatnonzero(arr.continues < 0)]
    if new:
        fix_store.store_track_rows(conn, new)


def _instant(t_us: np.integer) -> dt.datetime:
    return dt.datetime.fromtimestamp(int(t_us) / 1e6, dt.UTC)


# -- start-up ---------------------------------------------------------------------------------

_COVERAGE_STARTED: set[str] = set()
_COVERAGE_LOCK = threading.Lock()


def start_coverage(engine: Engine, settings: Settings, *, process: bool = False) -> None:
    """Advance the city's live coverage (and call-out arrivals) every ``live_update_s``: on a
    thread, or in a process of its own (one per city of each database either way)."""
    key = f"{engine.url}|{settings.city}"
    with _COVERAGE_LOCK:
        if key in _COVERAGE_STARTED:
            return
        _COVERAGE_STARTED.add(key)
    if process:
        multiprocessing.get_context("spawn").Process(
            target=coverage_process, args=(settings,), name="live-coverage",
            daemon=True).start()
        return
    threading.Thread(target=coverage_loop, args=(engine, settings), name="live-coverage",
                     daemon=True).start()


def start_intake(cities: Mapping[str, tuple[Engine, Settings]], *,
                 processes: bool = False) -> Intakes:
    """The deployment's position intake (a writer thread per city) and each city's coverage
    worker (threads; with ``processes``, each city's writer and coverage in processes of
    their own, so that taking requests, storing them and the coverage run side by side);
    ``cities`` maps each city's key to its engine and settings."""
    intakes = Intakes({key: Intake(engine, settings, process=processes)
                       for key, (engine, settings) in cities.items()})
    for engine, settings in cities.values():
        start_coverage(engine, settings, process=processes)
    return intakes
