"""W17 and W9: live events reaching thousands of open pages while the intake takes 2,000
positions/s, and the intake's ceiling against a no-op HTTP server's on the same port stack.

    python -m benchmarks.events [--clients 2000] [--rate 2000] [--seconds 30] [--events 20]
    python -m benchmarks.events --ceiling [--seconds 15]   # the intake's ceiling alone

Against ``geo-patrol serve --positions-port`` in its own process (positions and the pages'
live events on one aiohttp port, uvloop's event loop), on the demo city's busiest hour folded
as in :mod:`benchmarks.live`; the same positions for every run, the same load generator
(:func:`geo_patrol.demo.replay.send`, one position per request):

1. **no-op ceiling**: an aiohttp server on uvloop, in its own process, answering every request
   ``200 OK`` unread: what the port stack and the load generator allow at best;
2. **intake ceiling**: the same positions sent as fast as answered to the position port; the
   W9 figure is its share of the no-op ceiling (target ≥ 60 %). Both runs also count the
   CPU a request costs (the server's processes, PostgreSQL's when it runs here, the load
   generator's): on a machine others share, a few seconds' throughput swings with their
   load, and the ratio of the CPU costs is the share reached whenever the CPU binds;
3. **under load**: ``--clients`` pages connected to ``/events`` (another process, signed in
   with a command's session cookie) while the positions are paced at ``--rate``/s; one event
   published a second (a NOTIFY, as the services publish); for each, the share of the pages
   it reached within 2 s (target ≥ 99 %) and its delivery latency; the positions' p99
   (target ≤ 200 ms).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import sqlalchemy as sa

from benchmarks._common import benchmark_database, emit
from benchmarks.live import Server as LiveServer
from benchmarks.live import _line, _port, _reset, demo_busy_hour
from geo_patrol.demo.replay import ReplayResult, device_id, requests_for, send
from geo_patrol.services.intake import new_event_loop
from geo_patrol.store import live as live_store

#: An event reaches a page in time within this (seconds).
IN_TIME_S = 2.0
PASSWORD = "bench-events-password"


class Server(LiveServer):
    """``geo-patrol serve --positions-port`` in its own process, given the time a loaded
    machine takes to start it: timed once it has started (both ports open, its imports and
    its coverage process's done), not while it starts."""

    def start(self) -> None:
        web = _port()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "geo_patrol.cli", "serve", "--port", str(web),
             "--positions-port", str(self.port)], env=self.env,
            stdout=subprocess.DEVNULL, stderr=self.log)
        _wait_open(self.port, self.proc)
        _wait_open(web, self.proc)
        _settled(self.proc.pid)


def _wait_open(port: int, proc: subprocess.Popen) -> None:
    deadline = time.time() + 300  # a loaded machine takes long to import
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"port {port} did not open")


