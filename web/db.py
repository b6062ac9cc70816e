"""The database for a request: the app's engine, and one connection per request on ``g``,
closed at teardown (as in the Flask tutorial).

With a read replica configured, a request reads from it, except that a browser which has just
written reads from the primary until the replica has replayed its write (the primary's log
position at the write is kept in its session), so a page after a form shows what the form
did."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask, Response, current_app, g, request, session

from geo_patrol.settings import Settings

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection, Engine


def get_engine(app: Flask | None = None) -> Engine:
    """The app's database engine, opened (and migrated) on first use."""
    app = app or current_app
    engine = app.extensions.get("geo_patrol_engine")
    if engine is None:
        from geo_patrol.store.db import open_database

        engine = open_database(app.config["GEO_PATROL_SETTINGS"])
        app.extensions["geo_patrol_engine"] = engine
    return engine


def get_read_engine(app: Flask | None = None) -> Engine:
    """The engine pages and the API read from: the read replica when
    ``GEO_PATROL_READ_DATABASE_URL`` is set (a streaming standby), else the primary."""
    app = app or current_app
    url = app.config["GEO_PATROL_SETTINGS"].read_database_url
    if not url:
        return get_engine(app)
    engine = app.extensions.get("geo_patrol_read_engine")
    if engine is None:
        from geo_patrol.store.db import create_engine, normalise_url

        engine = create_engine(normalise_url(url))
        app.extensions["geo_patrol_read_engine"] = engine
    return engine


def get_conn() -> Connection:
    """This request's read connection (opened on first use; from the read replica when one
    is configured). Writes go through the service layer on :func:`get_engine`."""
    if "gp_conn" not in g:
        engine = get_read_engine()
        written = session.get("gp_wrote_at")
        if written and engine is not get_engine():
            from geo_patrol.store.db import replayed

            with engine.connect() as conn:
                caught_up = replayed(conn, written)
            if caught_up:
                session.pop("gp_wrote_at")
            else:
                engine = get_engine()
        g.gp_conn = engine.connect()
    return g.gp_conn


def _note_write(response: Response) -> Response:
    """After a browser's successful write, remember where the primary's log was (with a read
    replica only; phones posting positions and API tokens carry no session)."""
    if (request.method in ("GET", "HEAD", "OPTIONS") or response.status_code >= 400
            or not current_app.config["GEO_PATROL_SETTINGS"].read_database_url
            or "_user_id" not in session):
        return response
    from geo_patrol.store.db import wal_position

    with get_engine().connect() as conn:
        session["gp_wrote_at"] = wal_position(conn)
    return response


def close_conn(_exc: BaseException | None = None) -> None:
    conn = g.pop("gp_conn", None)
    if conn is not None:
        conn.close()


def settings() -> Settings:
    """The app's settings."""
    return current_app.config["GEO_PATROL_SETTINGS"]


def init_app(app: Flask) -> None:
    app.teardown_appcontext(close_conn)
    app.after_request(_note_write)
