"""Alembic environment of the deployment's own schema (``public``): the cities registry and
the parent of every city's fixes. Each city's tables have their own history (``migrations``)."""

from alembic import context

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through geo_patrol.store.db
    msg = "run migrations through `geo-patrol db migrate`"
    raise RuntimeError(msg)

context.configure(connection=connection, target_metadata=None,
                  version_table="deployment_version", version_table_schema="public")
with context.begin_transaction():
    context.run_migrations()
