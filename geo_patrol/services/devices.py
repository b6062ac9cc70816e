"""Phones that send positions: registered to volunteers, listed, disabled; requests refused."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import TYPE_CHECKING

import pandas as pd

from geo_patrol.errors import N_, InputError, NotFoundError
from geo_patrol.clock import local_times
from geo_patrol.settings import Settings
from geo_patrol.store import live as live_store
from geo_patrol.store.volunteers import volunteer_ids

if TYPE_CHECKING:
    from geo_patrol.store.db import Database


def add_device(db: Database, device_id: str, volunteer_number: str, *,
               secret: str | None = None) -> bool:
    """Register a phone's device id to a volunteer (``True``: new, ``False``: re-bound)."""
    device_id = device_id.strip()
    if not device_id or len(device_id) > 64 or not device_id.isprintable():
        raise InputError("a device id is a short printable text (the app's identifier)",
                         field="device_id", values={"limit": 64},
                         shown=N_("Give the device id the app shows: a short text, at most "
                                  "%(limit)s characters."))
    if secret is not None and len(secret) < 16:
        raise InputError("a device secret has at least 16 characters")
    if not (volunteer_number or "").strip():
        raise InputError("name the volunteer (roster number)", field="number", values={},
                         shown=N_("Choose the volunteer: type a name or number and pick it "
                                  "from the list."))
    with db.begin() as conn:
        known = volunteer_ids(conn, [volunteer_number])
        if known.empty:
            raise InputError(f"no volunteer {volunteer_number!r}: load the roster first",
                             field="number", values={"raw": volunteer_number[:40]},
                             shown=N_("No volunteer “%(raw)s”: type a name or number and pick "
                                      "it from the list."))
        return live_store.add_device(conn, device_id, int(known["id"].iloc[0]),
                                     None if secret is None else live_store.secret_digest(secret))


def new_secret() -> str:
    """A device secret: 24 random URL-safe characters."""
    return secrets.token_urlsafe(18)


def rotate_secret(db: Database, device_id: str) -> str:
    """A new secret for an active device (returned once; only its digest is kept)."""
    secret = new_secret()
    with db.begin() as conn:
        if not live_store.set_device_secret(conn, device_id, live_store.secret_digest(secret)):
            raise NotFoundError(f"no active device {device_id!r}")
    return secret


def remove_device(db: Database, device_id: str) -> None:
    with db.begin() as conn:
        if not live_store.remove_device(conn, device_id):
            raise NotFoundError(f"no active device {device_id!r}")


def devices(db: Database, within: frozenset[int] | None = None, *, tz: str) -> pd.DataFrame:
    """The registered devices (of volunteers in ``within`` communities), times in ``tz``."""
    with db.connect() as conn:
        return local_times(live_store.device_table(conn, within), tz, "created_at",
                           "disabled_at", "last_seen")


def refusals(db: Database, settings: Settings, *, days: int = 7,
             within: frozenset[int] | None = None) -> pd.DataFrame:
    """The refused requests of the city's last ``days`` local days (of the devices of the
    communities ``within``, when given), times in its zone."""
    with db.connect() as conn:
        frame = live_store.refusal_table(conn, settings.today() - dt.timedelta(days=days),
                                         within)
    return local_times(frame, settings.timezone, "last_at")
