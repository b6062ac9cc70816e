"""Notifications: every message to a person goes through an outbox in PostgreSQL.

:func:`enqueue` (inside the caller's transaction) keeps one message per (kind, ref, person)
and one delivery per channel reaching the person; :func:`publish` tells the pages that are
open (a PostgreSQL NOTIFY the live-event server passes on). A sender (:func:`run_sender`,
started by ``geo-patrol serve`` and runnable alone as ``geo-patrol notify send``) hands the
deliveries to their channels -- apprise URLs (chat-group robots, e-mail, SMS gateways,
ntfy/Gotify, any HTTP gateway) and Web Push -- with retries and exponential back-off.

A delivery is marked ``sent`` (committed) just before it is handed over, and ``delivered``
once the channel took it: a sender killed mid-batch leaves the ones it had started as
``sent`` (never handed over again) and the others queued for the next sender once their
lease runs out. Call-outs and SOS ignore quiet hours; other messages wait for their end.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import logging
import os
import socket
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import apprise
import psycopg
import requests
import urllib3
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPushException, webpush

from geo_patrol.clock import local_times
from geo_patrol.errors import N_, ConflictError, InputError, NotFoundError, NoVolunteerError
from geo_patrol.ingest.photos import read_photo
from geo_patrol.paging import PageOf, Paging
from geo_patrol.services.background import Background
from geo_patrol.services.cities import cities, open_city, open_deployment
from geo_patrol.settings import Settings
from geo_patrol.store import areas as area_store
from geo_patrol.store import media as media_store
from geo_patrol.store import notify as store
from geo_patrol.store.accounts import audit
from geo_patrol.store.db import database_url
from geo_patrol.store.scope import Within
from geo_patrol.vocab import NOTICE_KINDS

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from geo_patrol.access import Principal
    from geo_patrol.store.db import Database

log = logging.getLogger(__name__)

#: What a message may be about.
KINDS = ("callout", "sos", "task", "report", "points", "notice")
#: Messages that ignore quiet hours and the on-duty rule.
URGENT = frozenset({"callout", "sos"})
SCOPES = ("city", "station", "volunteer")
#: Whom the push services may contact about this server's pushes (VAPID's ``sub``).
PUSH_CONTACT = "mailto:push@geo-patrol.invalid"
#: Push subscriptions kept per volunteer (their phones and browsers): the newest.
PUSH_PER_VOLUNTEER = 5
#: Longest wait for a push service's host name to resolve (seconds).
RESOLVE_TIMEOUT_S = 2.0


def enqueue(conn: Connection, *, volunteer_ids: Sequence[int], kind: str, ref: str,
            title: str, body: str, url: str | None = None) -> int:
    """Queue a message to each volunteer on every channel that reaches them, within the
    caller's transaction; a repeated call (same kind, ref and volunteer) queues nothing new.
    Returns the deliveries queued. The pages open for those volunteers hear of it when the
    transaction commits."""
    if kind not in KINDS:
        raise InputError(f"unknown message kind {kind!r}")
    ref = str(ref)[:64]
    new = store.insert_messages(conn, volunteer_ids=sorted({int(v) for v in volunteer_ids}),
                                kind=kind, ref=ref, title=title[:200], body=body[:2000],
                                url=url)
    if not new:
        return 0
    queued = store.queue_deliveries(conn, [m for m, _ in new])
    if queued:
        store.notify(conn, store.OUTBOX_CHANNEL, {})
    publish(conn, {"kind": kind, "ref": ref, "ids": [m for m, _ in new][:200],
                   "volunteers": [v for _, v in new][:500]})
    return queued


def enqueue_group(conn: Connection, *, community_id: int | None, kind: str, ref: str,
                  title: str, body: str, url: str | None = None) -> int:
    """Queue a message to the group channels over a community -- the police station's chat
    and the city's (the command's) -- within the caller's transaction, once per (kind, ref).
    Returns the deliveries queued."""
    if kind not in KINDS:
        raise InputError(f"unknown message kind {kind!r}")
    message = store.insert_group_message(conn, community_id=community_id, kind=kind,
                                         ref=str(ref)[:64], title=title[:200],
                                         body=body[:2000], url=url)
    if message is None:
        return 0
    queued = store.queue_group_deliveries(conn, message)
    if queued:
        store.notify(conn, store.OUTBOX_CHANNEL, {})
    return queued


def publish(conn: Connection, event: dict) -> None:
    """A small JSON event (kind, ids, community; ``volunteers`` for events meant for those
    people only) for the pages that are open, sent when ``conn``'s transaction commits. The
    city is added from the connection's schema."""
    store.notify_event(conn, store.EVENTS_CHANNEL, event)


def answered(conn: Connection, *, kind: str, ref: str, volunteer_id: int) -> None:
    """The person answered (accepted, declined, took): the message's deliveries say so."""
    store.mark_answered(conn, kind=kind, ref=str(ref), volunteer_id=volunteer_id)


# -- the sender ------------------------------------------------------------------------------


