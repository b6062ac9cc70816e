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
from geo_patrol.store.volunteers import volunteer_community, volunteer_ids

if TYPE_CHECKING:
    from geo_patrol.store.db import Database


def add_device(db: Database, device_id: str, volunteer_number: str, *,
               secret: str | None = None, within: frozenset[int] | None = None,
               rebind: bool = False) -> bool:
    """Register a phone's device id to a volunteer of the communities ``within``
    (``True``: new, ``False``: registered again). A volunteer outside them is as unknown as
    one not on the roster; an id another volunteer's active phone holds moves to this one
    only when ``rebind`` asks for it, and only from a volunteer of the same communities; an
    id active in another city of the deployment is refused (a phone reports to one city)."""
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
        community = volunteer_community(conn, int(known["id"].iloc[0])) \
            if not known.empty else None
        if known.empty or (within is not None and community not in within):
            raise InputError(f"no volunteer {volunteer_number!r}: load the roster first",
                             field="number", values={"raw": volunteer_number[:40]},
                             shown=N_("No volunteer “%(raw)s”: type a name or number and pick "
                                      "it from the list."))
        volunteer_id = int(known["id"].iloc[0])
        holder = live_store.device_holder(conn, device_id)
        if holder is not None and holder["volunteer_id"] != volunteer_id:
            if within is not None and holder["community_id"] not in within:
                raise InputError(f"device {device_id!r} is registered to a volunteer outside "
                                 "your communities", field="device_id",
                                 values={"raw": device_id},
                                 shown=N_("The device id “%(raw)s” is registered to a "
                                          "volunteer outside your communities: give this "
                                          "phone another id."))
            if holder["active"] and not rebind:
                raise InputError(f"device {device_id!r} is registered to volunteer "
                                 f"{holder['number']}: pass --rebind to move it",
                                 field="device_id",
                                 values={"raw": device_id, "number": holder["number"]},
                                 shown=N_("The device id “%(raw)s” is registered to "
                                          "%(number)s: tick “Move it from the volunteer who "
                                          "has it” to move it, or give another id."))
        elsewhere = live_store.cities_holding(conn, device_id)
        if elsewhere:
            raise InputError(f"device {device_id!r} is registered in another city of this "
                             f"deployment ({', '.join(elsewhere)}): a phone reports to one "
                             "city", field="device_id",
                             values={"raw": device_id, "city": ", ".join(elsewhere)},
                             shown=N_("The device id “%(raw)s” is registered in %(city)s: a "
                                      "phone reports to one city only. Disable it there, or "
                                      "give this phone another id."))
        return live_store.add_device(conn, device_id, volunteer_id,
                                     None if secret is None else live_store.secret_digest(secret))


def new_secret() -> str:
    """A device secret: 24 random URL-safe characters."""
    return secrets.token_urlsafe(18)


def rotate_secret(db: Database, device_id: str, *,
                  within: frozenset[int] | None = None) -> str:
    """A new secret for an active device of a volunteer of the communities ``within``
    (returned once; only its digest is kept); any other is not found."""
    secret = new_secret()
    with db.begin() as conn:
        if not live_store.set_device_secret(conn, device_id, live_store.secret_digest(secret),
                                            within):
            raise NotFoundError(f"no active device {device_id!r}")
    return secret


def remove_device(db: Database, device_id: str, *,
                  within: frozenset[int] | None = None) -> None:
    """Disable an active device of a volunteer of the communities ``within``; any other is
    not found."""
    with db.begin() as conn:
        if not live_store.remove_device(conn, device_id, within):
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
