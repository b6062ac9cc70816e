"""The Flask app: ``create_app(test_config=None)`` registers blueprints, errors and the database."""

from __future__ import annotations

import datetime as dt
import math
import re
from pathlib import Path
from typing import Any

import pandas as pd
from flask import Flask, g, has_app_context, jsonify, render_template, request, url_for
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import HTTPException

from geo_patrol import clock
from geo_patrol.errors import (
    BusyError,
    ConflictError,
    DatabaseError,
    ForbiddenError,
    GeoPatrolError,
    InputError,
    JobPendingError,
    MissingDependencyError,
    NotFoundError,
    TooLargeError,
    UnauthorizedError,
)
from geo_patrol.ingest.tables import encodable
from geo_patrol.runtime import settle
from geo_patrol.settings import Settings


#: Domain error -> HTTP status, most specific first.
ERROR_STATUS: list[tuple[type[GeoPatrolError], int]] = [
    (TooLargeError, 413),
    (InputError, 400),
    (UnauthorizedError, 401),
    (ForbiddenError, 403),
    (NotFoundError, 404),
    (JobPendingError, 202),
    (ConflictError, 409),
    (BusyError, 429),
    (DatabaseError, 503),
    (MissingDependencyError, 503),
    (GeoPatrolError, 500),
]


def _wants_json() -> bool:
    return request.path.startswith(("/api/", "/tiles/")) or \
        request.accept_mimetypes.best == "application/json"


def _database_errors(app: Flask) -> None:
    """Errors the driver raises become domain errors: a value the database cannot hold (an id
    beyond its integer range) is the user's input; a lost connection is a 503."""
    # deferred: `geo-patrol --help` imports web (the serve command); the store loads with the app
    from geo_patrol.services.database import BAD_VALUE, CONNECTION_LOST

    def bad_value(exc: Exception) -> Any:
        return app.handle_user_exception(InputError("a value is out of range or malformed"))

    def unavailable(exc: Exception) -> Any:
        return app.handle_user_exception(DatabaseError("the database is not reachable; "
                                                       "try again in a moment"))

    def wrapped(exc: Exception) -> Any:  # pandas wraps the driver's error
        cause = exc.__cause__
        if isinstance(cause, BAD_VALUE):
            return bad_value(cause)
        if isinstance(cause, CONNECTION_LOST):
            return unavailable(cause)
        raise exc

    app.register_error_handler(BAD_VALUE, bad_value)
    app.register_error_handler(pd.errors.DatabaseError, wrapped)
    for lost in CONNECTION_LOST:
        app.register_error_handler(lost, unavailable)


def _register_errors(app: Flask) -> None:
    # deferred: web.forms loads the store through web.db, as above
    from web.forms import bad_rows, error_text

    _database_errors(app)
    for error_class, status in ERROR_STATUS:
        def handler(exc: GeoPatrolError, status: int = status) -> Any:
            if isinstance(exc, JobPendingError):
                return _pending(exc)
            if _wants_json():
                return jsonify(error=type(exc).__name__, message=str(exc)), status
            if status == 401:
                from web.db import cities  # deferred: web.db loads the store, as above
                return render_template("login.html", run=None, error=None,
                                       next=request.full_path, cities=cities(),
                                       chosen=g.get("gp_city")), 401
            problems = bad_rows(exc)
            return render_template("error.html", message=error_text(exc), status=status,
                                   problems=problems, run=None,
                                   more=getattr(exc, "total", 0) - len(problems)), status
        app.register_error_handler(error_class, handler)

    def http_error(exc: HTTPException) -> Any:
        """Werkzeug's own errors (404, 405, 413, 429, CSRF's 400): JSON on the API."""
        response = exc.get_response()
        if _wants_json():
            response.data = jsonify(error=type(exc).__name__,
                                    message=exc.description or exc.name).get_data()
            response.mimetype = "application/json"
            return response
        return render_template("error.html", message=_http_words(exc),
                               status=exc.code, run=None), exc.code or 500, \
            {k: v for k, v in response.headers.items() if k == "Retry-After"}

    app.register_error_handler(HTTPException, http_error)


def _pending(exc: JobPendingError) -> Any:
    """What is asked for is being made by a job: 202 with the job's address (``Location``)
    to follow; a page shows its progress and reloads to the result when it is done."""
    job = exc.job
    where = url_for("api.job_status", job_id=int(job["id"]))
    headers = {"Location": where, "Retry-After": "2"}
    if _wants_json():
        return jsonify(error=type(exc).__name__, message=str(exc), job=where,
                       state=job["state"], progress=job["progress"]), 202, headers
    return render_template("job.html", run=None, job=job), 202, headers


