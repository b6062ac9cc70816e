"""Accounts, API tokens and the audit log (the SQL side of :mod:`geo_patrol.access`)."""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Any

import pandas as pd
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.engine import Connection, Engine

from geo_patrol.access import Principal, Role
from geo_patrol.errors import ConflictError, InputError, NotFoundError
from geo_patrol.paging import PageOf, Paging
from geo_patrol.store.paging import page_of

_hasher = PasswordHasher()
#: Compared against when the user does not exist, so both paths cost one Argon2 check.
_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))
MIN_PASSWORD = 10
TOKEN_PREFIX = "gp_"


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise InputError(f"a password has at least {MIN_PASSWORD} characters")


def add_user(engine: Engine, username: str, role: str, password: str, *,
             areas: list[str] | None = None, volunteer: str | None = None,
             by: str = "system") -> int:
    """Create an account; officers need community ``areas`` (names or codes), volunteers a
    roster ``volunteer`` number. Returns the user id. ``by`` is who the audit log names."""
    try:
        role_ = Role(role)
    except ValueError:
        raise InputError(f"unknown role {role!r}: use one of "
                         f"{', '.join(r.value for r in Role)}") from None
    if not username or len(username) > 64 or not username.replace("_", "").replace(
            "-", "").replace(".", "").isalnum():
        raise InputError("a username is 1-64 letters, digits, '.', '-' or '_'")
    _check_password(password)
    areas = areas or []
    if role_ is Role.OFFICER and not areas:
        raise InputError("a community officer is bound to at least one community (--area)")
    if role_ is Role.VOLUNTEER and not volunteer:
        raise InputError("a volunteer account names its roster number (--volunteer)")
    with engine.begin() as conn:
        if conn.execute(sa.text("SELECT 1 FROM users WHERE username = :u"),
                        {"u": username}).first():
            raise ConflictError(f"user {username!r} exists")
        volunteer_id = None
        if volunteer:
            volunteer_id = conn.execute(sa.text("SELECT id FROM volunteers WHERE number = :n"),
                                        {"n": volunteer}).scalar()
            if volunteer_id is None:
                raise NotFoundError(f"no volunteer numbered {volunteer!r} on the roster")
        area_ids = []
        for name in areas:
            found = conn.execute(sa.text(
                "SELECT id, level FROM areas WHERE name = :n OR code = :n ORDER BY id"),
                {"n": name}).all()
            if len(found) != 1:
                raise InputError(f"area {name!r} matches {len(found)} areas: give its code")
            area_ids.append(found[0].id)
        user_id = conn.execute(sa.text(
            "INSERT INTO users (username, role, password_hash, volunteer_id, disabled) "
            "VALUES (:u, :r, :h, :v, false) RETURNING id"),
            {"u": username, "r": role_.value, "h": _hasher.hash(password),
             "v": volunteer_id}).scalar_one()
        for area_id in area_ids:
            conn.execute(sa.text("INSERT INTO user_areas VALUES (:u, :a)"),
                         {"u": user_id, "a": area_id})
        audit(conn, by, "user_add", username, details={"role": role_.value, "areas": areas})
    return user_id


def set_disabled(engine: Engine, username: str, disabled: bool = True, *,
                 by: str = "system") -> None:
    """Disable (or enable) an account; its sessions and tokens stop working at once."""
    with engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE users SET disabled = :d WHERE username = :u"),
                            {"d": disabled, "u": username}).rowcount
        if not done:
            raise NotFoundError(f"no user {username!r}")
        if disabled:
            _revoke_all(conn, username)
        audit(conn, by, "user_disable" if disabled else "user_enable", username)


def set_password(engine: Engine, username: str, password: str, *, by: str = "system") -> None:
    _check_password(password)
    with engine.begin() as conn:
        done = conn.execute(sa.text("UPDATE users SET password_hash = :h WHERE username = :u"),
                            {"h": _hasher.hash(password), "u": username}).rowcount
        if not done:
            raise NotFoundError(f"no user {username!r}")
        _revoke_all(conn, username)  # a new password ends every session signed in before
        audit(conn, by, "user_password", username)


def user_table(conn: Connection) -> pd.DataFrame:
    """Accounts with their bound areas or volunteer (no hashes; the volunteer's name as
    stored: mask it before showing it)."""
    return pd.read_sql(sa.text("""
        SELECT u.id, u.username, u.role, u.disabled, u.created_at, u.last_login,
               v.number AS volunteer, v.name AS volunteer_name,
               string_agg(a.name, ', ' ORDER BY a.name) AS areas,
               (SELECT count(*) FROM api_tokens t WHERE t.user_id = u.id AND NOT t.revoked)
                   AS tokens
        FROM users u LEFT JOIN volunteers v ON v.id = u.volunteer_id
        LEFT JOIN user_areas ua ON ua.user_id = u.id LEFT JOIN areas a ON a.id = ua.area_id
        GROUP BY u.id, v.number, v.name ORDER BY u.username"""), conn)


