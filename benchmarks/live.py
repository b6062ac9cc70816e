"""W9: live intake — the demo city's patrol day folded onto one hour (every volunteer-hour a
phone of its own, up to the whole roster) and replayed as Traccar Client requests, one
position per request, against ``geo-patrol serve --positions-port``.

    python -m benchmarks.live [--scale city] [--minutes 60] [--rate 2000] [--faults]

Three runs on the same positions, each against a fresh server process:

1. **ceiling**: every phone sends as fast as it is answered; the throughput reached;
2. **sustained**: the requests paced at ``--rate`` positions/s; throughput and latency
   (p50/p99), every position acknowledged and stored exactly once, and how far the live
   coverage lags behind the last position;
3. with ``--faults``: the server SIGKILLed mid-stream and restarted while the phones keep
   retrying (every acknowledged position stored, none twice), and PostgreSQL stopped
   mid-stream (the answers are 503, never 500; the phones' retries land once it is back).

The baseline is Baotou's need: 15,749 volunteers at one fix per 10 s, about 1,600/s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from benchmarks import _common
from benchmarks._common import benchmark_database, emit
from geo_patrol.demo.generate import generate
from geo_patrol.demo.replay import ReplayResult, device_id, requests_for, send
from geo_patrol.services.demo import load_demo
from geo_patrol.settings import Settings
from geo_patrol.store import live as live_store

BAOTOU_NEED = 15_749 / 10


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``geo-patrol serve --positions-port`` in its own process."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.env = {**os.environ, "DATABASE_URL": url, "GEO_PATROL_DATA_DIR": str(data_dir),
                    "GEO_PATROL_LIVE_UPDATE_S": "2",
                    # the load comes from one address: its limit would cap the ceiling
                    "GEO_PATROL_INTAKE_ADDRESS_RATE": "0"}
        self.port = _port()
        self.proc: subprocess.Popen | None = None
        data_dir.mkdir(parents=True, exist_ok=True)  # a demo loaded already made none
        self.log = (data_dir / "serve.log").open("ab")  # read after a run that went wrong

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "geo_patrol.cli", "serve", "--port", str(_port()),
             "--positions-port", str(self.port)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.2)
        raise RuntimeError("the position port did not open")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"


def _reset(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for table in ("live_positions", "live_cover", "live_cursor", "callout_targets"):
            conn.execute(sa.text(f"DELETE FROM {table}"))  # noqa: S608
        conn.execute(sa.text("DELETE FROM tracks WHERE upload_id IN "
                             "(SELECT id FROM uploads WHERE kind = 'live')"))
        conn.execute(sa.text("DELETE FROM patrol_fixes WHERE upload_id IN "
                             "(SELECT id FROM uploads WHERE kind = 'live')"))
        conn.execute(sa.text("DELETE FROM uploads WHERE kind = 'live'"))


def demo_busy_hour(engine: sa.Engine, settings: Settings, root: Path, scale: str,
                   minutes: float) -> tuple[pd.DataFrame, dict[str, int]]:
    """Today's demo day of ``scale`` generated under ``root`` and loaded, and its busiest
    ``minutes`` of tracks, with each volunteer number's id."""
    generate(root / "files", seed=7, scale=scale, until=dt.date.today(), days=1)
    load_demo(engine, root / "files", settings)
    with engine.begin() as conn:
        day = live_store.fixes_for_replay(conn, dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
                                          dt.datetime.now(dt.UTC))
        roster = conn.execute(sa.text("SELECT number, id FROM volunteers ORDER BY number")
                              ).all()
    return _one_busy_hour(day, [r[0] for r in roster], minutes), dict(roster)


