"""Accounts, sign-in sessions, API tokens and the audit log, for the CLI's ``users`` group and
the web's sign-in (the rules themselves live with their tables in
:mod:`geo_patrol.store.accounts`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from geo_patrol.paging import PageOf, Paging
from geo_patrol.privacy import mask_name
from geo_patrol.render.refs import stored_ref
from geo_patrol.store import accounts as _store
from geo_patrol.store.accounts import (
    MIN_PASSWORD,
    AUDIT_FILTERS,
    AUDIT_SORTS,
    add_user,
    audit,
    audit_actions,
    audit_event,
    audit_table,
    authenticate,
    issue_token,
    open_session,
    principal_from_session,
    principal_from_token,
    revoke_session,
    set_disabled,
    set_password,
)

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Connection

    from geo_patrol.access import Principal

__all__ = ["AUDIT_FILTERS", "AUDIT_SORTS", "MIN_PASSWORD", "add_user", "audit", "audit_actions",
           "audit_event", "audit_page", "audit_table", "authenticate", "issue_token",
           "open_session", "principal_from_session", "principal_from_token", "revoke_session",
           "set_disabled", "set_password", "user_table"]


def user_table(conn: Connection) -> pd.DataFrame:
    """Every account with what it is bound to, as the accounts page and ``users list`` show
    it: ``bound`` is an officer's communities, or a volunteer account's roster number and
    masked name (``BT00012 张**``); the name itself is not returned."""
    table = _store.user_table(conn)
    bound = []
    for r in table.itertuples():
        if isinstance(r.areas, str) and r.areas:
            bound.append(r.areas)
        elif isinstance(r.volunteer, str) and r.volunteer:
            bound.append(f"{r.volunteer} {mask_name(r.volunteer_name) or ''}".strip())
        else:
            bound.append("")
    return table.drop(columns=["volunteer_name"]).assign(bound=bound)


def audit_page(conn: Connection, paging: Paging, principal: Principal) -> PageOf:
    """One page of the audit log as ``principal`` may read it (a user bound to some areas:
    what was done within them); its ``q`` also finds a subject typed as the page shows it
    (``召集 #16``, ``Call-out 16``, ``Notice``: :func:`~geo_patrol.render.refs.stored_ref`)."""
    return _store.audit_page(conn, paging, ref=stored_ref(paging.filter("q")),
                             seen_by=principal)
