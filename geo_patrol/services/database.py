"""The database as the CLI and the web app see it: a city's engine, a request's handle
(:class:`Database`, which every service takes), migrations, the embedded cluster, and the
driver errors callers map to a clear message. Only :mod:`geo_patrol.store` speaks SQL; this
module is its door for the two front ends."""

from __future__ import annotations

from geo_patrol.store.db import (
    BAD_VALUE as BAD_VALUE,
    CONNECTION_LOST as CONNECTION_LOST,
    Database as Database,
    RequestDatabase as RequestDatabase,
    create_engine as create_engine,
    current_revision as current_revision,
    database_url as database_url,
    downgrade as downgrade,
    local_cluster as local_cluster,
    migrate as migrate,
    normalise_url as normalise_url,
    ping as ping,
    replayed as replayed,
    wal_position as wal_position,
)

