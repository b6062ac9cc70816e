"""The deployment's cities registry (``public.cities``), and moving a single-city database's
tables into a city's schema."""

from __future__ import annotations

import dataclasses
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from geo_patrol.cities import City
from geo_patrol.errors import ConflictError

log = logging.getLogger(__name__)

_FIELDS = [f.name for f in dataclasses.fields(City)]


def list_cities(conn: Connection) -> list[City]:
    """Every city, in the order they were added."""
    rows = conn.execute(sa.text(
        f"SELECT {', '.join(_FIELDS)} FROM public.cities ORDER BY created_at, key"))  # noqa: S608
    return [City(**row._mapping) for row in rows]


def insert_city(conn: Connection, city: City) -> None:
    found = conn.execute(sa.text("SELECT 1 FROM public.cities WHERE key = :k"),
                         {"k": city.key}).first()
    if found:
        msg = f"city {city.key!r} exists already"
        raise ConflictError(msg)
    conn.execute(sa.text(
        f"INSERT INTO public.cities ({', '.join(_FIELDS)}) "  # noqa: S608
        f"VALUES ({', '.join(':' + f for f in _FIELDS)})"), dataclasses.asdict(city))


def update_city(conn: Connection, city: City) -> None:
    conn.execute(sa.text(
        f"UPDATE public.cities SET {', '.join(f'{f} = :{f}' for f in _FIELDS[1:])} "  # noqa: S608
        "WHERE key = :key"), dataclasses.asdict(city))


def single_city_tables(conn: Connection) -> bool:
    """Whether ``public`` still holds one city's tables (a database from before cities)."""
    return bool(conn.execute(sa.text(
        "SELECT to_regclass('public.alembic_version') IS NOT NULL "
        "AND to_regclass('public.areas') IS NOT NULL")).scalar_one())


def move_into_schema(conn: Connection, schema: str) -> int:
    """Move every table, view and free sequence of ``public`` except PostGIS's and the
    deployment's own into ``schema`` (indexes, constraints and owned sequences go with their
    tables); returns how many were moved."""
    conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    moved = 0
    while True:
        row = conn.execute(sa.text(
            "SELECT c.relname, c.relkind FROM pg_class c "
            "WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r','p','v','m','S') "
            "AND c.relname NOT IN ('cities', 'deployment_version') "
            "AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND (d.deptype = 'e'"
            "                OR (c.relkind = 'S' AND d.deptype IN ('a', 'i')))) "
            "ORDER BY c.relkind = 'S', c.relname LIMIT 1")).first()
        if row is None:
            break
        name, kind = row
        what = {"v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}.get(kind, "TABLE")
        conn.execute(sa.text(f'ALTER {what} public."{name}" SET SCHEMA "{schema}"'))
        moved += 1
    return moved
