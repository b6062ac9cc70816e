"""Faults, load and fuzzing: the reliability promises checked on a real cluster and server.

    python -m benchmarks.reliability [--fixes 1000000] [--users 16] [--load-seconds 30]
                                     [--fuzz-examples 50] [--parser-examples 1000]

1. Kill PostgreSQL (SIGKILL) in the middle of a large track load: zero partial rows, earlier
   data intact, the reload succeeds.
2. Restart PostgreSQL while a served app is under traffic: requests after the restart succeed.
3. Ten identical uploads at once over HTTP: stored exactly once.
4. Load (loopback only, bounded in time): Locust against the dashboard, a community page, its
   map and the API; throughput, p50/p95/p99 and the 5xx count.
5. Fuzzing: Schemathesis against ``/api/openapi.json`` (zero 5xx), and the Hypothesis parser
   properties of ``tests/test_fuzz.py`` with a large budget (zero unhandled exceptions).

Every part prints its result; the last line is all figures as JSON. Exit status 1 if any
promise failed.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import sqlalchemy as sa

from benchmarks._common import BENCH_CITY, city_engine, emit
from benchmarks.ingest import write_fixes, write_roster
from geo_patrol.services.analysis import analyze
from geo_patrol.demo.generate import generate
from geo_patrol.services.demo import last_days, load_demo
from geo_patrol.errors import DatabaseError
from geo_patrol.services.sources import load_tracks, load_volunteers
from geo_patrol.settings import Settings
from geo_patrol.store.accounts import add_user, issue_token
from geo_patrol.store.cluster import LocalCluster


REPO = Path(__file__).resolve().parents[1]
UNTIL = dt.date(2026, 11, 28)
CLI = [sys.executable, "-c", "from geo_patrol.cli import cli; cli()"]


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()  # noqa: S608
                for t in ("patrol_fixes", "tracks", "uploads")}


def _restart(cluster: LocalCluster, timeout_s: float = 60) -> float:
    """Start the cluster again after a crash (its children may take a moment to exit)."""
    start = time.perf_counter()
    while True:
        try:
            cluster.start()
            return time.perf_counter() - start
        except DatabaseError:
            if time.perf_counter() - start > timeout_s:
                raise
            time.sleep(1)


def kill_mid_load(cluster: LocalCluster, root: Path, n_fixes: int,
                  n_earlier: int = 100_000) -> dict:
    """SIGKILL the server while a load of ``n_fixes`` is copying rows, on top of
    ``n_earlier`` fixes already stored; check nothing partial remains."""
    cluster.ensure_database("gp_fault")
    url = cluster.url("gp_fault")
    engine = city_engine(url)
    settings = Settings(database_url=url, data_dir=root / "fault", city=BENCH_CITY.key)
    roster, earlier, big = root / "roster.csv", root / "earlier.csv", root / "big.csv"
    write_roster(roster, 2000)
    load_volunteers(engine, roster, settings=settings)
    write_fixes(earlier, n_earlier, 2000, seed=1)
    load_tracks(engine, earlier, crs="wgs84", settings=settings)
    write_fixes(big, n_fixes, 2000, seed=2)
    big.write_text(big.read_text().replace("2026-11-27T", "2026-11-26T"))
    before = _counts(engine)
    env = {**os.environ, "DATABASE_URL": url, "GEO_PATROL_DATA_DIR": str(root / "fault")}
    proc = subprocess.Popen([*CLI, "load", "tracks", str(big), "--crs", "wgs84"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    # kill once the load's transaction has written rows and, if caught, while it COPYs
    seen, writing_since, deadline = None, None, time.monotonic() + 300
    # autocommit: each poll sees a fresh snapshot of pg_stat_activity
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while proc.poll() is None and time.monotonic() < deadline:
            row = conn.execute(sa.text(
                "SELECT state, left(query, 70) FROM pg_stat_activity WHERE datname = 'gp_fault' "
                "AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL")).first()
            if row is not None:
                writing_since = writing_since or time.monotonic()
                if row[1].upper().startswith("COPY") or \
                        time.monotonic() - writing_since > 5:
                    seen = f"{row[0]}: {row[1]}"
                    break
            time.sleep(0.01)
    killed = proc.poll() is None and seen is not None
    if killed:
        cluster.kill()
    output = proc.communicate(timeout=120)[0].strip().splitlines()
    engine.dispose()
    restart_s = _restart(cluster)
    after = _counts(engine)
    with engine.connect() as conn:
        leftover = conn.execute(sa.text("SELECT to_regclass('patrol_fixes_p20261126')")).scalar()
    reload = load_tracks(engine, big, crs="wgs84", settings=settings)
    final = _counts(engine)
    engine.dispose()
    ok = (killed and after == before and leftover is None and reload.stored == n_fixes
          and final["patrol_fixes"] == before["patrol_fixes"] + n_fixes)
    return {"ok": ok, "killed_during": seen, "loader_exit": proc.returncode,
            "loader_said": output[-1][:160] if output else "", "restart_s": round(restart_s, 1),
            "before": before, "after_kill": after, "partition_left": leftover,
            "reload_stored": reload.stored, "after_reload": final}


class Server:
    """``geo-patrol serve`` in its own process on a free loopback port."""

    def __init__(self, url: str, data_dir: Path, threads: int = 8, workers: int = 1) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.base = f"http://127.0.0.1:{self.port}"
        self.threads, self.workers = threads, workers
        env = {**os.environ, "DATABASE_URL": url, "GEO_PATROL_DATA_DIR": str(data_dir)}
        self.proc = subprocess.Popen([*CLI, "serve", "--port", str(self.port), "--threads",
                                      str(threads), "--workers", str(workers)], env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 240  # a loaded machine imports slowly
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                urllib.request.urlopen(f"{self.base}/api/health", timeout=10).read()
                return
            except OSError:  # not listening yet, or still starting its workers
                time.sleep(0.2)
        self.proc.kill()
        raise RuntimeError(f"the server did not come up (exit {self.proc.poll()})")

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


def _status(url: str, token: str, data: bytes | None = None,
            content_type: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    if content_type:
        headers["Content-Type"] = content_type
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=data, headers=headers),
                                    timeout=30) as resp:
            resp.read()
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:  # refused, reset or timed out: no HTTP status at all
        return 0


def restart_under_traffic(cluster: LocalCluster, server: Server, token: str, run_id: int
                          ) -> dict:
    """Requests in a loop from four threads while PostgreSQL stops and starts again."""
    urls = [f"{server.base}/api/runs/{run_id}/areas?level=community",
            f"{server.base}/dashboard?run={run_id}"]
    log: list[tuple[float, int]] = []
    stop = threading.Event()

    def traffic(i: int) -> None:
        while not stop.is_set():
            log.append((time.monotonic(), _status(urls[i % 2], token)))

    threads = [threading.Thread(target=traffic, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    time.sleep(3)
    down = time.monotonic()
    cluster.stop()
    time.sleep(1)
    cluster.start()
    up = time.monotonic()
    time.sleep(5)
    stop.set()
    for t in threads:
        t.join()
    after = [s for t, s in log if t > up]
    during = [s for t, s in log if down <= t <= up]
    before = [s for t, s in log if t < down]
    return {"ok": bool(after) and all(200 <= s < 300 for s in after),
            "requests_before": len(before), "requests_during": len(during),
            "failed_during": sum(1 for s in during if not 200 <= s < 300),
            "statuses_during": {str(k): v for k, v in sorted(Counter(during).items())},
            "requests_after": len(after),
            "failed_after": sum(1 for s in after if not 200 <= s < 300),
            "restart_s": round(up - down, 1)}


def concurrent_uploads(server: Server, engine: sa.Engine, token: str) -> dict:
    """Ten identical GPX uploads at the same moment: one stored, the rest told so."""
    with engine.connect() as conn:
        number, lon, lat = conn.execute(sa.text(
            "SELECT v.number, ST_X(ST_PointOnSurface(a.geom)), ST_Y(ST_PointOnSurface(a.geom)) "
            "FROM volunteers v JOIN areas a ON a.id = v.community_id ORDER BY v.number LIMIT 1"
        )).one()
    points = "".join(f'<trkpt lat="{lat + i * 0.0002:.6f}" lon="{lon:.6f}"><time>'
                     f"2026-11-21T03:{i:02d}:00Z</time></trkpt>" for i in range(30))
    gpx = (f'<?xml version="1.0"?><gpx version="1.1" creator="reliability"><trk><trkseg>'
           f"{points}</trkseg></trk></gpx>").encode()
    boundary = "gpboundary"
    fields = {"crs": "wgs84", "volunteer": number}
    body = b"".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                    .encode() for k, v in fields.items())
    body += (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; '
             f'filename="same.gpx"\r\nContent-Type: application/gpx+xml\r\n\r\n').encode()
    body += gpx + f"\r\n--{boundary}--\r\n".encode()
    before = _counts(engine)
    barrier = threading.Barrier(10)

    def send(_: int) -> int:
        barrier.wait()
        return _status(f"{server.base}/api/tracks", token, body,
                       f"multipart/form-data; boundary={boundary}")

    with ThreadPoolExecutor(10) as pool:
        statuses = list(pool.map(send, range(10)))
    after = _counts(engine)
    stored = after["uploads"] - before["uploads"]
    return {"ok": stored == 1 and after["patrol_fixes"] - before["patrol_fixes"] == 30
            and all(s in (200, 201) for s in statuses),
            "statuses": sorted(statuses), "uploads_stored": stored,
            "fixes_stored": after["patrol_fixes"] - before["patrol_fixes"]}


def load_test(server: Server, token: str, run_id: int, community: int, users: int,
              seconds: int, out: Path) -> dict:
    """Locust, headless, for ``seconds`` with ``users`` users."""
    locust = shutil.which("locust") or str(Path(sys.executable).with_name("locust"))
    prefix = out / "locust"
    env = {**os.environ, "GP_TOKEN": token, "GP_RUN": str(run_id),
           "GP_COMMUNITY": str(community)}
    subprocess.run([locust, "-f", str(REPO / "benchmarks" / "locustfile.py"), "--headless",
                    "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host",
                    server.base, "--csv", str(prefix), "--only-summary", "--loglevel",
                    "WARNING"], env=env, check=False, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=seconds + 120)
    with open(f"{prefix}_stats.csv", newline="") as fh:
        rows = {r["Name"]: r for r in csv.DictReader(fh)}
    five = 0
    with open(f"{prefix}_failures.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            if any(f"{code} Server Error" in r["Error"] or f"{code} " in r["Error"][:20]
                   for code in range(500, 600)):
                five += int(r["Occurrences"])
    total = rows["Aggregated"]
    per = {name: {"requests": int(r["Request Count"]), "p50_ms": float(r["50%"]),
                  "p95_ms": float(r["95%"]), "p99_ms": float(r["99%"])}
           for name, r in rows.items() if name != "Aggregated"}
    return {"ok": five == 0 and int(total["Request Count"]) > 0,
            "config": (f"{'waitress' if server.workers == 1 else 'gunicorn gthread'}, "
                       f"{server.workers} process(es) x {server.threads} threads; locust "
                       f"{users} users, {seconds} s, loopback"),
            "requests": int(total["Request Count"]), "failures": int(total["Failure Count"]),
            "server_errors_5xx": five, "rps": round(float(total["Requests/s"]), 1),
            "p50_ms": float(total["50%"]), "p95_ms": float(total["95%"]),
            "p99_ms": float(total["99%"]), "per_endpoint": per}


def fuzz_api(server: Server, tokens: dict[str, str], examples: int, workdir: Path) -> dict:
    """Schemathesis against the OpenAPI description: no response may be a 5xx. A command
    token drives every operation but the volunteer's report; a volunteer token drives that
    one and the volunteer's own tracks and record."""
    exe = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    volunteer_paths = ["/api/reports", "/api/me", "/api/tracks"]
    passes = {"command": ["--exclude-path", "/api/reports"],
              "volunteer": [a for p in volunteer_paths for a in ("--include-path", p)]}
    out: dict[str, object] = {"ok": True}
    for role, selection in passes.items():
        done = subprocess.run([exe, "run", f"{server.base}/api/openapi.json", "--checks",
                               "not_a_server_error", "-H", f"Authorization: Bearer {tokens[role]}",
                               "--max-examples", str(examples), "--workers", "2", "--seed", "7",
                               # an answer read from a job's stored result may wait for the
                               # job (``job_wait_s``, 60 s) on a busy machine: not an error
                               "--request-timeout", "120",
                               "--warnings", "off", *selection], cwd=workdir,
                              capture_output=True, text=True, timeout=1800, check=False)
        lines = [ln.strip() for ln in done.stdout.splitlines() if ln.strip()]
        cases = next((ln for ln in reversed(lines) if "generated" in ln), "")
        verdict = lines[-1].strip("= ") if lines else done.stderr[-200:]
        out[role] = {"exit": done.returncode, "test_cases": cases, "result": verdict}
        out["ok"] = out["ok"] and done.returncode == 0
        if done.returncode:
            out[role]["failures"] = [ln for ln in lines if ln.startswith("curl")][:6]
    return out


