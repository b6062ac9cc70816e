"""The database for a request: the city it works on, that city's engine, and one connection
per request on ``g``, closed at teardown (as in the Flask tutorial).

Every request works on one city (``g.gp_city``), chosen here before anyone signs in: the city a
browser signed in to (kept in its session), the one a ``?city=`` names on the sign-in page, or
the deployment's first; a token or a phone's device picks its own city (:mod:`web.auth`,
:mod:`web.live`). A signed-in browser asking for another city (``?city=``) is sent to sign in
there: an account belongs to one city.

With a read replica configured, a request reads from it, except that a browser which has just
written reads from the primary until the replica has replayed its write (the primary's log
position at the write is kept in its session), so a page after a form shows what the form
did."""

from __future__ import annotations

from typing import TYPE_CHECKING

import threading

from flask import Flask, Response, current_app, g, redirect, request, session, url_for

from geo_patrol.cities import City
from geo_patrol.errors import ForbiddenError
from geo_patrol.services.cities import choose, open_city, open_deployment
from geo_patrol.services.cities import cities as read_cities
from geo_patrol.settings import Settings
from geo_patrol.services.database import (
    RequestDatabase,
    create_engine,
    normalise_url,
    replayed,
    wal_position,
)

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection, Engine

_OPEN = threading.Lock()
#: Endpoints that need no city (and no database): the shared assets.
NO_CITY = {"static", "maps.vendor", "maps.favicon", "api.health", "api.openapi"}


def deployment(app: Flask | None = None) -> Engine:
    """The deployment's engine (the cities registry), opened and migrated on first use."""
    app = app or current_app
    ext = app.extensions
    if "geo_patrol_deployment" not in ext:
        with _OPEN:
            if "geo_patrol_deployment" not in ext:
                ext["geo_patrol_deployment"] = open_deployment(
                    app.config["GEO_PATROL_SETTINGS"])
    return ext["geo_patrol_deployment"]


def cities(app: Flask | None = None, *, refresh: bool = False) -> list[City]:
    """The deployment's cities (read once, and again when one is asked for that is not
    known yet)."""
    app = app or current_app
    if refresh or "geo_patrol_cities" not in app.extensions:
        app.extensions["geo_patrol_cities"] = read_cities(deployment(app))
    return app.extensions["geo_patrol_cities"]


def find_city(key: str | None, app: Flask | None = None) -> City:
    """The city ``key`` (the only one when ``None``)."""
    known = cities(app)
    if key and all(c.key != key for c in known):
        known = cities(app, refresh=True)
    return choose(known, key) if key or len(known) <= 1 else known[0]


def city() -> City:
    """The city this request works on."""
    return find_city(g.gp_city)


def current_city() -> City | None:
    """The request's city, if one was chosen (error pages render without)."""
    key = g.get("gp_city")
    if key is None:
        return None
    for c in current_app.extensions.get("geo_patrol_cities", []):
        if c.key == key:
            return c
    return None


def other_cities() -> list[City]:
    """The deployment's cities but the request's."""
    key = g.get("gp_city")
    return [c for c in current_app.extensions.get("geo_patrol_cities", []) if c.key != key]


def get_engine(app: Flask | None = None, key: str | None = None) -> Engine:
    """The engine of a city (this request's by default), opened and migrated on first use."""
    app = app or current_app
    key = key or g.gp_city
    engines = app.extensions.setdefault("geo_patrol_engines", {})
    if key not in engines:
        # the deployment first, outside the lock it takes itself (the live events' first page
        # may be the process's first request)
        registry, known = deployment(app), cities(app)
        with _OPEN:
            if key not in engines:
                engines[key] = open_city(registry, app.config["GEO_PATROL_SETTINGS"]
                                         .with_(city=key), known=known,
                                         upgrade=True).engine
    return engines[key]