def _http_words(exc: HTTPException) -> str:
    """What a page says of Werkzeug's own error, in the page's language: its standard
    English description replaced (an expired form's CSRF refusal too); a description a view
    gave kept."""
    from flask_babel import gettext
    from flask_wtf.csrf import CSRFError

    if isinstance(exc, CSRFError):
        return gettext("The form had expired: go back, load the page again and send it "
                       "once more.")
    if exc.description != type(exc).description:
        return exc.description or exc.name
    words = {404: gettext("Nothing is at this address: check it, or start again from the "
                          "menu."),
             405: gettext("This address does not take this kind of request."),
             413: gettext("What was sent is too large."),
             429: gettext("Too many requests: wait a moment and try again.")}
    return words.get(exc.code or 0, exc.description or exc.name)


def select_locale() -> str:
    """The user's choice (cookie ``lang``), else the browser's, else Chinese."""
    choice = request.cookies.get("lang") or request.args.get("lang")
    if choice in ("zh", "en"):
        return choice
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-Hans", "en"]) or "zh"
    return "en" if best == "en" else "zh"


def _finalize(value: Any) -> Any:
    """What ``{{ ... }}`` prints: nothing for missing values (None, NaN, NaT)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if type(value).__name__ == "NaTType":
        return ""
    return value


def _json_default(value: Any) -> Any:
    """What :mod:`json` cannot write itself: missing values (NaT, pandas' NA) as null, numpy
    scalars as plain numbers, instants as ISO 8601 with the city's offset, days as
    ``YYYY-MM-DD``, the rest as Flask writes them."""
    if type(value).__name__ in ("NaTType", "NAType"):
        return None
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        return value.item()
    if isinstance(value, dt.datetime):  # ISO 8601 with the city's offset (naive: UTC)
        return clock.to_local(value, _timezone()).isoformat()  # type: ignore[union-attr]
    if isinstance(value, dt.date):
        return value.isoformat()
    return DefaultJSONProvider.default(value)


def _finite(value: Any) -> Any:
    """``value`` with every NaN or infinite number (nested in dicts and lists) as ``None``."""
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if type(value).__module__ == "numpy" and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: A JSON escape of a UTF-16 surrogate (paired or not): only then is a document walked.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _no_surrogates(doc: Any) -> Any:
    if isinstance(doc, str):
        return encodable(doc)
    if isinstance(doc, list):
        return [_no_surrogates(v) for v in doc]
    if isinstance(doc, dict):
        return {_no_surrogates(k): _no_surrogates(v) for k, v in doc.items()}
    return doc


class JSONProvider(DefaultJSONProvider):
    """The app's JSON (responses and ``|tojson``) is strict: JSON has no NaN or Infinity, so
    a missing or infinite figure is written as null, never as a bare ``NaN`` a parser refuses."""

    default = staticmethod(_json_default)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """A request's JSON, its texts as PostgreSQL can hold them: a lone UTF-16 surrogate
        (``"\\ud800"``, which UTF-8 cannot encode) replaced, as a form's bad byte is."""
        doc = super().loads(s, **kwargs)
        escaped = s if isinstance(s, str) else s.decode("utf-8", "replace")
        return _no_surrogates(doc) if _SURROGATE_ESCAPE.search(escaped) else doc

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        kwargs["allow_nan"] = False
        try:
            return super().dumps(obj, **kwargs)
        except ValueError as exc:
            if "Out of range float" not in str(exc):
                raise
        # rare: walk the document only when a number did not fit
        return super().dumps(_finite(obj), **kwargs)


def _timezone() -> str:
    """The request's city's time zone (the deployment's default on pages without a city)."""
    from web.db import settings  # deferred: web.db loads the store (see _database_errors)

    return settings().timezone if has_app_context() else "UTC"


def _localtime(value: Any, style: str = "minute") -> str:
    """``{{ instant|localtime }}``, ``{{ instant|localtime('short') }}``: the city's local
    time, through the one formatter of :mod:`geo_patrol.clock`."""
    return clock.local_text(value, _timezone(), style)


def _missing(value: Any) -> bool:
    """``{% if x is missing %}``: no value (``None``, or a frame's NaN or NaT)."""
    return value is None or value != value


def _window(run: Any) -> tuple[Any, Any]:
    get = run.get if isinstance(run, dict) else (lambda k: getattr(run, k))
    return get("window_start"), get("window_end")


def _period(run: Any) -> str:
    """``{{ run|period }}``: a run's (or any row's) window as the inclusive local dates."""
    return clock.period_text(*_window(run), _timezone())


def _days(days: Any) -> str:
    """``{{ (first, last)|days }}``: inclusive local dates (a campaign's, a payout's)."""
    return clock.days_text(*days)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app. ``test_config`` may set ``GEO_PATROL_SETTINGS`` (a :class:`Settings`)."""
    app = Flask(__name__)
    app.json = JSONProvider(app)
    app.config.from_mapping(JSON_AS_ASCII=False)
    if test_config:
        app.config.update(test_config)
    app.config.setdefault("GEO_PATROL_SETTINGS", Settings.from_env())
    settings: Settings = app.config["GEO_PATROL_SETTINGS"]
    app.config.setdefault("TRUSTED_HOSTS", [h.strip() for h in settings.trusted_hosts.split(",")
                                            if h.strip()])
    app.json.ensure_ascii = False  # Chinese place names as they are

    # deferred: the app factory's imports (blueprints and what only the app uses) load with
    # the app, not with `import web`, which `geo-patrol --help` does for the serve command
    from flask_babel import Babel

    from geo_patrol.privacy import mask_name
    from geo_patrol.render.assets import set_asset_root
    from geo_patrol.render.csp import use_nonce_source
    from geo_patrol.render.evidence import dose_band
    from geo_patrol.render.i18n import (crew_reason, duration_text, label, report_label, term,
                                        terms, within_sentence)
    from web import auth, db
    from web.accounts import bp as accounts_bp
    from web.api import bp as api_bp
    from web.live import bp as live_bp
    from web.maps import bp as maps_bp
    from web.notify import bp as notify_bp
    from web.phone import bp as phone_bp
    from web.pages import bp as pages_bp
    from web.params import IdConverter, lang, page_url
    from web.refs import subject
    from web.campaigns import bp as campaigns_bp
    from web.forms import template_globals as form_globals
    from web.clues import bp as clues_bp
    from web.crime import bp as crime_bp
    from web.evidence import bp as evidence_bp
    from web.planner import bp as planner_bp
    from web.rota import bp as rota_bp
    from web.tasks import bp as tasks_bp
    from web.training import bp as training_bp

    set_asset_root(settings.asset_dir)
    Babel(app, locale_selector=select_locale, default_locale="zh",
          default_translation_directories=str(Path(__file__).parent / "translations"))
    # bodies over the limit get 413 before anything is parsed
    app.config.setdefault("MAX_CONTENT_LENGTH", int(settings.max_upload_mb * 1024 * 1024))
    app.url_map.converters["int"] = IdConverter  # before any rule is added
    db.init_app(app)
    auth.init_app(app, settings)
    # the app's own inline scripts carry the response's CSP nonce: templates'
    # (<script nonce="{{ csp_nonce() }}">) and map documents'
    app.add_template_global(auth.csp_nonce, "csp_nonce")
    app.add_template_global(page_url, "page_url")
    use_nonce_source(auth.csp_nonce)
    for blueprint in (api_bp, pages_bp, maps_bp, planner_bp, live_bp, training_bp,
                      crime_bp, evidence_bp, campaigns_bp, rota_bp, tasks_bp, clues_bp,
                      notify_bp, phone_bp, accounts_bp):
        app.register_blueprint(blueprint)
    app.jinja_env.finalize = _finalize
    app.jinja_env.filters.update(localtime=_localtime, period=_period, days=_days)
    app.jinja_env.tests["missing"] = _missing
    app.context_processor(lambda: {
        "lang": lang(), "mask_name": mask_name, "term": term, "terms": terms, "label": label,
        "crew_reason": crew_reason, "report_label": report_label, "duration": duration_text,
        "in_sentence": lambda text: within_sentence(text, lang()),
        "dose_band": lambda share: dose_band(share, lang()),
        "subject": subject, "rules": db.settings().rules, "here": db.current_city(),
        "other_cities": db.other_cities(),
        **auth.template_globals(), **form_globals()})
    _register_errors(app)
    settle()  # the process's start is done: out of the collector's reach
    return app
