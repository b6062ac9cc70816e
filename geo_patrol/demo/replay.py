"""``geo-patrol demo live``: the demo's stored tracks replayed as phones would send them.

The busiest hour of the demo's tracks is sent to the position intake as Traccar Client
requests: every other volunteer's phone speaks the JSON of Traccar Client 9+, the others the
OsmAnd query format. With ``speed`` > 1 the hour is sent faster than it was walked, its times
shifted so that every position is already in the past when it is sent and the last one is
"now" (as a phone catching up on its buffer), so the live map ends on the present.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

import numpy as np
import pandas as pd

from geo_patrol.ingest.positions import KNOT_MPS
from geo_patrol.services.intake import new_event_loop


@dataclass
class Request:
    at_s: float      # when to send, seconds after the start
    device: str
    query: str
    body: bytes = b""


@dataclass
class ReplayResult:
    sent: int = 0
    ok: int = 0
    failed: dict[int, int] = field(default_factory=dict)
    #: every answer seen, retries included (599: no answer, the connection failed)
    statuses: dict[int, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else 0.0


def device_id(number: str) -> str:
    return f"demo-{number}"


def requests_for(fixes: pd.DataFrame, *, speed: float, now: float) -> list[Request]:
    """One request per fix (columns number, t, lon, lat, accuracy_m, speed_mps)."""
    if fixes.empty:
        return []
    t0 = float(fixes["t"].min())
    span = float(fixes["t"].max()) - t0
    # sent at (t - t0) / speed; stamped so that no stamp is ahead of its sending time
    shift = now - t0 - span * (1 - 1 / speed)
    numbers = sorted(fixes["number"].unique())
    json_phones = set(numbers[::2])
    out = []
    for r in fixes.itertuples():
        stamp = r.t + shift
        at = (r.t - t0) / speed
        dev = device_id(r.number)
        speed_mps = None if pd.isna(r.speed_mps) else float(r.speed_mps)
        acc = None if pd.isna(r.accuracy_m) else float(r.accuracy_m)
        if r.number in json_phones:
            coords = {"latitude": round(r.lat, 7), "longitude": round(r.lon, 7),
                      "accuracy": acc if acc is not None else 8.0, "altitude": 1050.0,
                      "heading": 0.0, "speed": speed_mps if speed_mps is not None else 1.2}
            body = {"location": {
                "timestamp": dt.datetime.fromtimestamp(stamp, dt.UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
                "coords": coords, "is_moving": True, "odometer": 0, "event": "motionchange",
                "battery": {"level": 0.8, "is_charging": False},
                "activity": {"type": "walking"}}, "device_id": dev}
            out.append(Request(at, dev, "", json.dumps(body).encode()))
        else:
            fields = {"id": dev, "timestamp": int(stamp), "lat": f"{r.lat:.7f}",
                      "lon": f"{r.lon:.7f}", "altitude": "1050.0", "batt": "80"}
            if speed_mps is not None:
                fields["speed"] = f"{speed_mps / KNOT_MPS:.2f}"
            if acc is not None:
                fields["accuracy"] = f"{acc:.1f}"
            out.append(Request(at, dev, urlencode(fields)))
    out.sort(key=lambda q: q.at_s)
    return out


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection, one request at a time, as a phone's app holds it.

    The phones' requests are a few hundred bytes and their answers a status line: written and
    read here as bytes, so that a load generator on the same machine as the server spends
    little of the CPU it is measuring (an HTTP client library costs more than the server's
    own handling of a position)."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.waiter: asyncio.Future[int] | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        head_end = self.buffer.find(b"\r\n\r\n")
        if head_end < 0 or self.waiter is None or self.waiter.done():
            return
        head = bytes(self.buffer[:head_end]).lower()
        length = 0
        for line in head.split(b"\r\n")[1:]:
            if line.startswith(b"content-length:"):
                length = int(line[15:])
            elif line.startswith(b"connection:") and b"close" in line:
                self.closed = True
        if len(self.buffer) < head_end + 4 + length:
            return
        status = int(head[9:12])
        del self.buffer[:head_end + 4 + length]
        self.waiter.set_result(status)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionError("the connection closed"))

    async def request(self, data: bytes) -> int:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return await self.waiter


def _request_bytes(host: str, path: str, req: Request) -> bytes:
    target = f"{path}?{req.query}" if req.query else path
    head = (f"POST {target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: geo-patrol-replay\r\n"
            f"Content-Length: {len(req.body)}\r\n")
    if req.body:
        head += "Content-Type: application/json\r\n"
    return head.encode() + b"\r\n" + req.body


async def _send_all(url: str, requests: list[Request], *, concurrency: int,
                    paced: bool, retries: int,
                    progress: Callable[[ReplayResult], None] | None,
                    progress_every: int = 1000) -> ReplayResult:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    path = parts.path or "/"
    loop = asyncio.get_running_loop()
    result = ReplayResult()
    queues: list[list[Request]] = [[] for _ in range(concurrency)]
    start = time.perf_counter()

    async def exchange(conn: _Connection | None, data: bytes) -> tuple[_Connection | None, int]:
        try:
            if conn is None or conn.closed:
                _, conn = await loop.create_connection(_Connection, host, port)
            status = await asyncio.wait_for(conn.request(data), 60)
        except (OSError, asyncio.TimeoutError):
            if conn is not None and conn.transport is not None:
                conn.transport.close()
            return None, 599
        return conn, status

    async def worker(queue: list[Request]) -> None:
        conn: _Connection | None = None
        for req in queue:
            if paced:
                wait = req.at_s - (time.perf_counter() - start)
                if wait > 0:
                    await asyncio.sleep(wait)
            sent = time.perf_counter()
            data = _request_bytes(f"{host}:{port}", path, req)
            for attempt in range(retries + 1):  # as the app does: keep it, retry until stored
                conn, status = await exchange(conn, data)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if status != 503 and status != 599:
                    break
                await asyncio.sleep(min(0.25 * (attempt + 1), 2.0))
            result.sent += 1
            result.latencies_ms.append((time.perf_counter() - sent) * 1000)
            if status == 200:
                result.ok += 1
            else:
                result.failed[status] = result.failed.get(status, 0) + 1
            if progress and result.sent % progress_every == 0:
                progress(result)
        if conn is not None and conn.transport is not None:
            conn.transport.close()

    # phones keep their order: one device's requests go through one worker, in time order
    shard = {d: i % concurrency for i, d in enumerate(sorted({r.device for r in requests}))}
    for req in requests:
        queues[shard[req.device]].append(req)
    await asyncio.gather(*(worker(q) for q in queues if q))
    result.seconds = time.perf_counter() - start
    return result


def send(url: str, requests: list[Request], *, concurrency: int = 64, paced: bool = True,
         retries: int = 5, progress: Callable[[ReplayResult], None] | None = None,
         progress_every: int = 1000) -> ReplayResult:
    """Send the requests (at their times when ``paced``, else as fast as answered); an
    unanswered or 503 request is sent again up to ``retries`` times; ``progress`` is told
    every ``progress_every`` answers."""
    with asyncio.Runner(loop_factory=new_event_loop) as runner:
        return runner.run(_send_all(url, requests, concurrency=concurrency, paced=paced,
                                    retries=retries, progress=progress,
                                    progress_every=progress_every))