def get_read_engine(app: Flask | None = None) -> Engine:
    """The engine pages and the API read from: the read replica when
    ``GEO_PATROL_READ_DATABASE_URL`` is set (a streaming standby), else the primary."""
    app = app or current_app
    url = app.config["GEO_PATROL_SETTINGS"].read_database_url
    if not url:
        return get_engine(app)
    engines = app.extensions.setdefault("geo_patrol_read_engines", {})
    if g.gp_city not in engines:
        engines[g.gp_city] = create_engine(normalise_url(url), city=g.gp_city)
    return engines[g.gp_city]


def choose_city() -> Response | None:
    """Before each request: the city it works on (see the module's description)."""
    if request.endpoint in NO_CITY or request.endpoint is None:
        return None
    wanted, signed = request.args.get("city") or None, session.get("gp_city")
    if request.endpoint == "auth.login":  # signing in is how a browser changes city
        g.gp_city = find_city(wanted or signed).key
        return None
    if wanted and signed and wanted != signed:
        target = find_city(wanted)
        if request.method == "GET" and not request.path.startswith("/api/"):
            return redirect(url_for("auth.login", city=target.key, next=request.path))
        msg = (f"this sign-in is for city {signed}: sign in to {target.key} with an account "
               "of that city")
        raise ForbiddenError(msg)
    g.gp_city = find_city(wanted or signed).key
    return None


def _read_engine() -> Engine:
    """Where this request reads: the read replica, unless this browser has just written and
    the replica has not replayed that write yet (then the primary)."""
    engine = get_read_engine()
    written = session.get("gp_wrote_at")
    if written and engine is not get_engine():
        with engine.connect() as conn:
            caught_up = replayed(conn, written)
        if caught_up:
            session.pop("gp_wrote_at")
        else:
            engine = get_engine()
    return engine


def get_db() -> RequestDatabase:
    """This request's database, which services take: its reads on one connection (the
    replica's when one is configured), its writes on the primary."""
    if "gp_db" not in g:
        g.gp_db = RequestDatabase(get_engine(), _read_engine)
    return g.gp_db


def get_conn() -> Connection:
    """This request's read connection (see :func:`get_db`)."""
    return get_db().read_connection()


def note_written() -> None:
    """This browser reads from the primary until the replica has replayed what a job it
    asked for has just written (a new analysis run, a rota)."""
    if current_app.config["GEO_PATROL_SETTINGS"].read_database_url and "_user_id" in session:
        with get_engine().connect() as conn:
            session["gp_wrote_at"] = wal_position(conn)


def _note_write(response: Response) -> Response:
    """After a browser's successful write, remember where the primary's log was (with a read
    replica only; phones posting positions and API tokens carry no session)."""
    if (request.method in ("GET", "HEAD", "OPTIONS") or response.status_code >= 400
            or not current_app.config["GEO_PATROL_SETTINGS"].read_database_url
            or "_user_id" not in session):
        return response
    with get_engine().connect() as conn:
        session["gp_wrote_at"] = wal_position(conn)
    return response


def _city_download(response: Response) -> Response:
    """Every download is named after its city (``baotou-briefing-3-20261201.html``), so files
    from several cities never mix on an officer's PC."""
    disposition = response.headers.get("Content-Disposition", "")
    key = g.get("gp_city")
    if key and disposition.startswith("attachment; filename=") and \
            not disposition.startswith(f"attachment; filename={key}-"):
        response.headers["Content-Disposition"] = disposition.replace(
            "filename=", f"filename={key}-", 1)
    return response


def close_conn(_exc: BaseException | None = None) -> None:
    db = g.pop("gp_db", None)
    if db is not None:
        db.close()


def settings() -> Settings:
    """The settings of this request's city (its time zone, CRS, rules and retention)."""
    if "gp_city" not in g:
        return current_app.config["GEO_PATROL_SETTINGS"]
    return city().settings(current_app.config["GEO_PATROL_SETTINGS"])


def init_app(app: Flask) -> None:
    app.before_request(choose_city)
    app.teardown_appcontext(close_conn)
    app.after_request(_note_write)
    app.after_request(_city_download)