@dataclass
class SendPolicy:
    """How the sender retries: ``base_s`` · 2^(attempt-1) (capped at ``max_delay_s``) between
    tries, at most ``max_attempts`` tries; a batch holds its deliveries ``lease_s``."""

    base_s: float = 5.0
    max_delay_s: float = 900.0
    max_attempts: int = 6
    lease_s: float = 60.0
    batch: int = 200
    threads: int = 12
    timeout_s: float = 10.0


def backoff_s(policy: SendPolicy, attempts: int) -> float | None:
    """Seconds before the next try after ``attempts`` failed ones (``None``: give up)."""
    if attempts >= policy.max_attempts:
        return None
    return min(policy.base_s * 2 ** max(attempts - 1, 0), policy.max_delay_s)


class ChannelError(Exception):
    """A channel refused or could not take a delivery; ``final`` when retrying is useless."""

    def __init__(self, message: str, *, final: bool = False) -> None:
        super().__init__(message)
        self.final = final


_APPRISE = threading.local()


def _apprise_for(url: str) -> Any:
    """apprise's service for ``url``, made once per thread (``None``: not a URL apprise
    knows). Called on its own, it sends on the calling thread (an ``Apprise`` object would
    start a thread pool for every message)."""
    cache = getattr(_APPRISE, "cache", None)
    if cache is None:
        cache = _APPRISE.cache = OrderedDict()
    if url in cache:
        cache.move_to_end(url)
        return cache[url]
    found = apprise.Apprise.instantiate(url)
    cache[url] = found or None
    while len(cache) > 256:
        cache.popitem(last=False)
    return cache[url]


