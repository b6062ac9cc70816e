"""jobs: a version per input table, kept by triggers, instead of counting the tables

Revision ID: 0029
Revises: 0025
Create Date: 2026-12-05

A job's key names the inputs it was made from. Counting the rows of the incident, hazard,
inspection, campaign and force tables on every page asked for them grew with the city; now a
statement that adds or removes rows of one of them (or changes the force entered) raises
that table's version in ``input_versions``, in its own transaction, so a page reads five
small rows. A statement that changes no row leaves the version as it was.
"""
from alembic import op


revision = '0029'
down_revision = '0025'
branch_labels = None
depends_on = None

#: The tables whose added or removed rows make stored results stale, and those whose
#: changed rows do too.
ADDED_OR_REMOVED = ("incidents", "hazards", "hazard_status_history", "campaigns")
CHANGED = ("force_hours",)


def upgrade() -> None:
    op.execute("""
        CREATE TABLE input_versions (
            name text PRIMARY KEY,
            version bigint NOT NULL DEFAULT 0
        )""")
    tables = ADDED_OR_REMOVED + CHANGED
    op.execute("INSERT INTO input_versions (name, version) VALUES " +
               ", ".join(f"('{t}', 1)" for t in tables))
    # a statement's rows as its transition table: only a statement that changed rows counts
    op.execute("""
        CREATE FUNCTION bump_input_version() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM changed_rows) THEN
                UPDATE input_versions SET version = version + 1 WHERE name = TG_TABLE_NAME;
            END IF;
            RETURN NULL;
        END $$""")
    op.execute("""
        CREATE FUNCTION bump_input_version_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            UPDATE input_versions SET version = version + 1 WHERE name = TG_TABLE_NAME;
            RETURN NULL;
        END $$""")
    for t in tables:
        events = [("insert", "INSERT", "NEW"), ("delete", "DELETE", "OLD")]
        if t in CHANGED:
            events.append(("update", "UPDATE", "NEW"))
        for name, event, side in events:
            op.execute(f"CREATE TRIGGER {t}_version_{name} AFTER {event} ON {t} "
                       f"REFERENCING {side} TABLE AS changed_rows "
                       "FOR EACH STATEMENT EXECUTE FUNCTION bump_input_version()")
        op.execute(f"CREATE TRIGGER {t}_version_truncate AFTER TRUNCATE ON {t} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION bump_input_version_truncated()")


def downgrade() -> None:
    for t in ADDED_OR_REMOVED + CHANGED:
        for name in ("insert", "delete", "update", "truncate"):
            op.execute(f"DROP TRIGGER IF EXISTS {t}_version_{name} ON {t}")
    op.execute("DROP FUNCTION bump_input_version_truncated()")
    op.execute("DROP FUNCTION bump_input_version()")
    op.execute("DROP TABLE input_versions")