def fuzz_parsers(examples: int) -> dict:
    """The Hypothesis properties of the upload parsers with a large example budget."""
    env = {**os.environ, "GEO_PATROL_FUZZ_EXAMPLES": str(examples)}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           str(REPO / "tests" / "test_fuzz.py")], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=3600, check=False)
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else done.stderr[-200:]
    return {"ok": done.returncode == 0, "examples_per_property": examples, "result": last}


def attacker_suites() -> dict:
    """The stored-script and scope suites (headless Chromium, every role on every route):
    their own counts, read from the lines they print."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider",
                           str(REPO / "tests" / "test_xss.py"),
                           str(REPO / "tests" / "test_security.py")], cwd=REPO,
                          capture_output=True, text=True, timeout=3600, check=False)
    lines = done.stdout.strip().splitlines()
    counts = [m.group(0) for line in lines
              for m in [re.search(r"(xss|scope): .*", line)] if m]
    return {"ok": done.returncode == 0, "counts": counts,
            "result": lines[-1] if lines else done.stderr[-200:]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixes", type=int, default=1_000_000,
                        help="Size of the load that gets killed.")
    parser.add_argument("--earlier-fixes", type=int, default=100_000,
                        help="Fixes stored before that load (which must stay as they were).")
    parser.add_argument("--users", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2,
                        help="Server processes (2 on a 2-core machine).")
    parser.add_argument("--load-seconds", type=int, default=30)
    parser.add_argument("--fuzz-examples", type=int, default=50,
                        help="Schemathesis examples per API operation.")
    parser.add_argument("--parser-examples", type=int, default=1000,
                        help="Hypothesis examples per parser property.")
    parser.add_argument("--no-attacker-suites", action="store_true",
                        help="Skip the stored-script and scope suites (the test suite runs "
                             "them anyway).")
    args = parser.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="gp-rel-"))
    root.chmod(0o711)
    cluster = LocalCluster(root / "cluster")
    figures: dict[str, object] = {"workload": "reliability"}
    server = None
    try:
        cluster.start()
        url = cluster.url()
        engine = city_engine(url)
        settings = Settings(database_url=url, data_dir=root / "data", city=BENCH_CITY.key)
        generate(root / "demo", seed=7, scale="small", until=UNTIL, days=2)
        load_demo(engine, root / "demo", settings)
        run = analyze(engine, *last_days(UNTIL, 2), settings=settings)
        add_user(engine, "rel-command", "command", "reliability-" + os.urandom(8).hex())
        token = issue_token(engine, "rel-command", "reliability run")
        with engine.connect() as conn:
            number = conn.execute(sa.text("SELECT number FROM volunteers ORDER BY number "
                                          "LIMIT 1")).scalar_one()
        add_user(engine, "rel-volunteer", "volunteer", "reliability-" + os.urandom(8).hex(),
                 volunteer=number)
        tokens = {"command": token, "volunteer": issue_token(engine, "rel-volunteer")}
        with engine.connect() as conn:
            community = conn.execute(sa.text(
                "SELECT area_id FROM area_results r JOIN areas a ON a.id = r.area_id "
                "WHERE r.run_id = :r AND a.level = 'community' ORDER BY r.total_m DESC "
                "LIMIT 1"), {"r": run.run_id}).scalar_one()

        print("1. kill PostgreSQL mid-load ...", flush=True)
        figures["kill_mid_load"] = kill_mid_load(cluster, root, args.fixes,
                                                   args.earlier_fixes)
        print(f"   {figures['kill_mid_load']}", flush=True)
        server = Server(url, root / "data", threads=4 if args.workers > 1 else 8,
                        workers=args.workers)
        print("2. restart PostgreSQL under traffic ...", flush=True)
        figures["restart_under_traffic"] = restart_under_traffic(cluster, server, token,
                                                                 run.run_id)
        print(f"   {figures['restart_under_traffic']}", flush=True)
        print("3. ten identical uploads at once ...", flush=True)
        figures["concurrent_uploads"] = concurrent_uploads(server, engine, token)
        print(f"   {figures['concurrent_uploads']}", flush=True)
        print(f"4. load: {args.users} users for {args.load_seconds} s ...", flush=True)
        load = load_test(server, token, run.run_id, community, args.users, args.load_seconds,
                         root)
        figures["load"] = load
        print(f"   {load['config']}: {load['requests']} requests, {load['rps']} req/s, "
              f"p50 {load['p50_ms']:.0f} ms, p95 {load['p95_ms']:.0f} ms, "
              f"p99 {load['p99_ms']:.0f} ms, 5xx {load['server_errors_5xx']}", flush=True)
        for name, r in load["per_endpoint"].items():
            print(f"     {name:<28} {r['requests']:>6}  p50 {r['p50_ms']:>5.0f}  "
                  f"p95 {r['p95_ms']:>5.0f}  p99 {r['p99_ms']:>5.0f} ms")
        print("5. fuzz the API (Schemathesis) ...", flush=True)
        figures["fuzz_api"] = fuzz_api(server, tokens, args.fuzz_examples, root)
        print(f"   {figures['fuzz_api']}", flush=True)
        print("6. fuzz the parsers (Hypothesis) ...", flush=True)
        figures["fuzz_parsers"] = fuzz_parsers(args.parser_examples)
        print(f"   {figures['fuzz_parsers']}", flush=True)
        if not args.no_attacker_suites:
            print("7. stored script and scope, as an attacker would try them ...", flush=True)
            figures["attacker_suites"] = attacker_suites()
            print(f"   {figures['attacker_suites']}", flush=True)
        engine.dispose()
    finally:
        if server is not None:
            server.stop()
        cluster.destroy()
        shutil.rmtree(root, ignore_errors=True)
    parts = [k for k, v in figures.items() if isinstance(v, dict)]
    figures["all_ok"] = all(figures[k]["ok"] for k in parts)
    print("passed: " + ", ".join(f"{k} {'yes' if figures[k]['ok'] else 'NO'}" for k in parts))
    emit(figures)
    return 0 if figures["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