def _settled(pid: int, *, idle_s: float = 0.2, timeout_s: float = 180.0) -> None:
    """Wait until process ``pid`` and its children have started: less than ``idle_s`` of CPU
    used in each of two seconds running (a starting server imports for a long while on a
    loaded machine, and whatever it starts in processes of its own imports too)."""
    root = psutil.Process(pid)

    def used() -> float:
        total = 0.0
        for p in [root, *root.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                total += t.user + t.system
        return total

    deadline, quiet, last = time.time() + timeout_s, 0, used()
    while quiet < 2 and time.time() < deadline:
        time.sleep(1.0)
        now = used()
        quiet = quiet + 1 if now - last < idle_s else 0
        last = now


def _cpu_s(pids: list[int]) -> float:
    """CPU seconds used so far by these processes and their children."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            root = psutil.Process(pid)
            for p in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    t = p.cpu_times()
                    total += t.user + t.system
    return total


def _postmaster(url: str) -> list[int]:
    """The PostgreSQL server at ``url`` when it runs on this machine (its backends are its
    children), else nothing."""
    port = sa.engine.make_url(url).port or 5432
    found = []
    for p in psutil.process_iter(["name", "cmdline"]):
        cmd = p.info["cmdline"] or []
        if "postgres" in (p.info["name"] or "") and f"-p {port}" in " ".join(cmd):
            found.append(p.pid)
    return found


class Cpu:
    """The CPU time a run takes per request, of the server, of PostgreSQL and of this
    process (the load generator): on a machine others share, the throughput of a short run
    swings with their load, the CPU a request costs much less."""

    def __init__(self, server: int | None, database: list[int]) -> None:
        self.server, self.database = [server] if server else [], database
        self.me = psutil.Process()

    def __enter__(self) -> Cpu:
        t = self.me.cpu_times()
        self.start = (_cpu_s(self.server), _cpu_s(self.database), t.user + t.system)
        return self

    def __exit__(self, *exc: object) -> None:
        t = self.me.cpu_times()
        end = (_cpu_s(self.server), _cpu_s(self.database), t.user + t.system)
        self.used = tuple(b - a for a, b in zip(self.start, end))

    def per_request_us(self, n: int) -> dict[str, float]:
        server, database, load = (round(u / max(n, 1) * 1e6, 1) for u in self.used)
        return {"server": server, "postgres": database, "load_generator": load,
                "total": round(server + database + load, 1)}


# -- the no-op server ---------------------------------------------------------------------------

def _noop(port: int) -> None:
    """An aiohttp server on uvloop answering every request ``200 OK`` (the port stack's
    ceiling), until killed."""
    from aiohttp import web as aioweb

    async def handle(request: aioweb.Request) -> aioweb.Response:
        return aioweb.Response(text="OK")

    loop = new_event_loop()
    asyncio.set_event_loop(loop)
    app = aioweb.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = aioweb.AppRunner(app, access_log=None)
    loop.run_until_complete(runner.setup())
    loop.run_until_complete(aioweb.TCPSite(runner, "127.0.0.1", port, backlog=1024).start())
    loop.run_forever()


def _caught_up(engine: sa.Engine, timeout_s: float = 120.0) -> int:
    """Wait until the live coverage has taken in every stored position (at most
    ``timeout_s``); the positions still behind then."""
    deadline = time.monotonic() + timeout_s
    while True:
        with engine.connect() as conn:
            behind = live_store.coverage_behind(conn)
        if not behind or time.monotonic() > deadline:
            return behind
        time.sleep(0.2)


def _start(args: list[str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "benchmarks.events", *args])
    _wait_open(port, proc)
    _settled(proc.pid)
    return proc


# -- the pages listening ------------------------------------------------------------------------

async def _listen(url: str, cookie: str, clients: int) -> None:
    """``clients`` pages on ``/events``; prints ``connected N`` once all are in, then, when
    stdin closes, one JSON line: every ``bench`` event's id -> its arrival times."""
    import aiohttp

    arrived: dict[int, list[float]] = {}
    connected = 0
    all_in = asyncio.Event()
    gate = asyncio.Semaphore(64)  # connections opened at once
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=None)

    async def page(session: aiohttp.ClientSession) -> None:
        nonlocal connected
        async with gate:
            resp = await session.get(url, headers={"Cookie": cookie})
            if resp.status != 200:
                raise RuntimeError(f"/events answered {resp.status}")
            await resp.content.readline()  # "retry: ..." once the stream is open
        connected += 1
        if connected % 100 == 0 or connected == clients:
            print(f"  {connected} pages connected", file=sys.stderr, flush=True)
        if connected == clients:
            all_in.set()
        async for line in resp.content:
            if line.startswith(b"data: "):
                now = time.time()
                event = json.loads(line[6:])
                if event.get("kind") == "bench":
                    arrived.setdefault(int(event["ids"][0]), []).append(now)

    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = [asyncio.create_task(page(session)) for _ in range(clients)]
        waiter = asyncio.create_task(all_in.wait())
        await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for t in tasks:
            if t.done() and t.exception():
                raise t.exception()  # type: ignore[misc]
        print(f"connected {connected}", flush=True)
        # stdin closes when the run is over
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
        for t in tasks:
            t.cancel()
    print(json.dumps({str(k): v for k, v in arrived.items()}), flush=True)


def _cookie(engine: sa.Engine, settings: object) -> str:
    """A command's session cookie, signed in through the web app's login form."""
    from geo_patrol.errors import ConflictError
    from geo_patrol.services.accounts import add_user, set_password
    from web import create_app

    try:
        add_user(engine, "bench-events", "command", PASSWORD)
    except ConflictError:  # a database reused from an earlier run
        set_password(engine, "bench-events", PASSWORD)
    app = create_app({"GEO_PATROL_SETTINGS": settings})
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"username": "bench-events", "password": PASSWORD,
                                       "csrf_token": token})
    assert resp.status_code == 302, resp.status_code
    name = app.config.get("SESSION_COOKIE_NAME", "session")
    cookie = client.get_cookie(name)
    assert cookie is not None
    return f"{name}={cookie.value}"


