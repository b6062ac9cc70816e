"""Accounts, sign-in sessions, API tokens and the audit log, for the CLI's ``users`` group and
the web's sign-in (the rules themselves live with their tables in
:mod:`geo_patrol.store.accounts`)."""

from __future__ import annotations

from geo_patrol.store.accounts import (
    MIN_PASSWORD,
    AUDIT_FILTERS,
    AUDIT_SORTS,
    add_user,
    audit,
    audit_actions,
    audit_event,
    audit_page,
    audit_table,
    authenticate,
    issue_token,
    open_session,
    principal_from_session,
    principal_from_token,
    revoke_session,
    set_disabled,
    set_password,
    user_table,
)

__all__ = ["AUDIT_FILTERS", "AUDIT_SORTS", "MIN_PASSWORD", "add_user", "audit", "audit_actions",
           "audit_event", "audit_page", "audit_table", "authenticate", "issue_token",
           "open_session", "principal_from_session", "principal_from_token", "revoke_session",
           "set_disabled", "set_password", "user_table"]
