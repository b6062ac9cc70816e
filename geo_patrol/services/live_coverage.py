"""The live coverage worker: today's coverage advanced from new positions, and read back."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from geo_patrol.analysis.live import StreetAtoms, merge_cover, step_cover
from geo_patrol.analysis.paths import Fixes
from geo_patrol.services.analysis import default_params
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import live as live_store
from geo_patrol.store.db import CONNECTION_LOST, open_database
from geo_patrol.store.windows import read_segments

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: The streets are checked for a change (a new import) at most this often (seconds): the
#: check counts every segment, a cost that would otherwise come with every update.
STREETS_CHECK_S = 30.0
_EPOCH = pd.Timestamp(0, tz="UTC")
#: Positions one update takes in at most.
UPDATE_LIMIT = 200_000


class LiveCoverage:
    """Advances today's live coverage from positions that arrived since the last update.

    The street atoms are built once per process; one process at a time updates (an advisory
    lock), so several web workers may all run it. The covered intervals of the days it
    updated are held in memory as committed (read from the database once a day), so an
    update reads back none of what it rewrites; they are read again whenever the cursor is
    not where this process left it (another process updated, or the tables were reset).
    """

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self.params = default_params(settings)
        self._streets: StreetAtoms | None = None
        self._streets_key: tuple[int, int] | None = None
        self._streets_checked = 0.0
        #: per day, each segment's committed intervals (atoms, starts, ends, last visit),
        #: and the cursor they are as of (``None``: nothing held)
        self._held: dict[dt.date, dict[int, _Held]] = {}
        self._held_at: int | None = None

    def _atoms(self, conn: Any) -> StreetAtoms:
        """The street atoms, built again when the streets have changed (checked at most
        every :data:`STREETS_CHECK_S`)."""
        now = time.monotonic()
        if self._streets is not None and now - self._streets_checked < STREETS_CHECK_S:
            return self._streets
        key = area_store.segment_count(conn)
        if self._streets is None or key != self._streets_key:
            segs = read_segments(conn, None)
            self._streets = StreetAtoms.build(segs["id"].to_numpy(), segs["geom"].to_numpy(),
                                              self.params.radius_m)
            self._streets_key = key
        self._streets_checked = now
        return self._streets

    def prepare(self) -> None:
        """Build the street atoms now, before the first positions come: a server just
        started covers them at once, and the build does not take the CPU from the intake
        while they pour in (a failure is only logged: the first update builds them)."""
        try:
            with self.engine.connect() as conn:
                self._atoms(conn)
        except Exception:  # noqa: BLE001  (no streets or no database yet: built when needed)
            log.info("the street atoms are built at the first update", exc_info=True)

    def update(self, *, limit: int = UPDATE_LIMIT) -> int:
        """Take in up to ``limit`` new positions; the number read (0: nothing new or another
        process is updating)."""
        zone = ZoneInfo(self.settings.timezone)
        # arrivals and ended tracks first, in a short transaction of their own, so that no
        # track the intake may extend is locked while the coverage advances
        with self.engine.begin() as conn:
            live_store.plan_each_time(conn)
            if not live_store.lock_coverage(conn):
                return 0
            live_store.mark_arrivals(conn, self.settings.callout_arrival_m)
            live_store.close_tracks(conn, dt.datetime.now(dt.UTC) - dt.timedelta(
                seconds=self.settings.track_gap_s))
        try:
            read, top, merged = self._take_in(zone, limit)
        except BaseException:
            self._held, self._held_at = {}, None  # not known committed: read again
            raise
        if read:  # committed: what the next update starts from
            for day, frame in merged.items():
                self._hold(day, frame)
            self._held_at = top
        return read

    def _take_in(self, zone: ZoneInfo, limit: int
                 ) -> tuple[int, int, dict[dt.date, pd.DataFrame]]:
        """The positions read, the cursor after them, and each day's merged segments (as
        stored, once this transaction commits)."""
        merged: dict[dt.date, pd.DataFrame] = {}
        with self.engine.begin() as conn:
            live_store.plan_each_time(conn)
            if not live_store.lock_coverage(conn):
                return 0, 0, merged
            at = live_store.cursor(conn)
            if at != self._held_at:
                self._held = {}
            new = live_store.new_clean_fixes(conn, at, limit)
            if new.empty:
                return 0, 0, merged
            top, read = int(new["seq"].max()), len(new)
            new = new[new["flags"] == 0]
            if len(new):
                streets = self._atoms(conn)
                local = pd.to_datetime(new["t"], unit="s", utc=True).dt.tz_convert(zone)
                new = new.assign(day=local.dt.date.to_numpy(),
                                 day_start=(local.dt.normalize() - _EPOCH).dt.total_seconds()
                                 .to_numpy())
                for day, part in new.groupby("day"):
                    merged[day] = self._advance(conn, day, part, streets)
            live_store.set_cursor(conn, top)
        return read, top, merged

    def _advance(self, conn: Any, day: dt.date, part: pd.DataFrame,
                 streets: StreetAtoms) -> pd.DataFrame:
        firsts = part.sort_values("t").groupby("volunteer_id", as_index=False).first()
        before = live_store.clean_before(conn, firsts[["volunteer_id", "t", "day_start"]])
        both = pd.concat([before.assign(seq=0), part[["volunteer_id", "t", "x", "y", "kind",
                                                      "seq"]]], ignore_index=True)
        both = both.sort_values(["volunteer_id", "t"], kind="stable")
        kind = (both["kind"] == "passive").to_numpy(dtype="int8")
        fixes = Fixes(both["volunteer_id"].to_numpy(dtype="int32"), kind,
                      both["t"].to_numpy(dtype="float64"), both["x"].to_numpy(dtype="float64"),
                      both["y"].to_numpy(dtype="float64"))
        cover = step_cover(streets, fixes, radius=self.params.radius_m,
                           gap_s=self.params.gap_s, max_speed_kmh=self.params.max_speed_kmh)
        if cover.empty:
            return cover
        held = self._day(conn, day)
        segs = [s for s in cover["segment_id"].unique().tolist() if s in held]
        live_store.drop_cover(conn, day, segs)
        rows = [held[s] for s in segs]
        stored = pd.DataFrame({"segment_id": np.array(segs, dtype="int64"),
                               # lists as they are (np.array makes equal ones a 2-D array)
                               **{c: np.fromiter((r[i] for r in rows), dtype=object,
                                                 count=len(rows))
                                  for i, c in enumerate(("atoms", "starts", "ends"))},
                               "last": np.array([r[3] for r in rows], dtype="float64")})
        merged = merge_cover(stored, cover)
        live_store.store_cover(conn, day, merged)
        return merged

    def _day(self, conn: Any, day: dt.date) -> dict[int, _Held]:
        """The day's committed intervals, read from the database unless held."""
        if day not in self._held:
            rows = live_store.day_cover(conn, day)
            self._held[day] = dict(zip(rows["segment_id"].tolist(), zip(
                rows["atoms"], rows["starts"], rows["ends"], rows["last"].tolist())))
        return self._held[day]

    def _hold(self, day: dt.date, merged: pd.DataFrame) -> None:
        """Committed segments kept as the day's; only the two newest days are held."""
        if merged.empty:
            return
        self._held.setdefault(day, {}).update(zip(merged["segment_id"].tolist(), zip(
            merged["atoms"], merged["starts"], merged["ends"], merged["last"].tolist())))
        for old in sorted(self._held)[:-2]:
            del self._held[old]


