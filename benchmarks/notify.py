"""W17 (its messages): a call-out's first ring to 500 on-duty volunteers, through the outbox.

    python -m benchmarks.notify [--people 500] [--threads 8]

One transaction queues a message to each of ``--people`` volunteers (one apprise channel each,
``json://`` to a local HTTP receiver standing in for a gateway), and a sender (the one
``geo-patrol serve`` runs) hands them over. Measured from the commit:

- **handed**: until every delivery is marked sent (handed to its channel), target ≤ 1 s;
- **delivered**: each message's arrival at the receiver, p50/p95/max, target p95 ≤ 2 s;
- every message received exactly once.

The baseline, in the same run on the same messages: one apprise call after another, no outbox
(what a request handler calling apprise itself would do).
"""

from __future__ import annotations

import argparse
import http.server
import json
import multiprocessing
import resource
import socket
import threading
import time
import urllib.request

import apprise
import numpy as np
import sqlalchemy as sa

from benchmarks._common import benchmark_database, emit, looping
from geo_patrol.services.notify import SendPolicy, Sender, enqueue


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Receiver:
    """A local gateway in a process of its own (as a real one is): the arrival time of each
    message body (``time.perf_counter``, the system's monotonic clock), read back by GET."""

    def __init__(self) -> None:
        self.port = _port()
        self.process = multiprocessing.get_context("fork").Process(
            target=self._serve, args=(self.port,), daemon=True)
        self.process.start()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                self.arrivals()
                return
            except OSError:
                time.sleep(0.05)

    @staticmethod
    def _serve(port: int) -> None:
        arrivals: list[tuple[float, str]] = []
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with lock:
                    arrivals.append((time.perf_counter(), json.loads(body)["message"]))
                self._answer(b"")

            def do_GET(self) -> None:  # noqa: N802
                with lock:
                    data = json.dumps(arrivals).encode()
                    if self.path == "/clear":
                        arrivals.clear()
                self._answer(data)

            def _answer(self, data: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
        server.daemon_threads = True
        server.request_queue_size = 1024
        server.serve_forever()

    def arrivals(self, path: str = "/") -> list[tuple[float, str]]:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=10) as r:
            return [tuple(a) for a in json.loads(r.read())]

    def close(self) -> None:
        self.process.terminate()


def _cpu_s() -> float:
    """CPU seconds this process has used (its threads, not the receiver's process)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _volunteers(engine: sa.Engine, n: int) -> list[int]:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO volunteers (number, name, occupation, skills, duties, active) "
            "SELECT 'B' || lpad(i::text, 5, '0'), '志愿者' || i, 'resident', '{}', '{}', true "
            "FROM generate_series(1, :n) i ON CONFLICT (number) DO NOTHING"), {"n": n})
        return list(conn.execute(sa.text(
            "SELECT id FROM volunteers WHERE number LIKE 'B%' ORDER BY id LIMIT :n"),
            {"n": n}).scalars())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=500)
    parser.add_argument("--threads", type=int, default=12)
    args = parser.parse_args()
    receiver = Receiver()
    url = f"json://127.0.0.1:{receiver.port}/"
    with benchmark_database() as (engine, settings):
        people = _volunteers(engine, args.people)
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO notify_channels (scope, volunteer_id, url, created_by) "
                "SELECT 'volunteer', unnest(CAST(:ids AS integer[])), :u, 'bench'"),
                {"ids": people, "u": url})

        # the baseline: one apprise call after another, in the caller
        start, cpu = time.perf_counter(), _cpu_s()
        for vid in people:
            sender = apprise.Apprise()
            sender.add(url)
            sender.notify(title="出警召集", body=f"baseline {vid}")
        baseline_s = time.perf_counter() - start
        baseline_cpu_s = _cpu_s() - cpu
        receiver.arrivals("/clear")

        # the outbox: one transaction queues the ring; the sender hands it over
        outbox = Sender(engine, settings, SendPolicy(threads=args.threads, batch=args.people))
        with looping(outbox.run_once):
            start, cpu = time.perf_counter(), _cpu_s()
            with engine.begin() as conn:
                queued = enqueue(conn, volunteer_ids=people, kind="callout", ref="callout bench",
                                 title="出警召集", body="纠纷")
                begun = conn.execute(sa.text("SELECT now()")).scalar_one()
            committed = time.perf_counter()
            # watched gently (one connection, every 50 ms) so as not to slow the sender down;
            # the times are the outbox's own: when the last delivery was marked sent
            # (handed) and delivered, from the enqueueing transaction's start
            handed_s = delivered_all_s = outbox_cpu_s = None
            deadline = time.perf_counter() + 60
            with engine.connect() as conn:
                while time.perf_counter() < deadline:
                    left, handed, done = conn.execute(sa.text(
                        "SELECT count(*) FILTER (WHERE state IN ('queued', 'sent')), "
                        "max(sent_at) FILTER (WHERE NOT EXISTS (SELECT 1 FROM notify_outbox "
                        "  WHERE state = 'queued')), max(done_at) FROM notify_outbox")).one()
                    conn.rollback()
                    if handed is not None and handed_s is None:
                        handed_s = (handed - begun).total_seconds()
                    if left == 0:
                        delivered_all_s = (done - begun).total_seconds()
                        outbox_cpu_s = _cpu_s() - cpu
                        break
                    time.sleep(0.05)
        outbox.close()
        received = receiver.arrivals()
        receiver.close()
        arrivals = np.array([t - start for t, _ in received])
        bodies = [b for _, b in received]
    figures = {
        "people": args.people, "queued": queued, "threads": args.threads,
        "enqueue_commit_s": round(committed - start, 4),
        "handed_s": None if handed_s is None else round(handed_s, 3),
        "delivered_all_s": None if delivered_all_s is None else round(delivered_all_s, 3),
        "delivered_p50_s": round(float(np.percentile(arrivals, 50)), 3),
        "delivered_p95_s": round(float(np.percentile(arrivals, 95)), 3),
        "delivered_max_s": round(float(arrivals.max()), 3),
        "received": len(bodies), "received_once": len(bodies) == queued,
        "baseline_sequential_s": round(baseline_s, 3),
        "outbox_cpu_ms_per_message": None if outbox_cpu_s is None
        else round(1000 * outbox_cpu_s / queued, 2),
        "baseline_cpu_ms_per_message": round(1000 * baseline_cpu_s / len(people), 2),
        "speedup_vs_baseline": round(baseline_s / float(arrivals.max()), 2),
        "targets_met": bool(handed_s is not None and handed_s <= 1.0
                            and np.percentile(arrivals, 95) <= 2.0),
    }
    print(f"{'ring of':<28}{args.people} volunteers, {queued} deliveries")
    print(f"{'queued and committed':<28}{figures['enqueue_commit_s']} s")
    print(f"{'all handed to channels':<28}{figures['handed_s']} s (target ≤ 1 s)")
    print(f"{'delivered p50 / p95 / max':<28}{figures['delivered_p50_s']} / "
          f"{figures['delivered_p95_s']} / {figures['delivered_max_s']} s (p95 target ≤ 2 s)")
    print(f"{'baseline, one after another':<28}{figures['baseline_sequential_s']} s")
    emit(figures)


if __name__ == "__main__":
    main()
