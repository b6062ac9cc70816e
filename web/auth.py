"""Sign-in, sessions, API tokens, CSRF, login rate limits, and the access checks views call.

Everything needs a signed-in user (session cookie) or an API token (``Authorization: Bearer``)
except the few endpoints in :data:`PUBLIC`; what each role may then see is decided by
:mod:`geo_patrol.access`.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from time import monotonic
from collections import OrderedDict
from functools import wraps
from typing import Any, Callable

from flask import (Blueprint, Flask, current_app, g, has_request_context, redirect,
                   render_template, request, session, url_for)
from flask_babel import gettext
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager, current_user, login_user, logout_user
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import TooManyRequests

from geo_patrol.access import Principal, Resource
from geo_patrol.errors import UnauthorizedError
from geo_patrol.privacy import deployment_secret, derived_key
from geo_patrol.render.csp import new_nonce, policy
from geo_patrol.settings import Settings
from geo_patrol.services.accounts import (
    audit_event,
    authenticate,
    open_session,
    principal_from_session,
    principal_from_token,
    revoke_session,
)
from web.db import cities, find_city, get_db, get_engine
from web.params import local_path

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
limiter = Limiter(get_remote_address, storage_uri="memory://")
login_manager = LoginManager()

#: Endpoints anyone may reach: sign-in, language, health, the API description, static assets.
PUBLIC = {"auth.login", "auth.logout", "pages.set_language", "api.health", "api.openapi",
          "maps.vendor", "maps.favicon", "static", "live.osmand", "phone.icon_small",
          "phone.icon_large", "phone.manifest", "phone.service_worker"}
#: How long a sign-in lasts.
SESSION_HOURS = 8


class Account:
    """The Flask-Login user: a :class:`Principal` and how it signed in. A cookie session is
    known by a random token stored (hashed) on the server, so it can be ended there."""

    is_active = True
    is_authenticated = True
    is_anonymous = False

    def __init__(self, principal: Principal, *, by_token: bool = False,
                 session_token: str | None = None) -> None:
        self.principal = principal
        self.by_token = by_token
        self.session_token = session_token

    def get_id(self) -> str:
        return self.session_token or ""


@login_manager.user_loader
def _load_user(session_token: str) -> Account | None:
    """The account of a live server-side session (signed out, disabled, new password or
    expired: none, so the cookie no longer signs in)."""
    if not session_token:
        return None
    # sessions are read on the primary: a sign-in counts before a standby has replayed it
    principal = principal_from_session(get_engine(), session_token)
    return Account(principal, session_token=session_token) if principal else None


def _sign_in_by_token() -> None:
    """A bearer token signs in for this request only (it wins over any session cookie the
    client also sends, and no cookie is set for it)."""
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return
    # a token is its city's: the city asked for (``?city=``), else each city's in turn
    wanted = request.args.get("city")
    principal = None
    for city in [find_city(wanted)] if wanted else cities():
        principal = principal_from_token(get_engine(key=city.key), header[7:].strip())
        if principal is not None:
            g.gp_city = city.key
            break
    if principal is None:
        raise UnauthorizedError("the API token is not valid (revoked, or its account disabled)")
    g.token_client = True
    login_user(Account(principal, by_token=True))


class TokenAwareSessions(SecureCookieSessionInterface):
    """Cookie sessions, except that clients signed in by token get no cookie: their next
    request is judged by its token alone."""

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if g.get("token_client"):
            return
        super().save_session(app, session, response)


@login_manager.unauthorized_handler
def _unauthorized() -> Any:
    raise UnauthorizedError("sign in first")


def principal() -> Principal:
    """The signed-in user (views behind :func:`_require_login` always have one)."""
    if not current_user.is_authenticated:
        raise UnauthorizedError("sign in first")
    return current_user.principal


def requires(resource: Resource, action: str = "read") -> Callable:
    """Decorate a view: 403 unless the user's role has a grant on ``resource``."""
    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if request.method in ("GET", "HEAD"):  # only opened: the page is for others
                principal().require_page(resource, action)
            else:
                principal().require(resource, action)
            return view(*args, **kwargs)
        wrapped.required = (resource, action)  # type: ignore[attr-defined]  # read by tests
        return wrapped
    return decorate


