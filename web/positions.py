"""The dedicated position port (5055 by default, as Traccar's OsmAnd port): the same protocol
as ``/osmand``, on an asyncio server (aiohttp, on uvloop's event loop) so thousands of phones
can report at once.

Every path and method GET/POST is a position request, decoded once by the intake
(:class:`~geo_patrol.services.intake.Intakes`) and answered as the protocol answers
(:mod:`geo_patrol.ingest.positions`) when its batch has committed.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import sys
import threading

from aiohttp import web as aioweb
from flask import Flask

from geo_patrol.errors import DatabaseError
from geo_patrol.ingest.positions import (
    ACK_TIMEOUT_S,
    MAX_BODY_BYTES,
    NOT_STORED,
    STORED,
    TOO_LARGE,
    WRONG_METHOD,
    PositionRefused,
    answer_headers,
    answer_refusal,
)
from geo_patrol.services.intake import Intake, Intakes, new_event_loop
from web.events import EventHub, events_handler

#: The interpreter's switch interval while the port serves (seconds; Python's default 0.005).
SWITCH_INTERVAL_S = 0.001
#: Seconds between two sweeps of the requests waiting for their batch to commit.
SWEEP_S = 1.0
#: The app's sweeping task (:func:`position_app`).
_SWEEPER = aioweb.AppKey("sweeper", asyncio.Task)


def position_app(intake: Intake | Intakes | None, loop: asyncio.AbstractEventLoop,
                 events: Flask | None = None) -> aioweb.Application:
    """The position port's app; with ``events`` (the web app) it also serves the pages' live
    events at ``/events`` (:mod:`web.events`)."""
    # the acknowledgement deadlines, in the order the requests came: one sweep a second
    # answers "retry" to those whose batch has not committed in time (no timer per request)
    waiting: collections.deque[tuple[float, asyncio.Future]] = collections.deque()

    async def expire() -> None:
        while True:
            await asyncio.sleep(SWEEP_S)
            now = loop.time()
            while waiting and (waiting[0][1].done() or waiting[0][0] <= now):
                _, future = waiting.popleft()
                if not future.done():
                    future.set_exception(asyncio.TimeoutError())

    async def start_sweeping(app: aioweb.Application) -> None:
        app[_SWEEPER] = asyncio.get_running_loop().create_task(expire())

    async def stop_sweeping(app: aioweb.Application) -> None:
        app[_SWEEPER].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await app[_SWEEPER]

    def answer(status_text: tuple[int, str]) -> aioweb.Response:
        return aioweb.Response(status=status_text[0], text=status_text[1],
                               headers=answer_headers(status_text[0]))

    async def handle(request: aioweb.Request) -> aioweb.Response:
        if request.method not in ("GET", "POST"):
            return aioweb.Response(status=WRONG_METHOD[0], text=WRONG_METHOD[1],
                                   headers={"Allow": "GET, POST"})
        if (request.content_length or 0) > MAX_BODY_BYTES:
            return answer(TOO_LARGE)
        body = await request.read() if request.can_read_body else b""
        if intake is None:
            return aioweb.Response(status=404, text="no position intake on this port")
        try:
            # the query as sent: the decoder percent-decodes it (once)
            future = intake.submit(request.rel_url.raw_query_string, body,
                                   address=request.remote, loop=loop)
        except (PositionRefused, DatabaseError) as exc:
            return answer(answer_refusal(exc))
        waiting.append((loop.time() + ACK_TIMEOUT_S, future))
        try:
            await future
        except (DatabaseError, asyncio.TimeoutError):
            return answer(NOT_STORED)
        return answer(STORED)

    app = aioweb.Application(client_max_size=MAX_BODY_BYTES)
    app.on_startup.append(start_sweeping)
    app.on_cleanup.append(stop_sweeping)
    if events is not None:
        hub = EventHub(events)
        app.router.add_route("GET", "/events", events_handler(hub))
        app.router.add_route("OPTIONS", "/events", events_handler(hub))
    app.router.add_route("*", "/", handle)  # where the apps send: matched without a pattern
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def serve_positions(intake: Intake | Intakes | None, host: str, port: int,
                    events: Flask | None = None) -> threading.Thread:
    """Run the position port on its own thread and event loop (with ``events``, the web
    app, serving the pages' live events too); returns the thread."""
    ready = threading.Event()
    failure: list[BaseException] = []
    # the port's loop and the intake's writer share the interpreter: a writer back from
    # the database waits for the loop to let go, up to the switch interval each time (a
    # batch makes a dozen round trips): let go sooner
    sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL_S))

    def run() -> None:
        loop = new_event_loop()
        asyncio.set_event_loop(loop)
        runner = aioweb.AppRunner(position_app(intake, loop, events), access_log=None)
        try:
            loop.run_until_complete(runner.setup())
            loop.run_until_complete(aioweb.TCPSite(runner, host, port, backlog=1024).start())
        except BaseException as exc:  # noqa: BLE001  (reported to the starting thread)
            failure.append(exc)
            ready.set()
            return
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="position-port", daemon=True)
    thread.start()
    ready.wait(10)
    if failure:
        raise failure[0]
    return thread