class _Warnings(logging.Handler):
    """apprise's warnings (the reason a channel did not take a message: apprise logs it and
    returns ``False``) kept per sending thread, so that a post's error is its own and not
    another thread's (apprise's ``LogCapture`` sees every thread's records)."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._local = threading.local()

    def emit(self, record: logging.LogRecord) -> None:
        lines = getattr(self._local, "lines", None)
        if lines is not None:
            lines.append(record.getMessage())

    def start(self) -> list[str]:
        self._local.lines = []
        return self._local.lines

    def stop(self) -> None:
        self._local.lines = None


_WARNINGS = _Warnings()
_APPRISE_LOG = logging.getLogger("apprise")  # the logger every apprise plugin logs to
_APPRISE_LOG.addHandler(_WARNINGS)
if _APPRISE_LOG.getEffectiveLevel() > logging.WARNING:  # its warnings reach the handler
    _APPRISE_LOG.setLevel(logging.WARNING)


def send_apprise(url: str, title: str, body: str) -> None:
    """Hand one message to one apprise URL; the reason apprise logged when it fails."""
    service = _apprise_for(url)
    if service is None:
        raise ChannelError("not a notification URL apprise knows", final=True)
    lines = _WARNINGS.start()
    try:
        ok = service.notify(title=title, body=body)
    finally:
        _WARNINGS.stop()
    if not ok:
        raise ChannelError(lines[-1][:500] if lines else "the channel did not take the message")


class _InsideAddress(Exception):
    """A push service's host name led, as the message was being sent, to an address inside
    the network."""


class _PublicPeer:
    """A connection that refuses, before a byte is sent, a peer with no public address:
    the host name was checked before the message was sent, but it is resolved again to
    connect, and may point inside the network by then."""

    def _new_conn(self) -> socket.socket:
        sock = super()._new_conn()  # type: ignore[misc]
        peer = str(sock.getpeername()[0])
        if _inside(peer):
            sock.close()
            raise _InsideAddress(f"the push service's host led to {peer}, inside the network")
        return sock


class _PublicHTTP(_PublicPeer, urllib3.connection.HTTPConnection):
    pass


class _PublicHTTPS(_PublicPeer, urllib3.connection.HTTPSConnection):
    pass


class _PublicHTTPPool(urllib3.HTTPConnectionPool):
    ConnectionCls = _PublicHTTP


class _PublicHTTPSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _PublicHTTPS


class _PublicOnly(requests.adapters.HTTPAdapter):
    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _PublicHTTPPool,
                                                   "https": _PublicHTTPSPool}


class _NoRedirects(requests.Session):
    """A push service takes the message itself: a redirect (to an address inside the
    network, say) is an answer, never followed. Unless ``inside`` (a host the city's
    settings name a push service), only a public address is connected to."""

    def __init__(self, *, inside: bool) -> None:
        super().__init__()
        if not inside:
            self.mount("https://", _PublicOnly())
            self.mount("http://", _PublicOnly())

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:  # type: ignore[override]
        kwargs["allow_redirects"] = False
        return super().request(*args, **kwargs)


def send_webpush(delivery: dict[str, Any], keys: tuple[str, str], *, contact: str,
                 timeout_s: float, inside: bool = False) -> None:
    """Encrypt one message for one browser subscription and hand it to its push service
    (at a public address, unless ``inside``: a host the city's settings name)."""
    vapid = Vapid02.from_pem(keys[0].encode())
    payload = json.dumps({"title": delivery["title"], "body": delivery["body"],
                          "url": delivery["url"], "kind": delivery["kind"]},
                         ensure_ascii=False)
    try:
        with _NoRedirects(inside=inside) as session:
            webpush({"endpoint": delivery["endpoint"],
                     "keys": {"p256dh": delivery["p256dh"], "auth": delivery["auth"]}},
                    data=payload, vapid_private_key=vapid, vapid_claims={"sub": contact},
                    ttl=3600, timeout=timeout_s, requests_session=session)
    except _InsideAddress as exc:
        raise ChannelError(f"not posted: {exc}", final=True) from None
    except WebPushException as exc:
        status = exc.response.status_code if exc.response is not None else None
        raise ChannelError(f"push service answered {status}: {str(exc)[:200]}",
                           final=status in (404, 410)) from None


def _quiet_until(delivery: dict[str, Any], now: dt.datetime, tz: str) -> dt.datetime | None:
    """The end of the volunteer's quiet hours (local time) when ``now`` lies in them."""
    start, end = delivery.get("quiet_start"), delivery.get("quiet_end")
    if start is None or end is None or delivery["kind"] in URGENT:
        return None
    local = now.astimezone(ZoneInfo(tz))
    t = local.time().replace(tzinfo=None)
    inside = (start <= t < end) if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    return dt.datetime.combine(day, end, tzinfo=ZoneInfo(tz))


class Sender:
    """Hands a city's due deliveries to their channels (one batch per :meth:`run_once`)."""

    def __init__(self, engine: Engine, settings: Settings, policy: SendPolicy | None = None,
                 *, name: str | None = None) -> None:
        self.engine, self.settings = engine, settings
        self.policy = policy or SendPolicy()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._pool = ThreadPoolExecutor(self.policy.threads, thread_name_prefix="notify-send")
        self._keys: tuple[str, str] | None = None

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def run_once(self) -> int:
        """Send one batch of due deliveries; the number handed over or put off.

        The posts go out on the sender's threads, at most ``threads`` at a time; this thread
        does the bookkeeping in few transactions on one connection: it marks the posts it
        starts ``sent`` (committed) just before handing them to the threads, and the ones
        that came back delivered or to be retried, as they come back."""
        now = dt.datetime.now(dt.UTC)
        with self.engine.begin() as conn:
            batch = store.claim(conn, worker=self.name, limit=self.policy.batch,
                                lease_s=self.policy.lease_s)
            duty = store.on_duty(conn, [d["volunteer_id"] for d in batch if d["on_duty_only"]],
                                 now - dt.timedelta(minutes=self.settings.live_offline_min))
            waiting = []
            for post in _posts(batch):
                go = []
                for d in post:
                    held = self._held(d, now, duty)
                    if held is None:
                        go.append(d)
                    else:
                        store.defer(conn, d["id"], *held)
                if go:
                    waiting.append(go)
        if not batch:
            return 0
        if any(d["channel"] == "webpush" for d in batch) and self._keys is None:
            self._keys = vapid_keys(self.engine)
        running: dict[Future[None], list[dict[str, Any]]] = {}
        with self.engine.connect() as conn:
            store.quick_commits(conn)
            try:
                while waiting or running:
                    done: set[Future[None]] = set()
                    if running:  # what came back within a few milliseconds, at least one
                        done, _ = wait(running, return_when=FIRST_COMPLETED)
                        time.sleep(0.005)
                        done |= {f for f in running if f.done()}
                    with conn.begin():
                        delivered = []
                        for future in done:
                            post = running.pop(future)
                            exc = future.exception()
                            if exc is None:
                                delivered += [d["id"] for d in post]
                            else:
                                self._failed(conn, post, exc)
                        if delivered:
                            store.mark_delivered(conn, delivered)
                        room = self.policy.threads - len(running)
                        start, waiting = waiting[:room], waiting[room:]
                        mine = set(store.mark_sent_many(
                            conn, [d["id"] for post in start for d in post], self.name)
                        ) if start else set()
                    for post in start:  # handed over once marked sent (committed)
                        post = [d for d in post if d["id"] in mine]  # others: lease ran out
                        if post:
                            running[self._pool.submit(self._hand_over, post)] = post
            finally:
                store.quick_commits(conn, False)
        return len(batch)

    def _held(self, d: dict[str, Any], now: dt.datetime, duty: set[int]
              ) -> tuple[dt.datetime, str] | None:
        """Until when and why a delivery waits (quiet hours; off duty), or ``None``."""
        until = _quiet_until(d, now, self.settings.timezone)
        if until is not None:
            return until, "quiet hours"
        if d["on_duty_only"] and d["kind"] not in URGENT and d["volunteer_id"] not in duty:
            return now + dt.timedelta(minutes=15), "off duty: waits until the volunteer is on duty"
        return None

    def _hand_over(self, post: list[dict[str, Any]]) -> None:
        """Hand one post to its channel: one delivery, or the deliveries of one message to
        several people through the same group channel (a station's or the city's chat)."""
        d = post[0]
        if d["channel"] == "webpush":
            assert self._keys is not None
            try:  # checked again as it is sent: a host name may point elsewhere by now
                check_push_endpoint(d["endpoint"], self.settings)
            except InputError as exc:
                raise ChannelError(f"not posted: {exc.message}", final=True) from None
            send_webpush(d, self._keys, contact=PUSH_CONTACT, timeout_s=self.policy.timeout_s,
                         inside=push_host_listed(d["endpoint"], self.settings))
        else:
            try:  # checked again as it is sent: a host name may point inside by now
                _check_url(d["apprise_url"], self.settings)
            except InputError as exc:
                raise ChannelError(f"not posted: {exc.message}", final=True) from None
            send_apprise(d["apprise_url"], d["title"], _group_text(post))

    def _failed(self, conn: Connection, post: list[dict[str, Any]], exc: BaseException) -> None:
        """A post its channel did not take: retried after the back-off, or failed."""
        final = isinstance(exc, ChannelError) and exc.final
        if post[0]["channel"] == "webpush" and final:
            store.drop_subscription(conn, store.subscription_of(conn, post[0]["id"]))
        for d in post:
            delay = None if final else backoff_s(self.policy, int(d["attempts"]) + 1)
            store.mark_retry(conn, d["id"], error=str(exc) or type(exc).__name__,
                             delay_s=delay)


def _posts(batch: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """The batch as posts: one per delivery to a person's own channel or browser, one per
    group channel and message (the same title and text to several people: a ring's call
    reaches a station's chat once, naming who was called)."""
    posts: list[list[dict[str, Any]]] = []
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for d in batch:
        if d["channel"] == "apprise" and d["scope"] in ("station", "city"):
            key = (d["apprise_url"], d["kind"], d["ref"], d["title"], d["body"], d["url"])
            if key not in groups:
                groups[key] = []
                posts.append(groups[key])
            groups[key].append(d)
        else:
            posts.append([d])
    return posts


def _group_text(ds: list[dict[str, Any]]) -> str:
    """A post's text: the message and its link; for several people, their roster numbers."""
    text = _with_link(ds[0])
    if len(ds) > 1:
        numbers = sorted(str(d["number"]) for d in ds)
        text += f"\n{len(ds)} 人 · {len(ds)} volunteers: {', '.join(numbers)}"
    return text


def _with_link(d: dict[str, Any]) -> str:
    return d["body"] + (f"\n{d['url']}" if d.get("url") else "")


def _conninfo(settings: Settings) -> str:
    return database_url(settings).replace("postgresql+psycopg://", "postgresql://", 1)


def run_sender(settings: Settings, *, policy: SendPolicy | None = None,
               stop: threading.Event | None = None, until_empty: bool = False,
               poll_s: float = 2.0) -> int:
    """Send the deliveries of every city of the deployment until ``stop`` is set (or, with
    ``until_empty``, until none is due); woken at once by :func:`enqueue`. Returns the
    deliveries handled."""
    stop = stop or threading.Event()
    registry = open_deployment(settings, start=False)
    try:
        opened = [open_city(registry, settings.with_(city=c.key)) for c in cities(registry)]
    finally:
        registry.dispose()
    senders = [Sender(o.engine, o.settings, policy) for o in opened]
    total = 0
    try:
        with psycopg.connect(_conninfo(settings), autocommit=True) as listen:
            listen.execute(f"LISTEN {store.OUTBOX_CHANNEL}")
            while not stop.is_set():
                done = sum(s.run_once() for s in senders)
                total += done
                if done:
                    continue
                if until_empty:
                    break
                for _ in listen.notifies(timeout=poll_s, stop_after=1):
                    pass
    finally:
        for s in senders:
            s.close()
        for o in opened:
            o.engine.dispose()
    return total


_SENDERS = Background("notify-sender")


def ensure_sender(settings: Settings, policy: SendPolicy | None = None) -> None:
    """A sender thread in this process (``geo-patrol serve``), unless one runs already."""
    def run(stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                run_sender(settings, policy=policy, stop=stop)
            except Exception:  # noqa: BLE001  (a lost database: try again shortly)
                log.exception("the notification sender stopped; it restarts in 5 s")
                stop.wait(5)

    _SENDERS.ensure(_conninfo(settings), run)


def stop_senders() -> None:
    _SENDERS.stop(timeout=10)


# -- Web Push keys and subscriptions ---------------------------------------------------------


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def vapid_keys(db: Database | Engine) -> tuple[str, str]:
    """The deployment's VAPID key pair (private PEM, public key as the browsers take it),
    made once on first use."""
    with db.begin() as conn:
        found = store.push_keys(conn)
        if found is not None:
            return found
        vapid = Vapid02()
        vapid.generate_keys()
        pem = vapid.private_pem().decode()
        public = _b64url(vapid.public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))
        return store.store_push_keys(conn, pem, public)


#: What the phone's page says of a subscription that is no push service's.
_MALFORMED = N_("This browser gave an address for notifications that is no push service's: "
                "notifications stay off.")
_resolver = ThreadPoolExecutor(2, thread_name_prefix="push-resolve")


def _listed(host: str, port: int | None, hosts: str) -> bool:
    """Whether ``hosts`` (a setting: ``host`` or ``host:port``, comma-separated) names
    ``host`` (any port, or this one)."""
    listed = {h.strip().lower() for h in hosts.split(",") if h.strip()}
    shown = f"[{host}]" if ":" in host else host
    return host in listed or shown in listed or (port is not None and f"{shown}:{port}" in listed)


def push_host_listed(endpoint: str, settings: Settings) -> bool:
    """Whether the city's settings name the endpoint's host a push service."""
    try:
        parts = urlsplit(endpoint)
        return _listed((parts.hostname or "").lower(), parts.port, settings.push_hosts)
    except ValueError:
        return False


def _inside(address: str) -> bool:
    """Whether an address is no public one (private, loopback, link-local, shared,
    reserved, multicast; an IPv4 address written as IPv6 judged as itself)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def _addresses(host: str, port: int) -> list[str]:
    """The addresses ``host`` stands for (none when it does not resolve in time)."""
    try:
        return [ipaddress.ip_address(host).compressed]
    except ValueError:
        pass
    try:
        found = _resolver.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM
                                 ).result(timeout=RESOLVE_TIMEOUT_S)
    except (OSError, TimeoutError, UnicodeError):
        return []
    return [str(info[4][0]) for info in found]


def check_push_endpoint(endpoint: str, settings: Settings) -> None:
    """Refuse a push subscription's endpoint this server must not post to: anything but
    ``https://`` to a host whose every address is public, unless the city's settings name
    the host a push service (:attr:`~geo_patrol.settings.Settings.push_hosts`, which may
    also be plain ``http://``). A volunteer's browser names the endpoint, so without this
    anyone signed in could make the server post to addresses inside its network."""
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError:
        raise InputError("this push subscription's endpoint is no URL", shown=_MALFORMED) \
            from None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("https", "http") or not host or parts.username is not None \
            or parts.password is not None:
        raise InputError("this push subscription's endpoint is no https:// URL",
                         shown=_MALFORMED)
    if _listed(host, port, settings.push_hosts):
        return
    if parts.scheme != "https":
        raise InputError("a push subscription's endpoint must be https:// (or a host named in "
                         "GEO_PATROL_PUSH_HOSTS)",
                         shown=N_("This browser's address for notifications is not secure "
                                  "(https): notifications stay off."))
    addresses = _addresses(host, port or 443)
    if not addresses:
        raise InputError(f"the push service {host[:80]!r} could not be found",
                         shown=N_("The server could not find this browser's push service: "
                                  "notifications stay off; try again later."))
    if any(_inside(a) for a in addresses):
        raise InputError(f"the push endpoint's host {host[:80]!r} is an address inside the "
                         "network, not a push service (name it in GEO_PATROL_PUSH_HOSTS if "
                         "it is one)",
                         shown=N_("This browser's address for notifications points inside "
                                  "the network, not at a push service: notifications stay "
                                  "off."))


def subscribe(db: Database, settings: Settings, principal: Principal, subscription: Any
              ) -> int:
    """Keep a browser's push subscription for the signed-in volunteer: its endpoint checked
    (:func:`check_push_endpoint`), only the volunteer's :data:`PUSH_PER_VOLUNTEER` newest
    kept, and never one that is another volunteer's (:class:`ConflictError`; it stays
    theirs)."""
    if principal.volunteer_id is None:
        raise NoVolunteerError()
    try:
        endpoint = str(subscription["endpoint"])
        keys = subscription["keys"]
        p256dh, auth = str(keys["p256dh"]), str(keys["auth"])
    except (KeyError, TypeError):
        raise InputError("a push subscription has an endpoint and keys p256dh and auth",
                         shown=_MALFORMED) from None
    if len(endpoint) > 1000 or not 40 <= len(p256dh) <= 200 or not 8 <= len(auth) <= 100:
        raise InputError("this push subscription is malformed", shown=_MALFORMED)
    check_push_endpoint(endpoint, settings)
    with db.begin() as conn:
        kept = store.save_subscription(conn, principal.volunteer_id, endpoint=endpoint,
                                       p256dh=p256dh, auth=auth, keep=PUSH_PER_VOLUNTEER)
        if kept is None:
            exc = ConflictError("this push subscription is another volunteer's")
            exc.msgid = N_("This browser's notifications are on for another account: they "
                           "stay with it.")
            raise exc
        return kept


# -- channels and rules ------------------------------------------------------------------------


def _check_url(url: str, settings: Settings) -> str:
    """A channel's apprise URL, refused when apprise does not know it, or when a host it
    sends to (a gateway's, an SMTP server's) resolves inside the network and the settings
    do not name it (:attr:`~geo_patrol.settings.Settings.channel_hosts`): a channel is no
    way to make this server post to the services beside it."""
    url = (url or "").strip()
    service = apprise.Apprise.instantiate(url) if url and len(url) <= 2000 else None
    if service is None:
        raise InputError("not a notification URL (apprise: wecombot://, dingtalk://, "
                         "feishu://, mailto://, ntfy://, gotify://, json://, ...)",
                         field="url", values={},
                         shown=N_("This is not an address messages can be sent to: copy it "
                                  "again from the group robot's settings, or tap a "
                                  "channel in the list above the form for the form of its "
                                  "address."))
    port = getattr(service, "port", None)
    for host in {str(h).lower().strip("[]") for h in (getattr(service, "host", None),
                                                      getattr(service, "smtp_host", None))
                 if h}:
        if not _listed(host, port, settings.channel_hosts) and \
                any(_inside(a) for a in _addresses(host, port or 443)):
            raise InputError(f"the channel's host {host[:80]!r} is inside the network (name "
                             "it in GEO_PATROL_CHANNEL_HOSTS if it is a gateway)", field="url",
                             values={"host": host[:80]},
                             shown=N_("This address points inside the network (%(host)s): "
                                      "a channel may send only to public services and to the "
                                      "gateways the server's settings name."))
    return url


def add_channel(db: Database | Engine, settings: Settings, *, scope: str, url: str, by: str,
                station: str | None = None, volunteer: str | None = None,
                label: str = "", within: Within = None) -> int:
    """Keep an apprise URL for the city, a police station's group or one volunteer (by their
    roster number); audit-logged. A user bound to some communities (``within``) keeps
    channels only for their stations and volunteers, never the city's."""
    if scope not in SCOPES:
        raise InputError(f"a channel is for one of {', '.join(SCOPES)}")
    if scope == "city" and within is not None:
        raise InputError("the city's channels are kept by the city's command",
                         field="scope", shown=N_("The city's channels are kept by the "
                                                 "city's command: choose a police station "
                                                 "or a volunteer of your areas."))
    url = _check_url(url, settings)
    with db.begin() as conn:
        area_id = volunteer_id = None
        if scope == "station" and not (station or "").strip():
            raise InputError("a station's channel names the station", field="station",
                             shown=N_("Choose the police station."))
        if scope == "volunteer" and not (volunteer or "").strip():
            raise InputError("a volunteer's channel names the volunteer", field="volunteer",
                             shown=N_("Choose the volunteer: type a name or number, then pick "
                                      "them from the list."))
        if scope == "station":
            area_id = store.station_id(conn, (station or "").strip(), within)
            if area_id is None:
                raise InputError(f"no police station named {(station or '')[:40]!r}",
                                 field="station", values={"raw": (station or "")[:40]},
                                 shown=N_("No police station named “%(raw)s” over your "
                                          "areas."))
        if scope == "volunteer":
            volunteer_id = store.volunteer_by_number(conn, (volunteer or "").strip(), within)
            if volunteer_id is None:
                raise InputError(f"no volunteer numbered {(volunteer or '')[:32]!r}",
                                 field="volunteer", values={"raw": (volunteer or "")[:32]},
                                 shown=N_("No volunteer numbered “%(raw)s” in your areas."))
        channel_id = store.add_channel(conn, scope=scope, area_id=area_id,
                                       volunteer_id=volunteer_id, url=url,
                                       label=(label or "")[:80], by=by)
        audit(conn, by, "notify_channel", f"channel {channel_id}",
              details={"scope": scope, "station": station, "volunteer": volunteer})
    return channel_id


def remove_channel(db: Database | Engine, channel_id: int, *, by: str,
                   within: Within = None) -> None:
    """Remove a channel serving one of the communities ``within``; audit-logged."""
    with db.begin() as conn:
        if not store.channel_reached(conn, channel_id, within) or \
                not store.remove_channel(conn, channel_id):
            raise NotFoundError(f"no channel {channel_id}")
        audit(conn, by, "notify_channel_removed", f"channel {channel_id}")


def masked_url(url: str) -> str:
    """A channel's URL with its secrets hidden (tokens, passwords): its kind and host."""
    scheme, _, rest = url.partition("://")
    host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
    return f"{scheme}://{host[:3]}…" if host else f"{scheme}://…"


def channels(db: Database | Engine, within: Within = None) -> Any:
    """The channels serving one of the communities ``within``, URLs masked."""
    with db.connect() as conn:
        table = store.channel_table(conn, within)
    table["url"] = table["url"].map(masked_url)
    return table


def stations(db: Database, within: Within = None) -> list[tuple[int, str]]:
    with db.connect() as conn:
        return store.stations(conn, within)


def _time(value: str | None, what: str, field: str) -> dt.time | None:
    if not value:
        return None
    text = value.strip()
    try:
        return dt.time.fromisoformat(text.zfill(5) if len(text) == 4 else text)  # 7:30
    except ValueError:
        raise InputError(f"{what} is a time of day (HH:MM)", field=field,
                         values={"raw": text[:20]},
                         shown=N_("“%(raw)s” is not a time of day (07:30).")) from None


def set_rules(db: Database | Engine, volunteer_id: int, *, on_duty_only: bool,
              quiet_start: str | None, quiet_end: str | None) -> None:
    """A volunteer's rules: messages only while on duty (call-outs and SOS always), and quiet
    hours in the city's local time (messages other than call-outs and SOS wait for their
    end)."""
    start = _time(quiet_start, "quiet hours' start", "quiet_start")
    end = _time(quiet_end, "quiet hours' end", "quiet_end")
    if (start is None) != (end is None) or (start is not None and start == end):
        raise InputError("quiet hours need a start and a different end")
    with db.begin() as conn:
        store.set_rules(conn, volunteer_id, on_duty_only=on_duty_only, quiet_start=start,
                        quiet_end=end)


def volunteer_id(db: Database | Engine, number: str) -> int:
    """The volunteer of a roster number."""
    with db.connect() as conn:
        found = store.volunteer_by_number(conn, number.strip())
    if found is None:
        raise InputError(f"no volunteer numbered {number[:32]!r}")
    return found


def rules(db: Database, volunteer_id: int) -> dict[str, Any]:
    with db.connect() as conn:
        return store.rules_of(conn, volunteer_id)


# -- what the command sees ---------------------------------------------------------------------


def outbox(db: Database, within: frozenset[int] | None, *, tz: str) -> Any:
    """The latest messages per person and channel, times in ``tz``."""
    with db.connect() as conn:
        table = store.outbox_table(conn, within)
    return local_times(table, tz, "created_at", "sent_at", "done_at", "next_try_at", "read_at",
                       "answered_at")


#: What the outbox may be sorted and filtered by.
OUTBOX_SORTS, OUTBOX_FILTERS = tuple(store.OUTBOX_SORTS), store.OUTBOX_FILTERS


def outbox_page(db: Database, paging: Paging, within: frozenset[int] | None, *,
                tz: str) -> PageOf:
    """One page of the outbox (sorted and filtered as asked), times in ``tz``."""
    with db.connect() as conn:
        page = store.outbox_page(conn, paging, within)
    return PageOf(local_times(page.rows, tz, "created_at", "sent_at", "done_at",
                              "next_try_at", "read_at", "answered_at"), page.total, paging)


def states(db: Database | Engine, kind: str, ref: str) -> Any:
    with db.connect() as conn:
        return store.delivery_states(conn, kind, ref)


def wait_sent(db: Database | Engine, kind: str, ref: str, timeout_s: float) -> Any:
    """The deliveries of (kind, ref) once none is queued or sending, or after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while True:
        table = states(db, kind, ref)
        if not table["state"].isin(["queued", "sent"]).any() or time.monotonic() > deadline:
            return table
        time.sleep(0.1)


# -- broadcasts ---------------------------------------------------------------------------------

NOTICE_TITLES = {"missing": "寻人 · Missing person", "vehicle": "可疑车辆 · Suspect vehicle",
                 "other": "通知 · Notice"}


def broadcast(db: Database, settings: Settings, principal: Principal, *, kind: str,
              title: str | None, body: str | None, place: str | None, lon: object,
              lat: object, radius_m: object, photo: tuple[str, bytes] | None = None
              ) -> tuple[int, int]:
    """A notice (a missing person, a suspect vehicle) to the volunteers within ``radius_m``
    of a place picked on the map: those whose last position lies there (on duty), else
    whose community does; with an optional photo (name, bytes), checked and copied as a
    report's is (its copies without EXIF, resized; the original is not kept), shown only
    to those who may see the notice. Returns the notice's id and how many volunteers it
    went to; audit-logged."""
    # deferred: sources imports reports, which imports this module to tell the reporter
    from geo_patrol.services.sources import form_text

    if kind not in NOTICE_KINDS:
        raise InputError(f"a notice is one of {', '.join(NOTICE_KINDS)}")
    title = form_text(title, "title", limit=120) or NOTICE_TITLES[kind]
    body = form_text(body, "text", limit=2000)
    if not body:
        raise InputError("say what the volunteers should look for", field="body", values={},
                         shown=N_("Say what the volunteers should look for."))
    place = form_text(place, "place", limit=120) or ""
    try:
        radius = float(str(radius_m))
    except ValueError:
        radius = float("nan")
    if not 50 <= radius <= 20000:  # NaN too
        raise InputError("the radius is between 50 m and 20 km", field="radius_m", values={},
                         shown=N_("The radius is between 50 and 20,000 metres."))
    picture = None
    if photo is not None and photo[1]:
        picture = read_photo(photo[1], name=photo[0],
                             max_bytes=int(settings.media_max_mb * 1e6),
                             max_pixels=settings.media_max_pixels, tz=settings.timezone)
    now = dt.datetime.now(dt.UTC)
    written: list[str] = []
    try:
        with db.begin() as conn:
            notice_id, count = _store_notice(conn, settings, principal, kind=kind, title=title,
                                             body=body, place=place, lon=lon, lat=lat,
                                             radius=radius, picture=picture, now=now,
                                             written=written)
    except BaseException:
        media_store.for_settings(settings).delete(written)
        raise
    return notice_id, count


def _store_notice(conn: Connection, settings: Settings, principal: Principal, *, kind: str,
                  title: str, body: str, place: str, lon: object, lat: object,
                  radius: float, picture: Any, now: dt.datetime, written: list[str]
                  ) -> tuple[int, int]:
    """The notice stored and queued to the volunteers around it (its photo's copies kept:
    their keys added to ``written``)."""
    from geo_patrol.services.sources import entered_point  # deferred: as in broadcast

    plon, plat, community = entered_point(conn, lon, lat, "wgs84",
                                          principal.community_ids)
    people = store.volunteers_within(
        conn, lon=plon, lat=plat, radius_m=radius,
        since=now - dt.timedelta(minutes=settings.live_offline_min),
        within=principal.community_ids)
    if picture is not None:
        written += media_store.keep(media_store.for_settings(settings), picture.sha256, {
            "shown": (picture.shown, "jpg"), "thumb": (picture.thumb, "jpg")})
    notice_id = store.store_notice(conn, kind=kind, title=title, body=body,
                                   place=place or f"{plat:.5f}, {plon:.5f}", lon=plon,
                                   lat=plat, radius_m=radius, community_id=community,
                                   by=principal.username,
                                   photo_sha256=picture.sha256 if picture else None,
                                   photo_mime=picture.mime if picture else None)
    enqueue(conn, volunteer_ids=people, kind="notice", ref=f"notice {notice_id}",
            title=title, body=f"{place}：{body}" if place else body, url="/me")
    publish(conn, {"kind": "notice", "ids": [notice_id], "community": community})
    audit(conn, principal.username, "notice", f"notice {notice_id}",
          details={"kind": kind, "radius_m": radius, "volunteers": len(people),
                   "photo": picture is not None})
    return notice_id, len(people)


def notice_reach(db: Database, principal: Principal) -> list[str] | None:
    """The communities whose volunteers a user's notices can reach (their names), or
    ``None`` for a user whose notices reach the whole city."""
    if principal.community_ids is None:
        return None
    with db.connect() as conn:
        return area_store.area_names(conn, principal.community_ids)


def notice_photo(db: Database, settings: Settings, principal: Principal, notice_id: int,
                 copy: str) -> bytes:
    """A notice's photo (``shown`` or ``thumb``, without EXIF) for a user whose scope holds
    the notice; 404 for a notice without one or outside the scope."""
    with db.connect() as conn:
        try:
            sha, community = store.notice_photo(conn, notice_id)
        except LookupError:
            raise NotFoundError(f"no notice {notice_id}") from None
    principal.check_area(community, "notice")
    return _photo_copy(settings, sha, copy, f"no photo with notice {notice_id}")


def my_notice_photo(db: Database, settings: Settings, principal: Principal, message_id: int,
                    copy: str) -> bytes:
    """The photo of a notice sent to this volunteer (as message ``message_id``); 404 for
    anyone else."""
    if principal.volunteer_id is None:
        raise NotFoundError(f"no notice {message_id}")
    with db.connect() as conn:
        sha = store.my_notice_photo(conn, message_id, principal.volunteer_id)
    return _photo_copy(settings, sha, copy, f"no photo with notice {message_id}")


def _photo_copy(settings: Settings, sha: str | None, copy: str, missing: str) -> bytes:
    if sha is None:
        raise NotFoundError(missing)
    try:
        return media_store.read(media_store.for_settings(settings), sha, copy)
    except (FileNotFoundError, ValueError):
        raise NotFoundError(missing) from None


def notices(db: Database, within: frozenset[int] | None, *, tz: str) -> Any:
    with db.connect() as conn:
        return local_times(store.notice_table(conn, within), tz, "created_at")


def notice_readers(db: Database, principal: Principal, notice_id: int, *, tz: str) -> Any:
    """Who a notice went to and when each read it (names as stored: the caller masks)."""
    with db.connect() as conn:
        found, community = store.notice_community(conn, notice_id)
        if not found:
            raise NotFoundError(f"no notice {notice_id}")
        principal.check_area(community, "notice")
        return local_times(store.notice_readers(conn, notice_id), tz, "read_at")


def my_notices(db: Database, volunteer_id: int, *, tz: str) -> Any:
    with db.connect() as conn:
        return local_times(store.my_notices(conn, volunteer_id), tz, "created_at", "read_at")


def read_notice(db: Database, principal: Principal, message_id: int) -> None:
    """The volunteer read a notice of theirs (the command sees who has)."""
    if principal.volunteer_id is None:
        raise NotFoundError(f"no notice {message_id}")
    with db.begin() as conn:
        if not store.mark_read(conn, [message_id], principal.volunteer_id):
            raise NotFoundError(f"no notice {message_id}")
        publish(conn, {"kind": "notice_read", "ids": [message_id]})
