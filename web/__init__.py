"""The Flask app: ``create_app(test_config=None)`` registers blueprints, errors and the database."""

from __future__ import annotations

from typing import Any

import os
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from sqlalchemy.engine import Engine

from geo_patrol.errors import (
    ConflictError,
    DatabaseError,
    ForbiddenError,
    GeoPatrolError,
    InputError,
    MissingDependencyError,
    NotFoundError,
    TooLargeError,
    UnauthorizedError,
)
from geo_patrol.settings import Settings

#: Domain error -> HTTP status, most specific first.
ERROR_STATUS: list[tuple[type[GeoPatrolError], int]] = [
    (TooLargeError, 413),
    (InputError, 400),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (ConflictError, 409),
    (DatabaseError, 503),
    (MissingDependencyError, 503),
    (GeoPatrolError, 500),
]


def get_engine(app: Flask) -> Engine:
    """The app's database engine, opened (and migrated) on first use."""
    engine = app.extensions.get("geo_patrol_engine")
    if engine is None:
        from geo_patrol.store.db import open_database

        engine = open_database(app.config["GEO_PATROL_SETTINGS"])
        app.extensions["geo_patrol_engine"] = engine
    return engine


def _database_errors(app: Flask) -> None:
    """Errors the driver raises become domain errors: a value the database cannot hold (an id
    beyond its integer range) is the user's input; a lost connection is a 503."""
    import pandas as pd
    import sqlalchemy.exc as sa_exc

    def bad_value(exc: Exception) -> Any:
        return app.handle_user_exception(InputError("a value is out of range or malformed"))

    def unavailable(exc: Exception) -> Any:
        return app.handle_user_exception(DatabaseError("the database is not reachable; "
                                                       "try again in a moment"))

    def wrapped(exc: Exception) -> Any:  # pandas wraps the driver's error
        cause = exc.__cause__
        if isinstance(cause, sa_exc.DataError):
            return bad_value(cause)
        if isinstance(cause, (sa_exc.OperationalError, sa_exc.InterfaceError)):
            return unavailable(cause)
        raise exc

    app.register_error_handler(sa_exc.DataError, bad_value)
    app.register_error_handler(pd.errors.DatabaseError, wrapped)
    app.register_error_handler(sa_exc.OperationalError, unavailable)
    app.register_error_handler(sa_exc.InterfaceError, unavailable)


def _register_errors(app: Flask) -> None:
    _database_errors(app)
    for error_class, status in ERROR_STATUS:
        def handler(exc: GeoPatrolError, status: int = status) -> Any:
            if request.path.startswith(("/api/", "/tiles/")) or request.accept_mimetypes.best \
                    == "application/json":
                return jsonify(error=type(exc).__name__, message=str(exc)), status
            if status == 401:
                return render_template("login.html", run=None, error=None,
                                       next=request.full_path), 401
            return render_template("error.html", message=str(exc), status=status,
                                   run=None), status
        app.register_error_handler(error_class, handler)


def select_locale() -> str:
    """The user's choice (cookie ``lang``), else the browser's, else Chinese."""
    choice = request.cookies.get("lang") or request.args.get("lang")
    if choice in ("zh", "en"):
        return choice
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-Hans", "en"]) or "zh"
    return "en" if best == "en" else "zh"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may set ``GEO_PATROL_SETTINGS`` (a :class:`Settings`)."""
    app = Flask(__name__)
    app.config.from_mapping(JSON_AS_ASCII=False)
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("GEO_PATROL_SETTINGS", Settings.from_env())
    app.json.ensure_ascii = False  # Chinese place names as they are

    import datetime as dt

    from flask_babel import Babel

    from geo_patrol.privacy import mask_name
    from web.api import bp as api_bp
    from web.maps import bp as maps_bp
    from web.pages import bp as pages_bp, lang

    Babel(app, locale_selector=select_locale, default_locale="zh",
          default_translation_directories=str(Path(__file__).parent / "translations"))
    app.config.setdefault("GEO_PATROL_BASEMAP", os.environ.get("GEO_PATROL_BASEMAP") or None)
    # bodies over the limit get 413 before anything is parsed
    app.config.setdefault("MAX_CONTENT_LENGTH",
                          int(os.environ.get("GEO_PATROL_MAX_UPLOAD_MB", "200")) * 1024 * 1024)
    from web import auth
    from web.params import IdConverter

    app.url_map.converters["int"] = IdConverter  # before any rule is added
    auth.init_app(app, app.config["GEO_PATROL_SETTINGS"])
    app.register_blueprint(api_bp)
    app.register_blueprint(pages_bp)
    app.register_blueprint(maps_bp)
    from web.planner import bp as planner_bp

    app.register_blueprint(planner_bp)
    app.context_processor(lambda: {"lang": lang(), "mask_name": mask_name,
                                   "one_second": dt.timedelta(seconds=1), **auth.template_globals()})
    _register_errors(app)
    return app