#: A segment's committed intervals of a day: atoms, starts, ends (metres) and last visit.
_Held = tuple[list[int], list[float], list[float], float]


def coverage_loop(engine: Engine, settings: Settings,
                  stop: threading.Event | None = None) -> None:
    """Advance the live coverage (and call-out arrivals) every ``live_update_s`` until
    ``stop`` is set; a lost database is retried on the next turn. An update that read its
    whole limit is followed at once by the next (a backlog); otherwise the positions of the
    next ``live_update_s`` are taken in together, so that each street touched meanwhile is
    rewritten once, not once per position's update."""
    coverage = LiveCoverage(engine, settings)
    stop = stop or threading.Event()
    coverage.prepare()
    while not stop.is_set():
        try:
            while coverage.update() >= UPDATE_LIMIT and not stop.is_set():
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
    parent, stop = os.getppid(), threading.Event()

    def orphaned() -> None:  # the server went away (even by SIGKILL): so does this process
        while not stop.wait(1.0):
            if os.getppid() != parent:
                stop.set()

    threading.Thread(target=orphaned, daemon=True).start()
    coverage_loop(open_database(settings, upgrade=False), settings, stop)


def coverage_today(engine: Engine, settings: Settings, *, within: frozenset[int] | None,
                   day: dt.date | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per community: street length and covered length today (the city's local day); and the
    segments visited."""
    day = day or settings.today()
    with engine.connect() as conn:
        return (live_store.live_coverage(conn, day, within),
                live_store.covered_segments(conn, day, within))
