"""Alembic environment: runs on the connection handed over by :func:`geo_patrol.store.db.migrate`."""

from alembic import context
from geoalchemy2 import alembic_helpers

from geo_patrol.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only through geo_patrol.store.db
    msg = "run migrations through `geo-patrol db migrate`"
    raise RuntimeError(msg)

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    include_object=alembic_helpers.include_object,
    process_revision_directives=alembic_helpers.writer,
    render_item=alembic_helpers.render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