def issue_token(engine: Engine, username: str, label: str | None = None, *,
                by: str = "system") -> str:
    """A new bearer token for ``username``; only its hash is kept, so show it once."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with engine.begin() as conn:
        user_id = conn.execute(sa.text("SELECT id FROM users WHERE username = :u"),
                               {"u": username}).scalar()
        if user_id is None:
            raise NotFoundError(f"no user {username!r}")
        conn.execute(sa.text("INSERT INTO api_tokens (user_id, token_sha256, label, revoked) "
                             "VALUES (:u, :h, :l, false)"),
                     {"u": user_id, "h": hashlib.sha256(token.encode()).hexdigest(),
                      "l": label})
        audit(conn, by, "token_issue", username, details={"label": label})
    return token


def _principal(conn: Connection, row: Any) -> Principal:
    role = Role(row.role)
    bound = [r[0] for r in conn.execute(sa.text(
        "SELECT area_id FROM user_areas WHERE user_id = :u"), {"u": row.id})]
    area_ids = community_ids = None
    if bound:
        below = conn.execute(sa.text(
            "SELECT id, level FROM areas WHERE id IN "
            "(SELECT area_subtree(b) FROM unnest(CAST(:ids AS integer[])) b)"),
            {"ids": bound}).all()
        area_ids = frozenset(r.id for r in below)
        community_ids = frozenset(r.id for r in below if r.level == "community")
    elif role in (Role.OFFICER, Role.VOLUNTEER):
        area_ids = community_ids = frozenset()  # nothing beyond their own records
    return Principal(id=row.id, username=row.username, role=role, area_ids=area_ids,
                     community_ids=community_ids, volunteer_id=row.volunteer_id)


def principal_named(conn: Connection, username: str) -> Principal | None:
    """An enabled account as a principal, by name (for work the system does for it, such as
    the demo's command calling out)."""
    row = conn.execute(sa.text("SELECT id, username, role, volunteer_id FROM users "
                               "WHERE username = :u AND NOT disabled"),
                       {"u": username}).first()
    return None if row is None else _principal(conn, row)


def authenticate(engine: Engine, username: str, password: str) -> Principal | None:
    """The user if the password matches and the account is enabled, else ``None``."""
    with engine.begin() as conn:
        row = conn.execute(sa.text("SELECT id, username, role, volunteer_id, password_hash, "
                                   "disabled FROM users WHERE username = :u"),
                           {"u": username}).first()
        try:
            _hasher.verify(row.password_hash if row else _DUMMY_HASH, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None or row.disabled:
            return None
        conn.execute(sa.text("UPDATE users SET last_login = now() WHERE id = :i"),
                     {"i": row.id})
        if _hasher.check_needs_rehash(row.password_hash):
            conn.execute(sa.text("UPDATE users SET password_hash = :h WHERE id = :i"),
                         {"h": _hasher.hash(password), "i": row.id})
        return _principal(conn, row)


def principal_from_token(engine: Engine, token: str) -> Principal | None:
    """The enabled user owning an unrevoked token, else ``None``."""
    digest = hashlib.sha256(token.encode()).hexdigest()
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT u.id, u.username, u.role, u.volunteer_id FROM api_tokens t "
            "JOIN users u ON u.id = t.user_id "
            "WHERE t.token_sha256 = :h AND NOT t.revoked AND NOT u.disabled"),
            {"h": digest}).first()
        return _principal(conn, row) if row else None


def audit(conn: Connection, actor: str, action: str, target: str | None = None, *,
          reason: str | None = None, details: dict | None = None) -> None:
    """Append one entry to the audit log (which the database keeps append-only)."""
    conn.execute(sa.text("INSERT INTO audit_log (actor, action, target, reason, details) "
                         "VALUES (:a, :c, :t, :r, CAST(:d AS jsonb))"),
                 {"a": actor, "c": action, "t": target, "r": reason,
                  "d": json.dumps(details or {}, ensure_ascii=False)})


def audit_table(conn: Connection, limit: int = 500) -> pd.DataFrame:
    return pd.read_sql(sa.text("SELECT at, actor, action, target, reason, details "
                               "FROM audit_log ORDER BY id DESC LIMIT :n"), conn,
                       params={"n": limit})


