import sqlalchemy as sa

from geo_patrol.store.db import current_revision, downgrade, migrate
from geo_patrol.store.models import Base

APP_TABLES = set(Base.metadata.tables)


def _tables(engine) -> set[str]:
    """The tables in the city's own schema."""
    with engine.connect() as conn:
        schema = conn.execute(sa.text("SELECT current_schema()")).scalar_one()
        assert schema == "city_baotou"
        return set(sa.inspect(conn).get_table_names(schema=schema))


def test_migrations_down_and_up(engine):
    assert current_revision(engine) == "0025"
    assert APP_TABLES <= _tables(engine)
    downgrade(engine, "base")
    assert current_revision(engine) is None
    assert not (APP_TABLES & _tables(engine))
    migrate(engine)
    assert current_revision(engine) == "0025"
    assert APP_TABLES <= _tables(engine)


def test_spatial_indexes_exist(engine):
    with engine.connect() as conn:
        indexes = set(conn.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE indexdef ILIKE '%USING gist%'")).scalars())
    for table in ("areas", "street_segments", "hazards", "incidents", "reports"):
        assert f"idx_{table}_geom_m" in indexes


def test_models_match_migrations(engine):
    # autogenerate finds nothing to do: the migration and the models agree
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from geoalchemy2 import alembic_helpers

    def of_the_city(obj, name, type_, reflected, compare_to):  # public's own tables aside
        table = getattr(obj, "table", obj)  # an index or a column: its table's name
        if str(getattr(table, "name", name) or "").startswith("procrastinate_"):
            return False  # the job queue's own tables (procrastinate's schema)
        return name not in ("cities", "deployment_version") and \
            alembic_helpers.include_object(obj, name, type_, reflected, compare_to)

    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={
            "include_object": of_the_city, "compare_type": True})
        diff = compare_metadata(ctx, Base.metadata)
    assert diff == []