def _loaded_user() -> Principal | None:
    """The user this request already loaded, without touching the database again (error
    pages must render while the database is down)."""
    account = g.get("_login_user")
    return account.principal if account is not None and account.is_authenticated else None


def template_globals() -> dict[str, Any]:
    """``me`` (the user or ``None``) and ``can(resource, action)`` for templates."""
    user = _loaded_user()

    def can(resource: str, action: str = "read") -> bool:
        return user is not None and user.grant(Resource(resource), action) is not None

    return {"me": user, "can": can, "events_url": events_url() if user is not None else None}


def _require_login() -> None:
    if request.endpoint in PUBLIC or request.endpoint is None:
        return
    _sign_in_by_token()
    if not current_user.is_authenticated:
        raise UnauthorizedError("sign in first")
    # forms posted with a session cookie carry a CSRF token; token clients are not cookie-borne
    if request.method not in ("GET", "HEAD", "OPTIONS") and not current_user.by_token:
        csrf.protect()


def _failed(response: Any) -> bool:
    """Only failed sign-ins count against an address (an office behind one address signs in
    many people)."""
    return bool(response.status_code == 401)


class SignInBackoff:
    """Failed sign-ins per username, from any address: after ``free`` failures each further
    try waits twice as long as the one before (2 s, 4 s, ... up to ``max_s``); a success
    clears it. A back-off, never a lock-out: someone else's failures delay the real user by
    ``max_s`` at most, and guessing from many addresses is as slow as from one."""

    #: Usernames remembered at most (the oldest forgotten first): spraying names costs memory
    #: only up to here.
    SIZE = 50_000

    def __init__(self, *, free: int, max_s: float) -> None:
        self.free, self.max_s = free, max_s
        self._fails: OrderedDict[str, tuple[int, float]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def _key(username: str) -> str:
        return username.strip().lower()[:64]

    def wait_s(self, username: str, now: float) -> float:
        """Seconds before ``username`` may try again (0: now)."""
        with self._lock:
            count, last = self._fails.get(self._key(username), (0, 0.0))
        if count < self.free:
            return 0.0
        return max(0.0, last + min(2.0 ** (count - self.free + 1), self.max_s) - now)

    def failed(self, username: str, now: float) -> None:
        key = self._key(username)
        with self._lock:
            count, _ = self._fails.pop(key, (0, 0.0))
            self._fails[key] = (count + 1, now)
            while len(self._fails) > self.SIZE:
                self._fails.popitem(last=False)

    def succeeded(self, username: str) -> None:
        with self._lock:
            self._fails.pop(self._key(username), None)


def csp_nonce() -> str | None:
    """The Content-Security-Policy nonce of the response being made (``None`` outside a
    request), made on first use: a template's own inline script carries it
    (``<script nonce="{{ csp_nonce() }}">``), as the scripts of a map document do. It is kept
    with the request (not ``g``, which an app context may share across requests), so every
    response has its own."""
    if not has_request_context():
        return None
    nonce = request.environ.get("geo_patrol.csp_nonce")
    if nonce is None:
        nonce = request.environ["geo_patrol.csp_nonce"] = new_nonce()
    return nonce


def events_url() -> str | None:
    """Where this request's pages get their live events (``geo-patrol serve``'s asyncio
    port on the same host name; ``GEO_PATROL_EVENTS_URL`` when a proxy serves them), or
    ``None`` when no event server runs."""
    configured = current_app.config.get("GEO_PATROL_EVENTS_URL")
    if configured:
        return str(configured)
    port = current_app.config.get("GEO_PATROL_EVENTS_PORT")
    if not port or not has_request_context():
        return None
    host = request.host.rsplit(":", 1)[0] if not request.host.endswith("]") else request.host
    return f"{request.scheme}://{host}:{int(port)}/events"


def _secure_headers(resp: Any) -> Any:
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
    resp.headers.setdefault("Referrer-Policy", "same-origin")
    # nothing from outside the server; of inline scripts only those the app wrote (with this
    # response's nonce), never one that reached the body some other way
    events = events_url()
    resp.headers.setdefault("Content-Security-Policy", policy(
        nonce=csp_nonce(), connect=[events.rsplit("/", 1)[0]] if events else []))
    # everything but the shared assets is per user
    if request.endpoint not in ("maps.vendor", "maps.favicon", "static", "phone.icon_small",
                                "phone.icon_large"):
        resp.headers.setdefault("Cache-Control", "private, no-store")
    return resp


def init_app(app: Flask, settings: Settings) -> None:
    # sessions are signed with their own key, derived from (never equal to) the secret
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = derived_key(deployment_secret(settings),
                                               b"geo-patrol sessions")
    # Flask has its own defaults for these, so they are set, not defaulted
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.https,
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=SESSION_HOURS),
        RATELIMIT_HEADERS_ENABLED=True)  # a 429 says when to retry (Retry-After)
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", SESSION_HOURS * 3600)
    app.config.setdefault("GEO_PATROL_LOGIN_LIMIT", settings.login_limit)
    app.config.setdefault("GEO_PATROL_REPORT_LIMIT", settings.report_limit)
    app.extensions["geo_patrol_backoff"] = SignInBackoff(
        free=int(app.config.get("GEO_PATROL_LOGIN_BACKOFF_AFTER", settings.login_backoff_after)),
        max_s=settings.login_backoff_max_s)
    app.session_interface = TokenAwareSessions()
    login_manager.session_protection = "strong"
    login_manager.init_app(app, add_context_processor=False)  # templates use `me`
    csrf.init_app(app)
    limiter.init_app(app)
    app.before_request(_require_login)
    app.after_request(_secure_headers)
    app.register_blueprint(bp)


