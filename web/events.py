"""Live events for open pages: server-sent events (``GET /events``) on the asyncio server that
takes the phones' positions, with PostgreSQL LISTEN/NOTIFY as the bus.

One connection LISTENs on :data:`~geo_patrol.store.notify.EVENTS_CHANNEL`; each event (a small
JSON: kind, ids, community, the people it is for, its city) goes to the pages that may see it:
a volunteer's pages only their own events, a command's or an officer's pages their
communities'. A page signs in with the web app's session cookie (the same server-side
session, so a signed-out or disabled account gets nothing), checked again at every heartbeat:
a stream ends within one heartbeat of its sign-out or the account's disabling. Pages of the
web app's own origin (scheme, host and port) are let in by CORS with credentials, any other
origin refused; an account holds at most ``events_per_user`` streams (the settings'; the
oldest ends).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import psycopg
from aiohttp import web as aioweb
from flask import Flask

from geo_patrol.access import Principal, Role
from geo_patrol.services.accounts import principal_from_session
from geo_patrol.store.db import database_url
from geo_patrol.store.notify import EVENTS_CHANNEL

log = logging.getLogger(__name__)

#: A comment line this often keeps proxies and phones from closing an idle stream, and the
#: stream's session is checked again as often (the app's ``GEO_PATROL_EVENTS_HEARTBEAT_S``
#: sets another).
HEARTBEAT_S = 15.0
#: Events a slow page may fall behind by before the oldest are dropped.
QUEUE_SIZE = 256
#: A page whose stream ended for a newer stream of its account waits this long before its
#: browser connects again (milliseconds, the stream's ``retry``): it does not take a stream
#: back from the newer pages at once, round and round.
ENDED_RETRY_MS = 600_000
#: What a stream's queue gets when the stream is to end (an event is never empty).
_END = b""
_DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(eq=False)
class Listener:
    """One open stream: its city, its user as last checked, and the events waiting."""

    city: str
    principal: Principal
    queue: asyncio.Queue

    def end(self) -> None:
        """Make the stream end (its oldest event dropped if the queue is full)."""
        if self.queue.full():
            self.queue.get_nowait()
        self.queue.put_nowait(_END)


class EventHub:
    """The pages listening, and the one LISTEN connection feeding them (on one event loop)."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.listeners: set[Listener] = set()
        self._mine: dict[tuple[str, int], list[Listener]] = defaultdict(list)
        self._checks: dict[str, tuple[float, asyncio.Future]] = {}
        self._task: asyncio.Task | None = None
        self.ready = asyncio.Event()
        self.per_user = int(app.config["GEO_PATROL_SETTINGS"].events_per_user)
        self.every_s = float(app.config.get("GEO_PATROL_EVENTS_HEARTBEAT_S") or HEARTBEAT_S)

    def add(self, listener: Listener) -> None:
        """A stream opened; the account's oldest ends beyond ``events_per_user``."""
        mine = self._mine[(listener.city, listener.principal.id)]
        mine.append(listener)
        self.listeners.add(listener)
        while len(mine) > self.per_user:
            oldest = mine.pop(0)
            self.listeners.discard(oldest)
            oldest.end()

    async def signed_in(self, cookie: str | None) -> tuple[str, Principal] | None:
        """:func:`session_principal` of a stream's cookie, asked of the database at most
        twice a heartbeat for all the streams of one cookie (a user's tabs)."""
        loop = asyncio.get_running_loop()
        now = loop.time()
        known = self._checks.get(cookie or "")
        if known is None or now - known[0] >= self.every_s / 2:
            if len(self._checks) > 2 * len(self.listeners) + 64:  # the signed-out's go
                self._checks = {k: v for k, v in self._checks.items()
                                if now - v[0] < self.every_s}
            known = (now, loop.run_in_executor(None, session_principal, self.app, cookie))
            self._checks[cookie or ""] = known
        try:
            return await asyncio.shield(known[1])
        except Exception:  # noqa: BLE001  (the database went away: the page connects again)
            log.warning("a live-event stream's session could not be checked; it ends")
            return None

    def remove(self, listener: Listener) -> None:
        self.listeners.discard(listener)
        key = (listener.city, listener.principal.id)
        mine = self._mine.get(key, [])
        if listener in mine:
            mine.remove(listener)
        if not mine:
            self._mine.pop(key, None)

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
        for listener in list(self.listeners):
            if event.get("city") == listener.city and may_see(listener.principal, event):
                if listener.queue.full():
                    listener.queue.get_nowait()
                listener.queue.put_nowait(frame)


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


