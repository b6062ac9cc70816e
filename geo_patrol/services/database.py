"""The database as the CLI and the web app see it: a city's engine, a request's handle
(:class:`Database`, which every service takes), migrations, the embedded cluster, and the
driver errors callers map to a clear message. Only :mod:`geo_patrol.store` speaks SQL; this
module is its door for the two front ends."""

from __future__ import annotations

from geo_patrol.store.db import (
    BAD_VALUE,
    CONNECTION_LOST,
    Database,
    RequestDatabase,
    create_engine,
    current_revision,
    database_url,
    downgrade,
    local_cluster,
    migrate,
    normalise_url,
    ping,
    replayed,
    wal_position,
)

__all__ = ["BAD_VALUE", "CONNECTION_LOST", "Database", "RequestDatabase", "create_engine",
           "current_revision", "database_url", "downgrade", "local_cluster", "migrate",
           "normalise_url", "ping", "replayed", "wal_position"]