def _publish(engine: sa.Engine, events: int, every_s: float) -> dict[int, float]:
    """``events`` events, one every ``every_s``, as the services publish them; their ids ->
    the time each was published (before its commit)."""
    from geo_patrol.services.notify import publish

    sent: dict[int, float] = {}
    for k in range(events):
        t = time.time()
        with engine.begin() as conn:
            publish(conn, {"kind": "bench", "ids": [k], "community": None})
        sent[k] = t
        time.sleep(max(0.0, every_s - (time.time() - t)))
    return sent


def _under_load(server: Server, engine: sa.Engine, settings: object, paced: list,
                args: argparse.Namespace) -> tuple[ReplayResult, dict[str, object]]:
    """Pages listening while the paced positions arrive; events published meanwhile."""
    cookie = _cookie(engine, settings)
    # every page here is one command's: the streams of one account are capped as a rule
    server.env["GEO_PATROL_EVENTS_PER_USER"] = str(args.clients)
    server.start()
    listener = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.events", "--listen", f"{server.url}events",
         "--cookie", cookie, "--clients", str(args.clients)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None and listener.stdin is not None
        started = time.perf_counter()
        line = listener.stdout.readline()
        if not line.startswith("connected"):
            raise RuntimeError(f"the pages did not connect: {line!r}")
        connect_s = time.perf_counter() - started
        print(f"{args.clients} pages connected to /events in {connect_s:.1f} s")
        result: dict[str, ReplayResult] = {}
        load = threading.Thread(target=lambda: result.update(r=send(
            server.url, paced, concurrency=args.concurrency, paced=True)))
        load.start()
        time.sleep(min(3.0, args.seconds / 4))  # the load under way first
        sent = _publish(engine, args.events, 1.0)
        load.join()
        time.sleep(IN_TIME_S)
        listener.stdin.close()
        arrived = {int(k): v for k, v in json.loads(listener.stdout.readline()).items()}
        listener.wait(60)
    finally:
        if listener.poll() is None:
            listener.kill()
        server.stop()
    shares, lat = [], []
    for k, t0 in sent.items():
        got = np.asarray(arrived.get(k, []), dtype=float) - t0
        lat.extend(got.tolist())
        shares.append(float((got <= IN_TIME_S).sum()) / args.clients)
    lat_ms = np.asarray(lat) * 1000 if lat else np.zeros(1)
    figures = {"clients": args.clients, "connect_s": round(connect_s, 1),
               "events": len(sent),
               "events_reached_in_2s_min_share": round(min(shares), 4),
               "events_reached_in_2s_mean_share": round(float(np.mean(shares)), 4),
               "event_p50_ms": round(float(np.percentile(lat_ms, 50)), 1),
               "event_p99_ms": round(float(np.percentile(lat_ms, 99)), 1),
               "event_max_ms": round(float(lat_ms.max()), 1)}
    return result["r"], figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=["small", "city"], default="city",
                        help="The demo city's size: its phones. Each phone sends its next "
                        "position once answered, so the ceiling is at most phones / answer "
                        "time; the small city's ~100 phones bound it far below the intake's.")
    parser.add_argument("--clients", type=int, default=2000,
                        help="Pages connected to /events at once.")
    parser.add_argument("--rate", type=float, default=2000.0,
                        help="Positions a second while the events are published.")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="Seconds of positions in each run.")
    parser.add_argument("--events", type=int, default=20,
                        help="Events published (one a second) during the paced run.")
    parser.add_argument("--concurrency", type=int, default=512,
                        help="Connections the load generator sends on at once.")
    parser.add_argument("--ceiling", action="store_true",
                        help="Only the intake's ceiling and its CPU (no no-op, no pages): to "
                        "compare two versions of the code in one sitting, one after the other.")
    parser.add_argument("--noop", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--listen", help=argparse.SUPPRESS)
    parser.add_argument("--cookie", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.noop:
        _noop(args.noop)
        return
    if args.listen:
        with asyncio.Runner(loop_factory=new_event_loop) as runner:
            runner.run(_listen(args.listen, args.cookie, args.clients))
        return

    root = Path(tempfile.mkdtemp(prefix="gp-bench-events-"))
    figures: dict[str, object] = {}
    with benchmark_database() as (engine, settings):
        # a database reused: an earlier run's positions would be replayed with the demo's
        _reset(engine)
        fixes, ids = demo_busy_hour(engine, settings, root, args.scale, 60.0)
        fixes = fixes.head(int(args.rate * args.seconds))
        with engine.begin() as conn:
            for number in fixes["number"].unique():
                live_store.add_device(conn, device_id(number), int(ids[number]), None)
        requests = requests_for(fixes, speed=1e9, now=time.time() - 60)
        phones = len({r.device for r in requests})
        print(f"{len(requests)} positions of {phones} phones")
        os.environ.setdefault("GEO_PATROL_INTAKE_DEVICE_RATE", "0")

        port = _port()
        database = _postmaster(settings.database_url or "")
        if not args.ceiling:
            noop = _start(["--noop", str(port)], port)
            try:
                with Cpu(noop.pid, database) as noop_cpu:
                    baseline = send(f"http://127.0.0.1:{port}/", requests,
                                    concurrency=args.concurrency, paced=False)
            finally:
                noop.kill()
                noop.wait()
            print(_line("no-op ceiling", baseline))

        server = Server(settings.database_url or "", settings.data_dir)
        server.start()
        try:
            assert server.proc is not None
            with Cpu(server.proc.pid, database) as intake_cpu:
                ceiling = send(server.url, requests, concurrency=args.concurrency,
                               paced=False)
                # the CPU the positions cost includes their live coverage, caught up
                behind = _caught_up(engine)
        finally:
            server.stop()
        print(_line("intake ceiling", ceiling))
        if behind:
            print(f"  (the live coverage was still {behind} positions behind after 120 s)")
        cpu_intake = intake_cpu.per_request_us(ceiling.sent)
        if args.ceiling:
            print(f"CPU per request (µs): intake {cpu_intake}")
            _reset(engine)
            emit({"positions": len(requests), "phones": phones,
                  "intake_ceiling_per_s": round(ceiling.sent / ceiling.seconds),
                  "intake_ceiling_p99_ms": round(ceiling.percentile(99), 1),
                  "intake_cpu_us": cpu_intake, "coverage_behind": behind})
            return
        cpu_noop = noop_cpu.per_request_us(baseline.sent)
        print(f"CPU per request (µs): no-op {cpu_noop}; intake {cpu_intake}")
        _reset(engine)

        paced = [type(r)(i / args.rate, r.device, r.query, r.body)
                 for i, r in enumerate(requests)]
        loaded, events = _under_load(server, engine, settings, paced, args)
        print(_line(f"intake @{args.rate:.0f}/s", loaded))
        print(f"{events['events']} events to {args.clients} pages: "
              f"{events['events_reached_in_2s_min_share']:.2%} reached within 2 s at worst "
              f"(mean {events['events_reached_in_2s_mean_share']:.2%}); delivery p50 "
              f"{events['event_p50_ms']} ms, p99 {events['event_p99_ms']} ms")
        noop_rate = baseline.sent / baseline.seconds
        intake_rate = ceiling.sent / ceiling.seconds
        # Little's law: the requests under way on average; far below the phones (or the
        # connections) when the phones, each waiting for its answer, are what bound the rate
        in_flight = intake_rate * float(np.mean(ceiling.latencies_ms)) / 1000
        figures |= {
            "positions": len(requests), "phones": phones,
            "noop_ceiling_per_s": round(noop_rate), "noop_p99_ms":
                round(baseline.percentile(99), 1),
            "intake_ceiling_per_s": round(intake_rate),
            "intake_ceiling_p99_ms": round(ceiling.percentile(99), 1),
            "intake_share_of_noop": round(intake_rate / noop_rate, 3),
            "intake_ceiling_in_flight": round(in_flight, 1),
            "noop_cpu_us": cpu_noop, "intake_cpu_us": cpu_intake,
            # the share the CPU a request costs allows when the CPU is what binds
            "intake_cpu_share_of_noop": round(cpu_noop["total"] / cpu_intake["total"], 3),
            "paced_rate": args.rate,
            "paced_per_s": round(loaded.sent / loaded.seconds),
            "paced_p50_ms": round(loaded.percentile(50), 1),
            "paced_p99_ms": round(loaded.percentile(99), 1),
            "paced_failed": sum(loaded.failed.values()),
            **events,
        }
        print(f"W9: the intake's ceiling is {intake_rate / noop_rate:.0%} of the no-op "
              f"server's ({intake_rate:.0f}/s against {noop_rate:.0f}/s); {in_flight:.0f} "
              f"requests under way on average of {min(phones, args.concurrency)} phones "
              "sending")
        print(f"W9 by CPU: a position costs {cpu_intake['total']:.0f} µs of CPU (server, "
              f"PostgreSQL, load generator) against the no-op's {cpu_noop['total']:.0f} µs: "
              f"{figures['intake_cpu_share_of_noop']:.0%} when the CPU binds")
    emit(figures)


if __name__ == "__main__":
    main()