#: The columns the audit log may be sorted by, and its filters (who, what action, a word
#: of the subject or the reason).
AUDIT_SORTS = {"at": "q.id", "actor": "q.actor", "action": "q.action"}
AUDIT_FILTERS = ("actor", "action", "q")


def audit_page(conn: Connection, paging: Paging, *, ref: str | None = None,
               seen_by: Principal | None = None) -> PageOf:
    """One page of the audit log, newest first unless sorted otherwise; ``q`` finds a word
    of the subject or the reason, or (``ref``, the stored reference ``q`` names, such as
    ``callout 16`` or ``callout``) the subjects that reference. For ``seen_by`` bound to
    some areas, only what was done by them, by accounts bound within their areas and by the
    volunteers of their communities."""
    bound = seen_by is not None and seen_by.area_ids is not None
    return page_of(conn, """
        SELECT id, at, actor, action, target, reason, details FROM audit_log
        WHERE (NOT CAST(:bound AS boolean) OR actor = :me
               OR actor IN (SELECT u.username FROM users u JOIN volunteers v
                            ON v.id = u.volunteer_id WHERE v.community_id = ANY(:communities))
               OR actor IN (SELECT u.username FROM users u
                            WHERE EXISTS (SELECT 1 FROM user_areas ua WHERE ua.user_id = u.id)
                              AND NOT EXISTS (SELECT 1 FROM user_areas ua
                                              WHERE ua.user_id = u.id
                                                AND NOT ua.area_id = ANY(:areas))))
          AND (CAST(:actor AS text) IS NULL OR actor = :actor)
          AND (CAST(:action AS text) IS NULL OR action = :action)
          AND (CAST(:q AS text) IS NULL OR target ILIKE '%' || :q || '%'
               OR reason ILIKE '%' || :q || '%'
               OR (CAST(:ref AS text) IS NOT NULL
                   AND (target = :ref OR target LIKE :ref || ' %')))""",
        {**{k: paging.filter(k) for k in AUDIT_FILTERS}, "ref": ref, "bound": bound,
         "me": seen_by.username if seen_by is not None else None,
         "communities": sorted(seen_by.community_ids or ()) if bound else [],
         "areas": sorted(seen_by.area_ids or ()) if bound else []}, paging,
        sortable=AUDIT_SORTS, order="q.id DESC", tie="q.id DESC")


def audit_actions(conn: Connection) -> list[str]:
    """The actions the audit log holds (for its filter)."""
    return list(conn.execute(sa.text(
        "SELECT DISTINCT action FROM audit_log ORDER BY action")).scalars())


def usernames(conn: Connection) -> set[str]:
    """Every account's username."""
    return set(conn.execute(sa.text("SELECT username FROM users")).scalars())


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _revoke_all(conn: Connection, username: str) -> None:
    conn.execute(sa.text(
        "UPDATE user_sessions SET revoked_at = now() WHERE revoked_at IS NULL AND user_id = "
        "(SELECT id FROM users WHERE username = :u)"), {"u": username})


def open_session(engine: Engine, user_id: int, *, hours: float = 8.0) -> str:
    """A new sign-in session for a user: a random token for the cookie (only its hash is
    kept), valid ``hours`` unless revoked."""
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO user_sessions (token_sha256, user_id, expires_at) "
            "VALUES (:h, :u, now() + make_interval(secs => :s))"),
            {"h": _digest(token), "u": user_id, "s": hours * 3600})
    return token


def principal_from_session(engine: Engine, token: str) -> Principal | None:
    """The enabled user of a live (unrevoked, unexpired) session, else ``None``."""
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT u.id, u.username, u.role, u.volunteer_id FROM user_sessions s "
            "JOIN users u ON u.id = s.user_id WHERE s.token_sha256 = :h "
            "AND s.revoked_at IS NULL AND s.expires_at > now() AND NOT u.disabled"),
            {"h": _digest(token)}).first()
        return _principal(conn, row) if row else None


def revoke_session(engine: Engine, token: str) -> None:
    """End one session (sign-out): its cookie is refused from now on, copies included."""
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE user_sessions SET revoked_at = now() "
                             "WHERE token_sha256 = :h AND revoked_at IS NULL"),
                     {"h": _digest(token)})


def audit_event(engine: Engine, actor: str, action: str, target: str | None = None, *,
                reason: str | None = None, details: dict | None = None) -> None:
    """:func:`audit` in a transaction of its own (for refusals, whose request rolls back)."""
    with engine.begin() as conn:
        audit(conn, actor, action, target, reason=reason, details=details)