def account_key() -> str:
    """A rate limit's key for a signed-in account: its city and username."""
    return f"{g.get('gp_city', '')}|{principal().username}"


def reports_limited(view: Callable[..., Any]) -> Callable[..., Any]:
    """The reports an account may send (``GEO_PATROL_REPORT_LIMIT``), stored or refused (a
    refusal may have cost its photos' decoding): beyond it 429, said in the page's language
    (a phone keeps a report refused so and sends it later)."""
    return limiter.shared_limit(lambda: current_app.config["GEO_PATROL_REPORT_LIMIT"],
                                "reports", key_func=account_key, methods=["POST"],
                                error_message=lambda: gettext(
                                    "You have sent many reports in a short time: wait a few "
                                    "minutes and send again."))(view)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config["GEO_PATROL_LOGIN_LIMIT"],
               key_func=get_remote_address, methods=["POST"], deduct_when=_failed)
def login() -> Any:
    error, status = None, 200
    target = local_path(request.values.get("next"), "")
    if request.method == "POST":
        csrf.protect()
        username = request.form.get("username", "").strip()
        g.gp_city = find_city(request.form.get("city") or g.gp_city).key
        backoff: SignInBackoff = current_app.extensions["geo_patrol_backoff"]
        wait = backoff.wait_s(f"{g.gp_city}|{username}", monotonic())
        if wait > 0:
            raise TooManyRequests(gettext("Too many failed sign-ins for this account: try "
                                          "again in %(s)s seconds.", s=math.ceil(wait)),
                                  retry_after=math.ceil(wait))
        found = authenticate(get_engine(), username, request.form.get("password", ""))
        if found is not None:
            backoff.succeeded(f"{g.gp_city}|{username}")
            session.clear()
            session.permanent = True
            token = open_session(get_engine(), found.id, hours=SESSION_HOURS)
            login_user(Account(found, session_token=token))
            session["gp_city"] = g.gp_city
            return redirect(target or url_for("pages.index"))
        backoff.failed(f"{g.gp_city}|{username}", monotonic())
        audit_event(get_db(), username[:64] or "-", "login_failed",
                    details={"address": get_remote_address()})
        error, status = gettext("Wrong username or password, or the account is disabled."), 401
    return render_template("login.html", run=None, error=error, next=target,
                           cities=cities(), chosen=g.gp_city), status


@bp.post("/logout")
def logout() -> Any:
    csrf.protect()
    account = current_user if current_user.is_authenticated else None
    if account is not None and account.session_token:
        revoke_session(get_engine(), account.session_token)
    logout_user()
    session.clear()
    return redirect(url_for("auth.login"))
