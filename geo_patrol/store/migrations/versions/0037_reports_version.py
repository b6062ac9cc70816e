"""reports: a version kept by triggers, raised by every statement that adds, changes or
removes reports

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-06

The dashboard's figures of reports are drawn once per version of the reports (a report
made, triaged, merged or moved) instead of on every request.
"""
from alembic import op


revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("INSERT INTO input_versions (name, version) VALUES ('reports', 1) "
               "ON CONFLICT (name) DO NOTHING")
    for name, event, side in (("insert", "INSERT", "NEW"), ("update", "UPDATE", "NEW"),
                              ("delete", "DELETE", "OLD")):
        op.execute(f"CREATE TRIGGER reports_version_{name} AFTER {event} ON reports "
                   f"REFERENCING {side} TABLE AS changed_rows "
                   "FOR EACH STATEMENT EXECUTE FUNCTION bump_input_version()")
    op.execute("CREATE TRIGGER reports_version_truncate AFTER TRUNCATE ON reports "
               "FOR EACH STATEMENT EXECUTE FUNCTION bump_input_version_truncated()")


def downgrade() -> None:
    for name in ("insert", "update", "delete", "truncate"):
        op.execute(f"DROP TRIGGER IF EXISTS reports_version_{name} ON reports")
    op.execute("DELETE FROM input_versions WHERE name = 'reports'")
