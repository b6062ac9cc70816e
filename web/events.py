"""Live events for open pages: server-sent events (``GET /events``) on the asyncio server that
takes the phones' positions, with PostgreSQL LISTEN/NOTIFY as the bus.

One connection LISTENs on :data:`~geo_patrol.store.notify.EVENTS_CHANNEL`; each event (a small
JSON: kind, ids, community, the people it is for, its city) goes to the pages that may see it:
a volunteer's pages only their own events, a command's or an officer's pages their
communities'. A page signs in with the web app's session cookie (the same server-side
session, so a signed-out or disabled account gets nothing); pages on the web app's origin are
let in by CORS with credentials.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any
from urllib.parse import urlparse

import psycopg
from aiohttp import web as aioweb
from flask import Flask

from geo_patrol.access import Principal, Role
from geo_patrol.services.accounts import principal_from_session
from geo_patrol.store.db import database_url
from geo_patrol.store.notify import EVENTS_CHANNEL

log = logging.getLogger(__name__)

#: A comment line this often keeps proxies and phones from closing an idle stream.
HEARTBEAT_S = 15.0
#: Events a slow page may fall behind by before the oldest are dropped.
QUEUE_SIZE = 256


class EventHub:
    """The pages listening, and the one LISTEN connection feeding them (on one event loop)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.listeners: set[tuple[str, Principal, asyncio.Queue]] = set()
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._listen())

    async def _listen(self) -> None:
        settings = self.app.config["GEO_PATROL_SETTINGS"]
        conninfo = database_url(settings).replace("postgresql+psycopg://", "postgresql://", 1)
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(conninfo,
                                                                 autocommit=True) as conn:
                    await conn.execute(f"LISTEN {EVENTS_CHANNEL}")
                    self.ready.set()
                    async for note in conn.notifies():
                        self.dispatch(note.payload)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001  (the database went away: listen again)
                log.warning("the live-event bus lost its database; listening again in 2 s")
                self.ready.clear()
                await asyncio.sleep(2)

    def dispatch(self, payload: str) -> None:
        try:
            event = json.loads(payload)
        except ValueError:
            return
        if not isinstance(event, dict):
            return
        shown = {k: v for k, v in event.items() if k not in ("volunteers", "city")}
        # encoded once for every page that may see it (thousands may be listening)
        data = f"data: {json.dumps(shown, ensure_ascii=False, separators=(',', ':'))}\n\n"
        frame = data.encode()
        for city, principal, queue in list(self.listeners):
            if event.get("city") == city and may_see(principal, event):
                if queue.full():
                    queue.get_nowait()
                queue.put_nowait(frame)


def may_see(principal: Principal, event: dict[str, Any]) -> bool:
    """A volunteer sees the events meant for them; a command or an officer the events of
    their communities (a command bound to none: every event)."""
    people = event.get("volunteers")
    if principal.role == Role.VOLUNTEER:
        return principal.volunteer_id is not None and isinstance(people, list) \
            and principal.volunteer_id in people
    if principal.role == Role.PLANNER:
        return False
    if principal.community_ids is None:
        return True
    return event.get("community") in principal.community_ids


def session_principal(app: Flask, cookie: str | None) -> tuple[str, Principal] | None:
    """The city and user of a web-app session cookie whose server-side session is live."""
    if not cookie:
        return None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    if serializer is None:
        return None
    try:
        data = serializer.loads(cookie, max_age=int(
            app.permanent_session_lifetime.total_seconds()))
    except Exception:  # noqa: BLE001  (a forged, stale or foreign cookie signs in nobody)
        return None
    token, city = data.get("_user_id"), data.get("gp_city")
    if not token or not city:
        return None
    from web.db import get_engine  # the app's own engines, one per city

    with app.app_context():
        principal = principal_from_session(get_engine(app, key=city), token)
    return (city, principal) if principal is not None else None


def _cors(request: aioweb.Request) -> dict[str, str]:
    """Credentials allowed for a page of the web app: an origin on the same host name."""
    origin = request.headers.get("Origin")
    if not origin:
        return {}
    if urlparse(origin).hostname != (request.url.host or ""):
        return {}
    return {"Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def events_handler(hub: EventHub):  # noqa: ANN201
    async def handle(request: aioweb.Request) -> aioweb.StreamResponse:
        hub.start()
        cors = _cors(request)
        if request.method == "OPTIONS":
            return aioweb.Response(status=204, headers={
                **cors, "Access-Control-Allow-Methods": "GET",
                "Access-Control-Allow-Headers": "Last-Event-ID, Cache-Control"})
        cookie_name = hub.app.config.get("SESSION_COOKIE_NAME", "session")
        found = await asyncio.get_running_loop().run_in_executor(
            None, session_principal, hub.app, request.cookies.get(cookie_name))
        if found is None:
            return aioweb.Response(status=401, text="sign in first", headers=cors)
        city, principal = found
        response = aioweb.StreamResponse(headers={
            **cors, "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        await response.prepare(request)
        queue: asyncio.Queue = asyncio.Queue(QUEUE_SIZE)
        entry = (city, principal, queue)
        hub.listeners.add(entry)
        try:
            await response.write(b"retry: 3000\n: connected\n\n")
            while True:
                try:  # a timeout, not wait_for: no task made per event for each page
                    async with asyncio.timeout(HEARTBEAT_S):
                        frame = await queue.get()
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                await response.write(frame)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.listeners.discard(entry)
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response

    return handle
