"""Use cases on cities: add and change them, list them, and open one (its own settings and
engine), as the CLI and the web both do."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

from geo_patrol.cities import City, checked
from geo_patrol.errors import ConflictError, NotFoundError
from geo_patrol.settings import Settings
from geo_patrol.store import cities as store
from geo_patrol.store.cities import insert_city, list_cities, update_city
from geo_patrol.store import db

if TYPE_CHECKING:  # the store hands these out; only it speaks SQL
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: The key a database from before cities is adopted under when ``--city`` does not name one.
ADOPTED_KEY = "main"


@dataclass(frozen=True)
class OpenCity:
    """A city ready to work on: the city, its settings and its engine."""

    city: City
    settings: Settings
    engine: Engine


def open_deployment(settings: Settings, *, start: bool = True, upgrade: bool = True) -> Engine:
    """The deployment's engine, migrated; a database from before cities has its tables moved
    into a city of their own first (``settings.city``, else ``main``)."""
    engine = db.open_deployment(settings, start=start, upgrade=upgrade)
    if upgrade:
        with engine.begin() as conn:
            if store.single_city_tables(conn):
                key = settings.city or ADOPTED_KEY
                moved = store.move_into_schema(conn, db.city_schema(key))
                store.insert_city(conn, City(key=key, name=key, timezone=settings.timezone,
                                             metric_crs=settings.metric_crs))
                log.warning("moved %d tables of this database into city %r", moved, key)
    return engine


def cities(deployment: Engine) -> list[City]:
    """Every city of the deployment."""
    with deployment.connect() as conn:
        return list_cities(conn)


def choose(known: list[City], wanted: str | None) -> City:
    """The city ``wanted``, or the only one when none is named."""
    if wanted:
        for city in known:
            if city.key == wanted:
                return city
        names = ", ".join(c.key for c in known) or "none yet"
        msg = f"no city {wanted!r} in this deployment (cities: {names})"
        raise NotFoundError(msg)
    if not known:
        msg = ("this deployment has no city yet: add one with "
               "`geo-patrol cities add KEY --name NAME`")
        raise ConflictError(msg)
    if len(known) > 1:
        msg = (f"this deployment holds {len(known)} cities "
               f"({', '.join(c.key for c in known)}): choose one with --city")
        raise ConflictError(msg)
    return known[0]


def add_city(deployment: Engine, settings: Settings, city: City) -> City:
    """Register ``city`` and create its tables, in one transaction."""
    city = checked(city)
    with deployment.begin() as conn:
        insert_city(conn, city)
        db.migrate_city(conn, city.key)
    log.info("city %s added", city.key)
    return city


def change_city(deployment: Engine, key: str, **changes: object) -> City:
    """Change a city's name, time zone, CRS, rules or retention. The metric CRS cannot change
    once data is stored in it."""
    with deployment.begin() as conn:
        city = choose(list_cities(conn), key)
        new = city.with_(**{k: v for k, v in changes.items() if v is not None})
        if new.metric_crs != city.metric_crs:
            engine = db.create_engine(deployment.url.render_as_string(hide_password=False),
                                      city=key)
            with engine.connect() as cc:
                stored = db.metric_srid(cc)
            engine.dispose()
            if stored is not None:
                msg = f"city {key} already measures in EPSG:{stored}: its CRS cannot change"
                raise ConflictError(msg)
        update_city(conn, new)
    return new


def ensure_city(url: str, city: City) -> Engine:
    """The engine of ``city`` in the database at ``url``: the deployment migrated, the city
    added if it is not there yet (for scripts, benchmarks and tests)."""
    deployment = db.create_engine(url)
    db.migrate_deployment(deployment)
    if all(c.key != city.key for c in cities(deployment)):
        add_city(deployment, Settings(), city)
    deployment.dispose()
    return db.create_engine(url, city=city.key)


def open_city(deployment: Engine, settings: Settings, *, known: list[City] | None = None,
              upgrade: bool = False) -> OpenCity:
    """The city ``settings.city`` (or the only one) with its settings and engine."""
    city = choose(known if known is not None else cities(deployment), settings.city)
    engine = db.create_engine(deployment.url.render_as_string(hide_password=False), city=city.key)
    if upgrade:
        db.migrate(engine)
    return OpenCity(city, city.settings(settings), engine)