def _origin(text: str) -> tuple[str, str, int] | None:
    """An origin as (scheme, host, port), the scheme's default port written out."""
    try:
        parts = urlsplit(text.strip().lower())
        port = parts.port or _DEFAULT_PORTS.get(parts.scheme)
    except ValueError:
        return None
    if not parts.hostname or port is None:
        return None
    return parts.scheme, parts.hostname, port


def web_origins(app: Flask, request: aioweb.Request) -> set[tuple[str, str, int]]:
    """The origins of the web app's pages: the settings' ``web_origins`` (behind a proxy),
    and the web app's port (``GEO_PATROL_WEB_PORT``, as ``geo-patrol serve`` sets it) on the
    host name and scheme the page asked this port by (the pages' events URL names this port
    on their own host name)."""
    named = app.config["GEO_PATROL_SETTINGS"].web_origins.split(",")
    found = {o for o in (_origin(n) for n in named if n.strip()) if o is not None}
    port = app.config.get("GEO_PATROL_WEB_PORT")
    if port and request.url.host:
        found.add((request.scheme, request.url.host.lower(), int(port)))
    return found


def _cors(app: Flask, request: aioweb.Request) -> dict[str, str] | None:
    """Credentials allowed for a page of the web app's own origin (scheme, host and port);
    ``None`` for a page of any other origin (a page of another port of the same host name
    is another site, whose scripts must not read a signed-in user's events)."""
    origin = request.headers.get("Origin")
    if not origin:  # not a cross-origin request (the same origin, through a proxy)
        return {}
    if _origin(origin) not in web_origins(app, request):
        return None
    return {"Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Credentials": "true", "Vary": "Origin"}


def events_handler(hub: EventHub):  # noqa: ANN201
    async def handle(request: aioweb.Request) -> aioweb.StreamResponse:
        hub.start()
        cors = _cors(hub.app, request)
        if cors is None:
            return aioweb.Response(status=403, text="not a page of this app")
        if request.method == "OPTIONS":
            return aioweb.Response(status=204, headers={
                **cors, "Access-Control-Allow-Methods": "GET",
                "Access-Control-Allow-Headers": "Last-Event-ID, Cache-Control"})
        cookie_name = hub.app.config.get("SESSION_COOKIE_NAME", "session")
        cookie = request.cookies.get(cookie_name)
        loop = asyncio.get_running_loop()
        found = await loop.run_in_executor(None, session_principal, hub.app, cookie)
        if found is None:
            return aioweb.Response(status=401, text="sign in first", headers=cors)
        city, principal = found
        response = aioweb.StreamResponse(headers={
            **cors, "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-store", "X-Accel-Buffering": "no"})
        try:
            await response.prepare(request)
        except ConnectionResetError:  # the page left while its stream was being opened
            return response
        listener = Listener(city, principal, asyncio.Queue(QUEUE_SIZE))
        hub.add(listener)
        try:
            await response.write(b"retry: 3000\n: connected\n\n")
            beat = loop.time() + hub.every_s
            while True:
                try:  # a timeout, not wait_for: no task made per event for each page
                    async with asyncio.timeout_at(beat):
                        frame = await listener.queue.get()
                except TimeoutError:
                    # the session still live and the account still enabled, or the end
                    again = await hub.signed_in(cookie)
                    if again is None or again[0] != city or again[1].id != principal.id:
                        break
                    listener.principal = again[1]  # a changed role or area counts from now
                    await response.write(b": keep-alive\n\n")
                    beat = loop.time() + hub.every_s
                    continue
                if frame == _END:  # the account opened more streams than it may hold
                    await response.write(f"retry: {ENDED_RETRY_MS}\n\n".encode())
                    break
                await response.write(frame)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            hub.remove(listener)
        with contextlib.suppress(Exception):
            await response.write_eof()
        return response

    return handle