def _one_busy_hour(day, numbers: list[str], minutes: float):  # noqa: ANN001, ANN202
    """The whole force out at once: every (volunteer, hour) of the day's tracks folded onto
    one hour and given a phone of its own (a roster member), as when the whole roster
    patrols together — up to the 15,749 phones of Baotou's programme."""
    hour = (day["t"] // 3600).astype("int64")
    day = day.assign(hour=hour, t=day["t"] - (hour - hour.min()) * 3600)
    pairs = day[["number", "hour"]].drop_duplicates().reset_index(drop=True)
    tracked = set(pairs["number"])
    free = [n for n in numbers if n not in tracked]
    taken: set[str] = set()
    phone = []
    for number in pairs["number"]:  # its own number first, then a member with no track
        if number not in taken:
            taken.add(number)
            phone.append(number)
        else:
            phone.append(free.pop() if free else None)
    pairs["phone"] = phone
    day = day.merge(pairs.dropna(), on=["number", "hour"])
    day = day.assign(number=day["phone"]).drop(columns=["phone", "hour"])
    day = day[day["t"] < day["t"].min() + minutes * 60]
    return day.sort_values("t").reset_index(drop=True)


def _stored(engine: sa.Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        n, distinct = conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT (volunteer_id, t)) FROM live_positions")).one()
    return int(n), int(distinct)


def _coverage_lag(engine: sa.Engine, timeout: float = 120.0) -> float:
    """Seconds until the live coverage has read every stored position."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        with engine.connect() as conn:
            top = conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM live_positions")
                               ).scalar_one()
            read = live_store.cursor(conn)
        if read >= top:
            return time.perf_counter() - start
        time.sleep(0.5)
    return float("inf")


def _run(server: Server, requests: list, **options: object) -> ReplayResult:
    server.start()
    try:
        return send(server.url, requests, **options)  # type: ignore[arg-type]
    finally:
        server.stop()


def _line(name: str, r: ReplayResult) -> str:
    return (f"{name:<22} {r.sent:>7} sent {r.ok:>7} ok {r.sent / r.seconds:>8.0f}/s "
            f"p50 {r.percentile(50):>6.1f} ms  p99 {r.percentile(99):>6.1f} ms"
            + (f"  failed {r.failed}" if r.failed else ""))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "city"], default="city")
    parser.add_argument("--minutes", type=float, default=60.0,
                        help="Minutes of the busiest hour's tracks to replay.")
    parser.add_argument("--rate", type=float, default=2000.0)
    parser.add_argument("--concurrency", type=int, default=512,
                        help="Connections at once (each phone sends in order on one).")
    parser.add_argument("--faults", action="store_true")
    args = parser.parse_args(argv)

    root = Path(tempfile.mkdtemp(prefix="gp-bench-live-"))
    figures: dict[str, object] = {"baseline_per_s": BAOTOU_NEED}
    with benchmark_database() as (engine, settings):
        fixes, ids = demo_busy_hour(engine, settings, root, args.scale, args.minutes)
        with engine.begin() as conn:
            for number in fixes["number"].unique():
                live_store.add_device(conn, device_id(number), int(ids[number]), None)
        # one busy hour, stamped so that the last position is now: all in the past
        requests = requests_for(fixes, speed=1e9, now=time.time() - 60)
        phones = len({r.device for r in requests})
        print(f"{len(requests)} positions of {phones} phones "
              f"(Baotou needs ~{BAOTOU_NEED:.0f}/s)")
        server = Server(settings.database_url or "", settings.data_dir)

        ceiling = _run(server, requests, concurrency=args.concurrency, paced=False)
        print(_line("ceiling", ceiling))
        _reset(engine)

        paced = [type(r)(i / args.rate, r.device, r.query, r.body)
                 for i, r in enumerate(requests)]
        server.start()
        try:
            sustained = send(server.url, paced, concurrency=args.concurrency, paced=True)
            lag = _coverage_lag(engine)
        finally:
            server.stop()
        stored, distinct = _stored(engine)
        print(_line(f"sustained @{args.rate:.0f}/s", sustained))
        print(f"stored {stored} ({distinct} distinct) of {len(requests)}; live coverage caught "
              f"up {lag:.1f} s after the last position")
        figures |= {
            "positions": len(requests), "phones": phones,
            "ceiling_per_s": round(ceiling.sent / ceiling.seconds),
            "ceiling_p99_ms": round(ceiling.percentile(99), 1),
            "sustained_per_s": round(sustained.sent / sustained.seconds),
            "sustained_p50_ms": round(sustained.percentile(50), 1),
            "sustained_p99_ms": round(sustained.percentile(99), 1),
            "lost": len(requests) - stored, "stored_twice": stored - distinct,
            "coverage_lag_s": round(lag, 1),
            "ratio_to_baseline": round(sustained.sent / sustained.seconds / BAOTOU_NEED, 2),
        }
        if args.faults:
            figures |= _faults(engine, server, settings, paced, args.concurrency)
    emit(figures)


def _interrupted(engine: sa.Engine, server: Server, requests: list, concurrency: int, *,
                 after_s: float, interrupt: Callable[[], None]) -> tuple[ReplayResult, int, int]:
    """Replay ``requests`` (paced, retried) while ``interrupt`` runs ``after_s`` in; the
    answers, and how many positions were stored (and how many distinct)."""
    server.start()
    result: dict[str, ReplayResult] = {}
    thread = threading.Thread(target=lambda: result.update(r=send(
        server.url, requests, concurrency=concurrency, paced=True, retries=60)))
    thread.start()
    time.sleep(after_s)
    interrupt()
    thread.join()
    server.stop()
    stored, distinct = _stored(engine)
    return result["r"], stored, distinct


def _faults(engine: sa.Engine, server: Server, settings: object, requests: list,
            concurrency: int) -> dict[str, object]:
    """SIGKILL the server mid-stream, then stop PostgreSQL mid-stream."""
    out: dict[str, object] = {}
    killed: list[int] = []

    def kill() -> None:
        server.kill()
        killed.append(_stored(engine)[0])
        time.sleep(1.0)
        server.start()

    _reset(engine)
    r, stored, distinct = _interrupted(engine, server, requests, concurrency,
                                       after_s=len(requests) / 2000 / 3, interrupt=kill)
    print(f"SIGKILL after {killed[0]} stored: {r.ok} acknowledged in the end, {stored} stored, "
          f"{stored - distinct} twice; answers {r.statuses}")
    out |= {"kill_acknowledged": r.ok, "kill_stored": stored,
            "kill_stored_twice": stored - distinct, "kill_lost": r.ok - min(r.ok, stored)}

    _reset(engine)
    cluster = _common.CURRENT_CLUSTER
    if cluster is None:
        print("DATABASE_URL is external: PostgreSQL is not stopped")
        return out

    def stop_database() -> None:
        cluster.stop()
        time.sleep(3)
        cluster.start()

    r, stored, distinct = _interrupted(engine, server, requests[:20_000], concurrency,
                                       after_s=3, interrupt=stop_database)
    print(f"PostgreSQL stopped for 3 s: answers {r.statuses}; {r.ok} acknowledged, "
          f"{stored} stored, {stored - distinct} twice")
    out |= {"pg_down_statuses": {str(k): v for k, v in r.statuses.items()},
            "pg_down_500s": r.statuses.get(500, 0), "pg_down_lost": r.ok - min(r.ok, stored)}
    return out


if __name__ == "__main__":
    main()
