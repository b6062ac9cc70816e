"""The administrator's accounts page: every account with its role, state, areas and tokens;
add one, disable or enable it, reset its password (a new one shown once) and issue an API
token (shown once)."""

from __future__ import annotations

import re
import secrets
from typing import Any

from flask import Blueprint, render_template, request
from flask_babel import gettext

from geo_patrol.access import Resource, Role
from geo_patrol.errors import ConflictError, GeoPatrolError, NotFoundError
from geo_patrol.services import accounts
from web.auth import principal, requires
from web.db import get_conn, get_db

bp = Blueprint("accounts", __name__)

#: Roles an account of which is bound to areas (a district command to its district, an
#: officer to their communities); a volunteer account is bound to its volunteer instead.
SCOPED_ROLES = {Role.OFFICER.value, Role.COMMAND.value, Role.PLANNER.value}

USERNAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def _page(*, message: str | None = None, secret: str | None = None, error: str | None = None,
          entered: dict[str, str] | None = None, status: int = 200) -> Any:
    return render_template("accounts.html", run=None, users=accounts.user_table(get_conn()),
                           roles=[r.value for r in Role], message=message, secret=secret,
                           error=error, entered=entered or {},
                           min_password=accounts.MIN_PASSWORD), status


def _problem(form: dict[str, str]) -> str | None:
    """What is wrong with a new account's form, in the page's language (``None``: nothing)."""
    if not USERNAME.match(form["username"]):
        return gettext("A username is 1 to 64 letters, digits, “.”, “-” or “_”.")
    if form["role"] not in {r.value for r in Role}:
        return gettext("Choose the account's role.")
    if len(form["password"]) < accounts.MIN_PASSWORD:
        return gettext("A password has at least %(n)s characters.", n=accounts.MIN_PASSWORD)
    if form["role"] == Role.OFFICER.value and not form["areas"].strip():
        return gettext("A community officer is bound to at least one community: name it.")
    if form["role"] == Role.VOLUNTEER.value and not form["volunteer"].strip():
        return gettext("A volunteer account names the volunteer's roster number.")
    return None


@bp.get("/accounts")
@requires(Resource.ACCOUNTS, "write")
def accounts_page() -> Any:
    return _page()


@bp.post("/accounts")
@requires(Resource.ACCOUNTS, "write")
def add_account() -> Any:
    form = {k: request.form.get(k, "").strip() for k in ("username", "role", "areas",
                                                         "volunteer")}
    form["password"] = request.form.get("password", "")
    entered = {k: v[:200] for k, v in form.items() if k != "password"}
    problem = _problem(form)
    if problem is None:
        areas = [a.strip() for a in re.split(r"[,，、;\n]", form["areas"]) if a.strip()]
        try:
            accounts.add_user(get_db(), form["username"], form["role"], form["password"],
                              areas=areas if form["role"] in SCOPED_ROLES else None,
                              volunteer=form["volunteer"] or None, by=principal().username)
        except ConflictError:
            problem = gettext("An account named “%(u)s” exists already.", u=form["username"])
        except NotFoundError:
            problem = gettext("No volunteer numbered “%(n)s” on the roster.",
                              n=form["volunteer"][:40])
        except GeoPatrolError:
            problem = gettext("A community is named by its name or code, and must match "
                              "exactly one area: “%(a)s”.", a=form["areas"][:100])
    if problem is not None:
        return _page(error=problem, entered=entered, status=400)
    return _page(message=gettext("Account “%(u)s” added.", u=form["username"]))


def _username() -> str:
    return request.form.get("username", "").strip()[:64]


@bp.post("/accounts/disable")
@requires(Resource.ACCOUNTS, "write")
def disable_account() -> Any:
    username, enable = _username(), request.form.get("enable") == "1"
    if username == principal().username and not enable:
        return _page(error=gettext("You cannot disable your own account."), status=400)
    try:
        accounts.set_disabled(get_db(), username, not enable, by=principal().username)
    except NotFoundError:
        return _page(error=gettext("No account named “%(u)s”.", u=username), status=404)
    return _page(message=gettext("Account “%(u)s” enabled.", u=username) if enable else
                 gettext("Account “%(u)s” disabled: its sessions and tokens no longer work.",
                         u=username))


@bp.post("/accounts/password")
@requires(Resource.ACCOUNTS, "write")
def reset_password() -> Any:
    username = _username()
    password = secrets.token_urlsafe(12)
    try:
        accounts.set_password(get_db(), username, password, by=principal().username)
    except NotFoundError:
        return _page(error=gettext("No account named “%(u)s”.", u=username), status=404)
    return _page(message=gettext("New password of “%(u)s” (shown once; every session of the "
                                 "account was signed out):", u=username), secret=password)


@bp.post("/accounts/token")
@requires(Resource.ACCOUNTS, "write")
def issue_token() -> Any:
    username = _username()
    label = request.form.get("label", "").strip()[:100] or None
    try:
        token = accounts.issue_token(get_db(), username, label, by=principal().username)
    except NotFoundError:
        return _page(error=gettext("No account named “%(u)s”.", u=username), status=404)
    return _page(message=gettext("API token of “%(u)s” (shown once; only its hash is kept):",
                                 u=username), secret=token)
